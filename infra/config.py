"""The stack's configuration (`pulumi config set image-analyzer:<key> …`), read once and validated."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi

from image_analyzer.definitions import FUNCTIONS, QUEUE, SETTINGS, StackSettings

AUTH_MODES = ("cognito", "jwt", "none")
REDACT_MODES = ("dicom", "all", "none")


def _string_list(raw: str | None) -> list[str]:
    """A JSON list of strings, or one plain string."""
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return [raw]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class StackConfig:
    architecture: str = "arm64"
    allowed_origins: list[str] = field(default_factory=lambda: ["*"])
    max_upload_bytes: int = int(SETTINGS["MAX_UPLOAD_BYTES"].default)
    url_expiry_seconds: int = int(SETTINGS["URL_EXPIRY_SECONDS"].default)
    min_confidence: float = float(SETTINGS["MIN_CONFIDENCE"].default)
    max_labels: int = int(SETTINGS["MAX_LABELS"].default)
    retention_days: int = int(SETTINGS["RETENTION_DAYS"].default)
    processor_concurrency: int = QUEUE.max_concurrency
    max_receive_count: int = int(SETTINGS["MAX_RECEIVE_COUNT"].default)
    # CloudWatch.16 asks for at least a year.
    log_retention_days: int = 365
    api_rate_limit: float = 20.0
    api_burst_limit: int = 40
    layer_zip: str | None = None
    force_destroy: bool = False
    # Authentication: a JWT authorizer on every route. "cognito" (the default) creates a user pool and app client;
    # "jwt" trusts any OIDC issuer (jwtIssuer, jwtAudience); "none" is an open API, and must be asked for.
    auth: str = "cognito"
    jwt_issuer: str | None = None
    jwt_audience: list[str] = field(default_factory=list)
    daily_upload_quota: int = int(SETTINGS["DAILY_UPLOAD_QUOTA"].default)
    daily_render_quota: int = int(SETTINGS["DAILY_RENDER_QUOTA"].default)
    max_custom_views: int = int(SETTINGS["MAX_CUSTOM_VIEWS"].default)
    # Uploads are deleted once processed; keepOriginals keeps them until the uploads/ lifecycle expires them.
    keep_originals: bool = False
    # Text burned into the pixels is found with DetectText and filled: "dicom" (every DICOM render), "all", "none".
    redact_text: str = SETTINGS["REDACT_TEXT"].default
    # Seconds a file's decode may take before its job ends DECODE_TIMED_OUT (0: no limit); under the timeout.
    decode_time_limit_seconds: float = float(SETTINGS["DECODE_TIME_LIMIT_S"].default)
    # Overwritten and deleted objects stay as noncurrent versions this long (recovery from a mistake), then go.
    noncurrent_version_days: int = 7
    customer_managed_key: bool = False
    deletion_protection: bool = True
    alarm_email: str | None = None
    # The optional classifier stage: a spec file (uploaded with its model by this program), or objects already in S3.
    classifier_spec: str | None = None
    classifier_spec_s3: str | None = None
    classifier_model_s3: str | None = None

    @staticmethod
    def load() -> StackConfig:
        cfg = pulumi.Config()
        d = StackConfig()
        architecture = cfg.get("architecture") or d.architecture
        if architecture not in ("arm64", "x86_64"):
            raise ValueError(f"image-analyzer:architecture must be arm64 or x86_64, not {architecture!r}")
        issuer = cfg.get("jwtIssuer")
        auth = cfg.get("auth") or ("jwt" if issuer else d.auth)
        if auth not in AUTH_MODES:
            raise ValueError(f"image-analyzer:auth must be one of {', '.join(AUTH_MODES)}, not {auth!r}")
        audience = _string_list(cfg.get("jwtAudience"))
        if auth == "jwt" and (not issuer or not issuer.startswith("https://") or not audience):
            raise ValueError("image-analyzer:auth jwt needs jwtIssuer (https://…) and jwtAudience")
        redact_text = (cfg.get("redactText") or d.redact_text).lower()
        if redact_text not in REDACT_MODES:
            raise ValueError(f"image-analyzer:redactText must be one of {', '.join(REDACT_MODES)}, not {redact_text!r}")
        decode_limit = cfg.get_float("decodeTimeLimitSeconds")
        decode_limit = d.decode_time_limit_seconds if decode_limit is None else decode_limit
        processor_timeout = FUNCTIONS["process_image"].timeout_s
        if not 0 <= decode_limit < processor_timeout:
            raise ValueError(
                f"image-analyzer:decodeTimeLimitSeconds must be from 0 (no limit) to under the processor's timeout "
                f"of {processor_timeout} s, not {decode_limit!r}"
            )
        origins = cfg.get_object("allowedOrigins") or SETTINGS["ALLOWED_ORIGINS"].default.split(",")

        def integer(key: str, default: int) -> int:
            value = cfg.get_int(key)
            return default if value is None else value

        def number(key: str, default: float) -> float:
            value = cfg.get_float(key)
            return default if value is None else value

        def boolean(key: str, default: bool) -> bool:
            value = cfg.get_bool(key)
            return default if value is None else value

        return StackConfig(
            architecture=architecture,
            allowed_origins=[str(o) for o in origins],
            max_upload_bytes=integer("maxUploadBytes", d.max_upload_bytes),
            url_expiry_seconds=integer("urlExpirySeconds", d.url_expiry_seconds),
            min_confidence=number("minConfidence", d.min_confidence),
            max_labels=integer("maxLabels", d.max_labels),
            retention_days=integer("retentionDays", d.retention_days),
            processor_concurrency=integer("processorConcurrency", d.processor_concurrency),
            max_receive_count=integer("maxReceiveCount", d.max_receive_count),
            log_retention_days=integer("logRetentionDays", d.log_retention_days),
            api_rate_limit=number("apiRateLimit", d.api_rate_limit),
            api_burst_limit=integer("apiBurstLimit", d.api_burst_limit),
            layer_zip=cfg.get("layerZip"),
            force_destroy=boolean("forceDestroy", d.force_destroy),
            auth=auth,
            jwt_issuer=issuer,
            jwt_audience=audience,
            daily_upload_quota=integer("dailyUploadQuota", d.daily_upload_quota),
            daily_render_quota=integer("dailyRenderQuota", d.daily_render_quota),
            max_custom_views=integer("maxCustomViews", d.max_custom_views),
            keep_originals=boolean("keepOriginals", d.keep_originals),
            redact_text=redact_text,
            decode_time_limit_seconds=decode_limit,
            noncurrent_version_days=integer("noncurrentVersionDays", d.noncurrent_version_days),
            customer_managed_key=boolean("customerManagedKey", d.customer_managed_key),
            deletion_protection=boolean("deletionProtection", d.deletion_protection),
            alarm_email=cfg.get("alarmEmail"),
            classifier_spec=cfg.get("classifierSpec"),
            classifier_spec_s3=cfg.get("classifierSpecS3"),
            classifier_model_s3=cfg.get("classifierModelS3"),
        )

    def settings(self) -> StackSettings:
        values = StackSettings().values | {
            "MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "URL_EXPIRY_SECONDS": str(self.url_expiry_seconds),
            "MIN_CONFIDENCE": f"{self.min_confidence:g}",
            "MAX_LABELS": str(self.max_labels),
            "ALLOWED_ORIGINS": ",".join(self.allowed_origins),
            "RETENTION_DAYS": str(self.retention_days),
            "MAX_RECEIVE_COUNT": str(self.max_receive_count),
            "DAILY_UPLOAD_QUOTA": str(self.daily_upload_quota),
            "DAILY_RENDER_QUOTA": str(self.daily_render_quota),
            "MAX_CUSTOM_VIEWS": str(self.max_custom_views),
            "KEEP_ORIGINALS": "true" if self.keep_originals else "false",
            "REDACT_TEXT": self.redact_text,
            "DECODE_TIME_LIMIT_S": f"{self.decode_time_limit_seconds:g}",
        }
        return StackSettings(values)
