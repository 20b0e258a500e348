"""DynamoDB adapter for job records: every state change is a conditional write."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from image_analyzer.definitions import TABLE_HASH_KEY
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.jobs import FINISHED, Job, JobStatus, NewJob, iso, sources_of, storable, to_dynamo

# DynamoDB items hold at most 400 KB, names and values; the rest of a job's record is well under 10 KB. JSON's
# quotes and separators make the estimate larger than DynamoDB's count, never smaller.
MAX_RESULT_BYTES = 390_000
RESULT_TOO_LARGE_MESSAGE = "The job's results are larger than a job record may hold."


class ClaimOutcome(StrEnum):
    CLAIMED = "claimed"  # this delivery owns the job now
    FINISHED = "finished"  # duplicate delivery of a finished job: nothing to do
    BUSY = "busy"  # another delivery holds a live lease; its own message retries if it dies
    UNKNOWN = "unknown"  # no such job: the object was not uploaded through the API


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    job: Job | None


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _is_item_too_large(exc: ClientError) -> bool:
    """DynamoDB refused the item for its size (400 KB): the same record would be refused on every retry."""
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "item size" in str(error.get("Message", "")).lower()


def _key(job_id: str) -> dict[str, str]:
    return {TABLE_HASH_KEY: job_id}


class JobStore:
    def __init__(self, table: Any) -> None:
        """``table`` is a boto3 ``dynamodb.Table`` resource."""
        self._table = table

    def create(self, job: NewJob, now: datetime) -> Job:
        item = job.to_item(now)
        self._table.put_item(Item=item, ConditionExpression=f"attribute_not_exists({TABLE_HASH_KEY})")
        return Job.from_item(item)

    def get(self, job_id: str) -> Job | None:
        item = self._table.get_item(Key=_key(job_id), ConsistentRead=True).get("Item")
        return None if item is None else Job.from_item(item)

    def claim(self, job_id: str, now: datetime, lease_seconds: float) -> Claim:
        """pending → processing, or take over a processing job whose previous holder's lease ran out."""
        epoch = now.timestamp()
        try:
            updated = self._table.update_item(
                Key=_key(job_id),
                UpdateExpression="SET #s = :processing, updatedAt = :now, leaseExpiresAt = :lease ADD attempts :one",
                ConditionExpression=f"attribute_exists({TABLE_HASH_KEY}) AND "
                "(#s = :pending OR (#s = :processing AND leaseExpiresAt < :epoch))",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_dynamo(
                    {
                        ":processing": JobStatus.PROCESSING.value,
                        ":pending": JobStatus.PENDING.value,
                        ":now": iso(now),
                        ":lease": epoch + lease_seconds,
                        ":epoch": epoch,
                        ":one": 1,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
            return Claim(ClaimOutcome.CLAIMED, Job.from_item(updated["Attributes"]))
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
        job = self.get(job_id)
        if job is None:
            return Claim(ClaimOutcome.UNKNOWN, None)
        if job.status in FINISHED:
            return Claim(ClaimOutcome.FINISHED, job)
        return Claim(ClaimOutcome.BUSY, job)

    def _finish(self, job_id: str, target: JobStatus, now: datetime, fields: dict[str, Any]) -> bool:
        """Move to a finished state; False when the job had already moved on (a no-op, never backwards)."""
        allowed = sources_of(target)
        names = {"#s": "status", **{f"#f{i}": k for i, k in enumerate(fields)}}
        values = {":target": target.value, ":now": iso(now), **{f":f{i}": v for i, v in enumerate(fields.values())}}
        values.update({f":from{i}": s.value for i, s in enumerate(allowed)})
        sets = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        try:
            self._table.update_item(
                Key=_key(job_id),
                UpdateExpression=f"SET #s = :target, updatedAt = :now, {sets} REMOVE leaseExpiresAt",
                ConditionExpression=f"attribute_exists({TABLE_HASH_KEY}) AND #s IN ({', '.join(f':from{i}' for i in range(len(allowed)))})",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_dynamo(values),
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            if _is_item_too_large(exc):
                raise ProcessingError(ErrorCode.RESULT_TOO_LARGE, RESULT_TOO_LARGE_MESSAGE) from None
            raise

    def complete(
        self, job_id: str, results: dict[str, Any], image_key: str, now: datetime, crop_key: str | None = None
    ) -> bool:
        fields = {"results": results, "imageKey": image_key, **({"cropKey": crop_key} if crop_key else {})}
        # Checked before writing: an emulator may apply part of an update that DynamoDB refuses whole.
        if len(json.dumps(storable(fields), default=str).encode()) > MAX_RESULT_BYTES:
            raise ProcessingError(ErrorCode.RESULT_TOO_LARGE, RESULT_TOO_LARGE_MESSAGE)
        return self._finish(job_id, JobStatus.COMPLETE, now, fields)

    def count_custom_view(self, job_id: str, limit: int) -> bool:
        """Count one more custom window kept for the job; False when it keeps ``limit`` already."""
        try:
            self._table.update_item(
                Key=_key(job_id),
                UpdateExpression="ADD customViews :one",
                ConditionExpression=f"attribute_exists({TABLE_HASH_KEY}) AND (attribute_not_exists(customViews) OR customViews < :limit)",
                ExpressionAttributeValues={":one": 1, ":limit": limit},
            )
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise

    def fail(self, job_id: str, code: str, message: str, now: datetime) -> bool:
        return self._finish(job_id, JobStatus.ERROR, now, {"error": message, "errorCode": code})
