"""Rendering one frame: check, decode, then the greyscale or colour path; what a job keeps of the result."""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import pixel_array
from pydicom.pixels.decoders import JPEGExtended12BitDecoder
from pydicom.uid import ExplicitVRBigEndian

from image_analyzer import palette, png
from image_analyzer.dicom.aspect import pixel_aspect, square
from image_analyzer.dicom.attributes import safe_metadata
from image_analyzer.dicom.checks import check_codestream, check_decodable
from image_analyzer.dicom.colour import COLOUR, render_colour
from image_analyzer.dicom.frame import FrameData, frame_view
from image_analyzer.dicom.frame_copy import view_source
from image_analyzer.dicom.greyscale import render_greyscale
from image_analyzer.dicom.reading import frame_count, read_dataset, readable_int
from image_analyzer.dicom.supplemental import coloured, has_supplemental_palette, palette_colours
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.windows import PRESETS, Window, offered_views

# 12-bit JPEG Extended: imagecodecs (BSD) where pydicom's own plugins cannot (after them, so they stay first).
with contextlib.suppress(ValueError):  # already registered (a module reload)
    JPEGExtended12BitDecoder.add_plugin("imagecodecs", ("image_analyzer.jpeg_extended", "decode_frame"))


_GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")


@dataclass
class Rendering:
    pixels: np.ndarray  # uint8, (rows, columns) or (rows, columns, 3): on the stored grid, one per stored pixel
    metadata: dict[str, Any] = field(default_factory=dict)
    # A greyscale frame as decoded: what the frame copy is made from.
    frame: FrameData | None = None
    aspect: float = 1.0  # a pixel's height over its width: what is served is scaled to square pixels
    # A supplemental palette: where the stored values are in its range, and their colours (the rest is grey).
    palette: tuple[np.ndarray, np.ndarray] | None = None

    def served(self, pixels: np.ndarray | None = None, redacted: np.ndarray | None = None) -> np.ndarray:
        """``pixels`` (the rendering's own by default; a redacted copy of them, say) as served: a supplemental
        palette's colours laid over the grey (never where ``redacted`` is set), square pixels."""
        if pixels is None:
            return self.served_pixels
        if self.palette is not None:
            pixels = coloured(pixels, self.palette, redacted)
        return square(pixels, self.aspect)

    @cached_property
    def served_pixels(self) -> np.ndarray:
        """The rendering as served, made once (the image and its PNG are both made from it)."""
        return self.served(self.pixels)

    def frame_copy(self, redact: np.ndarray | None = None) -> bytes | None:
        """The frame's stored values and the attributes that window them, as a DICOM file of its own: what other
        windows are rendered from once the upload is deleted (no identifying attribute is in it). ``redact``
        (a mask of the frame's size) is filled with the stored value that is darkest in every window."""
        if self.frame is None:
            return None
        return view_source(self.frame.dataset, self.frame.stored, self.frame.index, redact, self.frame.automatic)

    def to_image(self) -> Image.Image:
        served = self.served_pixels
        return Image.fromarray(served, mode="L" if served.ndim == 2 else "RGB")

    def to_png(self) -> bytes:
        return png.encode(self.served_pixels)


def value_unit(view: Dataset) -> str | None:
    """What the modality values are in, where the frame's view says (its RescaleType, an enhanced image's pixel
    value transformation folded in), or its Modality LUT's type."""
    if view.get("RescaleType"):
        return str(view.RescaleType)
    if view.get("ModalityLUTSequence"):
        return str(view.ModalityLUTSequence[0].get("ModalityLUTType") or "") or None
    return None


def decode_frame(ds: Dataset, index: int, frames: int) -> np.ndarray:
    """Decode the one frame ``index`` (only it, whatever the number of frames); decoder failures become the job's
    error codes."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pixel_array(ds, index=index if frames > 1 else None)
    except RuntimeError as exc:
        if "does not support" in str(exc):  # e.g. 12-bit JPEG Extended, whose only decoder is GPL-licensed
            name = ds.file_meta.TransferSyntaxUID.name
            raise ProcessingError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"This variant of {name} cannot be decoded by the shipped decoders.",
            ) from exc
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, "The DICOM pixel data could not be decoded: it is corrupt or truncated."
        ) from exc
    except Exception as exc:  # decoders raise many types for damaged data
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, "The DICOM pixel data could not be decoded: it is corrupt or truncated."
        ) from exc


def render_dataset(
    ds: Dataset,
    frame: int | None = None,
    window: Window | str | None = None,
    source: str | None = None,
    invert_monochrome1: bool = True,
    keep_view_source: bool = False,
) -> Rendering:
    """Render one frame (the middle one by default); ``window`` is a Window or a preset name."""
    check_decodable(ds)
    frames = frame_count(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid value it is asked to read
        if "NumberOfFrames" in ds and not readable_int(ds["NumberOfFrames"].value):
            ds.NumberOfFrames = frames  # unreadable ('1A'): one frame, as DCMTK reads it; pydicom's decoder fails
    index = frames // 2 if frame is None else frame
    if not 0 <= index < frames:
        raise ValueError(f"frame {index} is out of range: the file has {frames} frame(s)")
    check_codestream(ds, index)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "PALETTE COLOR":  # before any decoding
        palette.check_segmented_palettes(ds, ds.file_meta.TransferSyntaxUID != ExplicitVRBigEndian)
    if isinstance(window, str):
        source = source or f"preset:{window}"
        window = PRESETS[window]
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    frame_data = None
    supplemental = None
    arr = decode_frame(ds, index, frames)
    view = frame_view(ds, index)
    meta = safe_metadata(ds)
    meta["frameRendered"] = index + 1  # 1-based, as DICOM numbers frames (and every user-facing output)
    if photometric in _GRAYSCALE:
        if arr.ndim != 2:
            raise ProcessingError(ErrorCode.UNSUPPORTED_DICOM, "The grayscale DICOM image has an unexpected shape.")
        pixels, choice = render_greyscale(view, arr, window, source)
        if has_supplemental_palette(view):
            supplemental = palette_colours(view, arr)
        meta["window"] = choice.described()
        meta["views"] = offered_views(meta.get("modality"), value_unit(view))
        automatic = choice.window if choice.source == "auto" else None
        if not invert_monochrome1 and photometric == "MONOCHROME1":
            pixels = 255 - pixels  # only to show what skipping the inversion would look like
        if keep_view_source:
            frame_data = FrameData(ds, arr, index, automatic)
    elif photometric in COLOUR or photometric == "PALETTE COLOR":
        pixels, meta["window"] = render_colour(ds, arr, photometric), None
    else:
        raise ProcessingError(
            ErrorCode.UNSUPPORTED_DICOM, f"The photometric interpretation {photometric!r} is not supported."
        )
    return Rendering(pixels, meta, frame_data, aspect=pixel_aspect(view), palette=supplemental)


def render(
    data: bytes,
    frame: int | None = None,
    window: Window | str | None = None,
    invert_monochrome1: bool = True,
    keep_view_source: bool = False,
) -> Rendering:
    return render_dataset(
        read_dataset(data),
        frame=frame,
        window=window,
        invert_monochrome1=invert_monochrome1,
        keep_view_source=keep_view_source,
    )


def modality_values(data: bytes, frame: int = 0) -> np.ndarray:
    """One frame after the modality LUT: Hounsfield units for CT (for histograms and exploration)."""
    ds = read_dataset(data)
    check_decodable(ds)
    arr = pixel_array(ds, index=frame if frame_count(ds) > 1 else None)
    return FrameData(ds, arr, frame, None).modality_values().astype(np.float64)
