"""The greyscale pipeline, one function per stage (DESIGN.md, DICOM rendering rules).

Modality LUT (pydicom's) → :func:`choose_window` (the VOI LUT sequence, a given window, the file's, or a robust
automatic one) → :func:`apply_voi` → :func:`to_8bit` over the VOI output range, MONOCHROME1 inverted. Each stage
takes values and the frame's view and returns new values; none changes the view it is given.

For integer pixel data the pipeline runs once over the range of stored values that occur, giving a lookup table
that the frame then indexes: the same result as running it over every pixel, several times faster on radiographs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_windowing
from pydicom.pixels import apply_voi as apply_voi_lut

from image_analyzer import budget
from image_analyzer.windows import Window, description

# Evaluate the pipeline over the stored-value domain when it has at most this many entries (17 bits).
MAX_LUT_ENTRIES = 1 << 17
# Peak working memory of the per-pixel float64 pipeline (modality, VOI, scaling and their temporaries).
_FLOAT_PIPELINE_BYTES_PER_PIXEL = 48
# Share of pixels clipped at each end by the automatic window.
AUTO_WINDOW_PERCENTILES = (0.5, 99.5)
VOI_KEYWORDS = ("VOILUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction")


@dataclass(frozen=True)
class WindowChoice:
    """The VOI a frame is shown in: a window, or (``window`` None) the file's own VOI LUT."""

    window: Window | None
    source: str  # "voi_lut", "file", "auto", "override" or "preset:<name>"

    def described(self) -> dict[str, Any]:
        if self.window is None:
            return {"center": None, "width": None, "source": self.source}
        return description(self.window, self.source)


def _first(value: Any) -> float:
    return float(value[0]) if isinstance(value, MultiValue) else float(value)


def _weighted_percentiles(
    values: np.ndarray, weights: np.ndarray, percentiles: tuple[float, float]
) -> tuple[float, float]:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order], dtype=np.float64)
    total = cumulative[-1]
    low, high = (np.searchsorted(cumulative, p / 100 * total) for p in percentiles)
    return float(values[order][min(low, len(order) - 1)]), float(values[order][min(high, len(order) - 1)])


def auto_window(modality_values: np.ndarray, weights: np.ndarray) -> Window:
    low, high = _weighted_percentiles(modality_values.ravel(), weights.ravel(), AUTO_WINDOW_PERCENTILES)
    if high <= low:
        high = low + 1
    return Window(center=(low + high) / 2, width=high - low, function="LINEAR_EXACT")


def _file_window(view: Dataset) -> Window | None:
    if "WindowCenter" not in view or "WindowWidth" not in view:
        return None
    try:
        return Window(_first(view.WindowCenter), _first(view.WindowWidth), str(view.get("VOILUTFunction") or "LINEAR"))
    except (TypeError, ValueError, IndexError):
        return None


def _usable(window: Window) -> bool:
    return window.width >= (1 if window.function.upper() == "LINEAR" else 1e-9)


def choose_window(
    modality: np.ndarray,
    view: Dataset,
    counts: Callable[[], np.ndarray],
    window: Window | None = None,
    source: str | None = None,
) -> WindowChoice:
    """Which VOI shows ``modality`` (the modality values of the domain): a given ``window``, else the file's VOI
    LUT, else its window, else an automatic one from the values weighted by ``counts`` (computed only then). An
    unusable window, given or in the file, gives way to an automatic one rather than an error."""
    if window is None and view.get("VOILUTSequence"):
        return WindowChoice(None, "voi_lut")
    chosen, chosen_source = (window, source or "override") if window is not None else (_file_window(view), "file")
    if chosen is None or not _usable(chosen):
        return WindowChoice(auto_window(modality, counts()), "auto")
    return WindowChoice(chosen, chosen_source)


def voi_view(view: Dataset, choice: WindowChoice) -> Dataset:
    """The view as the VOI stages read it: ``view`` itself for its own VOI LUT, else a copy that declares the
    chosen window as its only VOI (made once per frame, read by :func:`apply_voi` and :func:`to_8bit`)."""
    if choice.window is None:
        return view
    window = choice.window
    out = Dataset()
    out.file_meta = view.file_meta
    for element in view:
        if element.keyword not in VOI_KEYWORDS:
            out[element.tag] = element
    out.WindowCenter, out.WindowWidth, out.VOILUTFunction = window.center, window.width, window.function
    return out


