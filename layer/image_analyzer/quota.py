"""Per-caller daily quotas (uploads, renders): atomic counters in one item per caller and UTC day in the jobs
table."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from image_analyzer.errors import ApiError, ErrorCode

# Counter items share the jobs table; their key can never be a job id (a UUID), so the API cannot read them.
COUNTER_PREFIX = "quota#"


def counter_key(caller_key: str, day: str) -> str:
    # Hashed: neither a subject nor an IP address is stored in the clear.
    return f"{COUNTER_PREFIX}{hashlib.sha256(caller_key.encode()).hexdigest()[:32]}#{day}"


def seconds_until_next_day(now: datetime) -> int:
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds() + 0.999))


class DailyQuota:
    def __init__(self, table: Any, daily_limit: int, counted: str = "uploads") -> None:
        """``table`` is a boto3 ``dynamodb.Table``; ``counted`` names what is counted (``uploads``, ``renders``:
        an attribute of the caller's counter item); a ``daily_limit`` of 0 turns the quota off."""
        self._table = table
        self.daily_limit = daily_limit
        self.counted = counted

    def take(self, caller_key: str, now: datetime) -> int:
        """Count one for the caller today; the count so far. Raises a 429 ApiError with Retry-After when the day's
        quota is used up (a refused request does not count)."""
        if self.daily_limit <= 0:
            return 0
        try:
            updated = self._table.update_item(
                Key={"jobId": counter_key(caller_key, now.strftime("%Y-%m-%d"))},
                UpdateExpression="ADD #counted :one SET expiresAt = if_not_exists(expiresAt, :expires)",
                ConditionExpression="attribute_not_exists(#counted) OR #counted < :limit",
                ExpressionAttributeNames={"#counted": self.counted},
                ExpressionAttributeValues={
                    ":one": 1,
                    ":limit": self.daily_limit,
                    ":expires": int(now.timestamp()) + 2 * 86400,
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            retry_after = seconds_until_next_day(now)
            raise ApiError(
                429,
                ErrorCode.QUOTA_EXCEEDED,
                f"The daily quota of {self.daily_limit} {self.counted} is used up; it resets at 00:00 UTC.",
                {"Retry-After": str(retry_after)},
            ) from None
        return int(updated["Attributes"][self.counted])
