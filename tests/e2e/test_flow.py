"""The whole flow through HTTP only: request-upload → PUT to S3 → queue → process_image → get-results."""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from PIL import Image

from tests.harness.files import gradient, make_dicom, photo_bytes, png_bomb, sample_bytes, unknown_syntax_dicom


def label_names(result) -> set[str]:
    return {label["Name"] for label in result.labels}


def test_cat_photo_is_labelled_a_cat(client) -> None:
    result = client.analyze("chelsea.jpg", photo_bytes("chelsea"), timeout_s=60)
    assert result.ok, result.record
    assert "Cat" in label_names(result)
    cat = next(label for label in result.labels if label["Name"] == "Cat")
    assert cat["Confidence"] > 80 and {"Name": "Animal"} in cat["Parents"]
    assert result.record["results"]["image"] == {"format": "JPEG", "width": 451, "height": 300}
    assert client.download(result.record["imageUrl"]) == photo_bytes("chelsea")


def test_png_photo_is_labelled(client) -> None:
    result = client.analyze("coffee.png", photo_bytes("coffee", "PNG"), timeout_s=60)
    assert result.ok and result.record["results"]["image"]["format"] == "PNG"
    assert label_names(result) & {"Espresso", "Cup", "Beverage", "Coffee Mug"}
    assert all(label["Confidence"] >= 55 for label in result.labels) and len(result.labels) <= 20


@pytest.mark.parametrize(
    ("name", "modality", "photometric", "frames"),
    [
        ("CT_small.dcm", "CT", "MONOCHROME2", 1),
        ("RG3_J2KI.dcm", "CR", "MONOCHROME1", 1),
        ("emri_small.dcm", "MR", "MONOCHROME2", 10),
        ("MR_small_RLE.dcm", "MR", "MONOCHROME2", 1),
        ("US1_J2KR.dcm", "US", "YBR_RCT", 1),
    ],
)
def test_dicom_completes_with_metadata_and_a_rendered_png(client, name, modality, photometric, frames) -> None:
    result = client.analyze(name, sample_bytes(name), timeout_s=60)
    assert result.ok, result.record
    dicom = result.record["results"]["dicom"]
    assert (dicom["modality"], dicom["photometric"], dicom["frames"]) == (modality, photometric, frames)
    assert dicom["frameRendered"] == frames // 2 + 1  # 1-based
    assert "LabelModelVersion" in result.record["results"]
    png = Image.open(io.BytesIO(client.download(result.record["imageUrl"])))
    assert png.format == "PNG" and png.size == (dicom["columns"], dicom["rows"])


@pytest.mark.parametrize(
    ("name", "file_type", "payload", "code"),
    [
        ("report.jpg", "image/jpeg", b"%PDF-1.7\n" + b"x" * 400, "UNSUPPORTED_FORMAT"),
        ("empty.png", "image/png", b"", "EMPTY_OBJECT"),
        ("scan.dcm", "application/dicom", None, "TYPE_MISMATCH"),
        ("bomb.png", "image/png", png_bomb(), "IMAGE_TOO_LARGE"),
        ("cut.dcm", "application/dicom", sample_bytes("CT_small.dcm")[:9000], "CORRUPT_DICOM"),
        ("jpx.dcm", "application/dicom", unknown_syntax_dicom(), "UNSUPPORTED_TRANSFER_SYNTAX"),
    ],
)
def test_bad_uploads_end_in_error_end_to_end(client, name, file_type, payload, code) -> None:
    data = photo_bytes("coffee", "PNG") if payload is None else payload
    result = client.analyze(name, data, file_type=file_type, timeout_s=60)
    assert (result.status, result.record["errorCode"]) == ("error", code)
    assert isinstance(result.record["error"], str) and result.record["imageUrl"] is None


def test_generated_mammogram_through_the_flow(client) -> None:
    data = make_dicom(
        gradient(512, 512, 16383), modality="MG", photometric="MONOCHROME1", bits_stored=14, window=(8192, 16384)
    )
    result = client.analyze("mg.dcm", data, timeout_s=60)
    assert result.ok and result.record["results"]["dicom"]["modality"] == "MG"
    png = Image.open(io.BytesIO(client.download(result.record["imageUrl"]))).convert("L")
    assert png.getpixel((0, 0)) > png.getpixel((511, 0)), "MONOCHROME1: low stored values render bright"