def voi_output_range(voi: np.ndarray, view: Dataset, choice: WindowChoice) -> tuple[float, float]:
    """The range the VOI stage can produce: 8-bit scaling maps this, not the image's min/max, to 0-255.
    ``view`` is the :func:`voi_view` of the choice."""
    if choice.window is None:
        # PS3.3 C.11.2.1.1: the LUT's output spans 0…2ⁿ−1, n the descriptor's third value. A LUT whose entries
        # exceed that depth (a known encoder error) falls back to the range its entries actually cover.
        item = view.VOILUTSequence[0]
        entries = int(item.LUTDescriptor[0]) or 65536
        first = int(item.LUTDescriptor[1])
        bits = int(item.LUTDescriptor[2])
        lut = apply_voi_lut(np.arange(first, first + entries, dtype=np.int64), view)
        declared_high = float(2**bits - 1) if 1 <= bits <= 16 else None
        if declared_high is not None and lut.min() >= 0 and lut.max() <= declared_high:
            return 0.0, declared_high
        return float(lut.min()), float(lut.max())
    with np.errstate(over="ignore"):
        ends = apply_windowing(np.array([-1e300, 1e300]), view)
    low, high = float(ends.min()), float(ends.max())
    if high <= low:  # degenerate declared range: fall back to what the window produced
        low, high = float(voi.min()), float(voi.max())
    return low, high


def apply_voi(modality: np.ndarray, view: Dataset, choice: WindowChoice) -> np.ndarray:
    """The VOI stage: the chosen window, or the file's VOI LUT, applied to modality values (``view`` is the
    :func:`voi_view` of the choice)."""
    if choice.window is None:
        integral = modality if np.issubdtype(modality.dtype, np.integer) else modality.astype(np.int64)
        return apply_voi_lut(integral, view)
    return apply_windowing(modality, view)


def to_8bit(voi: np.ndarray, view: Dataset, choice: WindowChoice) -> np.ndarray:
    """VOI output → 0-255 over the range the VOI can produce; MONOCHROME1 inverted (low values are white)."""
    low, high = voi_output_range(voi, view, choice)
    scaled = np.clip((voi.astype(np.float64) - low) * (255.0 / (high - low)), 0, 255)
    out = np.rint(scaled).astype(np.uint8)
    return 255 - out if view.PhotometricInterpretation == "MONOCHROME1" else out


def greyscale_lut(
    view: Dataset,
    domain: np.ndarray,
    counts: Callable[[], np.ndarray],
    window: Window | None = None,
    source: str | None = None,
) -> tuple[np.ndarray, WindowChoice]:
    """The whole pipeline over ``domain`` (stored values): the 8-bit result of each entry and the VOI it was shown
    in. ``counts`` gives how often each entry occurs."""
    modality = apply_modality_lut(domain, view)
    choice = choose_window(modality, view, counts, window, source)
    shown = voi_view(view, choice)
    return to_8bit(apply_voi(modality, shown, choice), shown, choice), choice


def render_greyscale(
    view: Dataset, arr: np.ndarray, window: Window | None, source: str | None
) -> tuple[np.ndarray, WindowChoice]:
    """One decoded greyscale frame → 8 bits, and the VOI it was shown in; ``view`` is the frame's
    (:func:`~image_analyzer.dicom.frame.frame_view`)."""
    padding = view.get("PixelPaddingValue")
    if np.issubdtype(arr.dtype, np.integer):
        low, high = int(arr.min()), int(arr.max())
        if high - low < MAX_LUT_ENTRIES:
            # Small non-negative values index the table directly; others are shifted to start at zero first.
            base = 0 if low >= 0 and high < MAX_LUT_ENTRIES else low
            index = arr if base == 0 else (arr.astype(np.int64) - base)

            def histogram() -> np.ndarray:
                counts = np.bincount(index.ravel(), minlength=high - base + 1)[low - base :]
                if isinstance(padding, int) and low <= padding <= high and counts.sum() > counts[padding - low]:
                    counts[padding - low] = 0  # padding around the body must not steer the automatic window
                return counts

            domain = np.arange(low, high + 1, dtype=arr.dtype if arr.dtype.itemsize >= 4 else np.int32)
            lut, choice = greyscale_lut(view, domain, histogram, window, source)
            if low > base:  # entries below the smallest value are never looked up
                lut = np.concatenate([np.zeros(low - base, dtype=lut.dtype), lut])
            return np.take(lut, index), choice
    # Wide or floating-point values: the pipeline runs per pixel in float64, several arrays at once.
    budget.require(arr.size * _FLOAT_PIPELINE_BYTES_PER_PIXEL, f"Windowing a {arr.shape[1]}×{arr.shape[0]} frame")
    return greyscale_lut(view, arr, lambda: np.ones(arr.shape), window, source)
