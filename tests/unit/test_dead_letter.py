"""The dead-letter consumer ends stranded jobs as PROCESSING_FAILED and never moves a finished one."""

from __future__ import annotations

import uuid

from handlers import dead_letter
from image_analyzer.jobs import NewJob, utc_now
from image_analyzer.store import JobStore
from tests.support import FakeContext, s3_record, sqs_event


def make_job(mock_stack, status: str) -> str:
    job_id = str(uuid.uuid4())
    store = JobStore(mock_stack.table)
    store.create(NewJob(job_id, f"uploads/{job_id}/original", "x.jpg", "image/jpeg", 7), utc_now())
    if status != "pending":
        mock_stack.table.update_item(
            Key={"jobId": job_id}, UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": status},
        )  # fmt: skip
    return job_id


def deliver(mock_stack, keys: list[str], extra_bodies: list[dict] | None = None) -> dict:
    dead_letter.store.cache_clear()
    bodies = [{"Records": [s3_record(mock_stack.bucket, key)]} for key in keys] + (extra_bodies or [])
    return dead_letter.lambda_handler(sqs_event(bodies, receive_count=3), FakeContext(function_name="dead_letter"))


def test_stranded_jobs_end_processing_failed(mock_stack) -> None:
    pending, processing = make_job(mock_stack, "pending"), make_job(mock_stack, "processing")
    response = deliver(mock_stack, [f"uploads/{pending}/original", f"uploads/{processing}/original"])
    assert response == {"batchItemFailures": []}
    for job_id in (pending, processing):
        item = mock_stack.table.get_item(Key={"jobId": job_id})["Item"]
        assert (item["status"], item["errorCode"]) == ("error", "PROCESSING_FAILED")
        assert "every attempt" in item["error"]


def test_finished_jobs_are_left_as_they_are(mock_stack) -> None:
    done = make_job(mock_stack, "complete")
    deliver(mock_stack, [f"uploads/{done}/original"])
    item = mock_stack.table.get_item(Key={"jobId": done})["Item"]
    assert item["status"] == "complete" and "errorCode" not in item


def test_test_events_and_foreign_keys_are_ignored(mock_stack) -> None:
    response = deliver(mock_stack, ["uploads/not-a-job/x", "elsewhere/file"], [{"Event": "s3:TestEvent"}])
    assert response == {"batchItemFailures": []}
    assert mock_stack.items() == []


def test_a_storage_failure_leaves_the_message_for_a_retry(mock_stack, monkeypatch) -> None:
    job_id = make_job(mock_stack, "processing")
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    response = deliver(mock_stack, [f"uploads/{job_id}/original"])
    assert len(response["batchItemFailures"]) == 1
