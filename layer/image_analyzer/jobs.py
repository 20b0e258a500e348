"""The job record and its life cycle (pure data; the DynamoDB adapter is ``store``)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


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
            "jobId": self.job_id,
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


def api_view(item: dict[str, Any], image_url: str | None, crop_url: str | None = None) -> dict[str, Any]:
    """The record in the shape the API promises (DESIGN.md, GET /get-results). With a classifier configured, the
    original clients' top-level ``flag`` (the predicted class index) and ``croppedImageUrl`` come too."""
    plain = from_dynamo(item)
    view = {
        "jobId": plain["jobId"],
        "status": plain["status"],
        "results": plain.get("results"),
        "imageUrl": image_url,
        "error": plain.get("error"),
        "errorCode": plain.get("errorCode"),
        "createdAt": plain.get("createdAt"),
        "updatedAt": plain.get("updatedAt"),
    }
    classifier = (plain.get("results") or {}).get("classifier")
    if classifier is not None:
        view["flag"] = (classifier.get("predicted") or {}).get("index")
        view["croppedImageUrl"] = crop_url
    return view
