"""Redacting text burned into the pixels: where a detector found text, the picture is filled.

Plain functions on arrays: what to fill (a mask at the image's own resolution) and the record a job keeps (how
many regions, what share of the picture; never the text, never where it was).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from image_analyzer.text import TextRegions, iter_pixel_boxes

if TYPE_CHECKING:  # numpy is imported on first use: photos that are not redacted never need it
    import numpy as np

# Each text box grows by this share of its height on every side: detectors draw boxes tight to the glyphs, and
# antialiased edges, accents and descenders reach past them.
TEXT_MARGIN = 0.2


class RedactMode(StrEnum):
    """Which pictures are searched for text and redacted (``REDACT_TEXT``)."""

    DICOM = "dicom"  # every DICOM render, whatever BurnedInAnnotation says (it is often absent or wrong)
    ALL = "all"  # photos too
    NONE = "none"


@dataclass(frozen=True)
class Redaction:
    method: str  # the detectors that searched it (a TextDetection), or "none" when it was not searched
    regions: int
    area_fraction: float

    def to_record(self) -> dict[str, Any]:
        return {"method": self.method, "regions": self.regions, "areaFraction": round(self.area_fraction, 6)}


NOT_SEARCHED = Redaction("none", 0, 0.0)


def required(mode: RedactMode, is_dicom: bool) -> bool:
    return mode is RedactMode.ALL or (mode is RedactMode.DICOM and is_dicom)


def text_mask(found: TextRegions, width: int, height: int, margin: float = TEXT_MARGIN) -> np.ndarray:
    """True where the picture (``width`` × ``height`` pixels) must be filled."""
    import numpy as np

    mask = np.zeros((height, width), dtype=bool)
    for left, top, right, bottom in iter_pixel_boxes(found.boxes, width, height, margin):
        mask[top:bottom, left:right] = True
    return mask


def filled(pixels: np.ndarray, mask: np.ndarray, value: int | float = 0) -> np.ndarray:
    """A copy of ``pixels`` (rows × columns, with or without samples) with ``value`` wherever ``mask`` is set."""
    import numpy as np

    out = np.array(pixels, copy=True)
    out[mask] = value
    return out
