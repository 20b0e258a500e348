from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

# Never reach real AWS from a test, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_REKOGNITION"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_DEV="false",
)


@dataclass
class MockStack:
    bucket: str
    table_name: str
    queue_url: str
    dlq_url: str

    @property
    def s3(self) -> Any:
        return boto3.client("s3")

    @property
    def table(self) -> Any:
        return boto3.resource("dynamodb").Table(self.table_name)

    def items(self) -> list[dict[str, Any]]:
        return self.table.scan()["Items"]


@pytest.fixture
def mock_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockStack]:
    """The stack's resources on moto's in-process mock, and a handler environment pointing at them."""
    from moto import mock_aws

    from image_analyzer import aws
    from local.resources import provision

    with mock_aws():
        resources = provision(boto3.session.Session(), None, suffix="test")
        monkeypatch.setenv("UPLOAD_BUCKET", resources.bucket)
        monkeypatch.setenv("TABLE_NAME", resources.table)
        aws.reset()
        import handlers.process_image

        handlers.process_image.processor.cache_clear()
        yield MockStack(resources.bucket, resources.table, resources.queue_url, resources.dlq_url)
        aws.reset()
        handlers.process_image.processor.cache_clear()
