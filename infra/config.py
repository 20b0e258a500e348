"""The stack's configuration (`pulumi config set image-analyzer:<key> …`), read once and validated."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from image_analyzer.definitions import FUNCTIONS, PROJECT, QUEUE, SETTINGS, StackSettings

AUTH_MODES = ("cognito", "jwt", "none")
REDACT_MODES = ("dicom", "all", "none")


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
        """Every ``image-analyzer:`` setting read and validated before any resource is created: a value out of its
        range, or a key the program does not know (a typo would silently deploy the default), stops the program
        with every problem named — the key, the value and what is allowed."""
        return from_values(configured_values())

    def settings(self) -> StackSettings:
        """The functions' environment: each setting that is a function variable, rendered as the function reads it."""
        values = StackSettings().values | {
            key.env: key.render(getattr(self, key.field)) for key in KEYS.values() if key.env is not None
        }
        return StackSettings(values)


class SettingError(ValueError):
    """The stack's settings, with every problem found (each names its key, its value and what is allowed)."""


@dataclass(frozen=True)
class Key:
    """One stack setting: its Pulumi key, the StackConfig field it fills, how its text is read and checked, and
    the function variable it becomes (None: used by the program only)."""

    name: str
    field: str
    parse: Callable[[str], Any]  # raises ValueError saying what is allowed
    env: str | None = None
    render: Callable[[Any], str] = str


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise ValueError(f"an integer from {low} to {high}")
        return value

    return parse


def _number(low: float, high: float, high_open: bool = False) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (low <= value < high if high_open else low <= value <= high):
            raise ValueError(f"a number from {low:g} to {'under ' if high_open else ''}{high:g}")
        return value

    return parse


