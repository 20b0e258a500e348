"""The stack's configuration (`pulumi config set image-analyzer:<key> …`), read once and validated."""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from image_analyzer.definitions import FUNCTIONS, PROJECT, QUEUE, SETTINGS, StackSettings

AUTH_MODES = ("cognito", "jwt", "none")
REDACT_MODES = ("dicom", "all", "none")
TEXT_DETECTORS = ("function+rekognition", "function", "rekognition")


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
    default: Any = None
    description: str = ""


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
# The key goes into the processor's IAM policy as an object ARN: '*' and '?' would be wildcards there and '${'
# a policy variable, granting more than the one object, so a key may not hold them.
_S3_URI = r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[^\s*?$]+"
_S3_OBJECT = _matching(_S3_URI, "an s3://bucket/key URI (a key without *, ? or $)")
_PROCESSOR_TIMEOUT_S = FUNCTIONS["process_image"].timeout_s


def _setting(
    key: str,
    default: Any,
    parse: Callable[[str], Any],
    description: str,
    env: str | None = None,
    render: Callable[[Any], str] = str,
) -> Any:
    """A StackConfig field and everything about its stack setting, declared together."""
    meta = {"key": Key(key, "", parse, env, render, default, description)}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def _default(variable: str) -> str:
    return SETTINGS[variable].default


_on_off = lambda value: "true" if value else "false"  # noqa: E731
_number_text = lambda value: f"{value:g}"  # noqa: E731


