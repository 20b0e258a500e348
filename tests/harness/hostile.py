"""A corpus of hostile and broken files, generated deterministically (seeded) from pydicom's test data.

Each entry has a class (what kind of attack or damage it is) so that results can be tabulated per class. Used by
the unit tests (every file through ``analyse`` in a child process, peak memory measured) and by the end-to-end
test (every file through the real flow).
"""

from __future__ import annotations

import io
import random
import struct
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR, keyword_dict
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless

from tests.harness.files import gradient, make_dicom, png_bomb, sample_bytes


@dataclass(frozen=True)
class Hostile:
    name: str
    kind: str  # the class of attack or damage, for the README table
    data: bytes
    file_type: str  # what the attacker declares


DICOM = "application/dicom"
SEEDS = (
    "CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm", "SC_rgb.dcm", "US1_J2KR.dcm",
    "emri_small_jpeg_2k_lossless.dcm", "OBXXXX1A.dcm",
)  # fmt: skip


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _small_png(extra_chunks: bytes = b"") -> bytes:
    ihdr = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"".join(b"\x00" + bytes(8) for _ in range(8)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + extra_chunks
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _jpeg_declaring(width: int, height: int, truncated: bool = True) -> bytes:
    """A baseline JPEG whose SOF declares ``width`` × ``height``; the scan data is a few bytes (or absent)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (120, 30, 200)).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data[: len(data) // 2] if truncated else data)


def _uniform_jpeg(width: int, height: int) -> bytes:
    """A complete, valid JPEG of one flat colour: a few hundred kilobytes that decode to width × height × 3."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (width, height), 90).save(buffer, "JPEG", quality=5)
    return buffer.getvalue()


def _dicom_with(mutate: Callable[[FileDataset], None], pixels: np.ndarray | None = None, **kwargs: object) -> bytes:
    return make_dicom(gradient(64, 64) if pixels is None else pixels, mutate=mutate, **kwargs)  # type: ignore[arg-type]


def _set(**attributes: object) -> Callable[[FileDataset], None]:
    """Set attributes to any value, valid or not: strings are written raw (pydicom would refuse 'abc' as IS)."""

    def mutate(ds: FileDataset) -> None:
        for keyword, value in attributes.items():
            if isinstance(value, str):
                tag = Tag(keyword_dict[keyword])
                raw = value.encode() + (b" " if len(value) % 2 else b"")
                ds[tag] = RawDataElement(tag, dictionary_VR(tag), len(raw), raw, 0, False, True)
            else:
                setattr(ds, keyword, value)

    return mutate


def _deflated(ds_mutate: Callable[[FileDataset], None], pixels: np.ndarray) -> bytes:
    return make_dicom(pixels, mutate=ds_mutate, transfer_syntax=DeflatedExplicitVRLittleEndian)


def _nested_sequences(depth: int) -> bytes:
    """Sequences of undefined length nested ``depth`` deep, written by hand (pydicom's writer recurses too)."""
    sequence = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    ends = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return make_dicom(gradient(16, 16)) + (sequence + item) * depth + ends * depth


def _long_sequence(items: int) -> bytes:
    """An undefined-length sequence of ``items`` empty items: pydicom parses it whole to find where it ends."""
    sequence = struct.pack("<HH2sHI", 0x0008, 0x1140, b"SQ", 0, 0xFFFFFFFF)
    empty_item = struct.pack("<HHI", 0xFFFE, 0xE000, 0)
    return make_dicom(gradient(16, 16)) + sequence + empty_item * items + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def _deflate_dataset(data: bytes) -> bytes:
    """The file's dataset deflated under a file meta saying so (written by hand: any dataset, however hostile)."""
    from pydicom.filereader import _read_file_meta_info, read_preamble
    from pydicom.filewriter import write_file_meta_info

    source = io.BytesIO(data)
    read_preamble(source, False)
    meta = _read_file_meta_info(source)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflater.compress(data[source.tell() :]) + deflater.flush()
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    out.write(data[:128] + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=False)
    return out.getvalue() + body


def _rle_table(patch: Callable[[bytearray], None]) -> bytes:
    """pydicom's RLE sample with its frame's segment table changed by ``patch``."""

    def frame(data: bytearray) -> None:
        patch(data)

    return _lying_codestream("MR_small_RLE.dcm", frame)


def _bmp_rle_bomb(width: int, height: int) -> bytes:
    """An RLE8 bitmap of one-pixel runs: two bytes per pixel, each an operation of Pillow's Python decoder."""
    rows = (b"\x01\x07" * width + b"\x00\x00") * height + b"\x00\x01"
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    offset = 14 + 40 + len(palette)
    header = b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    return header + info + palette + rows


def _animation(kind: str, frames: int, size: int = 160) -> bytes:
    """An animated GIF, PNG or WebP of ``frames`` frames (only the first is converted)."""
    from PIL import Image

    images = [Image.new("RGB", (size, size), (i % 256, 40, 200 - i % 200)) for i in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, kind, save_all=True, append_images=images[1:], duration=20, loop=0)
    return buffer.getvalue()


def _multipage_tiff(pages: int) -> bytes:
    from PIL import Image

    images = [Image.new("L", (32, 32), i % 256) for i in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, "TIFF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


def _huge_private_element(declared: int) -> bytes:
    """A private OB element declaring ``declared`` bytes, far more than the file holds."""
    base = make_dicom(gradient(16, 16))
    element = struct.pack("<HH2sHI", 0x0009, 0x1010, b"OB", 0, declared)
    return base + element + b"\0" * 64


def _swap_transfer_syntax(data: bytes, uid: str) -> bytes:
    """The same dataset bytes under a file meta that claims another transfer syntax (pydicom refuses to write it)."""
    from pydicom.filereader import _read_file_meta_info, read_preamble
    from pydicom.filewriter import write_file_meta_info

    source = io.BytesIO(data)
    read_preamble(source, False)
    meta = _read_file_meta_info(source)
    body = data[source.tell() :]
    meta.TransferSyntaxUID = uid
    out = io.BytesIO()
    out.write(data[:128] + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=False)
    return out.getvalue() + body


def _rle_bomb(rows: int, columns: int, max_runs: int = 1 << 20) -> bytes:
    """An RLE file declaring a huge frame, its one segment repeat runs (a decompression bomb: ~64× inflation)."""
    run = b"\x81\x00" * min(max_runs, -(-rows * columns // 128))  # each pair: 128 zero bytes
    header = struct.pack("<16I", 1, 64, *([0] * 14))
    fragment = header + run

    def mutate(ds: FileDataset) -> None:
        ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = rows, columns, 8, 8, 7
        ds.PixelRepresentation = 0
        ds.PixelData = pydicom.encaps.encapsulate([fragment])
        ds["PixelData"].VR = "OB"

    return make_dicom(gradient(8, 8), mutate=mutate, transfer_syntax=RLELossless)


def _lying_codestream(name: str, patch: Callable[[bytearray], None]) -> bytes:
    """A compressed sample whose every frame's own header is changed by ``patch``, the dataset left as it was."""
    ds = pydicom.dcmread(io.BytesIO(sample_bytes(name)))
    frames = [
        bytearray(frame)
        for frame in pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=int(ds.get("NumberOfFrames") or 1))
    ]
    for frame in frames:
        patch(frame)
    ds.PixelData = pydicom.encaps.encapsulate([bytes(frame) for frame in frames])
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def _j2k_size(width: int, height: int, tile: int | None = None) -> Callable[[bytearray], None]:
    def patch(frame: bytearray) -> None:
        siz = frame.find(b"\xff\x4f\xff\x51") + 4
        if tile is None:
            struct.pack_into(">II", frame, siz + 4, width, height)  # Xsiz, Ysiz (no image offset in the samples)
        else:
            struct.pack_into(">II", frame, siz + 20, tile, tile)  # XTsiz, YTsiz

    return patch


def _jpeg_size(width: int, height: int) -> Callable[[bytearray], None]:
    def patch(frame: bytearray) -> None:
        offset = 2
        while frame[offset + 1] not in (0xC0, 0xC1, 0xC2, 0xC3, 0xF7):
            offset += 2 + int.from_bytes(frame[offset + 2 : offset + 4], "big")
        struct.pack_into(">HH", frame, offset + 5, height, width)

    return patch


def _palette_bomb(segments: int, indirect: bool = False) -> bytes:
    """pydicom's segmented-palette ultrasound with a red table of a few KB that expands to ``segments`` × 65535
    entries (linear segments), or repeats its linear segments through nested indirect ones."""
    ds = pydicom.dcmread(io.BytesIO(sample_bytes("gdcm-US-ALOKA-16.dcm")))
    words = [0, 1, 0]  # a discrete segment of one entry, then linear ones of 65535 each
    if indirect:
        words += [1, 65535, 100]
        for _ in range(segments):  # each repeats everything before it: doubling
            words += [2, 2, 0, 0]
    else:
        for i in range(segments):
            words += [1, 65535, i % 65536]
    ds.SegmentedRedPaletteColorLookupTableData = struct.pack(f"<{len(words)}H", *words)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def _many_scans(jpeg: bytes | bytearray, scans: int) -> bytes:
    """The JPEG with its last scan repeated ``scans`` times: each is one more pass over the whole image."""
    last = bytes(jpeg).rfind(b"\xff\xda")
    return bytes(jpeg[:-2]) + bytes(jpeg[last:-2]) * scans + b"\xff\xd9"


def _progressive_scan_bomb(size: int, scans: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (size, size), 90).save(buffer, "JPEG", progressive=True)
    return _many_scans(buffer.getvalue(), scans)


def _strip_bomb(strips: int, order: str = "little") -> bytes:
    """A one-column TIFF of one-row strips: each strip is a decoder call."""
    from PIL import Image, TiffImagePlugin

    buffer = io.BytesIO()
    info = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"MM" if order == "big" else b"II")
    info[278] = 1  # RowsPerStrip
    Image.new("L", (1, strips), 7).save(buffer, format="TIFF", tiffinfo=info)
    return buffer.getvalue()


def _deflated_tiff(pixels: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="TIFF", compression="tiff_adobe_deflate")
    return out.getvalue()


def corpus(seed: int = 20261128) -> list[Hostile]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid values written on purpose
        return list(_generate(seed))


def _generate(seed: int) -> Iterator[Hostile]:
    rng = random.Random(seed)
    seeds = {name: sample_bytes(name) for name in SEEDS}
    plain = make_dicom(gradient(32, 32))
    yield from _damaged_samples(seeds, rng)
    yield from _absurd_attributes()
    yield from _dicom_bombs(plain)
    yield from _decoder_bombs()
    yield from _photo_bombs()
    yield from _impostors(plain)


def _damaged_samples(seeds: dict[str, bytes], rng: random.Random) -> Iterator[Hostile]:
    """Truncated and bit-flipped copies of the sample files."""
    # Truncations at many offsets: inside the preamble, the header, the pixel data.
    for name, data in seeds.items():
        for fraction in (0.0, 0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
            cut = max(0, int(len(data) * fraction)) or 1
            yield Hostile(f"truncated-{fraction}-{name}", "truncated DICOM", data[:cut], DICOM)
    # Flipped bytes in the header (seeded, so every run sees the same files).
    for name, data in seeds.items():
        for attempt in range(10):
            damaged = bytearray(data)
            for _ in range(8):
                position = rng.randrange(132, min(len(data), 2048))
                damaged[position] ^= 1 << rng.randrange(8)
            yield Hostile(f"flipped-{attempt}-{name}", "flipped header bytes", bytes(damaged), DICOM)


def _absurd_attributes() -> Iterator[Hostile]:
    """Files whose image attributes no real file has."""
    # Absurd image attributes.
    absurd: dict[str, Callable[[FileDataset], None]] = {
        "rows-65535": _set(Rows=65535, Columns=65535),
        "rows-0": _set(Rows=0),
        "columns-1": _set(Columns=1),
        "bits-allocated-0": _set(BitsAllocated=0),
        "bits-allocated-3": _set(BitsAllocated=3),
        "bits-allocated-64": _set(BitsAllocated=64),
        "bits-stored-40": _set(BitsStored=40, HighBit=39),
        "high-bit-99": _set(HighBit=99),
        "frames-huge": _set(NumberOfFrames="2147483647"),
        "frames-zero": _set(NumberOfFrames=0),
        "frames-negative": _set(NumberOfFrames="-5"),
        "frames-text": _set(NumberOfFrames="abc"),
        "samples-0": _set(SamplesPerPixel=0),
        "samples-7": _set(SamplesPerPixel=7),
        "photometric-junk": _set(PhotometricInterpretation="HSV"),
        "photometric-empty": _set(PhotometricInterpretation=""),
        "pixel-representation-7": _set(PixelRepresentation=7),
        "planar-9": _set(PlanarConfiguration=9),
        "window-1e300": _set(WindowCenter="1e300", WindowWidth="1e300"),
        "window-nan": _set(WindowCenter="NaN", WindowWidth="NaN"),
        "window-inf": _set(WindowCenter="inf", WindowWidth="-inf"),
        "window-zero-width": _set(WindowCenter=100, WindowWidth=0),
        "slope-zero": _set(RescaleSlope=0, RescaleIntercept=0),
        "slope-1e308": _set(RescaleSlope="1e308", RescaleIntercept="-1e308"),
        "slope-nan": _set(RescaleSlope="NaN"),
        "voi-lut-empty": _set(VOILUTSequence=[Dataset()]),
        "modality-lut-empty": _set(ModalityLUTSequence=[Dataset()]),
        "voi-lut-bad-descriptor": lambda ds: setattr(ds, "VOILUTSequence", [_bad_lut_item()]),
        "functional-groups-empty": _set(PerFrameFunctionalGroupsSequence=[], SharedFunctionalGroupsSequence=[]),
        "pixel-data-short": lambda ds: setattr(ds, "PixelData", b"\0" * 10),
        "pixel-data-odd": lambda ds: setattr(ds, "PixelData", b"\0" * 4097),
        "pixel-data-empty": lambda ds: setattr(ds, "PixelData", b""),
        "no-pixel-data": lambda ds: delattr(ds, "PixelData"),
    }
    for name, mutate in absurd.items():
        yield Hostile(f"absurd-{name}.dcm", "absurd attributes", _dicom_with(mutate), DICOM)


def _dicom_bombs(plain: bytes) -> Iterator[Hostile]:
    """Transfer syntaxes, nesting, deflation and codestreams that lie about what they hold."""
    # Bogus transfer syntaxes.
    for uid in ("1.2.3.4.5", "", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.5",
                "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2", "not a uid at all", "1.2.840.10008.1.2.4.100"):  # fmt: skip
        yield Hostile(f"syntax-{uid or 'empty'}.dcm", "bogus transfer syntax", _swap_transfer_syntax(plain, uid), DICOM)
    # Deeply nested sequences.
    for depth in (200, 1200, 3000):
        yield Hostile(f"nested-{depth}.dcm", "deep nesting", _nested_sequences(depth), DICOM)
    # Deflate bombs: tiny files that inflate to hundreds of megabytes.
    zeros = np.zeros((10000, 10000), dtype=np.uint8)
    yield Hostile(
        "deflate-bomb-10000x10000.dcm",
        "deflate bomb",
        _deflated(
            _set(Rows=10000, Columns=10000, BitsAllocated=8, BitsStored=8, HighBit=7, PixelData=zeros.tobytes()),
            np.zeros((1, 1)),
        ),
        DICOM,
    )

    def private_blob(ds: FileDataset) -> None:
        block = ds.private_block(0x0009, "HOSTILE", create=True)
        block.add_new(0x10, "OB", bytes(300 * 1024 * 1024))

    yield Hostile("deflate-bomb-private-300MB.dcm", "deflate bomb", _deflated(private_blob, gradient(16, 16)), DICOM)
    yield Hostile(
        "deflate-garbage.dcm", "deflate bomb", _swap_transfer_syntax(plain, DeflatedExplicitVRLittleEndian), DICOM
    )
    damaged = bytearray(_deflated(_set(), gradient(64, 64)))
    damaged[-200:-100] = bytes(100)
    yield Hostile("deflate-damaged.dcm", "deflate bomb", bytes(damaged), DICOM)
    # Elements declaring more than the file holds.
    for declared in (2**20, 300 * 2**20, 0xFFFFFFF0):
        yield Hostile(f"huge-element-{declared}.dcm", "huge element", _huge_private_element(declared), DICOM)
    # Codestreams that declare another size than their dataset (the decoder allocates what they declare).
    for name in ("JPEG2000.dcm", "US1_J2KR.dcm"):
        lying = _lying_codestream(name, _j2k_size(60000, 60000))
        yield Hostile(f"j2k-declares-60000x60000-{name}", "lying codestream", lying, DICOM)
    yield Hostile(
        "j2k-one-pixel-tiles.dcm", "lying codestream", _lying_codestream("JPEG2000.dcm", _j2k_size(0, 0, 1)), DICOM
    )
    for name in ("MR_small_jpeg_ls_lossless.dcm", "SC_rgb_jpeg_dcmtk.dcm"):
        lying = _lying_codestream(name, _jpeg_size(65535, 65535))
        yield Hostile(f"jpeg-declares-65535x65535-{name}", "lying codestream", lying, DICOM)


def _decoder_bombs() -> Iterator[Hostile]:
    """Small files that cost a decoder time or memory out of all proportion."""
    # CPU bombs: work per scan or per strip, whatever the size.
    yield Hostile("jpeg-progressive-2000-scans.jpg", "cpu bomb", _progressive_scan_bomb(2048, 2000), "image/jpeg")
    yield Hostile("tiff-million-strips.tif", "cpu bomb", _strip_bomb(1_000_000), "image/tiff")

    def scans(frame: bytearray) -> None:
        frame[:] = _many_scans(frame, 2000)

    yield Hostile("jpeg-frame-2000-scans.dcm", "cpu bomb", _lying_codestream("SC_rgb_jpeg_dcmtk.dcm", scans), DICOM)
    # Segmented palettes of a few KB that expand to tens of millions of entries.
    yield Hostile("palette-linear-bomb.dcm", "palette bomb", _palette_bomb(1000), DICOM)
    yield Hostile("palette-indirect-bomb.dcm", "palette bomb", _palette_bomb(40, indirect=True), DICOM)
    # Decompression bombs in compressed pixel data.
    yield Hostile("rle-bomb-40000x40000.dcm", "compressed bomb", _rle_bomb(40000, 40000), DICOM)
    yield Hostile("rle-bomb-9000x9000.dcm", "compressed bomb", _rle_bomb(9000, 9000), DICOM)
    yield Hostile("rle-bomb-3000x3000.dcm", "compressed bomb", _rle_bomb(3000, 3000), DICOM)
    # Long sequences: items cost pydicom a dataset each (1.8 million empty items took 83 s and 2.4 GB).
    for items in (150_000, 400_000, 1_000_000):
        yield Hostile(f"sequence-{items}-items.dcm", "long sequence", _long_sequence(items), DICOM)
    yield Hostile(
        "sequence-deflated-2000000-items.dcm", "long sequence", _deflate_dataset(_long_sequence(2_000_000)), DICOM
    )
    yield Hostile("sequence-20000-items.dcm", "long sequence", _long_sequence(20_000), DICOM)  # within the limit
    # RLE segment tables that lie (decoders follow their offsets).
    tables: dict[str, Callable[[bytearray], None]] = {
        "segments-3": lambda f: struct.pack_into("<I", f, 0, 3),
        "segments-0": lambda f: struct.pack_into("<I", f, 0, 0),
        "segments-16": lambda f: struct.pack_into("<I", f, 0, 16),
        "offset-past-frame": lambda f: struct.pack_into("<I", f, 8, len(f) + 4096),
        "offsets-backwards": lambda f: struct.pack_into("<II", f, 4, 64, 32),
        "first-offset-0": lambda f: struct.pack_into("<I", f, 4, 0),
        "header-cut": lambda f: f.__delitem__(slice(40, None)),
    }
    for name, patch in tables.items():
        yield Hostile(f"rle-table-{name}.dcm", "rle table", _rle_table(patch), DICOM)


def _photo_bombs() -> Iterator[Hostile]:
    """Photos that lie about their size, hide bombs in chunks, or are cut short."""
    # BMP RLE: Pillow decodes it in Python, one operation per run.
    yield Hostile("bmp-rle8-3000x2000-one-pixel-runs.bmp", "bmp rle", _bmp_rle_bomb(3000, 2000), "image/bmp")
    yield Hostile("bmp-rle8-1200x900-one-pixel-runs.bmp", "bmp rle", _bmp_rle_bomb(1200, 900), "image/bmp")
    # Animations and multi-page files: only the first frame is converted, however many follow.
    for kind, extension, mime in (("GIF", "gif", "image/gif"), ("PNG", "png", "image/png"), ("WEBP", "webp", "image/webp")):  # fmt: skip
        yield Hostile(f"animation-300-frames.{extension}", "animation", _animation(kind, 300), mime)
    yield Hostile("tiff-2000-pages.tif", "animation", _multipage_tiff(2000), "image/tiff")
    yield Hostile("tiff-million-strips-big-endian.tif", "cpu bomb", _strip_bomb(1_000_000, "big"), "image/tiff")
    # Photo bombs and damage.
    for width, height in ((9000, 9000), (30000, 30000), (65500, 65500), (65500, 1), (1, 65500)):
        yield Hostile(f"jpeg-declares-{width}x{height}.jpg", "image bomb", _jpeg_declaring(width, height), "image/jpeg")
    yield Hostile("jpeg-complete-9000x9000.jpg", "image bomb", _uniform_jpeg(9000, 9000), "image/jpeg")
    yield Hostile("png-bomb-20000.png", "image bomb", png_bomb(), "image/png")
    yield Hostile("png-bomb-9000.png", "image bomb", png_bomb(9000, 9000), "image/png")
    # Wide TIFFs: a few hundred KB that decode to 16- and 32-bit frames whose conversion to 8 bits needs memory.
    for name, pixels in (("tiff-16bit-6000x6000.tif", np.zeros((6000, 6000), np.uint16)),
                         ("tiff-float-5000x5000.tif", np.zeros((5000, 5000), np.float32))):  # fmt: skip
        yield Hostile(name, "image bomb", _deflated_tiff(pixels), "image/tiff")
    ztxt = _png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (64 * 1024 * 1024), 9))
    yield Hostile("png-ztxt-bomb.png", "image bomb", _small_png(ztxt), "image/png")
    iccp = _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(b"\0" * (64 * 1024 * 1024), 9))
    yield Hostile("png-iccp-bomb.png", "image bomb", _small_png(iccp), "image/png")
    for fraction in (0.1, 0.5, 0.9):
        jpeg = _jpeg_declaring(640, 480, truncated=False)
        yield Hostile(f"jpeg-truncated-{fraction}.jpg", "broken photo", jpeg[: int(len(jpeg) * fraction)], "image/jpeg")
        png = _small_png()
        yield Hostile(f"png-truncated-{fraction}.png", "broken photo", png[: int(len(png) * fraction)], "image/png")