def test_api_contract_over_http(client) -> None:
    url = client.api_url
    bad = client.call("POST", "/request-upload", data="{oops", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"] == "BAD_REQUEST"
    unknown = client.call("GET", "/get-results", params={"jobId": "6f1c1f0e-8a55-4c9e-9a43-2b1d1b0b7c11"})
    assert unknown.status_code == 404 and unknown.json()["error"] == "JOB_NOT_FOUND"
    assert client.call("GET", "/nope").status_code == 404
    # The page served with the API is one origin it answers (a local stack answers no other unless told; a
    # deployed one answers its allowedOrigins, "*" by default).
    page = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    preflight = requests.options(  # a browser's preflight carries no token
        f"{url}/request-upload",
        timeout=10,
        headers={"Origin": page, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] in ("*", page)
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    ok = client.call(
        "POST", "/request-upload", json={"fileName": "a.png", "fileType": "image/png"}, headers={"Origin": page}
    )
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] in ("*", page)
    assert json.loads(ok.text)["upload"]["fields"]["key"].startswith("uploads/")


def test_presigned_post_form_upload_works(client) -> None:
    grant = client.request_upload("form.jpg", "image/jpeg")
    fields = grant["upload"]["fields"]
    response = requests.post(
        grant["upload"]["url"], data=fields, files={"file": ("form.jpg", photo_bytes())}, timeout=10
    )
    assert response.status_code in (200, 204)
    assert client.wait(grant["jobId"], 60)["status"] == "complete"


@pytest.mark.parametrize("tamper", ["content-type", "signature"])
def test_presigned_put_signature_is_checked_where_the_backend_checks_it(stack, client, backend, tamper) -> None:
    """S3 (and LocalStack, configured so) refuses a PUT that does not match its signature; moto does not check
    signatures at all. Each backend's behaviour is asserted, not hidden."""
    grant = client.request_upload("tampered.jpg", "image/jpeg")
    headers = dict(grant["uploadHeaders"])
    url = grant["uploadUrl"]
    if tamper == "content-type":
        headers["Content-Type"] = "text/html"  # Content-Type is signed
    else:
        url = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    response = requests.put(url, data=photo_bytes(), headers=headers, timeout=10)
    if backend == "localstack":
        assert response.status_code == 403 and b"SignatureDoesNotMatch" in response.content
    else:
        assert response.status_code == 200, "moto accepts any signature"


@pytest.mark.parametrize(
    ("fmt", "name", "file_type"),
    [
        ("GIF", "cat.gif", "image/gif"),
        ("WEBP", "cat.webp", "image/webp"),
        ("BMP", "cat.bmp", "image/bmp"),
        ("TIFF16", "cat-16bit.tif", "image/tiff"),
    ],
)
def test_more_photo_formats_complete_with_labels_and_a_png_image_url(client, fmt, name, file_type) -> None:
    from tests.harness.files import photo_as

    result = client.analyze(name, photo_as(fmt), timeout_s=60)
    assert result.ok, result.record
    assert result.record["results"]["image"]["format"] == ("TIFF" if fmt == "TIFF16" else fmt)
    assert result.labels, "labelled"
    served = Image.open(io.BytesIO(client.download(result.record["imageUrl"])))
    assert served.format == "PNG" and served.size == (451, 300)
    assert "/converted/" in result.record["imageUrl"] or "converted%2F" in result.record["imageUrl"]


def test_twelve_bit_jpeg_extended_completes(client) -> None:
    result = client.analyze("nm.dcm", sample_bytes("JPGExtended.dcm"), timeout_s=60)
    assert result.ok, result.record
    dicom = result.record["results"]["dicom"]
    assert dicom["transferSyntax"] == "JPEG Extended (Process 2 and 4)" and dicom["bitsStored"] == 12


def test_a_dicom_job_in_another_window_over_http(client) -> None:
    result = client.analyze("ct.dcm", sample_bytes("CT_small.dcm"), timeout_s=60)
    assert result.ok
    first = client.call("GET", "/render", params={"jobId": result.job_id, "window": "lung"}).json()
    assert first["view"] == "lung" and first["window"]["source"] == "preset:lung"
    lung = np.asarray(Image.open(io.BytesIO(client.download(first["imageUrl"]))))
    original = np.asarray(Image.open(io.BytesIO(client.download(result.record["imageUrl"]))))
    assert lung.shape == original.shape and not np.array_equal(lung, original)
    custom = client.call("GET", "/render", params={"jobId": result.job_id, "center": "40", "width": "80"})
    assert custom.status_code == 200 and custom.json()["view"] == "c40_w80"
    bad = client.call("GET", "/render", params={"jobId": result.job_id, "window": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "BAD_REQUEST"


def test_the_ultrasound_is_served_with_its_burned_in_text_redacted(client) -> None:
    """pydicom's ultrasound carries "BAPTIST MED CTR" and IDs in its pixels: the job says how many regions were
    filled and how much of the picture they cover, and records nothing of the text."""
    result = client.analyze("us.dcm", sample_bytes("US1_J2KR.dcm"), timeout_s=90)
    assert result.ok, result.record
    redaction = result.record["results"]["redaction"]
    # regions are the connected regions filled: neighbouring lines make one
    assert redaction["regions"] >= 3 and 0 < redaction["areaFraction"] < 0.5, redaction
    assert set(redaction) == {"method", "regions", "areaFraction"}, "no text and no boxes of text are recorded"
