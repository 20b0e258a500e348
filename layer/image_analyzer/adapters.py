"""The adapters of one warm container, built once from its settings: every handler takes them from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from image_analyzer import aws
from image_analyzer.config import required
from image_analyzer.objects import ObjectStore
from image_analyzer.store import JobStore


@dataclass(frozen=True)
class Adapters:
    table: Any  # the boto3 Table: the job store and the daily quotas share it
    jobs: JobStore
    objects: ObjectStore


@aws.per_container
def adapters() -> Adapters:
    table = aws.dynamodb_table(required("TABLE_NAME"))
    return Adapters(table=table, jobs=JobStore(table), objects=ObjectStore(aws.s3_client(), required("UPLOAD_BUCKET")))
