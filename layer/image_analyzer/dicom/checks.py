"""What is checked before a frame is decoded: the pixel format, the memory it needs, and that each codestream
declares what the dataset does (decoders allocate what the codestream says)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.pixels import get_decoder
from pydicom.uid import RLELossless

from image_analyzer import budget, codestreams, imaging
from image_analyzer.dicom.attributes import check_recorded_values
from image_analyzer.dicom.reading import frame_count
from image_analyzer.dicom.sop_classes import check_is_picture
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.imaging import MAX_PIXELS


def check_decodable(ds: Dataset) -> None:
    check_is_picture(ds)
    check_recorded_values(ds)
    if "PixelData" not in ds:
        raise ProcessingError(ErrorCode.DICOM_NO_PIXEL_DATA, "The DICOM file has no image (pixel data) to render.")
    uid = ds.file_meta.TransferSyntaxUID
    try:
        decoder = get_decoder(uid)
        available = decoder.is_available
    except NotImplementedError:
        available = False
    if not available:
        raise ProcessingError(
            ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX, f"The DICOM transfer syntax {uid.name or uid} is not supported."
        )
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    if rows <= 0 or columns <= 0:
        raise ProcessingError(ErrorCode.CORRUPT_DICOM, "The DICOM file does not declare its image size.")
    if rows * columns > MAX_PIXELS:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_LARGE, f"The DICOM image is {columns}×{rows} pixels, too large to render."
        )
    samples = int(ds.get("SamplesPerPixel") or 1)
    bytes_allocated = max(1, (int(ds.get("BitsAllocated") or 8) + 7) // 8)
    if not 1 <= samples <= 4 or bytes_allocated > 8:
        raise ProcessingError(ErrorCode.CORRUPT_DICOM, "The DICOM file declares an impossible pixel format.")
    # Decoding one frame: the decoder's output and a copy, the lookup indices (8 bytes), the 8-bit rendering, its PNG.
    budget.require(rows * columns * (samples * bytes_allocated * 2 + 12), f"A {columns}×{rows} DICOM frame")


# A tiled JPEG 2000 codestream costs work per tile: a few hundred cover any real image.
MAX_J2K_TILES = 4096


def check_codestream(ds: Dataset, index: int) -> None:
    """A compressed frame must declare the size the dataset does: the decoder allocates what the codestream says
    (checked before decoding, so that a small file cannot ask for gigabytes)."""
    uid = ds.file_meta.TransferSyntaxUID
    if not uid.is_encapsulated:
        return
    try:
        frame = get_frame(ds.PixelData, index, number_of_frames=frame_count(ds))
    except Exception:  # the encapsulation itself is damaged: the decoder reports it as it does today
        return
    if uid == RLELossless:
        _check_rle_frame(ds, frame)
        return
    found = codestreams.declared(frame)
    if found is None:
        return
    rows, columns, samples = int(ds.Rows), int(ds.Columns), int(ds.get("SamplesPerPixel") or 1)
    if (found.width, found.height, found.components) != (columns, rows, samples):
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM,
            f"The {found.kind} frame declares {found.width}×{found.height} pixels with {found.components} "
            f"component(s); the dataset says {columns}×{rows} with {samples}.",
        )
    if found.precision > 8 * max(1, (int(ds.get("BitsAllocated") or 8) + 7) // 8) or found.precision > 32:
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, f"The {found.kind} frame declares {found.precision}-bit samples."
        )
    if found.kind == "JPEG" and (scans := imaging.jpeg_scans(frame)) > imaging.MAX_JPEG_SCANS:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_COMPLEX,
            f"The JPEG frame has {scans} scans, more than {imaging.MAX_JPEG_SCANS}: it would take too long to decode.",
        )
    if found.tiles > MAX_J2K_TILES:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_LARGE, f"The JPEG 2000 frame has {found.tiles} tiles, more than {MAX_J2K_TILES}."
        )


def _check_rle_frame(ds: Dataset, frame: bytes) -> None:
    """An RLE frame holds one segment per byte of each sample: a table that says otherwise, or points outside
    the frame, is damage (decoders follow its offsets)."""
    header = codestreams.rle_header(frame)
    expected = int(ds.get("SamplesPerPixel") or 1) * max(1, (int(ds.get("BitsAllocated") or 8) + 7) // 8)
    if header is None or header.segments != expected:
        found = "no valid segment table" if header is None else f"{header.segments} segment(s)"
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, f"The RLE frame has {found}; its dataset needs {expected} segment(s)."
        )
