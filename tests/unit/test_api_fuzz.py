"""Property-based: no request, however malformed, makes either API function answer 500 (or crash)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers import get_results, request_upload
from tests.harness.lambda_events import FakeContext, http_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
upload_bodies = st.fixed_dictionaries(
    {},
    optional={
        "fileName": st.one_of(st.text(max_size=300), json_values),
        "fileType": st.one_of(st.sampled_from(["image/jpeg", "image/png", "application/dicom", ""]), json_values),
        "fileSize": st.one_of(st.integers(), json_values),
    },
)
text_bodies = st.one_of(
    upload_bodies.map(lambda body: json.dumps(body)),
    st.text(max_size=200),
    st.just("9" * 5000),  # an integer beyond Python's 4300-digit parsing limit
    st.just("[" * 5000),  # nesting deep enough to exhaust the parser
)
headers = st.dictionaries(
    st.sampled_from(["content-type", "origin", "authorization", "x-forwarded-for", "content-length", "x-junk"]),
    st.text(max_size=60),
    max_size=4,
)
queries = st.dictionaries(st.sampled_from(["jobId", "x", ""]), st.text(max_size=80), max_size=3)


def invoke(module: Any, event: dict[str, Any]) -> dict[str, Any]:
    response = module.lambda_handler(event, FakeContext(function_name=module.__name__.split(".")[-1]))
    assert response["statusCode"] < 500, response
    if response.get("body"):
        body = json.loads(response["body"])  # always JSON
        if response["statusCode"] >= 400:
            assert set(body) == {"error", "message"}, body
    return response


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=st.one_of(text_bodies, st.none()), extra_headers=headers, binary=st.booleans(), raw=st.binary(max_size=64))
def test_request_upload_never_answers_500(mock_stack, body, extra_headers, binary, raw) -> None:
    event = http_event("POST", "/request-upload", body, headers=extra_headers)
    if binary:  # arbitrary bytes, base64-encoded as API Gateway sends a binary body: often not UTF-8
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    invoke(request_upload, event)


@FUZZ
@given(query=queries, extra_headers=headers, raw_query=st.text(max_size=80))
def test_get_results_never_answers_500(mock_stack, query, extra_headers, raw_query) -> None:
    event = http_event("GET", "/get-results", query=query or None, headers=extra_headers)
    if not query:
        event["rawQueryString"] = raw_query
    invoke(get_results, event)


@pytest.mark.parametrize(
    ("body", "binary"),
    [("9" * 5000, False), ('{"fileName": "a.jpg", "fileType": "image/jpeg", "fileSize": ' + "9" * 5000 + "}", False)],
)
def test_found_by_fuzzing_huge_integers_are_400(mock_stack, body, binary) -> None:
    response = invoke(request_upload, http_event("POST", "/request-upload", body))
    assert response["statusCode"] == 400


def test_found_by_fuzzing_a_non_utf8_binary_body_is_400(mock_stack) -> None:
    event = http_event("POST", "/request-upload", None)
    event["body"], event["isBase64Encoded"] = base64.b64encode(b"\xff\xfe\x00garbage").decode(), True
    assert invoke(request_upload, event)["statusCode"] == 400
