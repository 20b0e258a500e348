"""Segmented palette colour lookup tables (PS3.3 C.7.9.2), measured before anything expands them.

A segment says how many entries it expands to, and an indirect segment repeats earlier ones: a few kilobytes can
describe billions of entries, which pydicom's expansion builds as a Python list. The walk here counts, bounded in
entries and in steps, and expands nothing.
"""

from __future__ import annotations

import struct
from typing import Any

from image_analyzer.errors import ErrorCode, ProcessingError

_CHANNELS = ("Red", "Green", "Blue", "Alpha")
_MAX_STEPS = 100_000  # segments visited, indirect ones included: far beyond any real table
_MAX_DEPTH = 8  # nested indirect segments


class _TooLong(Exception):
    pass


def _count(
    data: tuple[int, ...], start: int, eight_bit: bool, limit: int, steps: list[int], segments: int | None, depth: int
) -> int:
    """Entries that ``segments`` segments of ``data`` from word ``start`` (all of them when None) expand to, as
    pydicom reads them. pydicom slices the words at an indirect segment's offset; an index keeps a step cheap."""
    total = read = 0
    offset = start
    while offset + 1 < len(data):
        steps[0] += 1
        if steps[0] > _MAX_STEPS or depth > _MAX_DEPTH:
            raise _TooLong
        opcode, length = data[offset], data[offset + 1]
        offset += 2
        if opcode == 0:  # discrete
            total += length
            offset += length
        elif opcode == 1:  # linear
            total += length
            offset += 1
        elif opcode == 2:  # indirect: `length` segments read again from a byte offset
            if eight_bit:
                words = data[offset : offset + 4]
                byte_offset = (words[3] << 8 | words[2]) << 16 | (words[1] << 8 | words[0])
                offset += 4
            else:
                byte_offset = data[offset + 1] << 16 | data[offset] if offset + 1 < len(data) else 0
                offset += 2
            total += _count(data, start + byte_offset, eight_bit, limit - total, steps, length, depth + 1)
        else:
            return total  # an unknown segment: the expansion itself refuses the table
        if total > limit:
            raise _TooLong
        read += 1
        if read == segments:
            break
    return total


def check_segmented_palettes(ds: Any, little_endian: bool) -> None:
    """Every segmented table must expand to no more entries than its descriptor declares (65536 at most)."""
    for channel in _CHANNELS:
        raw = ds.get(f"Segmented{channel}PaletteColorLookupTableData")
        descriptor = ds.get(f"{channel}PaletteColorLookupTableDescriptor")
        if not raw or descriptor is None:
            continue
        entries = int(descriptor[0]) or 65536
        eight_bit = int(descriptor[2]) == 8
        width = 1 if eight_bit else 2
        count = len(raw) // width
        data = struct.unpack(f"{'<' if little_endian else '>'}{count}{'B' if eight_bit else 'H'}", raw[: count * width])
        try:
            _count(data, 0, eight_bit, entries, [0], None, 0)
        except (_TooLong, RecursionError):
            raise ProcessingError(
                ErrorCode.CORRUPT_DICOM,
                f"The segmented {channel.lower()} palette expands to more than the {entries} entries it declares.",
            ) from None