def _impostors(plain: bytes) -> Iterator[Hostile]:
    """Files that pretend to be another type, and files too short to be any."""
    # Polyglots and impostors.
    yield Hostile("jpeg-magic-then-dicom.jpg", "polyglot", b"\xff\xd8\xff" + plain[3:], "image/jpeg")
    yield Hostile("png-in-dicom-clothes.dcm", "polyglot", bytes(128) + b"DICM" + _small_png(), DICOM)
    yield Hostile("dicom-with-png-preamble.dcm", "polyglot", _small_png().ljust(128, b"\0")[:128] + plain[128:], DICOM)
    yield Hostile("pdf-named.jpg", "polyglot", b"%PDF-1.7\n" + bytes(1000), "image/jpeg")
    yield Hostile("html-named.png", "polyglot", b"<html><script>alert(1)</script></html>", "image/png")
    yield Hostile("dicom-declared-jpeg.jpg", "polyglot", plain, "image/jpeg")
    yield Hostile("empty.dcm", "empty or tiny", b"", DICOM)
    yield Hostile("one-byte.jpg", "empty or tiny", b"\xff", "image/jpeg")
    yield Hostile("preamble-only.dcm", "empty or tiny", bytes(128) + b"DICM", DICOM)


def _bad_lut_item() -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [0, 0, 99]
    item.LUTData = b"\0\0"
    return item


def slow_progressive_jpeg(size: int = 9000, scans: int = 94) -> bytes:
    """A photo within every limit (100 scans with the encoder's own six, pixels just under the budget) that still
    takes seconds to decode: what only the decode's time limit stops. As slow as the limits allow (4.6 s on a
    2-core EPYC, where 6000² and 85 scans took 1.6 s: under the e2e stack's 2 s limit)."""
    return _progressive_scan_bomb(size, scans)