def _boolean(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise ValueError("true or false")
    return raw == "true"


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return raw

    return parse


def _one_of(values: tuple[int, ...]) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isdigit() or int(raw) not in values:
            raise ValueError("one of CloudWatch's retention periods: " + ", ".join(map(str, values)))
        return int(raw)

    return parse


def _matching(pattern: str, allowed: str) -> Callable[[str], str]:
    compiled = re.compile(pattern)

    def parse(raw: str) -> str:
        if not compiled.fullmatch(raw):
            raise ValueError(allowed)
        return raw

    return parse


def _existing_file(raw: str) -> str:
    if not Path(raw).is_file():
        raise ValueError("the path of an existing file")
    return raw


def _string_list(raw: str) -> list[str]:
    """A JSON list of strings, or one plain string."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError("a non-empty string or a JSON list of them")
    return [v.strip() for v in values]


_ORIGIN = re.compile(r"\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")


def _origins(raw: str) -> list[str]:
    origins = _string_list(raw)
    if not all(_ORIGIN.fullmatch(origin) for origin in origins):
        raise ValueError('"*" or origins like https://app.example.com (scheme, host, optional port; no path)')
    return origins


# What CloudWatch Logs accepts as a log group's retention (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)  # fmt: skip
_S3_URI = r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+"
_PROCESSOR_TIMEOUT_S = FUNCTIONS["process_image"].timeout_s

KEYS: dict[str, Key] = {
    key.name: key
    for key in (
        Key("architecture", "architecture", _choice("arm64", "x86_64")),
        Key("allowedOrigins", "allowed_origins", _origins, "ALLOWED_ORIGINS", ",".join),
        Key("auth", "auth", _choice(*AUTH_MODES)),
        Key(
            "jwtIssuer",
            "jwt_issuer",
            _matching(r"https://\S+", f"an https:// URL, the OIDC issuer that {PROJECT}:auth jwt trusts"),
        ),
        Key("jwtAudience", "jwt_audience", _string_list),
        Key("dailyUploadQuota", "daily_upload_quota", _integer(0, 1_000_000), "DAILY_UPLOAD_QUOTA"),
        Key("dailyRenderQuota", "daily_render_quota", _integer(0, 1_000_000), "DAILY_RENDER_QUOTA"),
        Key("maxCustomViews", "max_custom_views", _integer(0, 1000), "MAX_CUSTOM_VIEWS"),
        # The processor reads an upload whole, within its 1024 MB.
        Key("maxUploadBytes", "max_upload_bytes", _integer(1, 100 * 1024 * 1024), "MAX_UPLOAD_BYTES"),
        Key("urlExpirySeconds", "url_expiry_seconds", _integer(1, 604_800), "URL_EXPIRY_SECONDS"),  # SigV4: 7 days
        Key("minConfidence", "min_confidence", _number(0, 100), "MIN_CONFIDENCE", lambda v: f"{v:g}"),
        Key("maxLabels", "max_labels", _integer(1, 1000), "MAX_LABELS"),
        Key("retentionDays", "retention_days", _integer(1, 3650), "RETENTION_DAYS"),
        Key("keepOriginals", "keep_originals", _boolean, "KEEP_ORIGINALS", lambda v: "true" if v else "false"),
        Key("redactText", "redact_text", _choice(*REDACT_MODES), "REDACT_TEXT"),
        Key(
            "decodeTimeLimitSeconds",
            "decode_time_limit_seconds",
            _number(0, _PROCESSOR_TIMEOUT_S, high_open=True),
            "DECODE_TIME_LIMIT_S",
            lambda v: f"{v:g}",
        ),
        Key("noncurrentVersionDays", "noncurrent_version_days", _integer(1, 3650)),
        Key("processorConcurrency", "processor_concurrency", _integer(2, 1000)),  # SQS event source's range
        Key("maxReceiveCount", "max_receive_count", _integer(1, 1000), "MAX_RECEIVE_COUNT"),  # SQS redrive's range
        Key("logRetentionDays", "log_retention_days", _one_of(LOG_RETENTION_DAYS)),
        Key("apiRateLimit", "api_rate_limit", _number(0.001, 10_000)),
        Key("apiBurstLimit", "api_burst_limit", _integer(0, 5000)),
        Key("customerManagedKey", "customer_managed_key", _boolean),
        Key("deletionProtection", "deletion_protection", _boolean),
        Key("forceDestroy", "force_destroy", _boolean),
        Key("alarmEmail", "alarm_email", _matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address")),
        Key("layerZip", "layer_zip", _existing_file),
        Key("classifierSpec", "classifier_spec", _existing_file),
        Key("classifierSpecS3", "classifier_spec_s3", _matching(_S3_URI, "an s3://bucket/key URI")),
        Key("classifierModelS3", "classifier_model_s3", _matching(_S3_URI, "an s3://bucket/key URI")),
    )
}


def configured_values() -> dict[str, str]:
    """Every ``image-analyzer:`` key the stack sets, with its value as text (lists as JSON)."""
    values = {**pulumi.runtime.config.get_config_env(), **pulumi.runtime.config.CONFIG.get()}
    prefix = f"{PROJECT}:"
    return {
        k.removeprefix(prefix): v if isinstance(v, str) else json.dumps(v)
        for k, v in values.items()
        if k.startswith(prefix)
    }


def from_values(values: dict[str, str]) -> StackConfig:
    """The StackConfig for these ``image-analyzer:`` values; raises SettingError naming every problem."""
    problems = []
    for name in sorted(values.keys() - KEYS.keys()):
        close = difflib.get_close_matches(name, KEYS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{PROJECT}:{name} is not a setting of this program{hint}")
    fields: dict[str, Any] = {}
    for name, raw in values.items():
        key = KEYS.get(name)
        if key is None:
            continue
        try:
            fields[key.field] = key.parse(raw.strip())
        except ValueError as exc:
            problems.append(f"{PROJECT}:{name} must be {exc}, not {raw!r}")
    if "auth" not in fields and fields.get("jwt_issuer"):
        fields["auth"] = "jwt"  # an issuer alone means: trust it
    config = StackConfig(**fields) if not problems else None
    if config is not None:
        problems += _combination_problems(config, values)
    if problems:
        raise SettingError("invalid stack settings:\n  " + "\n  ".join(problems))
    assert config is not None
    return config


def _combination_problems(config: StackConfig, values: dict[str, str]) -> list[str]:
    problems = []
    if config.auth == "jwt" and (not config.jwt_issuer or not config.jwt_audience):
        problems.append(f"{PROJECT}:auth jwt needs jwtIssuer (https://…) and jwtAudience")
    if config.classifier_spec_s3 and not config.classifier_model_s3:
        problems.append(f"{PROJECT}:classifierModelS3 is required with classifierSpecS3")
    if config.classifier_spec and config.classifier_spec_s3:
        problems.append(f"{PROJECT}:classifierSpec and classifierSpecS3 are two ways to give one model: set one")
    return problems