@dataclass(frozen=True)
class StackConfig:
    """Every stack setting, declared once: its field and type here, with its Pulumi key, default, allowed values,
    the function variable it becomes and what it does. ``KEYS``, ``load`` and the settings' documentation derive
    from it."""

    architecture: str = _setting(
        "architecture", "arm64", _choice("arm64", "x86_64"), "the functions' and the layer's architecture"
    )
    allowed_origins: list[str] = _setting(  # noqa: RUF009 - a field() with a default_factory
        "allowedOrigins", ["*"], _origins, "CORS origins of the API and the bucket", "ALLOWED_ORIGINS", ",".join
    )
    # Authentication: a JWT authorizer on every route. "cognito" (the default) creates a user pool and app client;
    # "jwt" trusts any OIDC issuer (jwtIssuer, jwtAudience); "none" is an open API, and must be asked for.
    auth: str = _setting(
        "auth", "cognito", _choice(*AUTH_MODES), "cognito, jwt (any OIDC issuer) or none (an open API)"
    )
    jwt_issuer: str | None = _setting(
        "jwtIssuer",
        None,
        _matching(r"https://\S+", f"an https:// URL, the OIDC issuer that {PROJECT}:auth jwt trusts"),
        "the OIDC issuer that auth jwt trusts",
    )
    jwt_audience: list[str] = _setting("jwtAudience", [], _string_list, "the audiences auth jwt accepts")  # noqa: RUF009
    daily_upload_quota: int = _setting(
        "dailyUploadQuota", int(_default("DAILY_UPLOAD_QUOTA")), _integer(0, 1_000_000),
        "uploads per caller per UTC day (0: none)", "DAILY_UPLOAD_QUOTA",
    )  # fmt: skip
    daily_render_quota: int = _setting(
        "dailyRenderQuota", int(_default("DAILY_RENDER_QUOTA")), _integer(0, 1_000_000),
        "views /render renders per caller per UTC day (0: none)", "DAILY_RENDER_QUOTA",
    )  # fmt: skip
    max_custom_views: int = _setting(
        "maxCustomViews", int(_default("MAX_CUSTOM_VIEWS")), _integer(0, 1000), "custom windows kept per job",
        "MAX_CUSTOM_VIEWS",
    )  # fmt: skip
    # The processor reads an upload whole, within its 1024 MB.
    max_upload_bytes: int = _setting(
        "maxUploadBytes", int(_default("MAX_UPLOAD_BYTES")), _integer(1, 100 * 1024 * 1024),
        "the largest upload accepted", "MAX_UPLOAD_BYTES",
    )  # fmt: skip
    url_expiry_seconds: int = _setting(
        "urlExpirySeconds", int(_default("URL_EXPIRY_SECONDS")), _integer(1, 604_800),  # SigV4: 7 days
        "lifetime of presigned URLs", "URL_EXPIRY_SECONDS",
    )  # fmt: skip
    min_confidence: float = _setting(
        "minConfidence", float(_default("MIN_CONFIDENCE")), _number(0, 100), "the lowest label confidence kept",
        "MIN_CONFIDENCE", _number_text,
    )  # fmt: skip
    max_labels: int = _setting(
        "maxLabels", int(_default("MAX_LABELS")), _integer(1, 1000), "labels kept per image", "MAX_LABELS"
    )
    retention_days: int = _setting(
        "retentionDays", int(_default("RETENTION_DAYS")), _integer(1, 3650),
        "job TTL and lifecycle of what jobs show", "RETENTION_DAYS",
    )  # fmt: skip
    # Uploads are deleted once processed; keepOriginals keeps them until the uploads/ lifecycle expires them.
    keep_originals: bool = _setting(
        "keepOriginals", False, _boolean, "keep uploads instead of deleting them", "KEEP_ORIGINALS", _on_off
    )
    # Text burned into the pixels is found with DetectText and filled: "dicom" (every DICOM render), "all", "none".
    redact_text: str = _setting(
        "redactText", _default("REDACT_TEXT"), _choice(*REDACT_MODES), "burned-in text redaction: dicom, all or none",
        "REDACT_TEXT",
    )  # fmt: skip
    # Which detectors find that text: the in-function model, DetectText, or the union of both (the default).
    text_detection: str = _setting(
        "textDetection", _default("TEXT_DETECTION"), _choice(*TEXT_DETECTORS),
        "detectors of burned-in text: function+rekognition, function or rekognition", "TEXT_DETECTION",
    )  # fmt: skip
    # Seconds a file's decode may take before its job ends DECODE_TIMED_OUT (0: no limit); under the timeout.
    decode_time_limit_seconds: float = _setting(
        "decodeTimeLimitSeconds", float(_default("DECODE_TIME_LIMIT_S")),
        _number(0, _PROCESSOR_TIMEOUT_S, high_open=True), "one file's decode, stopped past it (0: no limit)",
        "DECODE_TIME_LIMIT_S", _number_text,
    )  # fmt: skip
    # Overwritten and deleted objects stay as noncurrent versions this long (recovery from a mistake), then go.
    noncurrent_version_days: int = _setting(
        "noncurrentVersionDays", 7, _integer(1, 3650), "days overwritten or deleted objects stay recoverable"
    )
    processor_concurrency: int = _setting(
        "processorConcurrency", QUEUE.max_concurrency, _integer(2, 1000),  # the SQS event source's range
        "the SQS event source's maximum concurrency",
    )  # fmt: skip
    max_receive_count: int = _setting(
        "maxReceiveCount", int(_default("MAX_RECEIVE_COUNT")), _integer(1, 1000),  # SQS redrive's range
        "deliveries before the dead-letter queue", "MAX_RECEIVE_COUNT",
    )  # fmt: skip
    # CloudWatch.16 asks for at least a year.
    log_retention_days: int = _setting(
        "logRetentionDays", 365, _one_of(LOG_RETENTION_DAYS), "days CloudWatch keeps the logs"
    )
    api_rate_limit: float = _setting("apiRateLimit", 20.0, _number(0.001, 10_000), "API requests/s, steady")
    api_burst_limit: int = _setting("apiBurstLimit", 40, _integer(0, 5000), "API burst")
    customer_managed_key: bool = _setting(
        "customerManagedKey", False, _boolean, "a KMS key encrypts the buckets, the table and the alarm topic"
    )
    deletion_protection: bool = _setting(
        "deletionProtection", True, _boolean, "deletion protection of the table and the user pool"
    )
    force_destroy: bool = _setting("forceDestroy", False, _boolean, "pulumi destroy may delete non-empty buckets")
    alarm_email: str | None = _setting(
        "alarmEmail", None, _matching(r"[^@\s]+@[^@\s]+\.[^@\s]+", "an e-mail address"),
        "an address subscribed to the alarm topic",
    )  # fmt: skip
    layer_zip: str | None = _setting("layerZip", None, _existing_file, "a prebuilt layer (built on pulumi up if unset)")
    # The optional classifier stage: a spec file (uploaded with its model by this program), or objects already in S3.
    classifier_spec: str | None = _setting("classifierSpec", None, _existing_file, "an ONNX classifier's spec file")
    classifier_spec_s3: str | None = _setting("classifierSpecS3", None, _S3_OBJECT, "a classifier's spec already in S3")
    classifier_model_s3: str | None = _setting("classifierModelS3", None, _S3_OBJECT, "its model, in S3")

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


# Every setting by its Pulumi key, derived from StackConfig's declarations.
KEYS: dict[str, Key] = {f.metadata["key"].name: replace(f.metadata["key"], field=f.name) for f in fields(StackConfig)}


def configured_values() -> dict[str, str]:
    """Every ``image-analyzer:`` key the stack sets, with its value as text (lists as JSON)."""
    import pulumi  # here: the settings table is also read where only the local stack is installed (`up --set`)

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
