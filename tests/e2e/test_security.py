"""The stack as an attacker and a careful operator see it, through HTTP only, on each backend:
authentication and the daily quota (`up --auth`), bounded single-purpose uploads, immutable results, no file name
anywhere."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from joserfc import jwt

from image_analyzer.definitions import SETTINGS
from image_analyzer.http import API_SECURITY_HEADERS
from local.apigw import PAGE_SECURITY_HEADERS
from local.auth import LocalIssuer
from local.client import ApiClient
from local.emulators import Backend
from local.services import BackgroundHTTPServer
from local.stack import LocalStack, StackOptions
from tests.harness.browser import open_page
from tests.harness.files import CANARY, NESTED_CANARY_PLACES, gradient, make_dicom, nested_canary_dicom, photo_bytes

QUOTA = 3
PATIENT_FILE_NAME = "DOE^JANE_1954-03-09_chest.jpg"


@pytest.fixture(scope="module")
def auth_stack(backend: str, emulator: Backend) -> Iterator[LocalStack]:
    running = LocalStack(
        StackOptions(
            backend=backend, emulator=emulator, processor_workers=1, auth=True,
            settings={"DAILY_UPLOAD_QUOTA": str(QUOTA)},
        )
    ).start()  # fmt: skip
    yield running
    running.stop()


def routes(api_url: str) -> list[tuple[str, str]]:
    job = "00000000-0000-4000-8000-000000000000"
    return [
        ("POST", f"{api_url}/request-upload"),
        ("GET", f"{api_url}/get-results?jobId={job}"),
        ("GET", f"{api_url}/render?jobId={job}&window=lung"),
    ]


def test_without_a_valid_token_every_route_is_refused(auth_stack) -> None:
    assert auth_stack.issuer is not None
    stranger = LocalIssuer()  # the same issuer name and audience, another key
    refused = {
        "no token": {},
        "not a JWT": {"Authorization": "Bearer not-a-token"},
        "another key": {"Authorization": f"Bearer {stranger.token('mallory')}"},
        "expired": {"Authorization": f"Bearer {auth_stack.issuer.token('alice', lifetime_s=-60)}"},
        "wrong audience": {"Authorization": f"Bearer {auth_stack.issuer.token('alice', aud='another-api')}"},
    }
    for method, url in routes(auth_stack.api_url):
        for why, headers in refused.items():
            response = requests.request(method, url, headers=headers, json={}, timeout=10)
            assert response.status_code == 401, (method, url, why)
            assert response.json() == {"message": "Unauthorized"}
    assert not [line for _, line in auth_stack.logs if "upload requested" in line], "no function ran"


def test_the_api_asks_for_a_token_exactly_when_it_was_given_one(api_target) -> None:
    """Over HTTP only (it runs against a deployed stack too): a stack reached with a token refuses every route
    without one or with a forged one; an open stack answers without one."""
    forged = {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.c2lnbmF0dXJl"}
    for method, url in routes(api_target.url):
        for headers in ({}, forged):
            response = requests.request(method, url, headers=headers, json={}, timeout=10)
            if api_target.token:
                assert response.status_code == 401 and response.json() == {"message": "Unauthorized"}, (method, url)
            else:
                assert response.status_code != 401, (method, url, "an open stack asks for no token")
        if api_target.token:
            allowed = requests.request(
                method, url, json={}, timeout=10, headers={"Authorization": f"Bearer {api_target.token}"}
            )
            assert allowed.status_code != 401, (method, url, "the token given is accepted")


def test_a_valid_token_without_a_subject_is_refused_on_every_route(auth_stack) -> None:
    # API Gateway's JWT authorizer lets such a token through; a job it made would have no owner.
    issuer = auth_stack.issuer
    assert issuer is not None
    now = int(time.time())
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "iat": now, "nbf": now, "exp": now + 300}
    no_subject = jwt.encode({"alg": "RS256", "kid": issuer.key.kid}, claims, issuer.key)
    empty_subject = issuer.token("")
    for token in (no_subject, empty_subject):
        for method, url in routes(auth_stack.api_url):
            body = {"fileName": "a.jpg", "fileType": "image/jpeg"}
            response = requests.request(
                method, url, headers={"Authorization": f"Bearer {token}"}, json=body, timeout=10
            )
            assert response.status_code == 403, (method, url, response.text)
            assert response.json()["error"] == "FORBIDDEN"
    jobs = [item for item in auth_stack.table().scan()["Items"] if "s3Key" in item]
    assert all(item.get("owner") for item in jobs), "no job without an owner was created"


def test_with_a_token_the_flow_completes_and_only_its_owner_sees_the_job(auth_stack) -> None:
    assert auth_stack.issuer is not None
    alice = ApiClient(auth_stack.api_url, token=auth_stack.issuer.token("alice"))
    result = alice.analyze("chelsea.jpg", photo_bytes("chelsea"), timeout_s=60)
    assert result.ok and "Cat" in {label["Name"] for label in result.labels}
    bob = ApiClient(auth_stack.api_url, token=auth_stack.issuer.token("bob"))
    with pytest.raises(Exception, match="404"):
        bob.results(result.job_id)
    owner = auth_stack.table().get_item(Key={"jobId": result.job_id})["Item"]["owner"]
    assert owner == "alice"
    # The access log names who called and from where, as the deployed stage's does.
    assert requests.get(f"{auth_stack.api_url}/get-results?jobId={result.job_id}", timeout=10).status_code == 401
    access = [json.loads(line) for source, line in auth_stack.logs if source == "api-access"]
    alice_calls = [entry for entry in access if entry["subject"] == "alice"]
    assert alice_calls and all(entry["sourceIp"] == "127.0.0.1" for entry in alice_calls)
    assert {"POST /request-upload", "GET /get-results"} <= {entry["routeKey"] for entry in alice_calls}
    assert any(entry["subject"] is None and entry["status"] == 401 for entry in access)
    # An access line and the function's log lines share the request id (Powertools' correlation_id).
    requested = [
        json.loads(line)
        for source, line in auth_stack.logs
        if source == "request_upload" and '"upload requested"' in line and result.job_id in line
    ]
    posts = {entry["requestId"] for entry in alice_calls if entry["routeKey"] == "POST /request-upload"}
    assert len(requested) == 1 and requested[0]["correlation_id"] in posts


def test_over_the_daily_quota_a_caller_gets_429_with_retry_after(auth_stack) -> None:
    assert auth_stack.issuer is not None
    token = auth_stack.issuer.token("carol")
    headers = {"Authorization": f"Bearer {token}"}
    body = {"fileName": "a.png", "fileType": "image/png"}
    statuses = [
        requests.post(f"{auth_stack.api_url}/request-upload", json=body, headers=headers, timeout=10)
        for _ in range(QUOTA + 1)
    ]
    assert [r.status_code for r in statuses] == [200] * QUOTA + [429]
    refused = statuses[-1]
    assert refused.json()["error"] == "QUOTA_EXCEEDED"
    assert 0 < int(refused.headers["Retry-After"]) <= 86400
    # The quota is per caller: someone else still may.
    other = {"Authorization": f"Bearer {auth_stack.issuer.token('dave')}"}
    assert requests.post(f"{auth_stack.api_url}/request-upload", json=body, headers=other, timeout=10).ok


def upload_keys(stack: LocalStack, job_id: str) -> list[str]:
    listing = stack.client("s3").list_objects_v2(Bucket=stack.resources.bucket, Prefix=f"uploads/{job_id}/")
    return [item["Key"] for item in listing.get("Contents", [])]


def wait_until_gone(stack: LocalStack, job_id: str, timeout_s: float = 30) -> None:
    """The processor deletes an upload once its job has ended, also on a later duplicate delivery."""
    deadline = time.monotonic() + timeout_s
    while upload_keys(stack, job_id):
        assert time.monotonic() < deadline, "the upload was not deleted"
        time.sleep(0.1)  # polling an observable state, not waiting for a guess


def test_a_second_put_after_completion_does_not_change_what_the_job_shows(stack, client) -> None:
    first, second = photo_bytes("chelsea"), photo_bytes("coffee")
    grant = client.request_upload("photo.jpg", "image/jpeg")
    client.upload(grant, first)
    record = client.wait(grant["jobId"], 60)
    assert record["status"] == "complete" and "/converted/" in record["imageUrl"]
    wait_until_gone(stack, grant["jobId"])
    client.upload(grant, second)  # the URL has not expired yet
    wait_until_gone(stack, grant["jobId"])  # the second object was seen, and deleted
    again = client.results(grant["jobId"])
    assert client.download(again["imageUrl"]) == first
    assert again["results"] == record["results"]


def test_a_put_of_another_size_than_declared_is_refused_where_signatures_are_checked(stack, client, backend) -> None:
    data = photo_bytes("chelsea")
    grant = client.request_upload("photo.jpg", "image/jpeg", size=len(data))
    assert "content-length" in grant["uploadUrl"].lower()
    bigger = requests.put(grant["uploadUrl"], data=data + b"\0" * 4096, headers=grant["uploadHeaders"], timeout=10)
    if backend == "localstack":
        assert bigger.status_code == 403 and b"SignatureDoesNotMatch" in bigger.content
        exact = requests.put(grant["uploadUrl"], data=data, headers=grant["uploadHeaders"], timeout=10)
        assert exact.status_code == 200
    else:
        assert bigger.status_code == 200, "moto does not check signatures"
    assert client.wait(grant["jobId"], 60)["status"] == "complete"


def test_the_file_name_reaches_no_key_record_or_log_and_the_upload_is_deleted(stack, client) -> None:
    result = client.analyze(PATIENT_FILE_NAME, photo_bytes("chelsea"), timeout_s=60)
    assert result.ok
    wait_until_gone(stack, result.job_id)
    item = stack.table().get_item(Key={"jobId": result.job_id})["Item"]
    assert item["s3Key"] == f"uploads/{result.job_id}/original" and item["extension"] == "jpg"
    listing = stack.client("s3").list_objects_v2(Bucket=stack.resources.bucket).get("Contents", [])
    everything = " ".join(
        [str(item), str(result.record), *(o["Key"] for o in listing), *(line for _, line in stack.logs)]
    )
    assert "DOE" not in everything and "JANE" not in everything and "1954" not in everything


def test_the_page_sends_the_remembered_token(browser, auth_stack, tmp_path) -> None:
    assert auth_stack.issuer is not None
    page, paths = open_page(browser, auth_stack, tmp_path, {"cat.jpg": photo_bytes("chelsea")})
    page.wait_for_function("() => document.querySelector('.job')?.dataset.status === 'error'", timeout=30_000)
    assert "needs an access token" in page.locator(".job .error").inner_text()
    page.locator(".settings summary").click()
    page.fill("#api-token", auth_stack.issuer.token("erin"))
    page.dispatch_event("#api-token", "change")
    page.reload()  # remembered in this browser
    assert page.input_value("#api-token").count(".") == 2
    page.set_input_files("#file-input", paths)
    page.wait_for_function("() => document.querySelector('.job')?.dataset.status === 'complete'", timeout=60_000)
    assert "Cat" in page.locator(".job .labels").inner_text()
    page.close()


def test_the_cli_sends_its_token(auth_stack, tmp_path, capsys) -> None:
    from local.cli import main

    assert auth_stack.issuer is not None
    path = tmp_path / "cat.jpg"
    path.write_bytes(photo_bytes("chelsea"))
    out = str(tmp_path / "out")
    assert main(["analyze", "--api", auth_stack.api_url, "--out", out, str(path)]) == 1
    refused = capsys.readouterr().out
    assert "UNAUTHORIZED" in refused and "--token" in refused
    token = auth_stack.issuer.token("frank")
    assert main(["analyze", "--api", auth_stack.api_url, "--token", token, "--out", out, str(path)]) == 0
    assert "1 complete, 0 error" in capsys.readouterr().out


def test_the_emulator_accepts_connections_on_the_loopback_address_only(emulator) -> None:
    # The emulators have no authentication: anyone who could reach one could read uploads and rewrite results.
    addresses = emulator.listening_addresses()
    assert addresses and set(addresses) <= {"127.0.0.1", "::1"}, addresses
    with socket.create_connection(("127.0.0.1", urlsplit(emulator.endpoint_url).port), timeout=5):
        pass  # and it is reachable there


def test_an_attribute_longer_than_its_vr_ends_the_job_on_its_first_delivery(stack, client) -> None:
    # 500,000 characters of Modality (CS: at most 16): recorded, it would make the job record too big for
    # DynamoDB, and the refused write would be retried as if transient.
    data = make_dicom(gradient(64, 64), modality="CT" * 250_000)
    record = client.analyze("long-modality.dcm", data).record
    assert (record["status"], record["errorCode"]) == ("error", "CORRUPT_DICOM"), record
    assert "Modality" in record["error"] and "CTCT" not in record["error"]
    assert int(stack.table().get_item(Key={"jobId": record["jobId"]})["Item"]["attempts"]) == 1


@pytest.mark.parametrize("where", NESTED_CANARY_PLACES)
def test_the_stored_frame_copy_holds_no_canary(stack, client, where) -> None:
    # The copy other windows are drawn from is kept for the retention period: only what windows it may be in it.
    record = client.analyze(f"nested-{where}.dcm", nested_canary_dicom(where)).record
    assert record["status"] == "complete", record
    s3 = stack.client("s3")
    listing = s3.list_objects_v2(Bucket=stack.resources.bucket, Prefix=f"converted/{record['jobId']}/")
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert any(key.endswith(".dcm") for key in keys), keys
    for key in keys:
        assert CANARY.encode() not in s3.get_object(Bucket=stack.resources.bucket, Key=key)["Body"].read(), key
    assert CANARY not in json.dumps(record)


class _Recorder(BaseHTTPRequestHandler):
    """Another origin a link may name: it records every request, and answers CORS so that a browser would send."""

    def _answer(self) -> None:
        self.server.received.append(  # type: ignore[attr-defined]
            f"{self.command} {self.path} {self.headers.get('Authorization', '')}"
        )
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "authorization,content-type")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"jobId": "00000000-0000-4000-8000-000000000000", "status": "complete"}')

    do_GET = do_POST = do_PUT = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_link_cannot_send_the_token_or_the_files_to_another_api(browser, auth_stack, tmp_path) -> None:
    assert auth_stack.issuer is not None
    other = BackgroundHTTPServer(_Recorder)
    other.received = []  # type: ignore[attr-defined]
    other.start()
    received: list[str] = other.received  # type: ignore[attr-defined]
    try:
        page = browser.new_page()
        page.goto(auth_stack.api_url + "/")
        page.locator(".settings summary").click()
        page.fill("#api-token", auth_stack.issuer.token("frank"))
        page.dispatch_event("#api-token", "change")
        page.goto(f"{auth_stack.api_url}/?api={other.url}")  # the genuine page, from a link
        assert page.locator("#api-offer").is_visible() and other.url in page.locator("#api-offer").inner_text()
        assert page.locator("#api-origin").inner_text() == auth_stack.api_url, "the page says where files go"
        path = tmp_path / "cat.jpg"
        path.write_bytes(photo_bytes("chelsea"))
        page.set_input_files("#file-input", [str(path)])
        page.wait_for_function("() => document.querySelector('.job')?.dataset.status === 'complete'", timeout=60_000)
        assert received == [], "nothing reached the other origin"
        # Confirmed, the other API gets the files (the user chose it) but not the token saved for the first one.
        page.locator(".use-offered-api").click()
        assert page.locator("#api-origin").inner_text() == other.url
        page.set_input_files("#file-input", [str(path)])
        page.wait_for_function("() => [...document.querySelectorAll('.job')].length === 2", timeout=30_000)
        page.wait_for_function("() => document.querySelector('.job')?.dataset.status !== 'requested'", timeout=30_000)
        assert received and not any("Bearer" in line for line in received), received
        page.close()
    finally:
        other.stop()


def test_the_page_and_the_api_send_security_headers(stack) -> None:
    for path in ("/", "/app.js", "/presets.js", "/style.css"):
        response = requests.get(stack.api_url + path, timeout=10)
        assert response.ok and {k: response.headers.get(k) for k in PAGE_SECURITY_HEADERS} == PAGE_SECURITY_HEADERS
    answers = [
        requests.post(
            f"{stack.api_url}/request-upload", json={"fileName": "a.jpg", "fileType": "image/jpeg"}, timeout=10
        ),
        requests.get(f"{stack.api_url}/get-results?jobId=not-a-job", timeout=10),
        requests.get(f"{stack.api_url}/render?jobId=00000000-0000-4000-8000-000000000000&window=x", timeout=10),
    ]
    assert [answer.status_code for answer in answers] == [200, 400, 400]
    for answer in answers:
        assert {k: answer.headers.get(k) for k in API_SECURITY_HEADERS} == API_SECURITY_HEADERS, answer.url
    # What a static host of the page must send is written in the README, verbatim.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert all(f"`{name}: {value}`" in readme for name, value in PAGE_SECURITY_HEADERS.items())


def test_a_loop_of_custom_windows_stores_a_bounded_number_of_views(stack, client) -> None:
    record = client.analyze("ct.dcm", make_dicom(gradient(64, 64), modality="CT")).record
    assert record["status"] == "complete", record
    kept = int(SETTINGS["MAX_CUSTOM_VIEWS"].default)
    statuses = [
        requests.get(
            f"{stack.api_url}/render", params={"jobId": record["jobId"], "center": 100 + i, "width": 500}, timeout=30
        ).status_code
        for i in range(kept + 5)
    ]
    assert statuses == [200] * kept + [429] * 5
    listing = stack.client("s3").list_objects_v2(
        Bucket=stack.resources.bucket, Prefix=f"converted/{record['jobId']}/view-"
    )
    assert listing["KeyCount"] == kept


def test_nearby_windows_are_kept_apart_and_named_as_served(client) -> None:
    record = client.analyze("ct.dcm", make_dicom(gradient(64, 64), modality="CT")).record
    asked = [("1234.567", "1000000"), ("1234.568", "1000000"), ("1234.567", "1000004")]
    answers = []
    for _ in range(2):  # rendered, then served as stored: the same answer
        for center, width in asked:
            query = {"jobId": record["jobId"], "center": center, "width": width}
            answers.append(client.call("GET", "/render", params=query).json())
    assert len({answer["view"] for answer in answers}) == len(asked)
    for (center, width), answer in zip(asked * 2, answers, strict=True):
        assert answer["window"] == {"center": float(center), "width": float(width), "source": "override"}


class _AnotherSite(BaseHTTPRequestHandler):
    """Any web page the developer has open while the stack runs: a blank page of its own origin."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<!doctype html><title>another site</title>")

    def log_message(self, format: str, *args: object) -> None:
        pass


