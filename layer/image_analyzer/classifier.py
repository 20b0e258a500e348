"""An optional second stage: a model of your own (ONNX) on a crop of the analysed image.

The original project ran an endotracheal-tube detector on the upper-middle 512 × 512 of a 1024 × 1024 chest X-ray
and stored its class as ``flag``. Here any ONNX classifier (exported from PyTorch, Keras, scikit-learn…) can take
that place, described by a small JSON spec next to the model::

    {"name": "ett-detector", "version": "3", "model": "ett.onnx",
     "resize": [1024, 1024], "crop": {"left": 0.25, "top": 0, "width": 0.5, "height": 0.5},
     "input": {"width": 224, "height": 224, "channels": 1, "layout": "NCHW",
               "scale": 255, "mean": [0.5], "std": [0.25]},
     "output": "probabilities", "classes": ["absent", "present"], "threshold": 0.5}

The stage runs on the pixels the user sees (the DICOM render or the photo), loads once per warm worker, and is
bounded in time and memory. A failing model ends the stage with ``classifier.error``, never the job.
"""

from __future__ import annotations

import io
import json
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from PIL import Image

from image_analyzer import budget, png

MAX_MODEL_BYTES = 200 * 1024 * 1024
MAX_INPUT_SIDE = 4096
DEFAULT_TIMEOUT_S = 20.0


class ClassifierError(Exception):
    """The model or its spec is unusable, or inference failed: recorded as ``classifier.error``."""


@dataclass(frozen=True)
class Crop:
    """A region in fractions of the (optionally resized) image."""

    left: float = 0.0
    top: float = 0.0
    width: float = 1.0
    height: float = 1.0

    def box(self, width: int, height: int) -> tuple[int, int, int, int]:
        left, top = round(self.left * width), round(self.top * height)
        right, bottom = round((self.left + self.width) * width), round((self.top + self.height) * height)
        return left, top, max(right, left + 1), max(bottom, top + 1)


