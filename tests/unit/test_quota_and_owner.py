"""The daily upload quota and job ownership, on the handlers with API Gateway v2 events (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from handlers import get_results, render_view, request_upload
from image_analyzer.quota import seconds_until_next_day
from tests.harness.lambda_events import FakeContext, http_event


def as_caller(event: dict[str, Any], subject: str | None = None, source_ip: str = "203.0.113.7") -> dict[str, Any]:
    event["requestContext"]["http"]["sourceIp"] = source_ip
    if subject is not None:  # what API Gateway's JWT authorizer adds
        event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": subject}, "scopes": None}}
    return event


def upload(subject: str | None = None, source_ip: str = "203.0.113.7") -> dict[str, Any]:
    event = as_caller(
        http_event("POST", "/request-upload", json.dumps({"fileName": "a.png", "fileType": "image/png"})),
        subject,
        source_ip,
    )
    return request_upload.lambda_handler(event, FakeContext(function_name="request_upload"))


def test_over_the_quota_a_caller_gets_429_with_retry_after(mock_stack, monkeypatch) -> None:
    monkeypatch.setenv("DAILY_UPLOAD_QUOTA", "2")
    assert [upload("alice")["statusCode"] for _ in range(2)] == [200, 200]
    refused = upload("alice")
    assert refused["statusCode"] == 429
    assert json.loads(refused["body"])["error"] == "QUOTA_EXCEEDED"
    assert 0 < int(refused["headers"]["Retry-After"]) <= 86400
    assert upload("bob")["statusCode"] == 200, "the quota is per caller"
    jobs = [item for item in mock_stack.items() if not item["jobId"].startswith("quota#")]
    assert len(jobs) == 3, "a refused request creates no job"


def test_an_open_stack_counts_by_source_ip_and_stores_neither_ip_nor_subject(mock_stack, monkeypatch) -> None:
    monkeypatch.setenv("DAILY_UPLOAD_QUOTA", "1")
    assert upload(source_ip="198.51.100.1")["statusCode"] == 200
    assert upload(source_ip="198.51.100.1")["statusCode"] == 429
    assert upload(source_ip="198.51.100.2")["statusCode"] == 200
    assert upload("carol")["statusCode"] == 200
    counters = [item for item in mock_stack.items() if item["jobId"].startswith("quota#")]
    assert len(counters) == 3 and all(int(c["expiresAt"]) > 0 for c in counters)
    stored = json.dumps(counters, default=str)
    assert "198.51.100" not in stored and "carol" not in stored


def test_an_open_stack_counts_ipv6_callers_by_their_64_block(mock_stack, monkeypatch) -> None:
    # A subscriber is given a whole /64: counted by address, every one of its 2^64 addresses would get a quota.
    monkeypatch.setenv("DAILY_UPLOAD_QUOTA", "1")
    assert upload(source_ip="2001:db8:1:2::1")["statusCode"] == 200
    assert upload(source_ip="2001:db8:1:2:ffff:ffff:ffff:fffe")["statusCode"] == 429, "the same /64"
    assert upload(source_ip="2001:db8:1:3::1")["statusCode"] == 200, "another /64"
    assert upload(source_ip="::ffff:198.51.100.9")["statusCode"] == 200, "an IPv4 caller, written as IPv6"
    assert upload(source_ip="::ffff:198.51.100.10")["statusCode"] == 200, "and another one"


def test_a_token_without_a_subject_is_refused(mock_stack) -> None:
    event = as_caller(http_event("POST", "/request-upload", json.dumps({"fileName": "a.png", "fileType": "image/png"})))
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"iss": "https://issuer"}, "scopes": None}}
    response = request_upload.lambda_handler(event, FakeContext(function_name="request_upload"))
    assert response["statusCode"] == 403 and json.loads(response["body"])["error"] == "FORBIDDEN"
    assert [item for item in mock_stack.items() if not item["jobId"].startswith("quota#")] == []


def test_a_quota_of_zero_is_no_quota(mock_stack, monkeypatch) -> None:
    monkeypatch.setenv("DAILY_UPLOAD_QUOTA", "0")
    assert all(upload("dave")["statusCode"] == 200 for _ in range(5))
    assert not [item for item in mock_stack.items() if item["jobId"].startswith("quota#")]


@pytest.mark.parametrize(
    ("now", "seconds"),
    [(datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC), 1), (datetime(2026, 11, 28, 0, 0, 0, tzinfo=UTC), 86400)],
)
def test_retry_after_is_the_time_to_the_next_utc_day(now, seconds) -> None:
    assert seconds_until_next_day(now) == seconds


def test_a_job_is_visible_to_its_owner_only(mock_stack) -> None:
    created = json.loads(upload("alice")["body"])
    item = mock_stack.table.get_item(Key={"jobId": created["jobId"]})["Item"]
    assert item["owner"] == "alice"
    for module, path, extra in ((get_results, "/get-results", {}), (render_view, "/render", {"window": "lung"})):
        for subject, status in (("alice", None), ("bob", 404), (None, 404)):
            event = as_caller(http_event("GET", path, query={"jobId": created["jobId"], **extra}), subject)
            response = module.lambda_handler(event, FakeContext(function_name=module.__name__.split(".")[-1]))
            if status is None:  # the owner reaches the job (pending: no view to render yet)
                assert response["statusCode"] in (200, 409), (path, response)
            else:
                assert response["statusCode"] == status, (path, subject)
                assert json.loads(response["body"])["error"] == "JOB_NOT_FOUND"
