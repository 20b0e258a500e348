"""The DetectText adapter and the redaction core, against botocore's own Stubber (AWS's request and response
shapes): geometry only, saturated answers searched again by regions, failures told apart, nothing of the text kept."""

from __future__ import annotations

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber

from image_analyzer import dicom
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.redaction import text_mask
from image_analyzer.text import MAX_WORDS, Box, TextDetectionUnavailable, TextDetector, TextRegions
from tests.harness.files import gradient, make_dicom

SECRET = "DOE^JANE-1954"


def word(i: int, left: float = 0.1, top: float = 0.1, text: str = SECRET) -> dict:
    bounding = {"Width": 0.05, "Height": 0.02, "Left": left, "Top": top}
    return {
        "DetectedText": text,
        "Type": "WORD",
        "Id": i,
        "ParentId": 0,
        "Confidence": 99.0,
        "Geometry": {"BoundingBox": bounding},
    }


def client() -> tuple[object, Stubber]:
    rekognition = boto3.client("rekognition", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    return rekognition, Stubber(rekognition)


def test_a_saturated_answer_is_searched_again_by_regions_of_interest() -> None:
    rekognition, stub = client()
    # Every word is asked for (MinConfidence 0: DetectText's default of 80 drops faint text a person reads).
    every_word = {"WordFilter": {"MinConfidence": 0}}
    stub.add_response(
        "detect_text",
        {"TextDetections": [word(i) for i in range(MAX_WORDS)]},
        {"Image": {"Bytes": b"png"}, "Filters": every_word},
    )
    quarters = Box(0, 0, 1, 1).quarters()
    for part in reversed(quarters):  # searched depth first, last part first
        filters = {**every_word, "RegionsOfInterest": [{"BoundingBox": part.as_request()}]}
        expected = {"Image": {"Bytes": b"png"}, "Filters": filters}
        stub.add_response("detect_text", {"TextDetections": [word(0, part.left + 0.01, part.top + 0.01)]}, expected)
    with stub:
        found = TextDetector(rekognition).find(b"png")
    stub.assert_no_pending_responses()
    assert found.calls == 5 and found.saturated_parts == 0
    # The overlapping parts cover the whole image, and each part's own word was kept.
    assert {(round(b.left, 2), round(b.top, 2)) for b in found.boxes} >= {
        (round(p.left + 0.01, 2), round(p.top + 0.01, 2)) for p in quarters
    }
    assert all(p.right > 0.5 and p.bottom > 0.5 for p in quarters[3:]) and quarters[0].width > 0.5


def test_a_part_still_saturated_at_the_deepest_level_is_redacted_whole() -> None:
    rekognition, stub = client()
    saturated = {"TextDetections": [word(i) for i in range(MAX_WORDS)]}
    for _ in range(1 + 4 + 16):
        stub.add_response("detect_text", saturated)
    with stub:
        found = TextDetector(rekognition).find(b"png")
    assert found.saturated_parts == 16 and found.calls == 21 and text_mask(found, 64, 64).all()


@pytest.mark.parametrize(
    ("code", "error"),
    [("InvalidImageFormatException", ProcessingError), ("ThrottlingException", TextDetectionUnavailable)],
)
def test_failures_are_permanent_or_retried_and_carry_no_text(code, error) -> None:
    rekognition, stub = client()
    stub.add_client_error("detect_text", service_error_code=code, service_message="refused")
    with stub, pytest.raises(error) as raised:
        TextDetector(rekognition).find(b"png")
    if error is ProcessingError:
        assert raised.value.code is ErrorCode.REDACTION_FAILED
    assert raised.value.__cause__ is None and SECRET not in str(raised.value)


def test_boxes_become_a_mask_with_a_margin_at_the_image_resolution() -> None:
    found = TextRegions((Box(0.25, 0.5, 0.5, 0.1),), lines=1, calls=1, saturated_parts=0)
    mask = text_mask(found, 200, 100, margin=0.2)
    rows, columns = np.nonzero(mask)
    assert (columns.min(), columns.max(), rows.min(), rows.max()) == (48, 151, 48, 61)


@pytest.mark.parametrize(
    ("photometric", "rescale", "expected"),
    # A negative slope: pydicom's windowing reads it with the output range turned round, and the copy follows
    # the pipeline that renders it.
    [("MONOCHROME2", None, 0), ("MONOCHROME1", None, 4095), ("MONOCHROME2", (-1.0, 100.0), 0)],
)
def test_the_frame_copy_is_filled_with_what_every_window_shows_black(photometric, rescale, expected) -> None:
    data = make_dicom(gradient(128, 128), photometric=photometric, window=(2000, 4000), rescale=rescale)
    rendering = dicom.render(data, keep_view_source=True)
    mask = np.zeros((128, 128), dtype=bool)
    mask[10:20, 30:90] = True
    copy = rendering.frame_copy(mask)
    assert copy is not None
    assert np.all(dicom.read_dataset(copy).pixel_array[mask] == expected)
    if rescale is None:
        assert np.all(dicom.render(copy).pixels[mask] == 0), "black in the file's own window"
    for window in (None, "lung", dicom.Window(5000, 10), dicom.Window(-5000, 10)):
        pixels = dicom.render(copy, window=window).pixels
        # Any window: the filled region is one uniform value, the darkest that window can show of this frame
        # (a window entirely below the data shows everything white, the region included).
        assert len(np.unique(pixels[mask])) == 1 and pixels[mask].max() <= pixels.min(), window
        assert np.array_equal(pixels[~mask], dicom.render(data, window=window).pixels[~mask]), window
