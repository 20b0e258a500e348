"""The classifier stage on the local stack, with a model whose answer is known (mean brightness of the crop)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from local.client import ApiClient
from local.emulators import Backend
from local.stack import LocalStack, StackOptions
from tests.harness.cli import run_cli
from tests.harness.user_models import brightness_model, write_classifier

UPPER_MIDDLE = {"left": 0.25, "top": 0.0, "width": 0.5, "height": 0.5}
INPUT = {"width": 8, "height": 8, "channels": 1, "scale": 255, "mean": [0], "std": [1]}


def bright_upper_middle_png() -> bytes:
    pixels = np.zeros((1024, 1024), np.uint8)
    pixels[:512, 256:768] = 255
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def spec_file(folder: Path, model: bytes = b"") -> Path:
    return write_classifier(
        folder,
        model or brightness_model(),
        name="brightness",
        version="2",
        classes=["dark", "bright"],
        resize=[1024, 1024],
        crop=UPPER_MIDDLE,
        input=INPUT,
        threshold=0.5,
    )


def stack_with(backend: str, emulator: Backend, spec: Path) -> LocalStack:
    options = StackOptions(backend=backend, emulator=emulator, settings={"CLASSIFIER_SPEC": str(spec)})
    return LocalStack(options).start()


@pytest.fixture(scope="module")
def classified(backend, emulator, tmp_path_factory) -> Iterator[LocalStack]:
    running = stack_with(backend, emulator, spec_file(tmp_path_factory.mktemp("model")))
    yield running
    running.stop()


def test_flag_crop_and_scores_are_what_the_model_dictates(classified) -> None:
    client = ApiClient(classified.api_url)
    result = client.analyze("chest.png", bright_upper_middle_png(), timeout_s=60)
    assert result.ok, result.record
    record = result.record
    classifier = record["results"]["classifier"]
    assert (classifier["model"], classifier["version"], classifier["error"]) == ("brightness", "2", None)
    assert classifier["scores"] == [{"name": "dark", "score": 0.0}, {"name": "bright", "score": 1.0}]
    assert classifier["predicted"] == {"index": 1, "name": "bright"} and record["flag"] == 1
    crop = Image.open(io.BytesIO(client.download(record["croppedImageUrl"])))
    assert crop.size == (512, 512) and np.asarray(crop).min() == 255  # exactly the white upper-middle
    assert record["results"]["Labels"] is not None, "Rekognition's labels are still there"


def test_a_broken_model_leaves_the_job_complete(backend, emulator, tmp_path) -> None:
    stack = stack_with(backend, emulator, spec_file(tmp_path, model=b"this is not onnx"))
    try:
        result = ApiClient(stack.api_url).analyze("x.png", bright_upper_middle_png(), timeout_s=60)
    finally:
        stack.stop()
    assert result.ok, result.record
    assert "could not be loaded" in result.record["results"]["classifier"]["error"]
    assert result.record["flag"] is None and result.record["croppedImageUrl"] is None


def test_the_page_shows_the_flag_and_the_crop(browser, classified, tmp_path) -> None:
    path = tmp_path / "chest.png"
    path.write_bytes(bright_upper_middle_png())
    page = browser.new_page()
    page.goto(classified.api_url + "/")
    page.set_input_files("#file-input", [str(path)])
    page.wait_for_selector(".job[data-status=complete] .classifier:not([hidden])", timeout=60_000)
    section = page.locator(".classifier")
    assert "bright (flag 1)" in section.locator(".classifier-verdict").inner_text()
    crop = section.locator(".classifier-crop")
    crop.evaluate("img => img.decode()")
    assert crop.evaluate("img => img.naturalWidth") == 512
    page.close()


def test_analyze_with_a_classifier_prints_the_flag_and_saves_the_crop(backend, tmp_path) -> None:
    image = tmp_path / "chest.png"
    image.write_bytes(bright_upper_middle_png())
    spec = spec_file(tmp_path / "model")
    result = run_cli(
        "analyze", str(image), "--backend", backend, "--classifier", str(spec), "--out", str(tmp_path / "out"),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "classifier brightness v2: bright (flag 1" in result.stdout
    crop = Image.open(tmp_path / "out" / "chest.crop.png")
    assert crop.size == (512, 512)
