"""The label service's out-of-distribution gate: photos keep their labels, medical renders lose the guesses."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from image_analyzer.processing import analyse
from local.label_service import calibration
from local.label_service.label_model import Classifier, OodGate, Prediction, to_labels
from local.label_service.taxonomy import ANIMALS
from tests.harness.files import photo_bytes, sample_bytes

MIN_CONFIDENCE = 55


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier()


def render(name: str) -> Image.Image:
    return Image.open(io.BytesIO(analyse(sample_bytes(name), "application/dicom").label_bytes))


def photo(name: str) -> Image.Image:
    return Image.open(io.BytesIO(photo_bytes(name)))


def ungated(prediction: Prediction) -> Prediction:
    return Prediction(prediction.probabilities)


def names(prediction: Prediction) -> list[str]:
    return [label["Name"] for label in to_labels(prediction, 20, MIN_CONFIDENCE)]


def test_the_cosine_from_logits_equals_the_cosine_from_the_weights(classifier) -> None:
    # The service computes weights·features as logits − bias; check it against the model's own weights.
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(calibration.MODEL_FILE))
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    weights = arrays["_fc.weight_quantized"].astype(np.float64) * arrays["_fc.weight_scale"][:, None]
    logits, features = classifier.outputs(photo("chelsea"))
    direct = np.max(weights @ features / (np.linalg.norm(weights, axis=1) * np.linalg.norm(features)))
    assert classifier.gate.max_cosine(logits, features) == pytest.approx(direct, abs=0.005)
    assert 0.25 < direct < 0.5  # a cat photo lies close to the cat classes


def test_the_gate_scales_every_confidence(classifier) -> None:
    prediction = classifier.predict(photo("chelsea"))
    full = {label["Name"]: label["Confidence"] for label in to_labels(ungated(prediction), 50, 1)}
    half = {label["Name"]: label["Confidence"] for label in to_labels(Prediction(prediction.probabilities, 0.5), 50, 1)}
    assert half and all(half[name] == pytest.approx(full[name] / 2, abs=1e-3) for name in half)


@pytest.mark.parametrize(("name", "expected"), [("chelsea", "Cat"), ("coffee", "Espresso"), ("camera", "Tripod")])
def test_photos_keep_their_labels(classifier, name, expected) -> None:
    prediction = classifier.predict(photo(name))
    assert prediction.in_distribution > 0.9
    assert names(prediction)[0] == names(ungated(prediction))[0]
    assert expected in names(prediction)


@pytest.mark.parametrize(
    ("name", "guess"),
    [
        ("emri_small.dcm", "Animal"),  # MR brain
        ("MR_small.dcm", "Animal"),
        ("OBXXXX1A_2frame.dcm", "Lampshade"),  # ultrasound
        ("SC_rgb_2frame.dcm", "Ski"),  # colour test pattern
        ("MR-SIEMENS-DICOM-WithOverlays.dcm", "Bubble"),
    ],
)
def test_medical_renders_lose_the_guesses_they_used_to_get(classifier, report, name, guess) -> None:
    prediction = classifier.predict(render(name))
    assert guess in names(ungated(prediction)), "the case no longer shows the problem the gate is for"
    assert names(prediction) == []
    report(f"gate {name}: P(in) {prediction.in_distribution:.3f}, ungated {names(ungated(prediction))[:3]}")


def test_no_sample_render_gets_an_animal(classifier) -> None:
    animal_renders = []
    for name, image in calibration.renders():
        labels = to_labels(classifier.predict(image), 20, MIN_CONFIDENCE)
        if any(c["Name"] == ANIMALS for label in labels for c in label["Categories"]):
            animal_renders.append(name)
    assert animal_renders == []


def test_a_gate_that_sees_everything_as_in_distribution_changes_nothing(classifier) -> None:
    gate = OodGate(slope=1e6, centre=-1.0, bias=classifier.gate.bias, weight_norms=classifier.gate.weight_norms)
    logits, features = classifier.outputs(render("emri_small.dcm"))
    assert gate.probability(gate.max_cosine(logits, features)) == 1.0


def test_the_committed_gate_is_what_the_fitting_procedure_produces() -> None:
    # Refits from the shipped data (about 20 s): a changed model, renderer or data must come with a refitted gate.
    assert calibration.main(["--check"]) == 0
