"""S3 notifications as they arrive: directly, or as the body of an SQS message (plain parsing, no AWS calls)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event


def s3_event_from_message(body: str) -> dict[str, Any] | None:
    """The S3 event an SQS message carries; None for S3's ``s3:TestEvent`` (sent when a notification is set up)."""
    event = json.loads(body)
    if not isinstance(event, dict) or event.get("Event") == "s3:TestEvent":
        return None
    return event


def object_keys(s3_event: dict[str, Any]) -> list[str]:
    """Every object key of every record, decoded (keys arrive URL-encoded, spaces as '+')."""
    return [unquote_plus(record.s3.get_object.key) for record in S3Event(s3_event).records]
