"""EfficientNet-Lite0 (int8 ONNX) over ImageNet-1k, shaped into Rekognition DetectLabels output."""

from __future__ import annotations

import io
import json
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from local.label_service.taxonomy import classes, parent_chains

MODELS = Path(__file__).resolve().parent / "model"
MODEL_FILE = MODELS / "efficientnet_lite0_int8.onnx"
GATE_FILE = MODELS / "ood_gate.json"
INPUT_SIZE = 224
LABEL_MODEL_VERSION = "local-efficientnet-lite0-int8-gated"


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray  # (1000,)
    # P(the image is of the kind the model knows | its features), from the fitted out-of-distribution gate;
    # every label's confidence is multiplied by it (see local/label_service/calibration.py).
    in_distribution: float = 1.0


@dataclass(frozen=True)
class OodGate:
    """Logistic in the maximum cosine similarity between the image's features and any class's weight vector:
    an image of something ImageNet knows lies close to one class direction; a radiograph lies close to none,
    even when the softmax happens to put most of its mass on one class."""

    slope: float
    centre: float
    bias: np.ndarray  # (1000,) the final layer's bias, so that logits − bias = weights · features
    weight_norms: np.ndarray  # (1000,) ‖weights of class c‖

    @classmethod
    def load(cls, path: Path = GATE_FILE) -> OodGate:
        spec = json.loads(path.read_text())
        return cls(
            float(spec["slope"]),
            float(spec["centre"]),
            np.asarray(spec["bias"], dtype=np.float64),
            np.asarray(spec["weight_norms"], dtype=np.float64),
        )

    def max_cosine(self, logits: np.ndarray, features: np.ndarray) -> float:
        norm = float(np.linalg.norm(features))
        if norm == 0.0:
            return 0.0
        return float(np.max((logits - self.bias) / (self.weight_norms * norm)))

    def probability(self, score: float) -> float:
        return 1.0 / (1.0 + math.exp(-self.slope * (score - self.centre)))


class Classifier:
    def __init__(self, model_file: Path = MODEL_FILE, threads: int = 1, gate: OodGate | None = None) -> None:
        options = ort.SessionOptions()
        # One thread: under load every core is busy anyway, and extra intra-op threads spin and waste CPU.
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # the exported graph carries harmless unused constants
        # The model is int8. Without VNNI (AVX2 alone, e.g. AMD EPYC) onnxruntime's u8s8 products saturate in 16
        # bits and the scores move (a photo's P(in) 0.98 → 0.69); this keeps them the same on every x86-64 CPU.
        options.add_session_config_entry("session.x64quantprecision", "1")
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()
        self.gate = gate if gate is not None else OodGate.load()

    @staticmethod
    def preprocess(image: Image.Image) -> np.ndarray:
        # The model's training preprocessing: RGB 224², (x − 127) / 128, channels first. A box reduction first
        # (reducing_gap) makes large downscales about twice as fast for the same anti-aliasing.
        rgb = image.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, reducing_gap=1.0)
        arr = (np.asarray(rgb, dtype=np.float32) - 127.0) / 128.0
        return arr.transpose(2, 0, 1)[None]

    def outputs(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """(logits (1000,), penultimate features (1280,)) of one image."""
        batch = self.preprocess(image)
        with self._lock:  # one session, one inference at a time (the service is threaded)
            logits, features = self._session.run(["logits", "features"], {self._input: batch})
        return logits[0].astype(np.float64), features[0].astype(np.float64)

    def predict(self, image: Image.Image) -> Prediction:
        logits, features = self.outputs(image)
        exp = np.exp(logits - logits.max())
        return Prediction(exp / exp.sum(), self.gate.probability(self.gate.max_cosine(logits, features)))

    def predict_bytes(self, data: bytes) -> Prediction:
        return self.predict(Image.open(io.BytesIO(data)))


def _label(
    name: str, confidence: float, parents: tuple[str, ...], aliases: tuple[str, ...], category: str
) -> dict[str, Any]:
    return {
        "Name": name,
        "Confidence": round(min(100.0, confidence), 4),
        "Instances": [],  # a whole-image classifier cannot place boxes
        "Parents": [{"Name": p} for p in parents],
        "Aliases": [{"Name": a} for a in aliases],
        "Categories": [{"Name": category}],
    }


def to_labels(
    prediction: Prediction,
    max_labels: int,
    min_confidence: float,
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> list[dict[str, Any]]:
    """Classes and their ancestors as Rekognition labels; an ancestor's confidence is its classes' total. Every
    confidence is scaled by the image's in-distribution probability: summing a flat softmax over the 398 animal
    classes is what made an MR brain an "Animal 86" before the gate. ``keep`` (the request's label filters) is
    applied before MaxLabels, over every class when it is given."""
    table = classes()
    chains = parent_chains()
    probabilities = prediction.probabilities * prediction.in_distribution
    ranked_classes = np.argsort(probabilities)[::-1]
    top = ranked_classes if keep is not None else ranked_classes[: max(max_labels, 5) * 4]
    labels: dict[str, dict[str, Any]] = {}
    parent_mass: dict[str, float] = {}
    for index, p in enumerate(probabilities):
        for parent in table[index].parents:
            parent_mass[parent] = parent_mass.get(parent, 0.0) + float(p)
    for index in top:
        cls = table[int(index)]
        labels.setdefault(
            cls.name, _label(cls.name, float(probabilities[index]) * 100, cls.parents, cls.aliases, cls.category)
        )
    for parent, mass in parent_mass.items():
        if parent not in labels:
            own_parents, category = chains[parent]
            labels[parent] = _label(parent, mass * 100, own_parents, (), category)
    ranked = sorted(labels.values(), key=lambda label: label["Confidence"], reverse=True)
    kept = [label for label in ranked if label["Confidence"] >= min_confidence and (keep is None or keep(label))]
    return kept[:max_labels]
