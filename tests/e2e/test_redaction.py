"""Text burned into the pixels, end to end: the local DetectText finds it, the processor fills it in everything
stored or served (the PNG, /render views in other windows, the classifier's crop), and an independent reader
(Tesseract) can read the canaries before and none of them after."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from image_analyzer import dicom
from local.client import ApiClient
from local.stack import LocalStack, StackOptions
from tests.harness.canaries import TESSERACT, Canary, canaries, readable
from tests.harness.user_models import brightness_model, write_classifier

CANARIES = canaries()
CUSTOM_WINDOWS = ("100,300", "2000,400")  # besides every named window the job offers


@pytest.fixture(autouse=True)
def _needs_tesseract() -> None:
    if TESSERACT is None:
        pytest.skip("Tesseract is not installed (.ci/run installs Debian's tesseract-ocr)")


@pytest.mark.parametrize("canary", CANARIES, ids=lambda c: c.name)
def test_no_canary_is_readable_in_what_is_served(stack, client, canary: Canary) -> None:
    clean = dicom.render(canary.data)
    assert readable(clean.to_png(), canary.tokens) == list(canary.tokens), "the unredacted render shows them"
    result = client.analyze(canary.name, canary.data, timeout_s=90)
    assert result.ok, result.record
    redaction = result.record["results"]["redaction"]
    assert redaction["method"] == "function+rekognition" and redaction["regions"] >= 1  # connected regions filled
    served_png = client.download(result.record["imageUrl"])
    assert readable(served_png, canary.tokens) == []
    served = np.asarray(Image.open(io.BytesIO(served_png)))
    shown = clean.served()  # square pixels, as served (cr_tall_pixels.dcm is stored on half its rows)
    assert served.shape == shown.shape
    changed = np.any(served != shown, axis=-1) if served.ndim == 3 else served != shown
    # Outside the text the picture is unchanged: every changed pixel is a filled (black) one, and no more of
    # them than the job reports. Scaled to square pixels, a fill's edge is blended with its neighbour: darker.
    if clean.aspect == 1.0:
        assert np.all(served[changed] == 0), "only filled pixels differ from the clean render"
    else:
        assert np.all(served[changed] <= shown[changed]), "filling only ever darkens"
    assert changed.mean() <= redaction["areaFraction"] + 1e-6 and redaction["areaFraction"] < 0.25
    if canary.greyscale:
        for window in [*result.record["results"]["dicom"]["views"], *CUSTOM_WINDOWS]:
            view = client.render(result.job_id, window)
            assert readable(client.download(view["imageUrl"]), canary.tokens) == [], window
    # The detected text is nowhere: not in the record, the keys, or any function's log or metric line.
    listing = stack.client("s3").list_objects_v2(Bucket=stack.resources.bucket).get("Contents", [])
    item = stack.table().get_item(Key={"jobId": result.job_id})["Item"]
    everything = " ".join(
        [json.dumps(result.record), str(item), *(o["Key"] for o in listing), *(line for _, line in stack.logs)]
    )
    assert not [token for token in canary.tokens if token in everything.upper()]


def test_redaction_none_serves_the_render_as_it_is(backend, emulator) -> None:
    canary = CANARIES[2]
    options = StackOptions(backend=backend, emulator=emulator, settings={"REDACT_TEXT": "none"})
    with LocalStack(options) as stack:
        result = ApiClient(stack.api_url).analyze(canary.name, canary.data, timeout_s=90)
        assert result.ok and result.record["results"]["redaction"] == {
            "method": "none",
            "regions": 0,
            "areaFraction": 0,
        }
        served = ApiClient(stack.api_url).download(result.record["imageUrl"])
        assert readable(served, canary.tokens) == list(canary.tokens), "what redaction protects against"


@pytest.fixture(scope="module")
def whole_image_classifier(backend, emulator, tmp_path_factory) -> Iterator[LocalStack]:
    spec = write_classifier(
        tmp_path_factory.mktemp("model"),
        brightness_model(),
        name="brightness",
        version="1",
        classes=["dark", "bright"],
        resize=[640, 480],
        crop={"left": 0.0, "top": 0.0, "width": 1.0, "height": 1.0},
        input={"width": 8, "height": 8, "channels": 1, "scale": 255, "mean": [0], "std": [1]},
        threshold=0.5,
    )
    options = StackOptions(backend=backend, emulator=emulator, settings={"CLASSIFIER_SPEC": str(spec)})
    with LocalStack(options) as running:
        yield running


def test_the_classifier_crop_is_redacted(whole_image_classifier) -> None:
    canary = CANARIES[0]
    client = ApiClient(whole_image_classifier.api_url)
    result = client.analyze(canary.name, canary.data, timeout_s=90)
    assert result.ok and result.record["results"]["classifier"]["error"] is None, result.record
    crop = client.download(result.record["croppedImageUrl"])
    assert Image.open(io.BytesIO(crop)).size == (640, 480)
    assert readable(crop, canary.tokens) == []
