"""GET /render: a completed DICOM job in another window, rendered once and served from converted/ after that."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
import requests
from PIL import Image

from handlers import render_view
from tests.harness.files import photo_bytes, sample_bytes
from tests.harness.handler_flow import run_job
from tests.harness.lambda_events import FakeContext, http_event


def view(job_id: str, **query: str) -> tuple[int, dict[str, Any]]:
    response = render_view.lambda_handler(
        http_event("GET", "/render", query={"jobId": job_id, **query}), FakeContext(function_name="render_view")
    )
    return response["statusCode"], json.loads(response["body"])


def picture(url: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(requests.get(url, timeout=10).content)))


@pytest.fixture
def ct_record(mock_stack, monkeypatch) -> dict[str, Any]:
    return run_job(mock_stack, monkeypatch, "", sample_bytes("CT_small.dcm"), "application/dicom")


@pytest.fixture
def ct_job(ct_record) -> str:
    return ct_record["jobId"]


def test_a_preset_renders_once_and_is_served_from_storage_after(mock_stack, ct_job) -> None:
    status, body = view(ct_job, window="lung")
    assert status == 200 and body["view"] == "lung"
    assert body["window"] == {"center": -600.0, "width": 1500.0, "source": "preset:lung"}
    lung = picture(body["imageUrl"])
    key = f"converted/{ct_job}/view-lung.png"
    stored = mock_stack.s3.head_object(Bucket=mock_stack.bucket, Key=key)["LastModified"]
    status, again = view(ct_job, window="lung")
    assert status == 200 and again["window"] == body["window"], "served from storage, and named as rendered"
    assert mock_stack.s3.head_object(Bucket=mock_stack.bucket, Key=key)["LastModified"] == stored
    bone = picture(view(ct_job, window="bone")[1]["imageUrl"])
    assert lung.shape == bone.shape == (128, 128) and not np.array_equal(lung, bone)


def test_a_custom_window_and_the_files_own(mock_stack, ct_record, ct_job) -> None:
    status, body = view(ct_job, center="40", width="400")
    assert status == 200 and body["view"] == "c40_w400" and body["window"]["source"] == "override"
    assert body["window"]["center"] == 40 and body["window"]["width"] == 400
    status, own = view(ct_job, window="file")
    assert status == 200 and own["view"] == "file"
    # "file" is the window the job was first shown in: the same pixels as its imageUrl.
    assert np.array_equal(picture(own["imageUrl"]), picture(ct_record["imageUrl"]))


def test_nearby_windows_are_different_views_each_named_as_served(mock_stack, ct_job) -> None:
    # Parsing, the stored view's key and the response share one form (three decimals): no window is served the
    # picture of a neighbour.
    asked = [("1234.567", "1000000"), ("1234.568", "1000000"), ("1234.567", "1000004"), ("-0.0001", "2.5")]
    answers = [view(ct_job, center=center, width=width)[1] for center, width in asked]
    assert len({answer["view"] for answer in answers}) == len(asked)
    for (center, width), answer in zip(asked, answers, strict=True):
        assert answer["window"] == {"center": round(float(center), 3), "width": float(width), "source": "override"}
    listed = mock_stack.s3.list_objects_v2(Bucket=mock_stack.bucket, Prefix=f"converted/{ct_job}/view-c")
    assert len(listed["Contents"]) == len(asked)
    again = view(ct_job, center="1234.5670", width="1e6")[1]  # the same window written another way
    assert again["view"] == answers[0]["view"] and again["window"] == answers[0]["window"]


@pytest.mark.parametrize(
    "query",
    [
        {"window": "sepia"},
        {"center": "40"},
        {"center": "x", "width": "400"},
        {"center": "nan", "width": "400"},
        {"center": "40", "width": "0"},
        {"center": "1e300", "width": "10"},
        {"window": "lung", "center": "40", "width": "400"},
    ],
)
def test_bad_view_requests_are_400(mock_stack, ct_job, query) -> None:
    status, body = view(ct_job, **query)
    assert status == 400 and body["error"] == "BAD_REQUEST" and body["message"]


def test_only_completed_greyscale_dicom_jobs_have_views(mock_stack, monkeypatch) -> None:
    photo = run_job(mock_stack, monkeypatch, "", photo_bytes("coffee", "PNG"), "image/png")["jobId"]
    assert view(photo, window="lung")[0] == 409
    colour = run_job(mock_stack, monkeypatch, "", sample_bytes("SC_rgb.dcm"), "application/dicom")["jobId"]
    assert view(colour, window="lung")[0] == 409
    assert view("6f1c1f0e-8a55-4c9e-9a43-2b1d1b0b7c11", window="lung")[0] == 404
    assert view("not-a-uuid", window="lung")[0] == 400


@pytest.mark.parametrize(
    ("sample", "modality"), [("MR_small.dcm", "MR"), ("RG3_J2KI.dcm", "CR"), ("emri_small_jpeg_2k_lossless.dcm", "MR")]
)
def test_hounsfield_presets_are_refused_where_the_values_are_not_hounsfield_units(
    mock_stack, monkeypatch, sample, modality
) -> None:
    # An MR in "lung" is washed out, a MONOCHROME1 CR in "bone" black: the presets mean something only for HU.
    record = run_job(mock_stack, monkeypatch, "", sample_bytes(sample), "application/dicom")
    dicom = record["results"]["dicom"]
    assert (dicom["modality"], dicom["views"]) == (modality, ["file"])
    for preset in ("lung", "bone", "soft_tissue"):
        status, body = view(record["jobId"], window=preset)
        assert status == 400 and body["error"] == "BAD_REQUEST", body
        assert f"this {modality}'s values are not" in body["message"] and "offers window=file" in body["message"]
    assert stored_views(mock_stack, record["jobId"]) == [], "nothing was rendered for a refused preset"
    assert view(record["jobId"], window="file")[0] == 200
    assert view(record["jobId"], center="500", width="1000")[0] == 200, "a custom window applies to any image"


def test_a_ct_offers_every_preset(ct_record) -> None:
    assert ct_record["results"]["dicom"]["views"] == ["file", "soft_tissue", "lung", "bone", "brain", "liver"]


def test_which_values_are_hounsfield_units() -> None:
    from image_analyzer.windows import values_are_hounsfield

    assert values_are_hounsfield("CT", None) and values_are_hounsfield("CT", "HU") and values_are_hounsfield("OT", "HU")
    assert not values_are_hounsfield("CT", "US") and not values_are_hounsfield("MR", None)
    assert not values_are_hounsfield("NM", "") and not values_are_hounsfield(None, None)


def stored_views(mock_stack, job_id: str) -> list[str]:
    listing = mock_stack.s3.list_objects_v2(Bucket=mock_stack.bucket, Prefix=f"converted/{job_id}/view-")
    return [item["Key"] for item in listing.get("Contents", [])]


def test_a_loop_of_custom_windows_leaves_a_bounded_number_of_views(mock_stack, monkeypatch, ct_job) -> None:
    monkeypatch.setenv("MAX_CUSTOM_VIEWS", "3")
    answers = [view(ct_job, center=str(40 + i), width="400") for i in range(12)]
    assert [status for status, _ in answers] == [200] * 3 + [429] * 9
    assert {body["error"] for status, body in answers if status == 429} == {"VIEW_LIMIT_REACHED"}
    assert len(stored_views(mock_stack, ct_job)) == 3
    assert view(ct_job, center="41", width="400")[0] == 200, "a kept custom window is still served"
    assert all(view(ct_job, window=preset)[0] == 200 for preset in ("file", "lung", "bone")), "presets always"
    assert len(stored_views(mock_stack, ct_job)) == 6


def test_renders_count_in_the_callers_daily_quota(mock_stack, monkeypatch, ct_job) -> None:
    monkeypatch.setenv("DAILY_RENDER_QUOTA", "2")
    assert [view(ct_job, window=preset)[0] for preset in ("lung", "bone")] == [200, 200]
    status, body = view(ct_job, window="brain")
    assert status == 429 and body["error"] == "QUOTA_EXCEEDED" and "renders" in body["message"]
    assert view(ct_job, window="lung")[0] == 200, "a view served as stored is not a render"
    assert stored_views(mock_stack, ct_job) == [f"converted/{ct_job}/view-{p}.png" for p in ("bone", "lung")]
