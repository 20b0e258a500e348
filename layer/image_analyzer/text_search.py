"""Where text is in a picture, by every detector the stack chose, in every view a user could be shown.

The in-function detector (``text_model``) looks at the served picture and at the revealing view
(``text_views``), each in four orientations at native resolution; Rekognition DetectText is sent the served
picture and, for a greyscale frame, the revealing view. The answer is one mask at the picture's own resolution:
True wherever any detector found text in any view.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from image_analyzer.redaction import TEXT_MARGIN, text_mask
from image_analyzer.text import Box, TextDetector, TextRegions

if TYPE_CHECKING:
    import numpy as np

    from image_analyzer.text_model import PixelBox, TextModel


class TextDetection(StrEnum):
    """Which detectors look for text (``TEXT_DETECTION``)."""

    BOTH = "function+rekognition"  # the union of both
    FUNCTION = "function"  # nothing of the picture leaves the function before redaction
    REKOGNITION = "rekognition"


@dataclass
class SearchViews:
    """What is searched: the picture served (uint8, grey or RGB) and the view that reveals every window's text,
    made from ``values`` when a detector first asks for it."""

    served: np.ndarray
    values: np.ndarray  # a greyscale frame's modality values, else the served picture itself
    # The served picture as encoded for DetectLabels (JPEG or PNG within Rekognition's limits).
    served_bytes: bytes
    greyscale_frame: bool  # a windowed frame: its revealing view differs from every window's

    @cached_property
    def revealing(self) -> np.ndarray:
        from image_analyzer.text_views import revealing

        return revealing(self.values)

    def model_inputs(self) -> list[np.ndarray]:
        """What the in-function model is run on. A grey picture and its revealing view go in as the channels of
        one picture (text in either is text in colour to the model: one pass instead of two). A colour picture
        goes in as it is, then each channel's revealing view alone: stretched together, the channels without
        the text would be noise drawn at full contrast over the one with it."""
        import numpy as np

        if self.served.ndim == 2:
            return [np.stack([self.served, self.revealing, self.revealing], axis=2)]
        return [self.served, *(np.ascontiguousarray(self.revealing[..., c]) for c in range(self.revealing.shape[2]))]


@dataclass(frozen=True)
class FoundText:
    mask: np.ndarray  # True where the picture must be filled
    regions: int  # connected regions of the mask
    calls: int  # DetectText requests made


def _as_regions(boxes: list[PixelBox], rows: int, columns: int) -> TextRegions:
    """The model's boxes as the detection geometry DetectText's are kept in (ratios of the picture)."""
    ratios = tuple(
        Box(b.left / columns, b.top / rows, (b.right - b.left) / columns, (b.bottom - b.top) / rows) for b in boxes
    )
    return TextRegions(ratios, len(ratios), 0, 0)


def count_regions(mask: np.ndarray) -> int:
    from image_analyzer.text_model import components

    return len(components(mask))


def _png(pixels: np.ndarray) -> bytes:
    """A view as DetectText takes it: within Rekognition's sizes (80 px a side at least) and bytes."""
    from PIL import Image

    from image_analyzer import png
    from image_analyzer.imaging import prepare_rendering

    return prepare_rendering(png.encode(pixels), Image.fromarray(pixels))


@dataclass
class TextSearch:
    mode: TextDetection
    rekognition: TextDetector | None
    # The in-function model, loaded on first use (once per warm container).
    model: Callable[[], TextModel] | None

    def find(self, views: SearchViews) -> FoundText:
        """Raises ProcessingError or TextDetectionUnavailable (DetectText), or the model's failure: the caller
        stores nothing unredacted either way."""
        import numpy as np

        rows, columns = views.served.shape[:2]
        mask = np.zeros((rows, columns), dtype=bool)
        calls = 0
        if self.mode in (TextDetection.BOTH, TextDetection.FUNCTION):
            assert self.model is not None
            model = self.model()
            for view in views.model_inputs():
                mask |= text_mask(_as_regions(model.find(view), rows, columns), columns, rows, TEXT_MARGIN)
        if self.mode in (TextDetection.BOTH, TextDetection.REKOGNITION):
            assert self.rekognition is not None
            sent = [views.served_bytes] + ([_png(views.revealing)] if views.greyscale_frame else [])
            for image in sent:
                found = self.rekognition.find(image)
                calls += found.calls
                mask |= text_mask(found, columns, rows, TEXT_MARGIN)
        return FoundText(mask, count_regions(mask) if mask.any() else 0, calls)
