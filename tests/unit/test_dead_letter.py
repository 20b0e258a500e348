"""The dead-letter consumer ends stranded jobs as PROCESSING_FAILED and never moves a finished one."""

from __future__ import annotations

import uuid

from handlers import dead_letter
from image_analyzer import aws
from image_analyzer.jobs import NewJob, utc_now
from image_analyzer.store import JobStore
from tests.harness.lambda_events import FakeContext, s3_record, sqs_event


def make_job(mock_stack, status: str) -> str:
    job_id = str(uuid.uuid4())
    store = JobStore(mock_stack.table)
    store.create(NewJob(job_id, f"uploads/{job_id}/original", "image/jpeg", "jpg", None, 7), utc_now())
    mock_stack.s3.put_object(Bucket=mock_stack.bucket, Key=f"uploads/{job_id}/original", Body=b"\xff\xd8\xff")
    if status != "pending":
        mock_stack.table.update_item(
            Key={"jobId": job_id}, UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": status},
        )  # fmt: skip
    return job_id


def deliver(mock_stack, keys: list[str], extra_bodies: list[dict] | None = None) -> dict:
    aws.reset()
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
        assert not uploads_of(mock_stack, job_id), "a failed upload is not kept"


def test_what_a_killed_attempt_wrote_goes_when_its_job_ends_here(mock_stack) -> None:
    job_id = make_job(mock_stack, "processing")
    for key in (f"converted/{job_id}.png", f"converted/{job_id}/source.dcm"):  # written, then the attempt died
        mock_stack.s3.put_object(Bucket=mock_stack.bucket, Key=key, Body=b"picture")
    deliver(mock_stack, [f"uploads/{job_id}/original"])
    listing = mock_stack.s3.list_objects_v2(Bucket=mock_stack.bucket, Prefix="converted/")
    assert mock_stack.table.get_item(Key={"jobId": job_id})["Item"]["status"] == "error"
    assert listing.get("Contents", []) == [], "a failed job serves nothing: it keeps nothing"


def uploads_of(mock_stack, job_id: str) -> list[str]:
    listing = mock_stack.s3.list_objects_v2(Bucket=mock_stack.bucket, Prefix=f"uploads/{job_id}/")
    return [o["Key"] for o in listing.get("Contents", [])]


def test_with_originals_kept_the_upload_stays(mock_stack, monkeypatch) -> None:
    monkeypatch.setenv("KEEP_ORIGINALS", "true")
    job_id = make_job(mock_stack, "processing")
    deliver(mock_stack, [f"uploads/{job_id}/original"])
    assert mock_stack.table.get_item(Key={"jobId": job_id})["Item"]["errorCode"] == "PROCESSING_FAILED"
    assert uploads_of(mock_stack, job_id) == [f"uploads/{job_id}/original"]


def test_finished_jobs_are_left_as_they_are(mock_stack) -> None:
    done = make_job(mock_stack, "complete")
    deliver(mock_stack, [f"uploads/{done}/original"])
    item = mock_stack.table.get_item(Key={"jobId": done})["Item"]
    assert item["status"] == "complete" and "errorCode" not in item


def test_test_events_and_foreign_keys_are_ignored(mock_stack) -> None:
    response = deliver(mock_stack, ["uploads/not-a-job/x", "elsewhere/file"], [{"Event": "s3:TestEvent"}])
    assert response == {"batchItemFailures": []}
    assert mock_stack.items() == []


def test_an_upload_whose_job_finished_is_deleted_too(mock_stack) -> None:
    done = make_job(mock_stack, "complete")
    deliver(mock_stack, [f"uploads/{done}/original"])
    assert uploads_of(mock_stack, done) == []


def test_a_storage_failure_leaves_the_message_for_a_retry(mock_stack, monkeypatch) -> None:
    job_id = make_job(mock_stack, "processing")
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    response = deliver(mock_stack, [f"uploads/{job_id}/original"])
    assert len(response["batchItemFailures"]) == 1
