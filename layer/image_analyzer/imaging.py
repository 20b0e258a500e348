"""Format detection by content, photo checks and fitting an image to Rekognition's limits."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from image_analyzer import budget
from image_analyzer.errors import ErrorCode, ProcessingError

# Rekognition DetectLabels limits for image bytes.
REKOGNITION_MAX_BYTES = 5 * 1024 * 1024
REKOGNITION_MIN_SIDE = 80
REKOGNITION_MAX_SIDE = 10_000
# Larger than any real photo or radiograph; a tiny file claiming more is a decompression bomb.
MAX_PIXELS = 100_000_000
# What makes a decode slow, checked before decoding: each JPEG scan passes over the whole image again (progressive
# files use about ten; 2,000 scans of a 48 KB file took 9.5 s), and each TIFF strip or tile is a decoder call (a
# million one-row strips took 10 s).
MAX_JPEG_SCANS = 100
MAX_TIFF_PARTS = 65_536
# Pillow decodes BMP's RLE in Python, an operation per run: 12 MB of one-pixel runs took 9 s. Real RLE bitmaps
# (4- and 8-bit graphics) are a few hundred KB.
MAX_BMP_RLE_BYTES = 4 * 1024 * 1024
# What is sent for labels needs no more detail than this; smaller is faster to encode and send.
LABEL_MAX_SIDE = 4096


class ImageFormat(StrEnum):
    JPEG = "JPEG"
    PNG = "PNG"
    GIF = "GIF"
    WEBP = "WEBP"
    BMP = "BMP"
    TIFF = "TIFF"
    DICOM = "DICOM"


_MIME = {
    ImageFormat.JPEG: "image/jpeg",
    ImageFormat.PNG: "image/png",
    ImageFormat.GIF: "image/gif",
    ImageFormat.WEBP: "image/webp",
    ImageFormat.BMP: "image/bmp",
    ImageFormat.TIFF: "image/tiff",
    ImageFormat.DICOM: "application/dicom",
}
# What Rekognition reads as is; every other format is converted to PNG (which is also what imageUrl serves).
LABEL_READY = frozenset({ImageFormat.JPEG, ImageFormat.PNG})


def mime_type(fmt: ImageFormat) -> str:
    return _MIME[fmt]


def sniff_format(head: bytes) -> ImageFormat | None:
    """The format by magic bytes; the file name and declared type are never trusted."""
    # DICOM first: a Part-10 preamble may itself be a TIFF header (dual-personality files).
    if len(head) >= 132 and head[128:132] == b"DICM":
        return ImageFormat.DICOM
    if head.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ImageFormat.PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return ImageFormat.GIF
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if (
        head.startswith(b"BM")
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 108, 124)
    ):
        return ImageFormat.BMP  # "BM" and a known DIB header size: "BM" alone starts too many other files
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return ImageFormat.TIFF
    if looks_like_bare_dataset(head):
        return ImageFormat.DICOM
    return None


_VRS = {
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF", b"OL",
    b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US",
    b"UT", b"UV",
}  # fmt: skip


def looks_like_bare_dataset(head: bytes) -> bool:
    """A DICOM dataset without the Part-10 preamble and file meta (older PACS exports): it starts with an element
    of group 0008, in explicit VR (a known VR follows the tag) or implicit VR little endian (a small length)."""
    if len(head) < 8:
        return False
    if head[:2] == b"\x08\x00":  # little endian
        return head[4:6] in _VRS or int.from_bytes(head[4:8], "little") < 0x10000
    return head[:2] == b"\x00\x08" and head[4:6] in _VRS  # explicit VR big endian


def check_declared_type(declared: str, detected: ImageFormat) -> None:
    if declared and declared != mime_type(detected):
        raise ProcessingError(
            ErrorCode.TYPE_MISMATCH,
            f"The file was declared as {declared} but its content is {detected.value}.",
        )


@dataclass(frozen=True)
class LabelImage:
    """The bytes sent to the label service and what the original image was."""

    data: bytes
    format: ImageFormat
    width: int
    height: int


def _open_checked(data: bytes) -> Image.Image:
    check_structure(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ProcessingError(
            ErrorCode.CORRUPT_IMAGE, "The image could not be read: it is corrupt or truncated."
        ) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_LARGE, "The image has too many pixels to be processed safely."
        ) from exc
    if width * height > MAX_PIXELS:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_LARGE, f"The image is {width}×{height} pixels, more than the limit of {MAX_PIXELS}."
        )
    check_decode_work(image, data)
    return image


def jpeg_scans(data: bytes) -> int:
    """Start-of-scan markers: entropy-coded data never holds one (a 0xFF there is followed by 0x00)."""
    return data.count(b"\xff\xda")


def tiff_parts(data: bytes) -> int:
    """Strips or tiles of a TIFF's first image (the one converted), read from its first directory's StripOffsets
    or TileOffsets count: Pillow reads every offset of them on open, a million strips took seconds before any
    check could run. 0 when the directory cannot be read (Pillow then reports the damage)."""
    order = "little" if data[:2] == b"II" else "big"
    offset = int.from_bytes(data[4:8], order)
    if offset + 2 > len(data):
        return 0
    entries = int.from_bytes(data[offset : offset + 2], order)
    for start in range(offset + 2, min(offset + 2 + 12 * entries, len(data) - 11), 12):
        if int.from_bytes(data[start : start + 2], order) in (273, 324):  # StripOffsets, TileOffsets
            return int.from_bytes(data[start + 4 : start + 8], order)
    return 0


def bmp_rle_bytes(data: bytes) -> int:
    """Bytes of RLE-compressed pixels in a BMP (0 when it is not RLE: compression 1 is RLE8, 2 RLE4)."""
    if len(data) < 34 or int.from_bytes(data[14:18], "little") < 40:
        return 0
    if int.from_bytes(data[30:34], "little") not in (1, 2):
        return 0
    return max(0, len(data) - int.from_bytes(data[10:14], "little"))


def check_structure(data: bytes) -> None:
    """What makes a photo slow to open or decode, read from its bytes before Pillow sees them."""
    if data.startswith((b"II*\x00", b"MM\x00*")) and (parts := tiff_parts(data)) > MAX_TIFF_PARTS:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_COMPLEX,
            f"The TIFF has {parts} strips or tiles, more than {MAX_TIFF_PARTS}: it would take too long to decode.",
        )
    if data.startswith(b"BM") and (rle := bmp_rle_bytes(data)) > MAX_BMP_RLE_BYTES:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_COMPLEX,
            f"The BMP holds {rle} bytes of RLE-compressed pixels, more than {MAX_BMP_RLE_BYTES}: "
            "it would take too long to decode.",
        )


def check_decode_work(image: Image.Image, data: bytes) -> None:
    if image.format == "JPEG" and (scans := jpeg_scans(data)) > MAX_JPEG_SCANS:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_COMPLEX,
            f"The JPEG has {scans} scans, more than {MAX_JPEG_SCANS}: it would take too long to decode.",
        )


def _fit_size(width: int, height: int) -> tuple[int, int]:
    """Scale so both sides lie within Rekognition's [80, 10000] (and LABEL_MAX_SIDE when shrinking)."""
    scale = 1.0
    if max(width, height) > REKOGNITION_MAX_SIDE or width * height > LABEL_MAX_SIDE**2:
        scale = LABEL_MAX_SIDE / max(width, height)
    if min(width, height) * scale < REKOGNITION_MIN_SIDE:
        scale = REKOGNITION_MIN_SIDE / min(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    if max(new) > REKOGNITION_MAX_SIDE:
        raise ProcessingError(
            ErrorCode.IMAGE_DIMENSIONS_UNSUPPORTED,
            f"An image of {width}×{height} pixels cannot be fitted to the label service's 80-10000 px per side.",
        )
    return new


def encode_for_labels(image: Image.Image) -> bytes:
    """Re-encode a decoded image (already within the size limits) compactly."""
    mode = "L" if image.mode in ("1", "L", "I", "I;16", "F") else "RGB"
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


# Bytes a pixel takes in Pillow's memory, by mode (RGB is stored as 4).
_PILLOW_BYTES_PER_PIXEL = {
    "1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I": 4, "F": 4,
}  # fmt: skip


def decode_budget(image: Image.Image) -> int:
    """Peak bytes for decoding ``image`` and producing what is labelled: the decoded image, a resized and a
    converted copy."""
    width, height = image.size
    return width * height * _PILLOW_BYTES_PER_PIXEL.get(image.mode, 4) * 3


def prepare_photo(data: bytes, fmt: ImageFormat) -> LabelImage:
    """Validate a JPEG/PNG fully and return bytes within Rekognition's limits (original bytes when they fit)."""
    image = _open_checked(data)
    width, height = image.size
    fitted = _fit_size(width, height)
    if image.format == "JPEG" and fitted[0] < width:
        # A JPEG larger than what is labelled decodes at 1/2, 1/4 or 1/8 scale: the whole stream is still
        # decoded (and so validated), at a fraction of the memory.
        image.draft(image.mode, fitted)
    budget.require(decode_budget(image), f"A {width}×{height} image")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ProcessingError(
            ErrorCode.CORRUPT_IMAGE, "The image could not be decoded: it is corrupt or truncated."
        ) from exc
    if fitted == (width, height) and len(data) <= REKOGNITION_MAX_BYTES:
        return LabelImage(data, fmt, width, height)
    return LabelImage(encode_for_labels(image.resize(fitted, Image.Resampling.LANCZOS)), fmt, width, height)


_ORIENTATION_TAG = 0x0112
_UPRIGHT = 1


def orientation(data: bytes) -> int:
    """The EXIF orientation a JPEG, PNG, WebP or TIFF declares (1, upright, when it declares none): read from the
    header only, nothing is decoded."""
    image = _open_checked(data)
    try:
        value = image.getexif().get(_ORIENTATION_TAG, _UPRIGHT)
    except Exception:  # a damaged EXIF block: the picture is served as it is stored
        return _UPRIGHT
    return value if isinstance(value, int) and 1 <= value <= 8 else _UPRIGHT


def is_upright(data: bytes) -> bool:
    return orientation(data) == _UPRIGHT


@dataclass(frozen=True)
class ConvertedPhoto:
    """A GIF, WebP, BMP or TIFF converted to an 8-bit PNG: what is labelled and what imageUrl serves."""

    png: bytes
    image: Image.Image
    width: int
    height: int


_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I", "F")
# Converting a 16-bit, 32-bit or float image: the float32 working copy, np.percentile's copy of it (a partition),
# and the 8-bit result, per pixel, on top of the decoded image.
WIDE_CONVERSION_BYTES_PER_PIXEL = 4 + 4 + 1


def convert_photo(data: bytes) -> ConvertedPhoto:
    """Decode the first frame (GIF, multi-page TIFF), turn it upright (its EXIF orientation), bring it to 8-bit
    greyscale or RGB, encode it as PNG (with no metadata: it is written from the pixels alone)."""
    from image_analyzer import png

    image = _open_checked(data)
    width, height = image.size
    conversion = WIDE_CONVERSION_BYTES_PER_PIXEL if image.mode in _WIDE_MODES else 4
    turned = 4 * width * height  # the upright copy
    budget.require(decode_budget(image) + width * height * conversion + turned, f"A {width}×{height} image")
    try:
        image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image) or image
        pixels = _eight_bit(image)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ProcessingError(
            ErrorCode.CORRUPT_IMAGE, "The image could not be decoded: it is corrupt or truncated."
        ) from exc
    encoded = png.encode(pixels)
    return ConvertedPhoto(encoded, Image.fromarray(pixels), pixels.shape[1], pixels.shape[0])


