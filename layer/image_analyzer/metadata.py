"""Photo metadata out of what is stored: a JPEG or PNG kept as uploaded loses every segment or chunk that carries
metadata (EXIF, XMP, IPTC, comments, text chunks, what follows the end of the image) and keeps its pixels bit for
bit; a photo whose EXIF orientation turns it is converted upright instead (see ``imaging.convert_photo``)."""

from __future__ import annotations

import struct

from image_analyzer.errors import ErrorCode, ProcessingError

# JPEG segments kept: the JFIF header, the colour profile (APP2 "ICC_PROFILE") and Adobe's colour transform flag
# (APP14), which decoders need to read the colours right; every other APPn and COM is metadata.
_APP0, _APP2, _APP14, _COM = 0xE0, 0xE2, 0xEE, 0xFE
_ICC = b"ICC_PROFILE\x00"
_SOS, _EOI = 0xDA, 0xD9
# PNG chunks dropped: text (tEXt, zTXt, iTXt), EXIF (eXIf) and the modification time (tIME).
_PNG_METADATA = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _damaged() -> ProcessingError:
    return ProcessingError(ErrorCode.CORRUPT_IMAGE, "The image could not be read: it is corrupt or truncated.")


def _keeps(marker: int, body: bytes) -> bool:
    if marker == _COM:
        return False
    if 0xE0 <= marker <= 0xEF:
        return marker in (_APP0, _APP14) or (marker == _APP2 and body.startswith(_ICC))
    return True


def _entropy_end(data: bytes, position: int) -> int:
    """Where the entropy-coded data starting at ``position`` ends: at the first marker that is not a stuffed 0xFF
    byte, a restart marker or fill bytes."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            raise _damaged()
        following = data[position + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            position += 2
        elif following == 0xFF:
            position += 1
        else:
            return position


def strip_jpeg(data: bytes) -> bytes:
    """The JPEG without its metadata segments and without anything after its end-of-image marker."""
    if not data.startswith(b"\xff\xd8"):
        raise _damaged()
    out = [b"\xff\xd8"]
    position = 2
    while True:
        if position + 2 > len(data) or data[position] != 0xFF:
            raise _damaged()
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if position + 4 > len(data):
            raise _damaged()
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        end = position + 2 + length
        if length < 2 or end > len(data):
            raise _damaged()
        if _keeps(marker, data[position + 4 : end]):
            out.append(data[position:end])
        position = end
        if marker == _SOS:  # the scan's coded data follows its header, up to the next marker
            scan_end = _entropy_end(data, position)
            out.append(data[position:scan_end])
            position = scan_end


def strip_png(data: bytes) -> bytes:
    """The PNG without its text, EXIF and time chunks and without anything after IEND (CRCs are kept as they
    are: the chunks kept are unchanged)."""
    if not data.startswith(_PNG_SIGNATURE):
        raise _damaged()
    out = [_PNG_SIGNATURE]
    position = len(_PNG_SIGNATURE)
    while True:
        if position + 12 > len(data):
            raise _damaged()
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            raise _damaged()
        if kind not in _PNG_METADATA:
            out.append(data[position:end])
        position = end
        if kind == b"IEND":
            return b"".join(out)


def strip(data: bytes, is_jpeg: bool) -> bytes:
    return strip_jpeg(data) if is_jpeg else strip_png(data)
