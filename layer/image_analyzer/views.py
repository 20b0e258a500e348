"""Re-rendering a DICOM job with another window: the file's own, a CT preset, or a custom centre and width.

Each view is rendered once and kept under ``converted/{jobId}/``; asking again serves the stored PNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from image_analyzer.definitions import CONVERTED_PREFIX
from image_analyzer.errors import ApiError, ErrorCode
from image_analyzer.windows import FILE_VIEW, PRESETS, Window, canonical, description, offered_views, written

# The named windows (CT presets, in Hounsfield units) and "file": the file's own window or VOI LUT, as first shown.
PRESET_NAMES = (FILE_VIEW, *PRESETS)
MAX_ABS_WINDOW = 1e7  # beyond any modality's value range


@dataclass(frozen=True)
class View:
    """One way to window a job's image: a preset name, or a custom centre and width."""

    preset: str | None = None
    center: float | None = None
    width: float | None = None

    @property
    def slug(self) -> str:
        if self.preset is not None:
            return self.preset
        assert self.center is not None and self.width is not None
        return f"c{written(self.center)}_w{written(self.width)}"

    def key(self, job_id: str) -> str:
        return f"{CONVERTED_PREFIX}{job_id}/view-{self.slug}.png"

    @property
    def window(self) -> Window | None:
        """The window the renderer is given: None for "file" (the file's own)."""
        if self.preset is not None:
            return None if self.preset == "file" else PRESETS[self.preset]
        assert self.center is not None and self.width is not None
        return Window(self.center, self.width)

    def described(self, recorded: dict[str, Any] | None) -> dict[str, Any] | None:
        """The window this view is shown in, as the job records windows; ``recorded`` is the job's own window
        (what "file" shows). The same whether the view was rendered now or served as stored."""
        if self.window is None:
            return recorded
        return description(self.window, f"preset:{self.preset}" if self.preset else "override")


def _number(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(400, ErrorCode.BAD_REQUEST, f"{name} must be a number.") from None
    if not math.isfinite(value) or abs(value) > MAX_ABS_WINDOW:
        raise ApiError(400, ErrorCode.BAD_REQUEST, f"{name} must be a finite number within ±{MAX_ABS_WINDOW:g}.")
    return canonical(value)


def parse_view(window: str | None, center: str | None, width: str | None) -> View:
    """``window=<preset>`` or ``center=…&width=…`` (exactly one of the two forms)."""
    if window and (center is not None or width is not None):
        raise ApiError(400, ErrorCode.BAD_REQUEST, "Give either window or center and width, not both.")
    if window:
        if window not in PRESET_NAMES:
            raise ApiError(400, ErrorCode.BAD_REQUEST, f"window must be one of: {', '.join(PRESET_NAMES)}.")
        return View(preset=window)
    if center is None or width is None:
        raise ApiError(400, ErrorCode.BAD_REQUEST, "Give window=<preset>, or both center and width.")
    view = View(center=_number("center", center), width=_number("width", width))
    if view.width is None or view.width < 1:
        raise ApiError(400, ErrorCode.BAD_REQUEST, "width must be at least 1.")
    return view


def check_offered(view: View, dicom: dict[str, Any]) -> None:
    """A preset the job does not offer is refused, saying which it offers (a job recorded before ``views`` existed
    offers what its modality allows)."""
    if view.preset is None:
        return  # a custom centre and width applies to any greyscale image
    offered = dicom.get("views") or offered_views(dicom.get("modality"), None)
    if view.preset not in offered:
        raise ApiError(
            400,
            ErrorCode.BAD_REQUEST,
            f"window={view.preset} is a CT preset in Hounsfield units, and this {dicom.get('modality') or 'image'}'s "
            f"values are not. This job offers window={', window='.join(offered)}, or center and width.",
        )
