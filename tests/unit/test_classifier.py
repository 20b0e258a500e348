"""The classifier stage with models whose answer is known: crop geometry, normalisation, class mapping, flag."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from image_analyzer.classifier import Classifier, ClassifierError, ClassifierSpec, result_fields
from image_analyzer.models import load_classifier
from tests.harness.handler_flow import run_job
from tests.harness.user_models import (
    UPPER_MIDDLE,
    bright_upper_middle,
    brightness_model,
    linear_model,
    png_of,
    write_classifier,
)


def no_s3(bucket: str, key: str) -> bytes:
    raise AssertionError("no S3 in these tests")


def brightness_spec(tmp_path, crop=UPPER_MIDDLE, **extra) -> Classifier:
    path = write_classifier(
        tmp_path,
        brightness_model(),
        classes=["dark", "bright"],
        resize=[1024, 1024],
        crop=crop,
        input={"width": 8, "height": 8, "channels": 1, "layout": "NCHW", "scale": 255, "mean": [0], "std": [1]},
        **extra,
    )
    return load_classifier(str(path), no_s3)


def test_the_crop_is_the_upper_middle_of_the_resized_image(tmp_path) -> None:
    classifier = brightness_spec(tmp_path, threshold=0.5)
    result = classifier.classify(bright_upper_middle())
    assert result.scores == pytest.approx([0.0, 1.0], abs=1e-6)
    assert result.predicted == 1
    crop = Image.open(io.BytesIO(result.crop_png))
    assert crop.size == (512, 512) and np.asarray(crop).min() == 255, "the crop is 512² of the 1024² resize"


def test_another_crop_sees_another_region(tmp_path) -> None:
    lower_left = {"left": 0.0, "top": 0.5, "width": 0.5, "height": 0.5}
    result = brightness_spec(tmp_path, crop=lower_left, threshold=0.5).classify(bright_upper_middle())
    assert result.scores == pytest.approx([1.0, 0.0], abs=1e-6) and result.predicted == 0


def test_threshold_decides_the_flag(tmp_path) -> None:
    half = np.zeros((100, 100), np.uint8)
    half[:, :50] = 255  # mean brightness 0.5 over the whole image
    whole = {"left": 0, "top": 0, "width": 1, "height": 1}
    assert brightness_spec(tmp_path / "a", crop=whole, threshold=0.4).classify(Image.fromarray(half)).predicted == 1
    assert brightness_spec(tmp_path / "b", crop=whole, threshold=0.6).classify(Image.fromarray(half)).predicted == 0


def test_normalisation_and_class_mapping_with_a_linear_model(tmp_path) -> None:
    rng = np.random.default_rng(5)
    weights, bias = rng.normal(size=(3 * 4 * 4, 3)), rng.normal(size=3)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    path = write_classifier(
        tmp_path,
        linear_model(weights, bias, 4, 4),
        classes=["a", "b", "c"],
        output="logits",
        input={"width": 4, "height": 4, "channels": 3, "scale": 255, "mean": mean, "std": std},
    )
    classifier = load_classifier(str(path), no_s3)
    photo = Image.fromarray(rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8))
    result = classifier.classify(photo)
    # The same arithmetic by hand: normalise, NCHW, flatten, affine, softmax.
    x = (np.asarray(photo, np.float64) / 255 - mean) / std
    logits = x.transpose(2, 0, 1).reshape(-1) @ weights + bias
    expected = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert result.scores == pytest.approx(expected.tolist(), rel=1e-4)
    assert result.predicted == int(np.argmax(expected))
    fields = result_fields(classifier.spec, result)
    assert [s["name"] for s in fields["scores"]] == ["a", "b", "c"]
    assert fields["predicted"] == {"index": result.predicted, "name": "abc"[result.predicted]}


def test_a_broken_model_file_is_a_classifier_error(tmp_path) -> None:
    path = write_classifier(tmp_path, b"not an onnx model", classes=["x", "y"], input={"width": 8, "height": 8})
    with pytest.raises(ClassifierError, match="could not be loaded"):
        load_classifier(str(path), no_s3)


def test_a_model_with_another_input_shape_is_a_classifier_error(tmp_path) -> None:
    path = write_classifier(
        tmp_path, brightness_model(16, 16), classes=["x", "y"], input={"width": 8, "height": 8, "channels": 1}
    )
    with pytest.raises(ClassifierError, match="expects input"):
        load_classifier(str(path), no_s3)


@pytest.mark.parametrize(
    "document",
    [
        "{not json",
        '{"name": "x", "model": "m.onnx", "classes": ["only one"], "input": {"width": 8, "height": 8}}',
        '{"name": "x", "model": "m.onnx", "classes": ["a", "b"], "input": {"width": 8, "height": 8}, '
        '"crop": {"left": 0.8, "width": 0.5}}',
        '{"name": "x", "model": "m.onnx", "classes": ["a", "b", "c"], "input": {"width": 8, "height": 8}, '
        '"threshold": 0.5}',
        '{"name": "x", "model": "m.onnx", "classes": ["a", "b"], "input": {"width": 0, "height": 8}}',
    ],
)
def test_invalid_specs_are_refused_with_the_reason(document: str) -> None:
    with pytest.raises(ClassifierError, match="spec is invalid"):
        ClassifierSpec.parse(document)


def test_a_missing_model_names_where_it_was_looked_for(tmp_path) -> None:
    (tmp_path / "spec.json").write_text(
        '{"name": "x", "model": "absent.onnx", "classes": ["a", "b"], "input": {"width": 8, "height": 8}}'
    )
    with pytest.raises(ClassifierError, match="could not be read"):
        load_classifier(str(tmp_path / "spec.json"), no_s3)


def test_spec_and_model_are_read_from_s3_beside_each_other() -> None:
    reads: list[tuple[str, str]] = []
    spec = (
        b'{"name": "x", "model": "model.onnx", "classes": ["a", "b"], '
        b'"input": {"width": 8, "height": 8, "channels": 1}}'
    )

    def s3_read(bucket: str, key: str) -> bytes:
        reads.append((bucket, key))
        return spec if key.endswith(".json") else brightness_model()

    classifier = load_classifier("s3://artifacts/classifier/spec.json", s3_read)
    assert reads == [("artifacts", "classifier/spec.json"), ("artifacts", "classifier/model.onnx")]
    assert classifier.spec.name == "x"


def test_results_flag_and_cropped_image_url_for_the_original_clients(mock_stack, monkeypatch, tmp_path) -> None:
    brightness_spec(tmp_path, threshold=0.5)  # writes spec.json and model.onnx
    record = run_job(mock_stack, monkeypatch, str(tmp_path / "spec.json"), png_of(bright_upper_middle()), "image/png")
    assert record["status"] == "complete", record
    classifier = record["results"]["classifier"]
    assert classifier["model"] == "test-model" and classifier["error"] is None
    assert classifier["predicted"] == {"index": 1, "name": "bright"} and record["flag"] == 1
    assert [s["name"] for s in classifier["scores"]] == ["dark", "bright"]
    assert classifier["crop"] == {"left": 0.25, "top": 0.0, "width": 0.5, "height": 0.5, "resize": [1024, 1024]}
    import requests

    crop = Image.open(io.BytesIO(requests.get(record["croppedImageUrl"], timeout=10).content))
    assert crop.size == (512, 512) and np.asarray(crop).min() == 255
    assert "converted/" in record["croppedImageUrl"]


def test_a_dicom_is_classified_on_its_render(mock_stack, monkeypatch, tmp_path) -> None:
    from tests.harness.files import sample_bytes

    brightness_spec(tmp_path, crop={"left": 0, "top": 0, "width": 1, "height": 1})
    record = run_job(
        mock_stack, monkeypatch, str(tmp_path / "spec.json"), sample_bytes("CT_small.dcm"), "application/dicom"
    )
    assert record["status"] == "complete" and record["results"]["dicom"]["modality"] == "CT"
    import requests

    render = np.asarray(Image.open(io.BytesIO(requests.get(record["imageUrl"], timeout=10).content)), float)
    bright = record["results"]["classifier"]["scores"][1]["score"]
    # The whole 1024² resize of the render, averaged: the model saw the pixels the user sees.
    assert bright == pytest.approx(render.mean() / 255, abs=0.01)


def test_a_broken_model_fails_the_stage_not_the_job(mock_stack, monkeypatch, tmp_path) -> None:
    path = write_classifier(tmp_path, b"garbage", classes=["x", "y"], input={"width": 8, "height": 8})
    record = run_job(mock_stack, monkeypatch, str(path), png_of(bright_upper_middle(256)), "image/png")
    assert record["status"] == "complete" and record["results"]["Labels"] is not None
    assert "could not be loaded" in record["results"]["classifier"]["error"]
    assert record["flag"] is None and record["croppedImageUrl"] is None


def test_without_a_classifier_the_record_has_no_classifier_fields(mock_stack, monkeypatch) -> None:
    record = run_job(mock_stack, monkeypatch, "", png_of(bright_upper_middle(256)), "image/png")
    assert record["status"] == "complete"
    assert "classifier" not in record["results"] and "flag" not in record and "croppedImageUrl" not in record
