"""What the reference implementations do to a DICOM file: for comparison only (benchmarks, tests, notebooks),
never used to serve results, and not part of the layer."""

from __future__ import annotations

import io

import numpy as np
import pydicom

from image_analyzer.dicom import frame_count


def naive_render(data: bytes, frame: int | None = None) -> np.ndarray:
    """Decodes every frame, ignores the modality LUT, the window and MONOCHROME1, and stretches the image's own
    min/max to 0-255."""
    ds = pydicom.dcmread(io.BytesIO(data))
    arr = ds.pixel_array
    if frame is not None and frame_count(ds) > 1:
        arr = arr[frame]
    arr = arr.astype(np.float64)
    return ((arr - arr.min()) / max(float(arr.max() - arr.min()), 1.0) * 255.0).astype(np.uint8)
