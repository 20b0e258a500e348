"""Supplemental palettes (PS3.3 C.7.6.3.1.5 and C.7.9): a greyscale image with Pixel Presentation COLOR or MIXED
and a palette shows the stored values within the palette's range in the palette's colours, and every other value
through the greyscale pipeline, as grey. (An enhanced CT with perfusion maps over anatomy: the maps would otherwise
show as speckled grey.)"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRBigEndian

PALETTE_KEYWORDS = tuple(
    f"{colour}PaletteColorLookupTable{part}" for colour in ("Red", "Green", "Blue") for part in ("Descriptor", "Data")
)


def has_supplemental_palette(view: Dataset) -> bool:
    presentation = str(view.get("PixelPresentation") or "").strip().upper()
    return presentation in ("COLOR", "MIXED") and all(keyword in view for keyword in PALETTE_KEYWORDS)


def palette_colours(view: Dataset, stored: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Where the stored values are in the palette's range, and the 8-bit colour the palette gives each there;
    None when the palette cannot be read (the frame is then shown in grey, as a viewer without palettes would)."""
    try:
        entries, first, bits = (int(v) for v in view.RedPaletteColorLookupTableDescriptor)
        entries = entries or 65536  # PS3.3 C.7.6.3.1.5: 0 means 2^16 entries
        tables = [_table(view, colour, entries) for colour in ("Red", "Green", "Blue")]
    except (AttributeError, TypeError, ValueError, IndexError):
        return None
    if any(table is None for table in tables) or not 1 <= bits <= 16:
        return None
    inside = (stored >= first) & (stored < first + entries)
    colours = np.zeros((*stored.shape, 3), dtype=np.uint8)
    if inside.any():
        index = stored[inside].astype(np.int64) - first
        for channel, table in enumerate(tables):
            assert table is not None
            entries_8bit = table >> (bits - 8) if bits > 8 else table
            colours[inside, channel] = entries_8bit[index].astype(np.uint8)
    return inside, colours


def _table(view: Dataset, colour: str, entries: int) -> np.ndarray | None:
    """One channel's entries (pydicom's apply_color_lut refuses supplemental palettes): 8-bit entries one a byte,
    16-bit ones a word in the dataset's byte order."""
    data = bytes(view[f"{colour}PaletteColorLookupTableData"].value)
    if len(data) == entries:
        return np.frombuffer(data, dtype=np.uint8).astype(np.uint16)
    if len(data) in (2 * entries, 2 * entries + 2):  # OW pads an odd length
        big = view.file_meta.get("TransferSyntaxUID") == ExplicitVRBigEndian
        return np.frombuffer(data[: 2 * entries], dtype=">u2" if big else "<u2")
    return None


def coloured(grey: np.ndarray, palette: tuple[np.ndarray, np.ndarray], left_grey: np.ndarray | None) -> np.ndarray:
    """The greyscale render with the palette's colours where they apply, except where ``left_grey`` is set (a
    redacted region: its colours would show what was filled)."""
    inside, colours = palette
    shown = inside if left_grey is None else inside & ~left_grey
    out = np.repeat(grey[..., None], 3, axis=2)
    out[shown] = colours[shown]
    return out
