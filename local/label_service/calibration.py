"""Fit and measure the label service's out-of-distribution gate (writes local/label_service/model/ood_gate.json).

The ImageNet model is confident on images it knows nothing about: an MR brain came back "Animal 86", an ultrasound
"Lampshade 71". Its softmax cannot tell (the maximum probability and the logsumexp of the photos and of the renders
overlap), so the gate looks at the features instead: the maximum cosine similarity between the image's penultimate
features and any class's weight vector. A logistic in that one score, fitted on data the packages ship, gives
P(in distribution); the service multiplies every label's confidence by it.

Data, all offline and reproducible (fixed seed):
* in distribution: scikit-image's photos of things ImageNet has classes for (astronaut, cat, coffee, rocket,
  camera, motorcycle), each whole and in 20 random crops (60–100 %, half mirrored);
* out of distribution: every pydicom and pydicom-data file our renderer renders, whole and in 3 crops; files that
  render identically (the same image in other transfer syntaxes) count once.
The classes are weighted equally. Honesty check: leave-one-image-out (each source image and its crops are scored by
a gate fitted without them), reported beside the fitted gate's own effect.

    python -m local.label_service.calibration            # fit, print the tables, write the gate
    python -m local.label_service.calibration --check    # fit and compare with the committed gate (exit 1 if it differs)
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from local.label_service.label_model import GATE_FILE, MODEL_FILE, Classifier, OodGate, Prediction, to_labels
from local.label_service.taxonomy import ANIMALS

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "stereo_motorcycle")
PHOTO_CROPS, RENDER_CROPS = 20, 3
SEED = 0
L2 = 1e-2  # ridge on the standardised slope: the classes separate almost completely, which would send it to ∞
MIN_CONFIDENCE = 55.0  # the stack's default MinConfidence


@dataclass(frozen=True)
class Sample:
    group: str  # the source image; its crops share it
    in_distribution: bool
    whole: bool  # the uncropped image (the tables are about these)
    logits: np.ndarray
    features: np.ndarray


def final_layer(model_file: Path = MODEL_FILE) -> tuple[np.ndarray, np.ndarray]:
    """(bias, ‖weights‖ per class) of the model's last Gemm, dequantised (needs the dev dependency onnx)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(model_file))
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    weights = (arrays["_fc.weight_quantized"].astype(np.float64) - arrays["_fc.weight_zero_point"][:, None]) * arrays[
        "_fc.weight_scale"
    ][:, None]
    bias = (arrays["_fc.bias_quantized"].astype(np.float64) - arrays["_fc.bias_quantized_zero_point"]) * arrays[
        "_fc.bias_quantized_scale"
    ]
    return bias, np.linalg.norm(weights, axis=1)


def photos() -> Iterator[tuple[str, Image.Image]]:
    from skimage import data

    for name in PHOTOS:
        arr = data.stereo_motorcycle()[0] if name == "stereo_motorcycle" else getattr(data, name)()
        yield name, Image.fromarray(arr)


def renders() -> Iterator[tuple[str, Image.Image]]:
    """(file name, the image sent for labels) for every sample file that renders, each distinct image once."""
    from image_analyzer.errors import ProcessingError
    from image_analyzer.processing import analyse
    from local.samples import all_sample_paths

    seen: set[str] = set()
    for path in all_sample_paths():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some sample files are invalid on purpose
            try:
                analysis = analyse(path.read_bytes(), "application/dicom")
            except ProcessingError:
                continue
        digest = hashlib.sha256(analysis.label_bytes).hexdigest()
        if digest not in seen:
            seen.add(digest)
            yield path.name, Image.open(io.BytesIO(analysis.label_bytes))


def crops(image: Image.Image, count: int, rng: np.random.Generator) -> Iterator[Image.Image]:
    width, height = image.size
    for _ in range(count):
        scale = rng.uniform(0.6, 1.0)
        w, h = max(8, int(width * scale)), max(8, int(height * scale))
        x, y = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        crop = image.crop((x, y, x + w, y + h))
        yield ImageOps.mirror(crop) if rng.random() < 0.5 else crop


def collect(classifier: Classifier) -> list[Sample]:
    rng = np.random.default_rng(SEED)
    samples: list[Sample] = []
    for in_distribution, source, count in ((True, photos(), PHOTO_CROPS), (False, renders(), RENDER_CROPS)):
        for name, image in source:
            samples.append(Sample(name, in_distribution, True, *classifier.outputs(image)))
            for crop in crops(image, count, rng):
                samples.append(Sample(name, in_distribution, False, *classifier.outputs(crop)))
    return samples


