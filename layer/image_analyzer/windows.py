"""VOI windows as plain data: the named CT presets and how a window is written in keys and responses.

No numpy or pydicom here: the API reads these without loading the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Windows are kept to this many decimals wherever they are parsed, stored as keys or reported.
WINDOW_DECIMALS = 3


@dataclass(frozen=True)
class Window:
    center: float
    width: float
    function: str = "LINEAR"


# Common CT windows in Hounsfield units (centre, width).
PRESETS: dict[str, Window] = {
    "soft_tissue": Window(40, 400),
    "lung": Window(-600, 1500),
    "bone": Window(400, 1800),
    "brain": Window(40, 80),
    "liver": Window(60, 150),
}


# What "file" shows: the file's window, its VOI LUT or, when it has neither, an automatic one.
FILE_VIEW = "file"


def values_are_hounsfield(modality: str | None, value_unit: str | None) -> bool:
    """Whether the modality values are Hounsfield units, where the CT presets mean something: a RescaleType (or
    ModalityLUTType) of HU, or a CT that names no unit (PS3.3 C.11.1.1.2: HU is then implied for CT)."""
    unit = (value_unit or "").strip().upper()
    return unit == "HU" or ((modality or "").strip().upper() == "CT" and unit == "")


def offered_views(modality: str | None, value_unit: str | None) -> list[str]:
    """The named windows a greyscale image is offered in: its own (or automatic) always, the CT presets only where
    its values are Hounsfield units (an MR in "lung" is washed out, a MONOCHROME1 CR in "bone" black)."""
    return [FILE_VIEW, *PRESETS] if values_are_hounsfield(modality, value_unit) else [FILE_VIEW]


def canonical(value: float) -> float:
    """The one form a window value has everywhere (-0.0 is 0.0)."""
    return round(float(value), WINDOW_DECIMALS) + 0.0


def written(value: float) -> str:
    """A canonical value as text, without trailing zeros: 1234.567, 40, -600.5."""
    text = f"{canonical(value):.{WINDOW_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def description(window: Window, source: str) -> dict[str, Any]:
    """What a job record and a /render response say of a window."""
    return {"center": canonical(window.center), "width": canonical(window.width), "source": source}
