"""Offline text detection for the local DetectText: PP-OCRv4 detection and recognition (ONNX models that the
rapidocr-onnxruntime package ships, Apache-2.0), shaped into lines and words as Rekognition reports them.

Local stack only: the layer never ships an OCR model (on AWS, DetectText is Rekognition's).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

# PP-OCR's detector resizes the image: by default (limit type "min") it enlarges it until its short side is 736 px,
# and with limit type "max" it ignores the given length and keeps up to 2000 px, so a 3.6 MP radiograph runs at
# full size either way (1.8 s here). The engine's own input cap (max_side_len) is what bounds it; text a person
# can read on a radiograph stays well above the detector's minimum size at this scale.
DETECTION_MAX_SIDE = 1280
# The recogniser pads every batch of line crops to the widest one, and to at least 320 px (PaddleOCR's default):
# a 67 px "ID" ran as wide as a whole line. Padding to the batch's widest crop but at least 96 px, in batches of
# four (crops are sorted by width, so a batch's widths are close), halves the recogniser's work. The least width
# matters: at 48 px, noise on two lossy MR slices was read as "n" at a score just over the engine's 0.5 cut and
# kept; at 96 px the same 12 of the 47 sample renders get regions as at 320 px (a line more or less on three
# ultrasounds), and every canary token is still read.
RECOGNITION_HEIGHT = 48
RECOGNITION_MIN_WIDTH = 96
RECOGNITION_BATCH = 4
TEXT_MODEL_VERSION = "local-ppocrv4"


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0-100
    box: tuple[float, float, float, float]  # left, top, right, bottom in pixels


@dataclass(frozen=True)
class Line:
    text: str
    confidence: float  # 0-100
    polygon: tuple[tuple[float, float], ...]  # four corners in pixels, clockwise from the top left
    words: tuple[Word, ...]


def _bounds(points: np.ndarray) -> tuple[float, float, float, float]:
    return float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max())


def _words(
    text: str, polygon: np.ndarray, chars: list, char_boxes: list, char_scores: list, score: float
) -> list[Word]:
    """Split a line into its words: each word's box holds its characters' boxes (the recogniser's alignment
    gives one per character, spaces included); without them, the line's box is shared out by character count."""
    words: list[Word] = []
    if chars and len(chars) == len(char_boxes) == len(char_scores):
        current: list[tuple[str, np.ndarray, float]] = []
        for char, box, char_score in [*zip(chars, char_boxes, char_scores, strict=True), (" ", None, 0.0)]:
            if str(char).strip():
                current.append((str(char), np.asarray(box, dtype=np.float64), float(char_score)))
                continue
            if current:
                points = np.concatenate([b for _, b, _ in current])
                confidence = 100 * float(np.mean([c for _, _, c in current]))
                words.append(Word("".join(c for c, _, _ in current), confidence, _bounds(points)))
                current = []
        return words
    left, top, right, bottom = _bounds(polygon)
    step = (right - left) / max(1, len(text))
    position = 0
    for token in text.split(" "):
        if token:
            start = left + step * position
            words.append(Word(token, 100 * score, (start, top, start + step * len(token), bottom)))
        position += len(token) + 1
    return words


def _idle_threads_sleep(holder: object, threads: int) -> None:
    """Rebuild ``holder.session`` (rapidocr's ONNX Runtime session, pinned <1.5) with threads that sleep when idle.

    By default a session's intra-op threads spin for a while after each run: the detector's kept the cores busy
    that the recogniser runs on next. On 2 cores that cost 15-20 % of a DetectText."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    model_path = holder.session._model_path  # type: ignore[attr-defined]
    holder.session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])  # type: ignore[attr-defined]


class TextReader:
    """One OCR engine, loaded once; calls are serialised (it uses every core)."""

    def __init__(self, threads: int | None = None) -> None:
        from rapidocr_onnxruntime import RapidOCR

        threads = threads or min(4, os.cpu_count() or 1)
        self._engine = RapidOCR(
            max_side_len=DETECTION_MAX_SIDE,
            det_limit_type="max",  # never enlarge
            rec_img_shape=[3, RECOGNITION_HEIGHT, RECOGNITION_MIN_WIDTH],  # the least width a batch is padded to
            rec_batch_num=RECOGNITION_BATCH,
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            print_verbose=False,
        )
        _idle_threads_sleep(self._engine.text_det.infer, threads)
        _idle_threads_sleep(self._engine.text_rec.session, threads)
        self._lock = threading.Lock()

    def read(self, image: Image.Image) -> list[Line]:
        """Every line of text in ``image``, in reading order, with its words."""
        rgb = np.asarray(image.convert("RGB"))
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # the engine takes OpenCV's channel order
        with self._lock:
            # No angle classifier: burned-in annotations are upright, and it costs a third of the time.
            result, _ = self._engine(bgr, use_cls=False, return_word_box=True)
        lines: list[Line] = []
        for entry in result or []:
            polygon = np.asarray(entry[0], dtype=np.float64)
            text, score = str(entry[1]).strip(), float(entry[2])
            if not text:
                continue
            chars, char_boxes, char_scores = (list(entry[i]) if len(entry) > i and entry[i] else [] for i in (4, 3, 5))
            words = _words(text, polygon, chars, char_boxes, char_scores, score)
            if words:
                corners = tuple((float(x), float(y)) for x, y in polygon)
                lines.append(Line(" ".join(w.text for w in words), 100 * score, corners, tuple(words)))
        return lines
