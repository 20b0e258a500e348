"""The local DetectText answers boto3's own rekognition.detect_text: filters, regions of interest, the 100-word
limit, Rekognition's errors, and responses (DetectText and DetectLabels) that match botocore's service model."""

from __future__ import annotations

import io
import json

import botocore.session
import pytest
from botocore.exceptions import ClientError
from PIL import Image, ImageDraw, ImageFont

from image_analyzer import dicom
from local.samples import distinct_dicom_renders
from tests.harness.files import photo_bytes, sample_bytes
from tests.harness.service_model import output_shape, shape_errors


@pytest.fixture(scope="module")
def ultrasound() -> bytes:
    return dicom.render(sample_bytes("US1_J2KR.dcm")).to_png()


def words_image(count: int) -> bytes:
    """A page of ``count`` short words in a grid."""
    image = Image.new("L", (1600, 1200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=22)
    for i in range(count):
        draw.text((20 + (i % 10) * 155, 20 + (i // 10) * 48), f"W{i:03d}X", fill=0, font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_lines_and_words_of_the_ultrasound(rekognition, ultrasound) -> None:
    response = rekognition.detect_text(Image={"Bytes": ultrasound})
    assert not shape_errors(response, output_shape("rekognition", "DetectText"))
    detections = response["TextDetections"]
    lines = [d for d in detections if d["Type"] == "LINE"]
    words = [d for d in detections if d["Type"] == "WORD"]
    assert len(lines) >= 15 and {"BAPTIST MED CTR", "LYMPH NODE"} <= {d["DetectedText"] for d in lines}
    assert {w["ParentId"] for w in words} <= {line["Id"] for line in lines}
    assert sorted(d["Id"] for d in detections) == list(range(len(detections)))
    for detection in detections:
        box = detection["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 < box["Width"] <= 1 and len(detection["Geometry"]["Polygon"]) == 4


# Slices and projections of these modalities carry no burned-in text in the sample data: a region on one is a
# false detection (and a redacted patch over anatomy).
WITHOUT_TEXT = {"CT", "MR", "CR", "DX", "MG", "PT", "NM"}


def test_text_is_found_where_it_is_burned_in_and_nowhere_else(label_service_rekognition) -> None:
    """Every distinct render of pydicom's and pydicom-data's samples, as the processor sends it."""
    rekognition = label_service_rekognition
    lines_by_file: dict[str, int] = {}
    modality: dict[str, str] = {}
    for sample in distinct_dicom_renders():
        response = rekognition.detect_text(Image={"Bytes": sample.label_bytes})
        lines_by_file[sample.path.name] = sum(d["Type"] == "LINE" for d in response["TextDetections"])
        modality[sample.path.name] = sample.modality
    assert len(lines_by_file) >= 40
    assert [name for name, lines in lines_by_file.items() if lines and modality[name] in WITHOUT_TEXT] == []
    assert sum(modality[name] in WITHOUT_TEXT for name in lines_by_file) >= 15  # the check covers real slices
    assert lines_by_file["US1_J2KR.dcm"] >= 15
    # the ultrasounds with annotations
    assert sum(bool(lines) for name, lines in lines_by_file.items() if modality[name] == "US") >= 8


def test_word_filter_and_regions_of_interest(rekognition, ultrasound) -> None:
    top_left = {"BoundingBox": {"Left": 0.0, "Top": 0.0, "Width": 0.3, "Height": 0.12}}
    response = rekognition.detect_text(Image={"Bytes": ultrasound}, Filters={"RegionsOfInterest": [top_left]})
    found = {d["DetectedText"] for d in response["TextDetections"] if d["Type"] == "LINE"}
    assert "BAPTIST MED CTR" in found and "LYMPH NODE" not in found
    strict = rekognition.detect_text(Image={"Bytes": ultrasound}, Filters={"WordFilter": {"MinConfidence": 99.5}})
    everything = rekognition.detect_text(Image={"Bytes": ultrasound})["TextDetections"]
    kept = [d for d in strict["TextDetections"] if d["Type"] == "WORD"]
    assert all(d["Confidence"] >= 99.5 for d in kept)
    assert len(kept) < len([d for d in everything if d["Type"] == "WORD"])


def test_at_most_100_words_an_image(rekognition) -> None:
    response = rekognition.detect_text(Image={"Bytes": words_image(140)})
    words = [d for d in response["TextDetections"] if d["Type"] == "WORD"]
    assert len(words) == 100
    fewer = rekognition.detect_text(Image={"Bytes": words_image(40)})
    assert len([d for d in fewer["TextDetections"] if d["Type"] == "WORD"]) >= 38


@pytest.mark.parametrize(
    ("image", "filters", "error"),
    [
        ({"Bytes": b"%PDF-1.7"}, None, "InvalidImageFormatException"),
        ({"Bytes": b"\x89PNG\r\n\x1a\n" + b"x" * (5 * 1024 * 1024)}, None, "ImageTooLargeException"),
        (
            None,
            {"RegionsOfInterest": [{"BoundingBox": {"Left": 0, "Top": 0, "Width": 2, "Height": 1}}] * 1},
            "InvalidParameterException",
        ),
        (
            None,
            {"RegionsOfInterest": [{"BoundingBox": {"Left": 0, "Top": 0, "Width": 1, "Height": 1}}] * 11},
            "InvalidParameterException",
        ),
    ],
)
def test_what_rekognition_rejects(rekognition, ultrasound, image, filters, error) -> None:
    request = {"Image": image or {"Bytes": ultrasound}}
    if filters is not None:
        request["Filters"] = filters
    with pytest.raises(ClientError) as raised:
        rekognition.detect_text(**request)
    assert raised.value.response["Error"]["Code"] == error


def test_detect_labels_matches_the_service_model(rekognition) -> None:
    response = rekognition.detect_labels(Image={"Bytes": photo_bytes("chelsea")}, MaxLabels=10)
    assert response["Labels"] and not shape_errors(response, output_shape("rekognition", "DetectLabels"))


def test_the_shape_check_can_fail() -> None:
    shape = output_shape("rekognition", "DetectText")
    bad = {"TextDetections": [{"Type": "PARAGRAPH", "Id": -1, "Geometry": {"BoundingBox": {"Left": "0"}}}], "Extra": 1}
    errors = shape_errors(json.loads(json.dumps(bad)), shape)
    assert len(errors) == 4, errors
    assert botocore.session.get_session().get_service_model("rekognition").service_name == "rekognition"
