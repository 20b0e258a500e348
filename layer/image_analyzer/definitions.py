"""The single source of truth for what the system is made of.

Both the Pulumi program (``__main__.py``) and the local stack (``local/``) read these definitions, so a
function's handler, memory, timeout, environment, its routes and the queue settings are declared exactly once.
This module imports nothing heavy: the API functions and the Pulumi program load it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROJECT = "image-analyzer"
UPLOAD_PREFIX = "uploads/"
CONVERTED_PREFIX = "converted/"
TABLE_NAME = "ImageAnalysisResults"
TABLE_HASH_KEY = "jobId"
TABLE_TTL_ATTRIBUTE = "expiresAt"
METRICS_NAMESPACE = "ImageAnalyzer"

# Variables whose value comes from the deployment (resource names) rather than from a tunable setting.
ENV_UPLOAD_BUCKET = "UPLOAD_BUCKET"
ENV_TABLE_NAME = "TABLE_NAME"


@dataclass(frozen=True)
class Setting:
    """A tunable environment variable with its default (the value used when the deployment sets none)."""

    env: str
    default: str
    description: str


SETTINGS: dict[str, Setting] = {
    s.env: s
    for s in (
        Setting("MAX_UPLOAD_BYTES", str(15 * 1024 * 1024), "Largest accepted upload (Rekognition reads ≤ 15 MB)."),
        Setting("URL_EXPIRY_SECONDS", "900", "Lifetime of presigned upload and image URLs."),
        Setting("MIN_CONFIDENCE", "55", "DetectLabels MinConfidence (0-100)."),
        Setting("MAX_LABELS", "20", "DetectLabels MaxLabels."),
        Setting("ALLOWED_ORIGINS", "*", "Comma-separated CORS origins for the API and the bucket."),
        Setting("RETENTION_DAYS", "7", "Days a job record (TTL) and its objects (lifecycle) are kept."),
        Setting(
            "DAILY_UPLOAD_QUOTA",
            "500",
            "Uploads a caller may request per UTC day (by JWT subject, or source IP on an open stack); 0: no quota.",
        ),
        Setting(
            "DAILY_RENDER_QUOTA",
            "1000",
            "Views /render may render per caller per UTC day (one served as stored does not count); 0: no quota.",
        ),
        Setting(
            "MAX_CUSTOM_VIEWS",
            "20",
            "Custom windows /render renders and keeps per job (the presets are kept besides); past it, a kept one.",
        ),
        Setting("MAX_RECEIVE_COUNT", "3", "Deliveries of a message before it is redriven to the DLQ."),
        Setting(
            "KEEP_ORIGINALS",
            "false",
            "true keeps each upload after its job ends (until the uploads/ lifecycle expires it); false deletes it.",
        ),
        Setting(
            "REDACT_TEXT",
            "dicom",
            "Text burned into the pixels, found with DetectText, is filled before anything is stored or labelled: "
            "dicom (every DICOM render), all (photos too) or none.",
        ),
        Setting(
            "TEXT_DETECTION",
            "function+rekognition",
            "Which detectors find the text that is redacted: function+rekognition (the union of both), function "
            "(a detection model in the processor: nothing of the picture leaves it before redaction) or rekognition "
            "(DetectText only).",
        ),
        Setting(
            "DECODE_TIME_LIMIT_S",
            "20",
            "Seconds one file's decode may take (in a forked child) before its job ends DECODE_TIMED_OUT; 0: none.",
        ),
        Setting("LOG_LEVEL", "INFO", "Log level of every function."),
        Setting(
            "CLASSIFIER_SPEC",
            "",
            "Optional classifier stage: s3://bucket/spec.json or a path; empty turns the stage off.",
        ),
    )
}


@dataclass(frozen=True)
class FunctionDef:
    """One Lambda function: what runs, with which resources and which environment variables it reads."""

    name: str
    handler: str
    memory_mb: int
    timeout_s: int
    description: str
    environment: tuple[str, ...]
    # The API functions must stay light for cold starts: they never import numpy, Pillow or pydicom.
    needs_imaging: bool = False


_COMMON_ENV = (ENV_TABLE_NAME, ENV_UPLOAD_BUCKET, "LOG_LEVEL", "RETENTION_DAYS")

FUNCTIONS: dict[str, FunctionDef] = {
    f.name: f
    for f in (
        FunctionDef(
            name="request_upload",
            handler="handlers.request_upload.lambda_handler",
            memory_mb=256,
            timeout_s=10,
            description="Validates an upload request, creates the job and returns presigned upload URLs.",
            environment=(
                *_COMMON_ENV,
                "MAX_UPLOAD_BYTES",
                "URL_EXPIRY_SECONDS",
                "ALLOWED_ORIGINS",
                "DAILY_UPLOAD_QUOTA",
            ),
        ),
        FunctionDef(
            name="process_image",
            handler="handlers.process_image.lambda_handler",
            memory_mb=1024,
            timeout_s=300,
            description="Renders DICOM, redacts burned-in text, asks Rekognition for labels and records the outcome.",
            environment=(
                *_COMMON_ENV,
                "MAX_UPLOAD_BYTES",
                "MIN_CONFIDENCE",
                "MAX_LABELS",
                "MAX_RECEIVE_COUNT",
                "CLASSIFIER_SPEC",
                "KEEP_ORIGINALS",
                "REDACT_TEXT",
                "TEXT_DETECTION",
                "DECODE_TIME_LIMIT_S",
            ),
            needs_imaging=True,
        ),
        FunctionDef(
            name="dead_letter",
            handler="handlers.dead_letter.lambda_handler",
            memory_mb=256,
            timeout_s=30,
            description="Ends every job whose upload message reached the dead-letter queue as PROCESSING_FAILED.",
            environment=(*_COMMON_ENV, "KEEP_ORIGINALS"),
        ),
        FunctionDef(
            name="render_view",
            handler="handlers.render_view.lambda_handler",
            memory_mb=1024,
            timeout_s=30,
            description="Renders a DICOM job in another window (file, CT preset or custom) and returns its URL.",
            environment=(
                *_COMMON_ENV,
                "MAX_UPLOAD_BYTES",
                "URL_EXPIRY_SECONDS",
                "ALLOWED_ORIGINS",
                "DAILY_RENDER_QUOTA",
                "MAX_CUSTOM_VIEWS",
            ),
            needs_imaging=True,
        ),
        FunctionDef(
            name="get_results",
            handler="handlers.get_results.lambda_handler",
            memory_mb=256,
            timeout_s=10,
            description="Returns a job's status and results with a presigned URL of the analysed image.",
            environment=(*_COMMON_ENV, "URL_EXPIRY_SECONDS", "ALLOWED_ORIGINS"),
        ),
    )
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    # API Gateway throttling of this route (requests per second, burst), for all callers together.
    rate_limit: float
    burst_limit: int


ROUTES: tuple[Route, ...] = (
    Route("POST", "/request-upload", "request_upload", rate_limit=5, burst_limit=10),
    # Clients poll for results: the most frequent call, and the cheapest.
    Route("GET", "/get-results", "get_results", rate_limit=20, burst_limit=40),
    # A new view renders a DICOM frame (1 GB function): the most expensive call.
    Route("GET", "/render", "render_view", rate_limit=2, burst_limit=5),
)


@dataclass(frozen=True)
class CorsRules:
    """What browsers on the allowed origins may do: on the bucket (presigned uploads and image URLs) and on the
    API. One declaration for the Pulumi program, the local stack's bucket and front, and the API handlers."""

    bucket_methods: tuple[str, ...] = ("GET", "PUT", "POST", "HEAD")
    bucket_headers: tuple[str, ...] = ("*",)
    bucket_expose_headers: tuple[str, ...] = ("ETag",)
    api_headers: tuple[str, ...] = ("authorization", "content-type")
    api_expose_headers: tuple[str, ...] = ("retry-after",)
    max_age_s: int = 600

    @property
    def api_methods(self) -> list[str]:
        """The routes' methods, and OPTIONS for the preflight requests."""
        return sorted({route.method for route in ROUTES} | {"OPTIONS"})

    def bucket_rule(self, origins: list[str]) -> dict[str, Any]:
        """The bucket's CORS rule in S3's API shape (PutBucketCors)."""
        return {
            "AllowedMethods": list(self.bucket_methods),
            "AllowedOrigins": list(origins),
            "AllowedHeaders": list(self.bucket_headers),
            "ExposeHeaders": list(self.bucket_expose_headers),
            "MaxAgeSeconds": self.max_age_s,
        }


