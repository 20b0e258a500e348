"""EfficientNet-Lite0 (int8 ONNX) over ImageNet-1k, shaped into Rekognition DetectLabels output."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from local.labels.taxonomy import classes, parent_chains

MODEL_FILE = Path(__file__).resolve().parent.parent / "models" / "efficientnet_lite0_int8.onnx"
INPUT_SIZE = 224
LABEL_MODEL_VERSION = "local-efficientnet-lite0-int8"


@dataclass(frozen=True)
class Prediction:
    probabilities: np.ndarray  # (1000,)


class Classifier:
    def __init__(self, model_file: Path = MODEL_FILE, threads: int = 1) -> None:
        options = ort.SessionOptions()
        # One thread: under load every core is busy anyway, and extra intra-op threads spin and waste CPU.
        options.intra_op_num_threads = threads
        options.log_severity_level = 3  # the exported graph carries harmless unused constants
        self._session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    @staticmethod
    def preprocess(image: Image.Image) -> np.ndarray:
        # The model's training preprocessing: RGB 224², (x − 127) / 128, channels first. A box reduction first
        # (reducing_gap) makes large downscales about twice as fast for the same anti-aliasing.
        rgb = image.convert("RGB").resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BILINEAR, reducing_gap=1.0)
        arr = (np.asarray(rgb, dtype=np.float32) - 127.0) / 128.0
        return arr.transpose(2, 0, 1)[None]

    def predict(self, image: Image.Image) -> Prediction:
        batch = self.preprocess(image)
        with self._lock:  # one session, one inference at a time (the service is threaded)
            logits = self._session.run(None, {self._input: batch})[0][0].astype(np.float64)
        exp = np.exp(logits - logits.max())
        return Prediction(exp / exp.sum())

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


def to_labels(prediction: Prediction, max_labels: int, min_confidence: float) -> list[dict[str, Any]]:
    """Classes and their ancestors as Rekognition labels; an ancestor's confidence is its classes' total."""
    table = classes()
    chains = parent_chains()
    probabilities = prediction.probabilities
    top = np.argsort(probabilities)[::-1][: max(max_labels, 5) * 4]
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
    return [label for label in ranked if label["Confidence"] >= min_confidence][:max_labels]
