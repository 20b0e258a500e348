"""One upload through the real handlers on moto: the API grants it, the bytes go where it says, the processor
runs on the S3 event through SQS, and the record is read back."""

from __future__ import annotations

import json
from typing import Any

from handlers import get_results, process_image, request_upload
from image_analyzer import aws
from tests.harness.lambda_events import FakeContext, http_event, s3_record, sqs_event


def new_upload(stack, file_name: str, file_type: str, data: bytes) -> tuple[str, str]:
    """Request an upload through the API handler and put the bytes where it says."""
    event = http_event("POST", "/request-upload", json.dumps({"fileName": file_name, "fileType": file_type}))
    body = json.loads(request_upload.lambda_handler(event, FakeContext())["body"])
    key = stack.table.get_item(Key={"jobId": body["jobId"]})["Item"]["s3Key"]
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=data)
    return body["jobId"], key


def run_sqs(stack, keys: list[str], receive_count: int = 1, extra: list[dict] | None = None) -> dict[str, Any]:
    bodies = [{"Records": [s3_record(stack.bucket, key)]} for key in keys] + (extra or [])
    return process_image.lambda_handler(sqs_event(bodies, receive_count), FakeContext())


def job(stack, job_id: str) -> dict[str, Any]:
    return stack.table.get_item(Key={"jobId": job_id})["Item"]


def run_job(mock_stack, monkeypatch, spec_location: str, data: bytes, file_type: str) -> dict[str, Any]:
    """One upload through the real handlers, with the classifier stage configured; the API's view of its job."""
    monkeypatch.setenv("CLASSIFIER_SPEC", spec_location)
    aws.reset()  # the processor and its classifier stage are built once per container
    job_id, key = new_upload(mock_stack, "x", file_type, data)
    run_sqs(mock_stack, [key])
    query = http_event("GET", "/get-results", query={"jobId": job_id})
    return json.loads(get_results.lambda_handler(query, FakeContext())["body"])
