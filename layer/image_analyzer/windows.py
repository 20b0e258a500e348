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
