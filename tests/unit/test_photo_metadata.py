"""Photos are stored upright and without metadata: EXIF, XMP, IPTC, comments, PNG text chunks and trailing bytes
never reach converted/, and a JPEG or PNG kept as uploaded keeps its pixels bit for bit."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from image_analyzer import metadata
from image_analyzer.errors import ProcessingError
from image_analyzer.processing import analyse

CANARY = b"DOE^JANE 1954-03-02 MRN 8812345"


def photo(width: int = 120, height: int = 80) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))


def jpeg_with_metadata(orientation: int = 1, progressive: bool = False) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = CANARY.decode()  # ImageDescription
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    photo().save(buffer, format="JPEG", exif=exif.tobytes(), comment=CANARY, progressive=progressive, quality=90)
    data = buffer.getvalue()
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + CANARY + b"</x:xmpmeta>"
    iptc = b"Photoshop 3.0\x008BIM\x04\x04\x00\x00" + CANARY
    segments = b"".join(
        m + (len(body) + 2).to_bytes(2, "big") + body for m, body in ((b"\xff\xe1", xmp), (b"\xff\xed", iptc))
    )
    return data[:2] + segments + data[2:] + b"trailing " + CANARY


def png_with_metadata() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", CANARY.decode())
    info.add_text("Author", CANARY.decode(), zip=True)
    info.add_itxt("Description", CANARY.decode())
    buffer = io.BytesIO()
    photo().save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue() + CANARY


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_a_jpeg_loses_its_metadata_and_keeps_its_pixels(progressive: bool) -> None:
    original = jpeg_with_metadata(progressive=progressive)
    assert original.count(CANARY) >= 4
    analysis = analyse(original, "image/jpeg")
    served = analysis.served_as_uploaded
    assert served is not None and analysis.rendered_png is None
    assert CANARY not in served and CANARY not in analysis.label_bytes
    assert np.array_equal(pixels(served), pixels(original)), "the pixels are the uploaded ones, bit for bit"
    kept = Image.open(io.BytesIO(served))
    assert not kept.getexif() and "comment" not in kept.info


def test_a_png_loses_its_text_chunks_and_keeps_its_pixels() -> None:
    original = png_with_metadata()
    analysis = analyse(original, "image/png")
    served = analysis.served_as_uploaded
    assert served is not None and CANARY not in served
    assert np.array_equal(pixels(served), pixels(original))
    assert not Image.open(io.BytesIO(served)).text


@pytest.mark.parametrize(("orientation", "turned"), [(3, False), (6, True), (8, True)])
def test_a_turned_photo_is_stored_upright_without_its_tag(orientation: int, turned: bool) -> None:
    original = jpeg_with_metadata(orientation)
    analysis = analyse(original, "image/jpeg")
    assert analysis.served_as_uploaded is None and analysis.rendered_png is not None
    upright = Image.open(io.BytesIO(analysis.rendered_png))
    assert upright.size == ((80, 120) if turned else (120, 80))
    assert (analysis.image["width"], analysis.image["height"]) == upright.size
    assert CANARY not in analysis.rendered_png and not upright.getexif()
    expected = np.asarray(
        Image.open(io.BytesIO(original))
        .transpose(
            {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}[orientation]
        )
        .convert("RGB")
    )
    assert np.array_equal(np.asarray(upright.convert("RGB")), expected)


@pytest.mark.parametrize("cut", [3, 40, -30])
def test_a_damaged_jpeg_is_refused_not_half_copied(cut: int) -> None:
    data = jpeg_with_metadata()
    truncated = data[:cut] if cut > 0 else data[: data.index(b"\xff\xd9")]
    with pytest.raises(ProcessingError):
        metadata.strip_jpeg(truncated)
