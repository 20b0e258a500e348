"""Colour frames become 8-bit RGB; they are never windowed."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut

COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "YBR_PARTIAL_422")


def render_colour(ds: Dataset, arr: np.ndarray, photometric: str) -> np.ndarray:
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        if arr.dtype != np.uint8:
            arr = arr >> 8 if arr.max() > 255 else arr
    elif arr.dtype != np.uint8:
        bits = int(ds.get("BitsStored") or arr.dtype.itemsize * 8)
        arr = arr >> max(0, bits - 8)
    return np.ascontiguousarray(arr.astype(np.uint8, copy=False))