@dataclass(frozen=True)
class ClassifierSpec:
    name: str
    version: str
    model: str  # where the model is, relative to the spec's own location
    classes: tuple[str, ...]
    input_width: int
    input_height: int
    channels: int = 3
    layout: str = "NCHW"
    scale: float = 255.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    resize: tuple[int, int] | None = None
    crop: Crop = field(default_factory=Crop)
    output: str = "probabilities"
    threshold: float | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S

    @classmethod
    def parse(cls, text: str | bytes) -> ClassifierSpec:
        try:
            raw = json.loads(text)
            model_input = raw.get("input", {})
            crop = Crop(**{k: float(v) for k, v in (raw.get("crop") or {}).items()})
            spec = cls(
                name=str(raw["name"]),
                version=str(raw.get("version", "1")),
                model=str(raw["model"]),
                classes=tuple(str(c) for c in raw["classes"]),
                input_width=int(model_input["width"]),
                input_height=int(model_input["height"]),
                channels=int(model_input.get("channels", 3)),
                layout=str(model_input.get("layout", "NCHW")).upper(),
                scale=float(model_input.get("scale", 255)),
                mean=tuple(float(v) for v in model_input.get("mean", [0.0])),
                std=tuple(float(v) for v in model_input.get("std", [1.0])),
                resize=tuple(int(v) for v in raw["resize"]) if raw.get("resize") else None,  # type: ignore[arg-type]
                crop=crop,
                output=str(raw.get("output", "probabilities")),
                threshold=float(raw["threshold"]) if raw.get("threshold") is not None else None,
                timeout_s=float(raw.get("timeoutSeconds", DEFAULT_TIMEOUT_S)),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ClassifierError(f"the classifier spec is invalid: {exc!r}") from exc
        spec.validate()
        return spec

    def validate(self) -> None:
        problems = []
        if len(self.classes) < 2:
            problems.append("at least two classes are needed")
        if self.channels not in (1, 3):
            problems.append("input.channels must be 1 or 3")
        if self.layout not in ("NCHW", "NHWC"):
            problems.append("input.layout must be NCHW or NHWC")
        if not (0 < self.input_width <= MAX_INPUT_SIDE and 0 < self.input_height <= MAX_INPUT_SIDE):
            problems.append(f"input width and height must be 1…{MAX_INPUT_SIDE}")
        if len(self.mean) not in (1, self.channels) or len(self.std) not in (1, self.channels) or 0 in self.std:
            problems.append("input.mean and input.std need 1 or `channels` values, std non-zero")
        if self.resize is not None and not all(0 < side <= MAX_INPUT_SIDE for side in self.resize):
            problems.append(f"resize sides must be 1…{MAX_INPUT_SIDE}")
        c = self.crop
        if (
            not (0 <= c.left < 1 and 0 <= c.top < 1 and c.width > 0 and c.height > 0)
            or c.left + c.width > 1 + 1e-9
            or c.top + c.height > 1 + 1e-9
        ):
            problems.append("crop must lie within the image")
        if self.output not in ("probabilities", "logits"):
            problems.append("output must be 'probabilities' or 'logits'")
        if self.threshold is not None and (len(self.classes) != 2 or not 0 <= self.threshold <= 1):
            problems.append("a threshold (0…1) applies to two classes only")
        if not 0 < self.timeout_s <= 300:
            problems.append("timeoutSeconds must be 0…300")
        if problems:
            raise ClassifierError("the classifier spec is invalid: " + "; ".join(problems))

    def describe(self) -> dict[str, Any]:
        c = self.crop
        return {"left": c.left, "top": c.top, "width": c.width, "height": c.height, "resize": list(self.resize or [])}


@dataclass(frozen=True)
class Classification:
    scores: list[float]
    predicted: int
    crop_png: bytes


class Classifier:
    """A loaded model with its spec; ``classify`` is safe to call from one thread at a time."""

    def __init__(self, spec: ClassifierSpec, model: bytes) -> None:
        if len(model) > MAX_MODEL_BYTES:
            raise ClassifierError(f"the model is {len(model) >> 20} MB, more than {MAX_MODEL_BYTES >> 20} MB")
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # predictable memory and time; the worker does one job at a time
        options.log_severity_level = 3
        # An int8 model gives the same scores on CPUs with and without VNNI (without it, products saturate).
        options.add_session_config_entry("session.x64quantprecision", "1")
        try:
            self._session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for unreadable or invalid models
            raise ClassifierError(f"the model could not be loaded: {_short(exc)}") from exc
        self.spec = spec
        self._input = self._session.get_inputs()[0]
        self._check_input_shape()

    def _check_input_shape(self) -> None:
        spec = self.spec
        expected = (
            [1, spec.channels, spec.input_height, spec.input_width]
            if spec.layout == "NCHW"
            else [1, spec.input_height, spec.input_width, spec.channels]
        )
        shape = list(self._input.shape)
        if len(shape) != 4 or any(isinstance(d, int) and d != e for d, e in zip(shape, expected, strict=True)):
            raise ClassifierError(f"the model expects input {shape}, the spec describes {expected}")

    def preprocess(self, image: Image.Image) -> tuple[np.ndarray, Image.Image]:
        """The model's input tensor and the crop it was made from."""
        spec = self.spec
        image = image.convert("L" if spec.channels == 1 else "RGB")
        if spec.resize is not None:
            image = image.resize(spec.resize, Image.Resampling.BILINEAR)
        crop = image.crop(spec.crop.box(*image.size))
        scaled = crop.resize((spec.input_width, spec.input_height), Image.Resampling.BILINEAR)
        values = np.asarray(scaled, dtype=np.float32).reshape(spec.input_height, spec.input_width, spec.channels)
        values = (values / spec.scale - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
        tensor = values.transpose(2, 0, 1) if spec.layout == "NCHW" else values
        return np.ascontiguousarray(tensor[np.newaxis], dtype=np.float32), crop

    def classify(self, image: Image.Image) -> Classification:
        spec = self.spec
        width, height = spec.resize or image.size
        budget.require(width * height * 4 * 3 + spec.input_width * spec.input_height * 16, "The classifier's input")
        tensor, crop = self.preprocess(image)
        outputs = self._run(tensor)
        scores = np.asarray(outputs[0], dtype=np.float64).ravel()
        if scores.size != len(spec.classes) or not np.all(np.isfinite(scores)):
            raise ClassifierError(
                f"the model returned {scores.size} score(s) (finite: {bool(np.all(np.isfinite(scores)))}) "
                f"for {len(spec.classes)} classes"
            )
        if spec.output == "logits":
            exponentials = np.exp(scores - scores.max())
            scores = exponentials / exponentials.sum()
        # Two classes with a threshold: "present" when its score reaches it; otherwise the highest score.
        predicted = int(scores[1] >= spec.threshold) if spec.threshold is not None else int(np.argmax(scores))
        return Classification([float(s) for s in scores], predicted, png.encode(np.asarray(crop)))

    def _run(self, tensor: np.ndarray) -> list[Any]:
        import onnxruntime

        run_options = onnxruntime.RunOptions()
        # Bounded in time: a timer asks onnxruntime to stop the run (it checks between operators).
        timer = threading.Timer(self.spec.timeout_s, lambda: setattr(run_options, "terminate", True))
        timer.start()
        try:
            return self._session.run(None, {self._input.name: tensor}, run_options)
        except Exception as exc:
            if run_options.terminate:
                raise ClassifierError(f"the model took longer than {self.spec.timeout_s:g} s") from exc
            raise ClassifierError(f"the model failed: {_short(exc)}") from exc
        finally:
            timer.cancel()


def result_fields(spec: ClassifierSpec, classification: Classification) -> dict[str, Any]:
    """``results.classifier`` as the API returns it."""
    return {
        "model": spec.name,
        "version": spec.version,
        "crop": spec.describe(),
        "scores": [
            {"name": name, "score": round(score, 6)}
            for name, score in zip(spec.classes, classification.scores, strict=True)
        ],
        "predicted": {"index": classification.predicted, "name": spec.classes[classification.predicted]},
        "error": None,
    }


def error_fields(spec: ClassifierSpec | None, error: str) -> dict[str, Any]:
    return {
        "model": spec.name if spec else None,
        "version": spec.version if spec else None,
        "crop": spec.describe() if spec else None,
        "scores": [],
        "predicted": None,
        "error": error,
    }


class StageState(StrEnum):
    OFF = "off"  # no classifier configured
    READY = "ready"  # the model is loaded
    BROKEN = "broken"  # configured, but it could not be loaded: every job records why


@dataclass(frozen=True)
class ClassifierStage:
    """The classifier stage of a warm worker, loaded once: off, ready (with its model) or broken (with the reason)."""

    state: StageState
    model: Classifier | None = None
    reason: str | None = None

    @classmethod
    def off(cls) -> ClassifierStage:
        return cls(StageState.OFF)

    @classmethod
    def ready(cls, model: Classifier) -> ClassifierStage:
        return cls(StageState.READY, model=model)

    @classmethod
    def broken(cls, reason: str) -> ClassifierStage:
        return cls(StageState.BROKEN, reason=reason)


def open_for_classification(data: bytes) -> Image.Image:
    """An uploaded photo, decoded for the classifier: a JPEG larger than the largest input decodes at reduced scale
    (the crop is in fractions, so the scale changes nothing but the memory)."""
    image = Image.open(io.BytesIO(data))
    image.draft(image.mode, (MAX_INPUT_SIDE, MAX_INPUT_SIDE))
    budget.require(image.size[0] * image.size[1] * 4 * 2, "The classifier's picture")
    image.load()
    return image


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]
