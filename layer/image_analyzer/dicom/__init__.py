"""DICOM → 8-bit image, following the standard's grayscale pipeline (DESIGN.md, DICOM rendering rules).

One module per stage, in the order a file goes through them:

- ``reading``: the header (Part 10, bare or deflated datasets), bounded before pydicom parses it;
- ``attributes`` (and ``body_parts``): the allow-list of what leaves the file;
- ``sop_classes``: objects that are not pictures (a segmentation, a report, an RT plan…), refused by class;
- ``checks``: what is refused before a frame is decoded;
- ``frame``: one frame's view of the attributes the pipeline reads;
- ``greyscale``: modality LUT → choose a window → apply it → 8 bits (MONOCHROME1 inverted);
- ``colour``: colour frames as RGB, never windowed;
- ``supplemental``: a greyscale frame's supplemental palette, its range in colour;
- ``aspect``: square pixels, as served;
- ``frame_copy``: the frame's stored values as a file of their own, redacted, for other windows;
- ``render``: the stages put together.

Windows and presets are plain data in :mod:`image_analyzer.windows` (no numpy), where the API reads them.
"""

from image_analyzer.dicom.attributes import ALLOWED_ATTRIBUTES, check_recorded_values, safe_metadata
from image_analyzer.dicom.checks import MAX_J2K_TILES, check_codestream, check_decodable
from image_analyzer.dicom.frame import FrameData, frame_view
from image_analyzer.dicom.frame_copy import darkest_stored_value, view_source
from image_analyzer.dicom.greyscale import AUTO_WINDOW_PERCENTILES, WindowChoice, choose_window
from image_analyzer.dicom.reading import MAX_DICOM_ITEMS, check_item_count, frame_count, read_dataset
from image_analyzer.dicom.render import Rendering, decode_frame, modality_values, render, render_dataset
from image_analyzer.windows import PRESETS, Window

__all__ = [
    "ALLOWED_ATTRIBUTES", "AUTO_WINDOW_PERCENTILES", "MAX_DICOM_ITEMS", "MAX_J2K_TILES", "PRESETS", "FrameData",
    "Rendering", "Window", "WindowChoice", "check_codestream", "check_decodable", "check_item_count",
    "check_recorded_values", "choose_window", "darkest_stored_value", "decode_frame", "frame_count", "frame_view",
    "modality_values", "read_dataset", "render", "render_dataset", "safe_metadata", "view_source",
]  # fmt: skip