# Reads a page can try with fetch(): plain GETs, and a DynamoDB call (its x-amz-target header needs a preflight).
_READ_ALL = """async (targets) => {
  const outcomes = {};
  for (const [name, [url, options]] of Object.entries(targets)) {
    try {
      const response = await fetch(url, options);
      outcomes[name] = `read: ${response.status}, ${(await response.arrayBuffer()).byteLength} bytes`;
    } catch (error) {
      outcomes[name] = "refused";
    }
  }
  return outcomes;
}"""


def test_a_page_on_another_site_reads_nothing_of_the_local_stack(browser, stack, client) -> None:
    record = client.analyze("cat.jpg", photo_bytes("chelsea")).record
    emulator, bucket = stack.backend.endpoint_url, stack.resources.bucket
    list_tables = {
        "method": "POST",
        "headers": {"x-amz-target": "DynamoDB_20120810.ListTables", "content-type": "application/x-amz-json-1.0"},
        "body": "{}",
    }
    targets = {
        "buckets": [f"{emulator}/", {}],
        "objects": [f"{emulator}/{bucket}?list-type=2", {}],
        "tables": [f"{emulator}/", list_tables],
        "job record": [f"{stack.api_url}/get-results?jobId={record['jobId']}", {}],
        "image": [record["imageUrl"], {}],
    }
    other = BackgroundHTTPServer(_AnotherSite).start()
    try:
        page = browser.new_page()
        page.goto(other.url + "/")
        assert page.evaluate(_READ_ALL, targets) == dict.fromkeys(targets, "refused")
        # The stack's own page reads what it needs: the same fetch() can read, where it is allowed to.
        page.goto(stack.api_url + "/")
        own = page.evaluate(_READ_ALL, {name: targets[name] for name in ("job record", "image")})
        assert all(outcome.startswith("read: 200") for outcome in own.values()), own
        page.close()
    finally:
        other.stop()
