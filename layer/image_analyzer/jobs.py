"""The job record and its life cycle (pure data; the DynamoDB adapter is ``store``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from image_analyzer.definitions import TABLE_HASH_KEY


class JobStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETE = "complete"
    ERROR = "error"


FINISHED = frozenset({JobStatus.COMPLETE, JobStatus.ERROR})

# The only moves a job can make; the store turns each into a conditional write.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.PENDING: frozenset({JobStatus.PROCESSING, JobStatus.ERROR}),
    JobStatus.PROCESSING: frozenset({JobStatus.PROCESSING, JobStatus.COMPLETE, JobStatus.ERROR}),
    JobStatus.COMPLETE: frozenset(),
    JobStatus.ERROR: frozenset(),
}


def sources_of(target: JobStatus) -> tuple[JobStatus, ...]:
    """The statuses from which a job may move to ``target`` (used to build write conditions)."""
    return tuple(s for s, targets in TRANSITIONS.items() if target in targets)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class NewJob:
    job_id: str
    s3_key: str
    file_type: str
    extension: str | None  # all that is kept of the file name
    owner: str | None  # the caller's JWT subject on an authenticated stack
    retention_days: int

    def to_item(self, now: datetime) -> dict[str, Any]:
        item = {
            TABLE_HASH_KEY: self.job_id,
            "status": JobStatus.PENDING.value,
            "s3Key": self.s3_key,
            "fileType": self.file_type,
            "createdAt": iso(now),
            "updatedAt": iso(now),
            "expiresAt": int(now.timestamp()) + self.retention_days * 86400,
            "attempts": 0,
        }
        if self.extension:
            item["extension"] = self.extension
        if self.owner:
            item["owner"] = self.owner
        return item


# DynamoDB numbers: magnitudes from 1e-130 to below 1e126.
_DYNAMO_MAX = 1e125
_DYNAMO_MIN = 1e-130


def storable(value: Any) -> Any:
    """``value`` with every number DynamoDB cannot hold made harmless: NaN, infinities and out-of-range magnitudes
    (a hostile file can declare a window of 1e300) become None, vanishing ones 0."""
    if isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= _DYNAMO_MAX:
            return None
        return 0.0 if abs(value) < _DYNAMO_MIN else value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _DYNAMO_MAX:
        return None
    if isinstance(value, dict):
        return {key: storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def to_dynamo(value: Any) -> Any:
    """Floats become Decimal (DynamoDB has no float); everything else passes through JSON unchanged."""
    return json.loads(json.dumps(storable(value), allow_nan=False), parse_float=Decimal)


def from_dynamo(value: Any) -> Any:
    """Decimals become ints or floats again so that responses are plain JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    return value


@dataclass(frozen=True)
class Job:
    """A job as the store reads it: plain Python values (no DynamoDB types), the record's fields by name."""

    job_id: str
    status: JobStatus
    s3_key: str | None = None
    file_type: str | None = None
    owner: str | None = None
    results: dict[str, Any] | None = None
    image_key: str | None = None
    crop_key: str | None = None
    error: str | None = None
    error_code: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    attempts: int = 0
    custom_views: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Job:
        plain = from_dynamo(item)
        return cls(
            job_id=str(plain[TABLE_HASH_KEY]),
            status=JobStatus(plain["status"]),
            s3_key=plain.get("s3Key"),
            file_type=plain.get("fileType"),
            owner=plain.get("owner"),
            results=plain.get("results"),
            image_key=plain.get("imageKey"),
            crop_key=plain.get("cropKey"),
            error=plain.get("error"),
            error_code=plain.get("errorCode"),
            created_at=plain.get("createdAt"),
            updated_at=plain.get("updatedAt"),
            attempts=int(plain.get("attempts") or 0),
            custom_views=int(plain.get("customViews") or 0),
        )

    @property
    def dicom(self) -> dict[str, Any] | None:
        """What the job recorded of a DICOM file (None for photos and unfinished jobs)."""
        return (self.results or {}).get("dicom")

    def readable_by(self, subject: str | None) -> bool:
        """A job with an owner is visible to that owner only (to anyone else it does not exist)."""
        return self.owner is None or self.owner == subject


def api_view(job: Job, image_url: str | None, crop_url: str | None = None) -> dict[str, Any]:
    """The record in the shape the API promises (DESIGN.md, GET /get-results). With a classifier configured, the
    original clients' top-level ``flag`` (the predicted class index) and ``croppedImageUrl`` come too."""
    view = {
        "jobId": job.job_id,
        "status": job.status.value,
        "results": job.results,
        "imageUrl": image_url,
        "error": job.error,
        "errorCode": job.error_code,
        "createdAt": job.created_at,
        "updatedAt": job.updated_at,
    }
    classifier = (job.results or {}).get("classifier")
    if classifier is not None:
        view["flag"] = (classifier.get("predicted") or {}).get("index")
        view["croppedImageUrl"] = crop_url
    return view
