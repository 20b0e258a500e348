"""Square pixels: a frame whose pixels are taller or wider than they are across is served scaled so that they are
square, as DCMTK's ``dcmj2pnm +a +Sxf 1`` scales it (the width kept, the height times the pixel's height/width,
truncated). What says the pixel's shape, in DCMTK's order: PixelSpacing, ImagerPixelSpacing, PixelAspectRatio."""

from __future__ import annotations

import contextlib
import math

import numpy as np
from pydicom.dataset import Dataset

# A ratio this far from 1 or less is square (a spacing written with few digits, 0.3125\0.3126, is not a shape).
SQUARE_TOLERANCE = 1e-3
# Ratios beyond this are not a pixel's shape but damage: the picture is served on its stored grid.
MAX_ASPECT = 16.0


def _pair(value: object) -> tuple[float, float] | None:
    with contextlib.suppress(TypeError, ValueError, IndexError):
        first, second = float(value[0]), float(value[1])  # type: ignore[index]
        if math.isfinite(first) and math.isfinite(second) and first > 0 and second > 0:
            return first, second
    return None


def pixel_aspect(view: Dataset) -> float:
    """A pixel's height over its width (1.0: square, or nothing usable says otherwise). ``view`` is the frame's
    view, so an enhanced image's Pixel Measures are read too."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "PixelAspectRatio"):
        pair = _pair(view.get(keyword)) if keyword in view else None
        if pair is not None:  # each is (vertical, horizontal): row spacing first, as the aspect ratio is
            ratio = pair[0] / pair[1]
            if abs(ratio - 1) <= SQUARE_TOLERANCE or not 1 / MAX_ASPECT <= ratio <= MAX_ASPECT:
                return 1.0
            return ratio
    return 1.0


def square_rows(rows: int, aspect: float) -> int:
    """The height of the square-pixel picture (DCMTK truncates)."""
    return max(1, int(rows * aspect + 1e-9))


def square(pixels: np.ndarray, aspect: float) -> np.ndarray:
    """``pixels`` (uint8, greyscale or RGB) with square pixels: the width kept, the height scaled (bilinear)."""
    if aspect == 1.0:
        return pixels
    from PIL import Image

    rows, columns = pixels.shape[:2]
    image = Image.fromarray(pixels)
    return np.asarray(image.resize((columns, square_rows(rows, aspect)), Image.Resampling.BILINEAR))
