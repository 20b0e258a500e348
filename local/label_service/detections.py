"""DetectText's request filters and response shape, as Rekognition defines them.

A word is reported when it passes ``Filters.WordFilter`` and lies more than half inside one of
``Filters.RegionsOfInterest`` (any region, up to 10; none means the whole image); at most 100 words an image.
Lines come first (``Id`` 0…), then their words (``ParentId`` the line's ``Id``); geometry is in ratios of the
image's width and height.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shapely.geometry import Polygon, box

from local.label_service.errors import RekognitionError
from local.label_service.text import Line, Word

MAX_WORDS = 100
# Rekognition's documented default WordFilter.MinConfidence: words under it are dropped unless asked for.
DEFAULT_MIN_CONFIDENCE = 80.0
MAX_REGIONS = 10
# A word belongs to a region when more than this share of its box lies inside it.
REGION_SHARE = 0.5


@dataclass(frozen=True)
class WordFilter:
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    min_height: float = 0.0
    min_width: float = 0.0


def _ratio(value: Any, name: str, upper: float = 1.0) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= upper:
        raise RekognitionError("InvalidParameterException", f"{name} must be a number between 0 and {upper:g}.")
    return float(value)


def _region(spec: Any) -> Polygon:
    if not isinstance(spec, dict) or not ({"BoundingBox", "Polygon"} & spec.keys()):
        raise RekognitionError("InvalidParameterException", "A region of interest needs a BoundingBox or a Polygon.")
    if "Polygon" in spec:
        points = spec["Polygon"]
        if not isinstance(points, list) or len(points) < 3 or not all(isinstance(p, dict) for p in points):
            raise RekognitionError("InvalidParameterException", "A Polygon needs at least three points.")
        return Polygon([(_ratio(p.get("X"), "X"), _ratio(p.get("Y"), "Y")) for p in points]).buffer(0)
    bounding = spec["BoundingBox"]
    if not isinstance(bounding, dict):
        raise RekognitionError("InvalidParameterException", "BoundingBox must be an object.")
    left, top = _ratio(bounding.get("Left"), "Left"), _ratio(bounding.get("Top"), "Top")
    width, height = _ratio(bounding.get("Width"), "Width"), _ratio(bounding.get("Height"), "Height")
    return box(left, top, left + width, top + height)


def text_filters(filters: Any) -> tuple[WordFilter, list[Polygon]]:
    """``Filters`` of a DetectText request, validated as Rekognition validates them."""
    if filters is None:
        return WordFilter(), []
    if not isinstance(filters, dict):
        raise RekognitionError("InvalidParameterException", "Filters must be an object.")
    word_filter = WordFilter()
    if (spec := filters.get("WordFilter")) is not None:
        if not isinstance(spec, dict):
            raise RekognitionError("InvalidParameterException", "WordFilter must be an object.")
        word_filter = WordFilter(
            _ratio(spec.get("MinConfidence", DEFAULT_MIN_CONFIDENCE), "MinConfidence", 100),
            _ratio(spec.get("MinBoundingBoxHeight", 0), "MinBoundingBoxHeight"),
            _ratio(spec.get("MinBoundingBoxWidth", 0), "MinBoundingBoxWidth"),
        )
    regions = filters.get("RegionsOfInterest") or []
    if not isinstance(regions, list) or len(regions) > MAX_REGIONS:
        raise RekognitionError("InvalidParameterException", f"At most {MAX_REGIONS} regions of interest.")
    return word_filter, [_region(region) for region in regions]


def _bounding_box(left: float, top: float, right: float, bottom: float, size: tuple[int, int]) -> dict[str, float]:
    width, height = size
    left, right = max(0.0, left / width), min(1.0, right / width)
    top, bottom = max(0.0, top / height), min(1.0, bottom / height)
    return {"Width": max(0.0, right - left), "Height": max(0.0, bottom - top), "Left": left, "Top": top}


def _corners(bounding: dict[str, float]) -> list[dict[str, float]]:
    left, top = bounding["Left"], bounding["Top"]
    right, bottom = left + bounding["Width"], top + bounding["Height"]
    return [{"X": x, "Y": y} for x, y in ((left, top), (right, top), (right, bottom), (left, bottom))]


def _kept(word: Word, size: tuple[int, int], word_filter: WordFilter, regions: list[Polygon]) -> bool:
    bounding = _bounding_box(*word.box, size)
    if word.confidence < word_filter.min_confidence:
        return False
    if bounding["Height"] < word_filter.min_height or bounding["Width"] < word_filter.min_width:
        return False
    if not regions:
        return True
    shape = box(
        bounding["Left"], bounding["Top"], bounding["Left"] + bounding["Width"], bounding["Top"] + bounding["Height"]
    )
    if shape.area == 0:
        return any(region.contains(shape.centroid) for region in regions)
    return any(shape.intersection(region).area > REGION_SHARE * shape.area for region in regions)


def text_detections(
    lines: list[Line], size: tuple[int, int], word_filter: WordFilter, regions: list[Polygon]
) -> list[dict[str, Any]]:
    """Rekognition's ``TextDetections``: LINE entries, then WORD entries, at most MAX_WORDS words."""
    width, height = size
    line_entries: list[dict[str, Any]] = []
    word_entries: list[dict[str, Any]] = []
    for line in lines:
        room = MAX_WORDS - len(word_entries)
        if room <= 0:
            break
        words = [w for w in line.words if _kept(w, size, word_filter, regions)][:room]
        if not words:
            continue
        line_id = len(line_entries)
        if len(words) == len(line.words):  # the whole line: its own (possibly rotated) polygon
            xs, ys = [x for x, _ in line.polygon], [y for _, y in line.polygon]
            bounding = _bounding_box(min(xs), min(ys), max(xs), max(ys), size)
            polygon = [
                {"X": min(1.0, max(0.0, x / width)), "Y": min(1.0, max(0.0, y / height))} for x, y in line.polygon
            ]
            text = line.text
        else:  # only some of its words: the line is what they span
            bounding = _bounding_box(
                min(w.box[0] for w in words), min(w.box[1] for w in words),
                max(w.box[2] for w in words), max(w.box[3] for w in words), size,
            )  # fmt: skip
            polygon = _corners(bounding)
            text = " ".join(w.text for w in words)
        line_entries.append(
            {
                "DetectedText": text,
                "Type": "LINE",
                "Id": line_id,
                "Confidence": line.confidence,
                "Geometry": {"BoundingBox": bounding, "Polygon": polygon},
            }
        )
        for word in words:
            word_box = _bounding_box(*word.box, size)
            word_entries.append(
                {
                    "DetectedText": word.text,
                    "Type": "WORD",
                    "Id": 0,  # numbered after the lines, below
                    "ParentId": line_id,
                    "Confidence": word.confidence,
                    "Geometry": {"BoundingBox": word_box, "Polygon": _corners(word_box)},
                }
            )
    for number, entry in enumerate(word_entries, start=len(line_entries)):
        entry["Id"] = number
    return line_entries + word_entries