CORS = CorsRules()


@dataclass(frozen=True)
class QueueDef:
    """The S3 → SQS → process_image wiring and its event-source-mapping semantics."""

    consumer: str = "process_image"
    # The dead-letter queue has a consumer too: a message lands there when every delivery failed, including
    # deliveries whose worker died (out of memory, timeout) before it could record anything.
    dead_letter_consumer: str = "dead_letter"
    dead_letter_batch_size: int = 10
    batch_size: int = 5
    max_batching_window_s: int = 1
    max_concurrency: int = 5
    # AWS asks for a visibility timeout of at least six times the consumer's timeout.
    visibility_multiplier: int = 6
    message_retention_s: int = 4 * 24 * 3600
    dlq_retention_s: int = 14 * 24 * 3600
    report_batch_item_failures: bool = True

    def visibility_timeout_s(self, consumer_timeout_s: int | None = None) -> int:
        timeout = consumer_timeout_s if consumer_timeout_s is not None else FUNCTIONS[self.consumer].timeout_s
        return self.visibility_multiplier * timeout


QUEUE = QueueDef()


@dataclass(frozen=True)
class StackSettings:
    """Values a deployment may tune; both the Pulumi config and the local stack start from these defaults."""

    values: dict[str, str] = field(default_factory=lambda: {k: s.default for k, s in SETTINGS.items()})

    def environment_for(self, function: str, upload_bucket: str, table_name: str) -> dict[str, str]:
        """The exact environment a function gets, in the cloud and locally."""
        resources = {ENV_UPLOAD_BUCKET: upload_bucket, ENV_TABLE_NAME: table_name}
        env: dict[str, str] = {}
        for name in FUNCTIONS[function].environment:
            env[name] = resources[name] if name in resources else self.values[name]
        return env
