"""request_upload and get_results on real API Gateway HTTP API v2 events, against moto."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from handlers import get_results, request_upload
from tests.harness.lambda_events import FakeContext, http_event


def call(module: Any, event: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    response = module.lambda_handler(event, FakeContext(function_name=module.__name__.split(".")[-1]))
    body = json.loads(response["body"]) if response.get("body") else {}
    return response["statusCode"], body, response.get("headers", {})


def request(body: Any, raw: bool = False, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    text = body if raw else json.dumps(body)
    return call(request_upload, http_event("POST", "/request-upload", text, **kwargs))


def results(job_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return call(get_results, http_event("GET", "/get-results", query={"jobId": job_id}))


def test_request_upload_creates_a_pending_job_and_signed_urls(mock_stack) -> None:
    status, body, headers = request({"fileName": "chest x-ray.jpg", "fileType": "image/jpeg", "fileSize": 1234})
    assert status == 200, body
    job_id = body["jobId"]
    assert uuid.UUID(job_id).version == 4
    assert body["uploadHeaders"] == {"Content-Type": "image/jpeg"}
    assert body["expiresIn"] == 900
    signed = parse_qs(urlparse(body["uploadUrl"]).query)
    # The declared size is signed: S3 refuses a body of any other length.
    assert {"content-type", "content-length"} <= set(signed["X-Amz-SignedHeaders"][0].split(";"))
    assert urlparse(body["uploadUrl"]).path.endswith(f"uploads/{job_id}/original")
    policy = json.loads(__import__("base64").b64decode(body["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, 15 * 1024 * 1024] in policy["conditions"]
    assert headers["Access-Control-Allow-Origin"] == "*"

    item = mock_stack.table.get_item(Key={"jobId": job_id})["Item"]
    assert item["status"] == "pending" and item["fileType"] == "image/jpeg" and item["extension"] == "jpg"
    assert item["s3Key"] == f"uploads/{job_id}/original" and "fileName" not in item and "owner" not in item
    assert int(item["expiresAt"]) > 0 and item["createdAt"] == item["updatedAt"]

    put = requests.put(body["uploadUrl"], data=b"\xff\xd8\xff" + b"0" * 1231, headers=body["uploadHeaders"], timeout=10)
    assert put.status_code == 200
    assert mock_stack.s3.head_object(Bucket=mock_stack.bucket, Key=item["s3Key"])["ContentLength"] == 1234


def test_without_a_size_only_the_type_is_signed(mock_stack) -> None:
    status, body, _ = request({"fileName": "a.png", "fileType": "image/png"})
    assert status == 200
    signed = parse_qs(urlparse(body["uploadUrl"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert "content-length" not in signed and "content-type" in signed


def test_dicom_name_with_generic_type_is_dicom(mock_stack) -> None:
    for file_type in ("", "application/octet-stream"):
        status, body, _ = request({"fileName": "scan.DCM", "fileType": file_type})
        assert status == 200 and body["uploadHeaders"]["Content-Type"] == "application/dicom"


def test_the_file_name_reaches_no_key_record_or_log(mock_stack, capsys) -> None:
    # Radiology file names often carry the patient's name: only the extension is kept.
    name = "DOE^JOHN 1961-04-02 ..\\../../etc/pass\x00wd.DCM"
    status, body, _ = request({"fileName": name, "fileType": "application/dicom", "fileSize": 100})
    assert status == 200
    item = mock_stack.table.get_item(Key={"jobId": body["jobId"]})["Item"]
    assert item["s3Key"] == f"uploads/{body['jobId']}/original" and item["extension"] == "dcm"
    logged = capsys.readouterr()
    for where in (json.dumps(item, default=str), body["uploadUrl"], json.dumps(body), logged.out + logged.err):
        assert "DOE" not in where and "JOHN" not in where and "1961" not in where


@pytest.mark.parametrize(
    ("name", "extension"), [("scan", None), ("a.tar.gz", "gz"), ("x.abcdefghijk", None), (".png", None)]
)
def test_only_a_short_alphanumeric_extension_is_kept(mock_stack, name, extension) -> None:
    status, body, _ = request({"fileName": name, "fileType": "image/png"})
    assert status == 200
    assert mock_stack.table.get_item(Key={"jobId": body["jobId"]})["Item"].get("extension") == extension


@pytest.mark.parametrize(
    ("body", "raw", "status", "code"),
    [
        ("{not json", True, 400, "BAD_REQUEST"),
        ("", True, 400, "BAD_REQUEST"),
        ("[1, 2]", True, 400, "BAD_REQUEST"),
        ({"fileType": "image/png"}, False, 400, "BAD_REQUEST"),
        ({"fileName": 42, "fileType": "image/png"}, False, 400, "BAD_REQUEST"),
        ({"fileName": "a.png", "fileType": 7}, False, 400, "BAD_REQUEST"),
        ({"fileName": "a.png", "fileType": "image/png", "fileSize": "12"}, False, 400, "BAD_REQUEST"),
        ({"fileName": "a.png", "fileType": "image/png", "fileSize": True}, False, 400, "BAD_REQUEST"),
        ({"fileName": "a.png", "fileType": "image/png", "fileSize": 0}, False, 400, "BAD_REQUEST"),
        ({"fileName": "a.png", "fileType": "image/png", "fileSize": 10**10}, False, 413, "FILE_TOO_LARGE"),
        ({"fileName": "a.pdf", "fileType": "application/pdf"}, False, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"fileName": "a.svg", "fileType": "image/svg+xml"}, False, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"fileName": "a.heic", "fileType": "image/heic"}, False, 415, "UNSUPPORTED_MEDIA_TYPE"),
        ({"fileName": "a.png", "fileType": "image/png", "pad": "x" * 20000}, False, 413, "BODY_TOO_LARGE"),
    ],
)
def test_bad_upload_requests_get_a_clear_4xx(mock_stack, body: Any, raw: bool, status: int, code: str) -> None:
    got_status, got, headers = request(body, raw=raw)
    assert (got_status, got["error"]) == (status, code)
    assert got["message"] and headers["Content-Type"] == "application/json"
    assert mock_stack.items() == [], "a rejected request creates no job"


@pytest.mark.parametrize(
    ("file_type", "stored_as"),
    [
        ("image/gif", "image/gif"),
        ("image/webp", "image/webp"),
        ("image/bmp", "image/bmp"),
        ("image/x-ms-bmp", "image/bmp"),
        ("image/tiff", "image/tiff"),
    ],
)
def test_more_photo_formats_are_accepted(mock_stack, file_type: str, stored_as: str) -> None:
    status, body, _ = request({"fileName": "photo", "fileType": file_type})
    assert status == 200 and body["uploadHeaders"] == {"Content-Type": stored_as}


def test_base64_body_is_accepted(mock_stack) -> None:
    status, _, _ = request({"fileName": "a.png", "fileType": "image/png"}, base64_body=True)
    assert status == 200


def test_cors_preflight_and_allowed_origins(mock_stack, monkeypatch) -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://app.example.com,https://admin.example.com")
    import importlib

    module = importlib.reload(request_upload)
    try:
        preflight = http_event(
            "OPTIONS",
            "/request-upload",
            headers={"origin": "https://admin.example.com", "access-control-request-method": "POST"},
        )
        status, _, headers = call(module, preflight)
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "https://admin.example.com"
        _, _, headers = call(
            module,
            http_event(
                "POST",
                "/request-upload",
                json.dumps({"fileName": "a.png", "fileType": "image/png"}),
                headers={"origin": "https://evil.example.com"},
            ),
        )
        assert "Access-Control-Allow-Origin" not in headers
    finally:
        monkeypatch.delenv("ALLOWED_ORIGINS")
        importlib.reload(request_upload)


def test_internal_errors_hide_internals(mock_stack) -> None:
    mock_stack.table.delete()
    status, body, _ = request({"fileName": "a.png", "fileType": "image/png"})
    assert status == 500 and body == {"error": "INTERNAL", "message": "Internal error; please retry."}


def test_unknown_route_is_a_json_404(mock_stack) -> None:
    status, body, _ = call(request_upload, http_event("GET", "/nope"))
    assert status == 404 and body["error"] == "NOT_FOUND"


@pytest.mark.parametrize("job_id", ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000", "' OR 1=1 --"])
def test_get_results_rejects_malformed_ids(mock_stack, job_id: str) -> None:
    status, body, _ = results(job_id)
    assert (status, body["error"]) == (400, "INVALID_JOB_ID")


def test_get_results_unknown_job_is_404(mock_stack) -> None:
    status, body, _ = results(str(uuid.uuid4()))
    assert (status, body["error"]) == (404, "JOB_NOT_FOUND")


def test_get_results_pending_job(mock_stack) -> None:
    _, created, _ = request({"fileName": "a.png", "fileType": "image/png"})
    status, body, _ = results(created["jobId"])
    assert status == 200
    assert body == {
        "jobId": created["jobId"],
        "status": "pending",
        "results": None,
        "imageUrl": None,
        "error": None,
        "errorCode": None,
        "createdAt": body["createdAt"],
        "updatedAt": body["updatedAt"],
    }


def test_api_functions_do_not_import_imaging_libraries() -> None:
    code = (
        "import sys, handlers.request_upload, handlers.get_results; "
        "print(sorted(m for m in ('numpy', 'PIL', 'pydicom') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
