"""Rekognition adapter: DetectText, reduced to where text is (never what it says).

The detected text is protected health information as soon as it is read: it is dropped here, inside the call,
and only geometry leaves this module. DetectText reports at most 100 words an image; a saturated answer is
searched again by regions of interest, each with a budget of 100 words of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from image_analyzer.errors import ErrorCode, ProcessingError

# DetectText returns at most this many words for one image (or one search of regions of interest).
MAX_WORDS = 100
# A saturated region is split into 2×2 overlapping parts (a word on a seam is more than half inside one of them),
# at most this many times; a part still saturated at the deepest level is redacted whole.
MAX_SPLIT_DEPTH = 2
SPLIT_OVERLAP = 0.1

# Rekognition's own verdicts on an image: retrying the same bytes cannot succeed.
_PERMANENT = frozenset({"InvalidImageFormatException", "ImageTooLargeException", "InvalidParameterException"})


class TextDetectionUnavailable(Exception):
    """DetectText failed in a way a retry may fix (throttling, a network error, a service error)."""


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in ratios of the image's width and height (Rekognition's BoundingBox convention)."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height

    def clipped(self) -> Box:
        left, top = max(0.0, self.left), max(0.0, self.top)
        return Box(left, top, max(0.0, min(1.0, self.right) - left), max(0.0, min(1.0, self.bottom) - top))

    def quarters(self, overlap: float = SPLIT_OVERLAP) -> list[Box]:
        """Four parts covering this box, each grown by ``overlap`` of the half size towards the others."""
        half_w, half_h = self.width / 2, self.height / 2
        grow_w, grow_h = half_w * overlap, half_h * overlap
        parts = []
        for row in range(2):
            for column in range(2):
                left = self.left + column * half_w - (grow_w if column else 0)
                top = self.top + row * half_h - (grow_h if row else 0)
                parts.append(Box(left, top, half_w + grow_w, half_h + grow_h).clipped())
        return parts

    def as_request(self) -> dict[str, float]:
        return {"Left": self.left, "Top": self.top, "Width": self.width, "Height": self.height}


def _geometry_box(geometry: dict[str, Any]) -> Box | None:
    """The box that holds both the bounding box and the polygon of one detection (rotated text has a polygon
    that leaves its axis-aligned box)."""
    xs: list[float] = []
    ys: list[float] = []
    bounding = geometry.get("BoundingBox") or {}
    if {"Left", "Top", "Width", "Height"} <= bounding.keys():
        xs += [float(bounding["Left"]), float(bounding["Left"]) + float(bounding["Width"])]
        ys += [float(bounding["Top"]), float(bounding["Top"]) + float(bounding["Height"])]
    for point in geometry.get("Polygon") or []:
        xs.append(float(point["X"]))
        ys.append(float(point["Y"]))
    if not xs:
        return None
    return Box(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)).clipped()


@dataclass(frozen=True)
class TextRegions:
    boxes: tuple[Box, ...]  # every LINE and WORD detection, and any part redacted whole
    lines: int  # distinct lines of text found
    calls: int  # DetectText requests made
    saturated_parts: int  # parts still at the word limit at the deepest split, redacted whole

    @property
    def regions(self) -> int:
        """What the job reports: lines of text, and parts redacted whole."""
        return self.lines + self.saturated_parts


class TextDetector:
    def __init__(self, client: Any) -> None:
        """``client`` is a boto3 Rekognition client."""
        self._rekognition = client

    def _detect(self, image: bytes, region: Box | None) -> tuple[list[tuple[str, Box]], int]:
        """((type, box) of every detection, number of WORD detections) for the image or one region of it."""
        # Every word, however unsure: DetectText's documented default (MinConfidence 80) drops faint or partly
        # legible text, which a person can still read.
        filters: dict[str, Any] = {"WordFilter": {"MinConfidence": 0}}
        if region is not None:
            filters["RegionsOfInterest"] = [{"BoundingBox": region.as_request()}]
        request: dict[str, Any] = {"Image": {"Bytes": image}, "Filters": filters}
        try:
            response = self._rekognition.detect_text(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _PERMANENT:
                raise ProcessingError(
                    ErrorCode.REDACTION_FAILED,
                    "The text detection service refused the image, so text in it cannot be redacted; "
                    "nothing of it was stored.",
                ) from None
            raise TextDetectionUnavailable(f"DetectText failed ({code or 'unknown error'})") from None
        except BotoCoreError as exc:
            raise TextDetectionUnavailable(f"DetectText failed ({type(exc).__name__})") from None
        boxes: list[tuple[str, Box]] = []
        words = 0
        # Only Type and Geometry are read: DetectedText is never looked at, copied or kept.
        for detection in response.get("TextDetections") or []:
            words += detection.get("Type") == "WORD"
            box = _geometry_box(detection.get("Geometry") or {})
            if box is not None and box.width > 0 and box.height > 0:
                boxes.append((str(detection.get("Type")), box))
        return boxes, words

    def find(self, image: bytes) -> TextRegions:
        """Where text is in ``image`` (JPEG or PNG bytes within Rekognition's limits)."""
        # A line found again by an overlapping region of interest has the same geometry: kept once.
        found: dict[tuple[float, ...], tuple[str, Box]] = {}
        calls = 0
        whole = 0
        pending: list[tuple[Box | None, int]] = [(None, 0)]
        while pending:
            region, depth = pending.pop()
            boxes, words = self._detect(image, region)
            calls += 1
            for kind, box in boxes:
                found.setdefault((*(round(v, 5) for v in box.as_request().values()), kind == "LINE"), (kind, box))
            if words < MAX_WORDS:
                continue
            area = region or Box(0.0, 0.0, 1.0, 1.0)
            if depth >= MAX_SPLIT_DEPTH:
                found[(*area.as_request().values(), False)] = ("PART", area)  # fail closed: more text here than
                whole += 1  # can be located word by word
                continue
            pending += [(part, depth + 1) for part in area.quarters()]
        lines = sum(kind == "LINE" for kind, _ in found.values())
        return TextRegions(tuple(box for _, box in found.values()), lines, calls, whole)


def iter_pixel_boxes(boxes: tuple[Box, ...], width: int, height: int, margin: float) -> Iterator[tuple[int, ...]]:
    """Each box in pixels (left, top, right, bottom; right and bottom exclusive), grown by ``margin`` of its
    height on every side (at least two pixels) and kept inside the image."""
    for box in boxes:
        grow = max(2.0, margin * box.height * height)
        left = int(max(0, box.left * width - grow))
        top = int(max(0, box.top * height - grow))
        right = int(min(width, -(-(box.right * width + grow) // 1)))
        bottom = int(min(height, -(-(box.bottom * height + grow) // 1)))
        if right > left and bottom > top:
            yield left, top, right, bottom
