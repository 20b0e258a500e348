"""GIF, WebP, BMP and TIFF: detected by content, converted to PNG for Rekognition and imageUrl, bombs refused."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from image_analyzer import imaging
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.imaging import ImageFormat
from image_analyzer.processing import analyse
from tests.harness.files import photo_as


@pytest.mark.parametrize(
    ("fmt", "expected", "mime"),
    [
        ("GIF", ImageFormat.GIF, "image/gif"),
        ("WEBP", ImageFormat.WEBP, "image/webp"),
        ("BMP", ImageFormat.BMP, "image/bmp"),
        ("TIFF", ImageFormat.TIFF, "image/tiff"),
        ("TIFF16", ImageFormat.TIFF, "image/tiff"),
    ],
)
def test_converted_to_a_png_that_is_labelled_and_served(fmt, expected, mime) -> None:
    data = photo_as(fmt)
    assert imaging.sniff_format(data[:132]) is expected
    analysis = analyse(data, mime)
    assert analysis.image == {"format": expected.value, "width": 451, "height": 300}
    png = Image.open(io.BytesIO(analysis.rendered_png))
    assert png.format == "PNG" and png.size == (451, 300) and png.mode in ("L", "RGB")
    assert analysis.label_bytes == analysis.rendered_png  # within Rekognition's limits: sent as it is
    pixels = np.asarray(png)
    assert pixels.std() > 20, "the picture survived the conversion (not black, not flat)"


def test_sixteen_bit_tiff_is_scaled_over_its_values_not_the_full_range() -> None:
    # 0…4080 of 65535: a fixed 16-bit scale would render it almost black.
    analysis = analyse(photo_as("TIFF16"), "image/tiff")
    pixels = np.asarray(Image.open(io.BytesIO(analysis.rendered_png)))
    assert pixels.max() == 255 and pixels.min() == 0
    reference = np.asarray(Image.open(io.BytesIO(photo_as("TIFF"))).convert("L"), dtype=float)
    assert np.corrcoef(pixels.ravel(), reference.ravel())[0, 1] > 0.99


def test_gif_first_frame_is_the_one_converted() -> None:
    frames = [Image.new("L", (120, 90), value) for value in (30, 220)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    pixels = np.asarray(Image.open(io.BytesIO(analyse(buffer.getvalue(), "image/gif").rendered_png)))
    assert abs(int(pixels.mean()) - 30) <= 2


def test_declared_type_must_match_the_content() -> None:
    with pytest.raises(ProcessingError) as info:
        analyse(photo_as("GIF"), "image/png")
    assert info.value.code is ErrorCode.TYPE_MISMATCH


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_bombs_are_refused_before_decoding(fmt) -> None:
    # A 1-bit image of 20000² is tiny on disk; its declared size alone refuses it.
    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, format=fmt)
    with pytest.raises(ProcessingError) as info:
        analyse(buffer.getvalue(), f"image/{fmt.lower()}")
    assert info.value.code is ErrorCode.IMAGE_TOO_LARGE


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "BMP", "TIFF"])
def test_truncated_files_are_corrupt(fmt) -> None:
    data = photo_as(fmt)
    with pytest.raises(ProcessingError) as info:
        analyse(data[: len(data) // 2], f"image/{fmt.lower()}")
    assert info.value.code is ErrorCode.CORRUPT_IMAGE


def test_bm_alone_is_not_a_bitmap() -> None:
    assert imaging.sniff_format(b"BM this is a text file, not a bitmap" + bytes(100)) is None


def test_a_dicom_whose_preamble_is_a_tiff_header_is_dicom() -> None:
    from tests.harness.files import sample_bytes

    head = sample_bytes("CT_small.dcm")[:132]
    assert head.startswith(b"II*\x00")  # a dual-personality file: TIFF readers see a TIFF
    assert imaging.sniff_format(head) is ImageFormat.DICOM
