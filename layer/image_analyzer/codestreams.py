"""What a compressed DICOM frame says of itself, read from its own header before anything decodes it.

A decoder allocates what the codestream declares, not what the dataset says: a 100-byte JPEG 2000 codestream can
declare 65535² pixels inside a dataset of 512². Plain functions on bytes; nothing here decodes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

# JPEG start-of-frame markers (SOF0-SOF15 but DHT, JPG and DAC), and JPEG-LS's SOF55.
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: markers without a length
_J2K_SOC_SIZ = b"\xff\x4f\xff\x51"
_HEADER_SEARCH = 64 * 1024  # a frame's header sits at its start (a JP2 wrapper's boxes included)


@dataclass(frozen=True)
class Declared:
    kind: str  # "JPEG", "JPEG-LS" or "JPEG 2000"
    width: int
    height: int
    components: int
    precision: int  # bits per sample (the largest, for JPEG 2000)
    tiles: int = 1


def _jpeg(data: bytes) -> Declared | None:
    offset = 2
    while offset + 4 <= min(len(data), _HEADER_SEARCH):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in _JPEG_STANDALONE:
            offset += 2
            continue
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        if marker in _JPEG_SOF:
            body = data[offset + 4 : offset + 2 + length]
            if len(body) < 6:
                return None
            return Declared(
                "JPEG-LS" if marker == 0xF7 else "JPEG",
                width=int.from_bytes(body[3:5], "big"),
                height=int.from_bytes(body[1:3], "big"),
                components=body[5],
                precision=body[0],
            )
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        offset += 2 + length
    return None


def _jpeg2000(data: bytes) -> Declared | None:
    start = data.find(_J2K_SOC_SIZ, 0, _HEADER_SEARCH)
    if start < 0:
        return None
    siz = data[start + 4 :]
    if len(siz) < 38:
        return None
    number = [int.from_bytes(siz[i : i + 4], "big") for i in range(4, 36, 4)]
    xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, xtosiz, ytosiz = number
    components = int.from_bytes(siz[36:38], "big")
    depths = siz[38 : 38 + 3 * components : 3]
    if xsiz <= xosiz or ysiz <= yosiz or not xtsiz or not ytsiz or len(depths) < components:
        return Declared("JPEG 2000", 0, 0, components, 0, 0)  # impossible: refused as a mismatch
    tiles = -(-(xsiz - xtosiz) // xtsiz) * -(-(ysiz - ytosiz) // ytsiz)
    return Declared("JPEG 2000", xsiz - xosiz, ysiz - yosiz, components, max((d & 0x7F) + 1 for d in depths), tiles)


@dataclass(frozen=True)
class RleHeader:
    """DICOM RLE's 64-byte frame header: how many segments (one per byte of each sample) and where they start."""

    segments: int
    offsets: tuple[int, ...]


RLE_HEADER_BYTES = 64
RLE_MAX_SEGMENTS = 15


def rle_header(frame: bytes) -> RleHeader | None:
    """The header's segment table, or None when it cannot be one (short, too many segments, offsets that are
    not increasing, inside the header or past the frame): a decoder trusts every offset it finds there."""
    if len(frame) < RLE_HEADER_BYTES:
        return None
    words = [int.from_bytes(frame[i : i + 4], "little") for i in range(0, RLE_HEADER_BYTES, 4)]
    segments, offsets = words[0], tuple(words[1 : 1 + words[0]])
    if not 1 <= segments <= RLE_MAX_SEGMENTS or offsets[0] != RLE_HEADER_BYTES:
        return None
    if any(b <= a for a, b in itertools.pairwise(offsets)) or offsets[-1] >= len(frame):
        return None
    return RleHeader(segments, offsets)


def declared(frame: bytes) -> Declared | None:
    """The size a JPEG, JPEG-LS or JPEG 2000 frame declares; None for anything else (RLE has no such header)."""
    if frame[:2] == b"\xff\xd8":
        return _jpeg(frame)
    return _jpeg2000(frame)
