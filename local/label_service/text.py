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


class TextReader:
    """One OCR engine, loaded once; calls are serialised (it uses every core)."""

    def __init__(self, threads: int | None = None) -> None:
        from rapidocr_onnxruntime import RapidOCR

        threads = threads or min(4, os.cpu_count() or 1)
        self._engine = RapidOCR(
            max_side_len=DETECTION_MAX_SIDE,
            det_limit_type="max",  # never enlarge
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            print_verbose=False,
        )
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
