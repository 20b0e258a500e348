"""A pydicom decoder plugin for 12-bit JPEG Extended (Process 2 and 4) through imagecodecs (BSD-3-Clause).

pydicom's own plugins leave 12-bit lossy JPEG to GDCM builds that refuse it, or to GPL code; imagecodecs bundles
libjpeg-turbo 3, which decodes 8- and 12-bit DCT JPEG. Registered by ``image_analyzer.dicom`` after pydicom's own
plugins, so it is used only where they fail.
"""

from __future__ import annotations

import importlib.util

from pydicom import uid
from pydicom.pixels.decoders.base import DecodeRunner

DECODER_DEPENDENCIES = {uid.JPEGExtended12Bit: ("numpy", "imagecodecs")}


def is_available(transfer_syntax: str) -> bool:
    return transfer_syntax in DECODER_DEPENDENCIES and importlib.util.find_spec("imagecodecs") is not None


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    import imagecodecs

    pixels = imagecodecs.jpeg8_decode(src)
    runner.set_option("bits_allocated", 8 * pixels.dtype.itemsize)
    if pixels.ndim == 3:  # libjpeg-turbo converts YCbCr to RGB and interleaves the samples
        runner.set_option("photometric_interpretation", "RGB")
        runner.set_option("planar_configuration", 0)
    return pixels.tobytes()
