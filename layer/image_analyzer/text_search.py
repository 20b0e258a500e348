"""Where text is in a picture, by every detector the stack chose, in every view a user could be shown.

The in-function detector (``text_model``) looks at the served picture and at the revealing view
(``text_views``), each in four orientations at native resolution; Rekognition DetectText is sent the served
picture and, for a greyscale frame, the revealing view. The answer is one mask at the picture's own resolution:
True wherever any detector found text in any view.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

from image_analyzer.redaction import TEXT_MARGIN, text_mask
from image_analyzer.text import Box, TextDetector, TextRegions

if TYPE_CHECKING:  # numpy on first use: a photo job that is not searched never imports it
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

    from image_analyzer.imaging import prepare_rendering

    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    image.save(buffer, format="PNG", compress_level=1)
    return prepare_rendering(buffer.getvalue(), image)


@dataclass
class TextSearch:
    mode: TextDetection
    rekognition: TextDetector | None
    # The in-function model, loaded on first use (once per warm container).
    model: Callable[[], TextModel] | None

    def _rekognition(self, views: SearchViews, rows: int, columns: int) -> tuple[np.ndarray, int]:
        """DetectText's mask over the served picture (and a greyscale frame's revealing view), and its calls."""
        assert self.rekognition is not None
        sent = [views.served_bytes] + ([_png(views.revealing)] if views.greyscale_frame else [])
        mask, calls = None, 0
        for image in sent:
            found = self.rekognition.find(image)
            calls += found.calls
            part = text_mask(found, columns, rows, TEXT_MARGIN)
            mask = part if mask is None else mask | part
        assert mask is not None
        return mask, calls

    def _model(self, views: SearchViews, rows: int, columns: int) -> np.ndarray:
        import numpy as np

        assert self.model is not None
        model = self.model()
        masks = [
            text_mask(_as_regions(model.find(view), rows, columns), columns, rows, TEXT_MARGIN)
            for view in views.model_inputs()
        ]
        return np.logical_or.reduce(masks)

    def find(self, views: SearchViews) -> FoundText:
        """Raises ProcessingError or TextDetectionUnavailable (DetectText), or the model's failure: the caller
        stores nothing unredacted either way. With both detectors, DetectText's requests are on the network
        while the model computes."""
        from concurrent.futures import ThreadPoolExecutor

        import numpy as np

        rows, columns = views.served.shape[:2]
        asks_rekognition = self.mode in (TextDetection.BOTH, TextDetection.REKOGNITION)
        runs_model = self.mode in (TextDetection.BOTH, TextDetection.FUNCTION)
        if asks_rekognition and views.greyscale_frame:
            views.revealing  # noqa: B018 - made once, before the two detectors share it across threads
        masks, calls = [], 0
        with ThreadPoolExecutor(max_workers=1) as pool:
            asked = pool.submit(self._rekognition, views, rows, columns) if asks_rekognition else None
            if runs_model:
                masks.append(self._model(views, rows, columns))
            if asked is not None:
                mask, calls = asked.result()
                masks.append(mask)
        mask = np.logical_or.reduce(masks)
        return FoundText(mask, count_regions(mask) if mask.any() else 0, calls)