def fit_logistic(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(slope, centre) of P(in | score) = σ(slope · (score − centre)), class-balanced, ridge on the slope."""
    mean, std = scores.mean(), scores.std()
    z = np.column_stack([(scores - mean) / std, np.ones_like(scores)])
    weight = np.where(labels, 0.5 / labels.mean(), 0.5 / (1 - labels.mean()))
    ridge = np.diag([L2, 0.0])
    beta = np.zeros(2)
    for _ in range(100):  # Newton's method on a convex objective
        p = 1 / (1 + np.exp(-z @ beta))
        gradient = z.T @ (weight * (p - labels)) / len(z) + ridge @ beta
        hessian = (z * (weight * p * (1 - p))[:, None]).T @ z / len(z) + ridge
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    slope = beta[0] / std
    return float(slope), float(mean - beta[1] / slope)


def top_label(prediction: Prediction) -> tuple[str, float] | None:
    labels = to_labels(prediction, 1, MIN_CONFIDENCE)
    return (labels[0]["Name"], labels[0]["Confidence"]) if labels else None


def animal_labels(prediction: Prediction) -> list[str]:
    return [
        label["Name"]
        for label in to_labels(prediction, 100, MIN_CONFIDENCE)
        if any(c["Name"] == ANIMALS for c in label["Categories"])
    ]


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


Label = tuple[str, float]  # (name, confidence) of the top label at or above MIN_CONFIDENCE


@dataclass(frozen=True)
class Row:
    """One image's labels without the gate, with the fitted gate, and with a gate fitted without it."""

    image: str
    photo: bool
    whole: bool
    max_cosine: float
    before: Label | None
    after: Label | None
    after_held_out: Label | None
    animals_before: bool
    animals_after: bool
    animals_held_out: bool


@dataclass(frozen=True)
class Evaluation:
    slope: float
    centre: float
    rows: list[Row]


def evaluate(samples: list[Sample], bias: np.ndarray, norms: np.ndarray) -> Evaluation:
    """Fit on everything, and leave-one-image-out; the labels of every image before and after."""
    neutral = OodGate(0.0, 0.0, bias, norms)
    scores = np.array([neutral.max_cosine(s.logits, s.features) for s in samples])
    labels = np.array([s.in_distribution for s in samples], dtype=float)
    groups = np.array([s.group for s in samples])
    slope, centre = fit_logistic(scores, labels)
    held_out: dict[str, tuple[float, float]] = {}
    for group in np.unique(groups):
        keep = groups != group
        held_out[str(group)] = fit_logistic(scores[keep], labels[keep])
    rows = []
    for sample, score in zip(samples, scores, strict=True):
        probabilities = softmax(sample.logits)
        plain = Prediction(probabilities)
        fitted = Prediction(probabilities, OodGate(slope, centre, bias, norms).probability(score))
        loo = Prediction(probabilities, OodGate(*held_out[sample.group], bias, norms).probability(score))
        rows.append(
            Row(
                sample.group,
                sample.in_distribution,
                sample.whole,
                round(float(score), 4),
                top_label(plain),
                top_label(fitted),
                top_label(loo),
                bool(animal_labels(plain)),
                bool(animal_labels(fitted)),
                bool(animal_labels(loo)),
            )
        )
    return Evaluation(slope, centre, rows)


def _same_top(rows: list[Row], held_out: bool) -> int:
    return sum(
        1 for r in rows if r.before and (after := r.after_held_out if held_out else r.after) and after[0] == r.before[0]
    )


def summary(all_rows: list[Row]) -> dict[str, int]:
    photo_rows = [r for r in all_rows if r.whole and r.photo]
    render_rows = [r for r in all_rows if r.whole and not r.photo]
    photo_crops = [r for r in all_rows if not r.whole and r.photo and r.before]
    render_crops = [r for r in all_rows if not r.whole and not r.photo]
    return {
        "photos": len(photo_rows),
        "photos_labelled_before": sum(1 for r in photo_rows if r.before),
        "photos_same_top_label": _same_top(photo_rows, held_out=False),
        "photos_same_top_label_held_out": _same_top(photo_rows, held_out=True),
        "renders": len(render_rows),
        "renders_labelled_before": sum(1 for r in render_rows if r.before),
        "renders_labelled_after": sum(1 for r in render_rows if r.after),
        "renders_labelled_held_out": sum(1 for r in render_rows if r.after_held_out),
        "renders_with_animals_before": sum(1 for r in render_rows if r.animals_before),
        "renders_with_animals_after": sum(1 for r in render_rows if r.animals_after),
        "renders_with_animals_held_out": sum(1 for r in render_rows if r.animals_held_out),
        # The crops are harder than the whole images: they measure how much margin the gate leaves.
        "labelled_photo_crops": len(photo_crops),
        "labelled_photo_crops_same_top_label_held_out": _same_top(photo_crops, held_out=True),
        "render_crops": len(render_crops),
        "render_crops_labelled_before": sum(1 for r in render_crops if r.before),
        "render_crops_labelled_held_out": sum(1 for r in render_crops if r.after_held_out),
    }


def _cell(label: Label | None) -> str:
    return f"{label[0]} {label[1]:.1f}" if label else "—"


def print_tables(result: Evaluation) -> None:
    print(f"gate: P(in) = σ({result.slope:.2f} · (max cosine − {result.centre:.4f}))")
    print("| image | max cosine | top label before | after | after (held out) |")
    print("|---|---|---|---|---|")
    for r in result.rows:
        if r.whole and (r.photo or r.before):
            kind = "photo" if r.photo else "render"
            print(
                f"| {kind} {r.image} | {r.max_cosine:.3f} | {_cell(r.before)} | {_cell(r.after)} "
                f"| {_cell(r.after_held_out)} |"
            )
    print(json.dumps(summary(result.rows), indent=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed gate instead of writing it")
    args = parser.parse_args(argv)
    bias, norms = final_layer()
    classifier = Classifier(gate=OodGate(0.0, 0.0, bias, norms))
    result = evaluate(collect(classifier), bias, norms)
    print_tables(result)
    slope, centre = round(result.slope, 4), round(result.centre, 5)
    gate = {
        "score": "max over classes of cos(features, class weights)",
        "slope": slope,
        "centre": centre,
        "summary": summary(result.rows),
        "bias": [round(float(b), 6) for b in bias],
        "weight_norms": [round(float(n), 6) for n in norms],
    }
    if args.check:
        committed = json.loads(GATE_FILE.read_text())
        drift = abs(committed["centre"] - centre) + abs(committed["slope"] - slope) / 100
        print(f"committed centre {committed['centre']}, slope {committed['slope']}; refitted: drift {drift:.4f}")
        return 0 if drift < 0.005 else 1
    GATE_FILE.write_text(json.dumps(gate, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {GATE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