def _eight_bit(image: Image.Image) -> Any:
    """uint8 pixels, (rows, columns) or (rows, columns, 3). 16-bit and float greyscale (lab and scanner TIFFs) are
    scaled over their 0.5–99.5 percentiles, as DICOM's automatic window does: a fixed 16-bit range would be black."""
    import numpy as np  # on first use: JPEG and PNG uploads never need it

    if image.mode in _WIDE_MODES:
        # One float32 working copy, scaled in place (WIDE_CONVERSION_BYTES_PER_PIXEL counts it): float64
        # temporaries took a 6000² 16-bit TIFF to 1.5 GB.
        values = np.array(image, dtype=np.float32)
        finite = np.isfinite(values)
        whole = bool(finite.all())
        sample = values if whole else values[finite]
        low, high = (float(v) for v in np.percentile(sample, (0.5, 99.5))) if sample.size else (0.0, 1.0)
        del sample, finite
        if not whole:
            np.nan_to_num(values, copy=False, nan=low, posinf=high, neginf=low)
        np.subtract(values, low, out=values)
        np.multiply(values, 255.0 / max(high - low, 1e-9), out=values)
        np.clip(values, 0, 255, out=values)
        np.rint(values, out=values)
        return values.astype(np.uint8)
    if image.mode in ("1", "L", "LA", "P;L") or (image.mode == "P" and _grey_palette(image)):
        return np.asarray(image.convert("L"))
    return np.ascontiguousarray(np.asarray(image.convert("RGB")))


def _grey_palette(image: Image.Image) -> bool:
    palette = image.getpalette() or []
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


def prepare_rendering(png: bytes, image: Image.Image) -> bytes:
    """Label bytes for a rendered DICOM image: the PNG itself when it fits, else a fitted re-encoding."""
    fitted = _fit_size(*image.size)
    if fitted == image.size and len(png) <= REKOGNITION_MAX_BYTES:
        return png
    return encode_for_labels(image.resize(fitted, Image.Resampling.LANCZOS))
