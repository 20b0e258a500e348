"""process_image on SQS-wrapped and plain S3 events against moto: every record, every failure path."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from handlers import process_image
from image_analyzer import aws
from image_analyzer.jobs import utc_now
from image_analyzer.objects import ObjectStore
from image_analyzer.store import ClaimOutcome, JobStore
from tests.harness.files import CANARY, gradient, make_dicom, photo_bytes, png_bomb, sample_bytes, unknown_syntax_dicom
from tests.harness.handler_flow import job, new_upload, run_sqs
from tests.harness.lambda_events import FakeContext, s3_record, sqs_event


def test_a_photo_completes_with_labels(mock_stack) -> None:
    job_id, key = new_upload(mock_stack, "my cat (1).jpg", "image/jpeg", photo_bytes("chelsea"))
    assert " " not in s3_record(mock_stack.bucket, key)["s3"]["object"]["key"]  # the event key is URL-encoded
    assert run_sqs(mock_stack, [key]) == {"batchItemFailures": []}
    item = job(mock_stack, job_id)
    assert item["status"] == "complete" and int(item["attempts"]) == 1
    assert item["results"]["Labels"] and item["results"]["Labels"][0]["Name"]
    assert item["results"]["image"] == {"format": "JPEG", "width": 451, "height": 300}
    # What imageUrl serves is a copy under converted/, and the upload is gone.
    assert item["imageKey"] == f"converted/{job_id}.jpg" and "error" not in item
    assert read(mock_stack, item["imageKey"]) == photo_bytes("chelsea")
    assert stored_keys(mock_stack, "uploads/") == []


def read(stack, key: str) -> bytes:
    return stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()


def stored_keys(stack, prefix: str) -> list[str]:
    return [o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix=prefix).get("Contents", [])]


def test_with_originals_kept_the_upload_stays(mock_stack, monkeypatch) -> None:
    monkeypatch.setenv("KEEP_ORIGINALS", "true")
    aws.reset()  # the processor and its adapters are built once per container
    job_id, key = new_upload(mock_stack, "a.png", "image/png", photo_bytes("coffee", "PNG"))
    run_sqs(mock_stack, [key])
    assert job(mock_stack, job_id)["status"] == "complete" and stored_keys(mock_stack, "uploads/") == [key]


def test_a_message_naming_a_key_outside_uploads_deletes_nothing(mock_stack) -> None:
    job_id, key = new_upload(mock_stack, "a.png", "image/png", photo_bytes("coffee", "PNG"))
    run_sqs(mock_stack, [key])
    image_key = job(mock_stack, job_id)["imageKey"]
    assert run_sqs(mock_stack, [image_key, "elsewhere/file"]) == {"batchItemFailures": []}
    assert read(mock_stack, image_key) == photo_bytes("coffee", "PNG")


def test_a_duplicate_delivery_still_deletes_the_upload(mock_stack) -> None:
    job_id, key = new_upload(mock_stack, "a.png", "image/png", photo_bytes("coffee", "PNG"))
    run_sqs(mock_stack, [key])
    mock_stack.s3.put_object(Bucket=mock_stack.bucket, Key=key, Body=photo_bytes("chelsea"))  # a second PUT
    run_sqs(mock_stack, [key])
    item = job(mock_stack, job_id)
    assert int(item["attempts"]) == 1 and stored_keys(mock_stack, "uploads/") == []
    assert read(mock_stack, item["imageKey"]) == photo_bytes("coffee", "PNG")


def test_dicom_is_rendered_to_png_outside_the_upload_prefix(mock_stack) -> None:
    job_id, key = new_upload(mock_stack, "ct.dcm", "application/dicom", sample_bytes("CT_small.dcm"))
    run_sqs(mock_stack, [key])
    item = job(mock_stack, job_id)
    assert item["status"] == "complete"
    assert item["imageKey"] == f"converted/{job_id}.png"
    png = mock_stack.s3.get_object(Bucket=mock_stack.bucket, Key=item["imageKey"])["Body"].read()
    assert png.startswith(b"\x89PNG")
    meta = item["results"]["dicom"]
    assert meta["modality"] == "CT" and meta["rows"] == 128 and meta["window"]["source"] == "auto"
    assert item["results"]["image"] == {"format": "DICOM", "width": 128, "height": 128}
    # Other windows are drawn from a minimal copy of the frame; the upload itself is deleted.
    assert stored_keys(mock_stack, f"converted/{job_id}/") == [f"converted/{job_id}/source.dcm"]
    assert stored_keys(mock_stack, "uploads/") == []


def test_every_record_of_a_mixed_batch_gets_its_own_outcome(mock_stack, monkeypatch) -> None:
    monkeypatch.setenv("MAX_UPLOAD_BYTES", str(2_000_000))
    aws.reset()  # the processor and its adapters are built once per container
    jpeg = photo_bytes("chelsea")
    uploads = {
        "ok_jpeg": new_upload(mock_stack, "cat.jpg", "image/jpeg", jpeg),
        "ok_png": new_upload(mock_stack, "coffee.png", "image/png", photo_bytes("coffee", "PNG")),
        "ok_mono1": new_upload(mock_stack, "cr.dcm", "application/dicom", sample_bytes("RG3_J2KI.dcm")),
        "EMPTY_OBJECT": new_upload(mock_stack, "empty.jpg", "image/jpeg", b""),
        "UNSUPPORTED_FORMAT": new_upload(mock_stack, "report.jpg", "image/jpeg", b"%PDF-1.7\n" + b"x" * 500),
        "UNSUPPORTED_FORMAT_TEXT": new_upload(mock_stack, "notes.jpg", "image/jpeg", b"hello, world\n" * 20),
        "TYPE_MISMATCH": new_upload(mock_stack, "scan.dcm", "application/dicom", photo_bytes("coffee", "PNG")),
        "CORRUPT_IMAGE": new_upload(mock_stack, "half.jpg", "image/jpeg", jpeg[: len(jpeg) // 3]),
        "CORRUPT_DICOM": new_upload(mock_stack, "trunc.dcm", "application/dicom", sample_bytes("CT_small.dcm")[:9000]),
        "IMAGE_TOO_LARGE": new_upload(mock_stack, "bomb.png", "image/png", png_bomb()),
        "UNSUPPORTED_TRANSFER_SYNTAX": new_upload(mock_stack, "jpx.dcm", "application/dicom", unknown_syntax_dicom()),
        "OBJECT_TOO_LARGE": new_upload(mock_stack, "big.dcm", "application/dicom", sample_bytes("RG1_UNCR.dcm")),
    }
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": mock_stack.bucket}
    response = run_sqs(mock_stack, [key for _, key in uploads.values()], extra=[test_event])
    assert response == {"batchItemFailures": []}, "permanent errors are recorded, not retried"
    for expected, (job_id, _) in uploads.items():
        item = job(mock_stack, job_id)
        if expected.startswith("ok_"):
            assert item["status"] == "complete", (expected, item.get("errorCode"))
        else:
            assert item["status"] == "error", expected
            assert item["errorCode"] == expected.removesuffix("_TEXT")
            assert isinstance(item["error"], str) and len(item["error"]) > 10
    assert stored_keys(mock_stack, "uploads/") == [], "failed and oversize uploads are not kept"


def test_transient_failure_is_retried_then_recorded_before_the_dead_letter_queue(mock_stack, monkeypatch) -> None:
    good_id, good_key = new_upload(mock_stack, "a.jpg", "image/jpeg", photo_bytes("chelsea"))
    bad_id, bad_key = new_upload(mock_stack, "b.png", "image/png", photo_bytes("coffee", "PNG"))
    real_client = aws.rekognition_client()
    calls: list[int] = []

    class FlakyRekognition:
        def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(1)
            if kwargs["Image"]["Bytes"].startswith(b"\x89PNG"):
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "DetectLabels")
            return real_client.detect_labels(**kwargs)

    monkeypatch.setattr(aws, "rekognition_client", lambda: FlakyRekognition())
    aws.reset()  # the processor and its adapters are built once per container
    bodies = [{"Records": [s3_record(mock_stack.bucket, key)]} for key in (good_key, bad_key)]

    response = process_image.lambda_handler(sqs_event(bodies, receive_count=1), FakeContext(remaining_ms=1))
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert job(mock_stack, good_id)["status"] == "complete"
    assert job(mock_stack, bad_id)["status"] == "processing", "not final yet: SQS retries it"

    # The last delivery before the DLQ comes after the earlier attempt's lease ran out; it records the failure.
    import image_analyzer.processing

    later = utc_now() + timedelta(minutes=10)
    monkeypatch.setattr(image_analyzer.processing, "utc_now", lambda: later)
    response = process_image.lambda_handler(sqs_event(bodies[1:], receive_count=3), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}, "the message still goes to the DLQ"
    item = job(mock_stack, bad_id)
    assert (item["status"], item["errorCode"], int(item["attempts"])) == ("error", "PROCESSING_FAILED", 2)
    assert item["status"] == "error" and not any(bad_id in k for k in stored_keys(mock_stack, "converted/")), (
        "the picture both attempts wrote before DetectLabels failed goes with the error"
    )


def test_duplicate_delivery_of_a_finished_job_changes_nothing(mock_stack) -> None:
    job_id, key = new_upload(mock_stack, "a.jpg", "image/jpeg", photo_bytes("chelsea"))
    run_sqs(mock_stack, [key])
    before = job(mock_stack, job_id)
    assert run_sqs(mock_stack, [key, key]) == {"batchItemFailures": []}
    assert job(mock_stack, job_id) == before


def test_a_job_never_moves_backwards(mock_stack) -> None:
    job_id, key = new_upload(mock_stack, "a.jpg", "image/jpeg", photo_bytes("chelsea"))
    run_sqs(mock_stack, [key])
    store = JobStore(mock_stack.table)
    now = utc_now()
    assert store.fail(job_id, "X", "late failure", now) is False
    assert store.claim(job_id, now, 60).outcome is ClaimOutcome.FINISHED
    assert job(mock_stack, job_id)["status"] == "complete"


def test_lease_keeps_a_concurrent_delivery_out_until_it_expires(mock_stack) -> None:
    job_id, _ = new_upload(mock_stack, "a.jpg", "image/jpeg", photo_bytes("chelsea"))
    store = JobStore(mock_stack.table)
    now = utc_now()
    assert store.claim(job_id, now, 60).outcome is ClaimOutcome.CLAIMED
    assert store.claim(job_id, now + timedelta(seconds=30), 60).outcome is ClaimOutcome.BUSY
    taken = store.claim(job_id, now + timedelta(seconds=61), 60)
    assert taken.outcome is ClaimOutcome.CLAIMED and taken.job.attempts == 2
    assert store.claim("6f1c1f0e-8a55-4c9e-9a43-2b1d1b0b7c11", now, 60).outcome is ClaimOutcome.UNKNOWN


def test_objects_outside_the_api_are_ignored(mock_stack) -> None:
    mock_stack.s3.put_object(Bucket=mock_stack.bucket, Key="uploads/not-a-job/x.jpg", Body=photo_bytes())
    assert run_sqs(mock_stack, ["uploads/not-a-job/x.jpg"]) == {"batchItemFailures": []}
    assert mock_stack.items() == []


def test_plain_s3_event_processes_every_record(mock_stack) -> None:
    first = new_upload(mock_stack, "a.jpg", "image/jpeg", photo_bytes("chelsea"))
    second = new_upload(mock_stack, "b.dcm", "application/dicom", sample_bytes("MR_small.dcm"))
    event = {"Records": [s3_record(mock_stack.bucket, first[1]), s3_record(mock_stack.bucket, second[1])]}
    process_image.lambda_handler(event, FakeContext())
    assert [job(mock_stack, j)["status"] for j, _ in (first, second)] == ["complete", "complete"]


def test_phi_never_reaches_the_table_or_the_logs(mock_stack, capsys) -> None:
    data = make_dicom(gradient(), patient_name=CANARY, patient_id=CANARY)
    assert CANARY.encode() in data
    job_id, key = new_upload(mock_stack, "study.dcm", "application/dicom", data)
    capsys.readouterr()
    log_stream = io.StringIO()
    previous = process_image.logger.registered_handler.setStream(log_stream)
    try:
        run_sqs(mock_stack, [key])
    finally:
        process_image.logger.registered_handler.setStream(previous)
    printed = capsys.readouterr()
    logs = log_stream.getvalue()
    assert job(mock_stack, job_id)["status"] == "complete"
    assert CANARY not in json.dumps(mock_stack.items(), default=str)
    assert CANARY not in logs + printed.out + printed.err
    lines = [json.loads(line) for line in logs.splitlines()]
    assert any(line.get("jobId") == job_id and line.get("outcome") == "completed" for line in lines)
    emf = [json.loads(line) for line in printed.out.splitlines() if '"_aws"' in line]
    assert any("JobsCompleted" in entry and "ProcessingTime" in entry for entry in emf)


def test_large_photos_are_fitted_to_rekognition_limits(mock_stack, monkeypatch) -> None:
    from io import BytesIO

    from PIL import Image

    sent: list[bytes] = []
    real_client = aws.rekognition_client()

    class Recording:
        def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
            sent.append(kwargs["Image"]["Bytes"])
            return real_client.detect_labels(**kwargs)

    monkeypatch.setattr(aws, "rekognition_client", lambda: Recording())
    aws.reset()  # the processor and its adapters are built once per container
    small = BytesIO()
    Image.new("RGB", (40, 30), "red").save(small, "PNG")
    wide = BytesIO()
    Image.new("L", (12000, 300), 128).save(wide, "PNG")
    ids = [new_upload(mock_stack, n, "image/png", b.getvalue()) for n, b in (("s.png", small), ("w.png", wide))]
    run_sqs(mock_stack, [k for _, k in ids])
    sizes = [Image.open(BytesIO(b)).size for b in sent]
    assert sizes[0] == (107, 80)
    assert max(sizes[1]) <= 10_000 and min(sizes[1]) >= 80
    assert all(len(b) <= 5 * 1024 * 1024 for b in sent)
    assert [job(mock_stack, j)["results"]["image"]["width"] for j, _ in ids] == [40, 12000]


@pytest.mark.parametrize("name", ["RG1_UNCR.dcm"])
def test_big_radiograph_renders_within_limits(mock_stack, name: str) -> None:
    job_id, key = new_upload(mock_stack, "cr.dcm", "application/dicom", sample_bytes(name))
    run_sqs(mock_stack, [key])
    item = job(mock_stack, job_id)
    assert item["status"] == "complete"
    assert item["results"]["dicom"]["photometric"] == "MONOCHROME1"


@pytest.mark.parametrize(("code", "deliveries"), [("InvalidImageFormatException", 1), ("ThrottlingException", 3)])
def test_redaction_fails_closed(mock_stack, monkeypatch, code, deliveries) -> None:
    """DetectText refuses the image (permanent: the first delivery ends the job) or keeps failing (retried; the
    last delivery ends it): either way the job ends REDACTION_FAILED and nothing of the image is stored."""
    job_id, key = new_upload(mock_stack, "us.dcm", "application/dicom", sample_bytes("US1_J2KR.dcm"))
    real_client = aws.rekognition_client()
    labelled: list[int] = []

    class FailingText:
        def detect_text(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": code, "Message": "no"}}, "DetectText")

        def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
            labelled.append(1)
            return real_client.detect_labels(**kwargs)

    monkeypatch.setattr(aws, "rekognition_client", lambda: FailingText())
    aws.reset()  # the processor and its adapters are built once per container
    import image_analyzer.processing

    for delivery in range(1, deliveries + 1):
        later = utc_now() + timedelta(minutes=10 * delivery)  # each retry comes after the last lease ran out
        monkeypatch.setattr(image_analyzer.processing, "utc_now", lambda later=later: later)
        run_sqs(mock_stack, [key], receive_count=delivery)
        if delivery < deliveries:
            assert job(mock_stack, job_id)["status"] == "processing", "a transient failure is retried"
    item = job(mock_stack, job_id)
    assert (item["status"], item["errorCode"]) == ("error", "REDACTION_FAILED"), item
    assert stored_keys(mock_stack, "converted/") == [] and not labelled, "nothing unredacted was written or sent"


def test_a_record_too_large_for_dynamodb_ends_the_job_on_its_first_delivery(mock_stack, monkeypatch) -> None:
    # Whatever makes the record too big (here the labels), DynamoDB would refuse it on every retry.
    job_id, key = new_upload(mock_stack, "a.jpg", "image/jpeg", photo_bytes("chelsea"))
    huge = {"Labels": [{"Name": f"label {i} " + "x" * 1000, "Confidence": 90.0} for i in range(450)]}

    class VerboseRekognition:
        def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
            return huge

    monkeypatch.setattr(aws, "rekognition_client", lambda: VerboseRekognition())
    aws.reset()  # the processor and its adapters are built once per container
    response = run_sqs(mock_stack, [key])
    item = job(mock_stack, job_id)
    assert response == {"batchItemFailures": []}, "not retried"
    assert (item["status"], item["errorCode"], int(item["attempts"])) == ("error", "RESULT_TOO_LARGE", 1)
    assert stored_keys(mock_stack, "converted/") == [], "the picture written before the record was refused goes"


def test_a_segmentation_ends_on_its_first_delivery_saying_what_it_is(mock_stack) -> None:
    job_id, key = new_upload(mock_stack, "liver.dcm", "application/dicom", sample_bytes("liver.dcm"))
    assert run_sqs(mock_stack, [key]) == {"batchItemFailures": []}, "not retried"
    item = job(mock_stack, job_id)
    assert (item["status"], item["errorCode"], int(item["attempts"])) == ("error", "DICOM_NOT_AN_IMAGE", 1)
    assert "Segmentation Storage" in item["error"] and stored_keys(mock_stack, "converted/") == []


def test_labels_rejected_after_the_picture_was_written_leaves_nothing_under_converted(mock_stack, monkeypatch) -> None:
    # A DICOM job writes its render and its frame copy before DetectLabels answers.
    job_id, key = new_upload(mock_stack, "ct.dcm", "application/dicom", sample_bytes("CT_small.dcm"))
    written: list[str] = []
    real_write = ObjectStore.write

    def recording_write(self, object_key: str, *args: Any, **kwargs: Any) -> None:
        written.append(object_key)
        real_write(self, object_key, *args, **kwargs)

    real_client = aws.rekognition_client()

    class RefusingRekognition:
        detect_text = staticmethod(real_client.detect_text)  # text is found (and redacted) as usual

        def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "InvalidImageFormatException", "Message": "no"}}, "DetectLabels")

    monkeypatch.setattr(ObjectStore, "write", recording_write)
    monkeypatch.setattr(aws, "rekognition_client", lambda: RefusingRekognition())
    aws.reset()  # the processor and its adapters are built once per container
    run_sqs(mock_stack, [key])
    assert job(mock_stack, job_id)["errorCode"] == "LABELS_REJECTED"
    assert {f"converted/{job_id}.png", f"converted/{job_id}/source.dcm"} <= set(written), written
    assert stored_keys(mock_stack, "converted/") == []
