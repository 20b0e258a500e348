"""The frame copy: one frame's stored values and the attributes that window them, as a DICOM file of its own
(what /render draws other windows from once the upload is deleted), redacted in stored values."""

from __future__ import annotations

import io
import warnings

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid
from pydicom.valuerep import DSfloat

from image_analyzer import budget
from image_analyzer.dicom.frame import frame_view
from image_analyzer.dicom.greyscale import MAX_LUT_ENTRIES, VOI_KEYWORDS, greyscale_lut
from image_analyzer.dicom.supplemental import PALETTE_KEYWORDS
from image_analyzer.windows import Window


def darkest_stored_value(view: Dataset, dtype: np.dtype, photometric: str) -> int:
    """The stored value that every window shows darkest: the one whose modality value is lowest (highest for
    MONOCHROME1, where high values are black). Windows and VOI LUTs never decrease with the modality value, so no
    window can show another stored value darker."""
    bits = min(int(view.get("BitsStored") or dtype.itemsize * 8), dtype.itemsize * 8)
    if dtype.kind == "i":
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        low, high = 0, (1 << bits) - 1
    # A modality LUT may map values in any order: every stored value is tried where there are few; a rescale
    # (linear) is extreme at the ends of the range.
    domain = np.arange(low, high + 1, dtype=np.int64) if high - low < MAX_LUT_ENTRIES else np.array([low, high])
    values = np.asarray(apply_modality_lut(domain, view), dtype=np.float64)
    # Which end is dark is what the file's own pipeline says (MONOCHROME1 and pydicom's reading of a negative
    # rescale slope turn it round): the darkest values in its window, then the most extreme of them.
    shown, _ = greyscale_lut(view, domain, lambda: np.ones(domain.shape))
    darkest = shown == shown.min()
    tied, tied_values = domain[darkest], values[darkest]
    pick = np.argmin if tied_values.mean() <= values.mean() else np.argmax
    return int(tied[pick(tied_values)])


def view_source(
    ds: Dataset,
    arr: np.ndarray,
    index: int,
    redact: np.ndarray | None = None,
    automatic: Window | None = None,
) -> bytes | None:
    """One frame as a minimal DICOM file: its stored values and only the attributes the greyscale pipeline reads
    (functional-group overrides folded in). Rendering it with any window gives what rendering that frame of the
    original gives, but where ``redact`` is set: there every window shows black. A frame shown in an
    ``automatic`` window keeps it as its own: the copy's histogram is not the original's once it is redacted. None
    where a faithful copy is not simple (float pixels; big-endian lookup tables; an automatic window that is not
    finite) or does not fit in the budget."""
    if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 2:
        return None
    if automatic is not None and not (np.isfinite(automatic.center) and np.isfinite(automatic.width)):
        return None  # modality values past float64's range (an absurd slope): no window can be written down
    # The frame's bytes are held about three times while the file is written (pixel bytes, the writer's buffer,
    # the result), four with a redacted copy. Without room for that, the job still completes; only other windows
    # are not offered.
    copies = 3 if redact is None or not redact.any() else 4
    if arr.nbytes * copies > budget.available_bytes():
        return None
    view = frame_view(ds, index)
    big_endian = ds.file_meta.get("TransferSyntaxUID") == ExplicitVRBigEndian
    if big_endian and any(k in view for k in ("ModalityLUTSequence", "VOILUTSequence", *PALETTE_KEYWORDS)):
        return None  # their raw OW bytes are in the other byte order
    if copies == 4:
        assert redact is not None
        photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
        arr = np.array(arr, copy=True)
        arr[redact] = darkest_stored_value(view, arr.dtype, photometric)
    out = Dataset()
    for element in view:
        out[element.tag] = element
    if automatic is not None:
        for keyword in VOI_KEYWORDS:
            if keyword in out:
                del out[keyword]
        out.WindowCenter = DSfloat(automatic.center, auto_format=True)
        out.WindowWidth = DSfloat(automatic.width, auto_format=True)
        out.VOILUTFunction = automatic.function
    out.Modality = str(ds.get("Modality") or "OT")
    bits = arr.dtype.itemsize * 8
    out.SamplesPerPixel = 1
    out.Rows, out.Columns = arr.shape
    out.BitsAllocated = bits
    out.BitsStored = min(int(ds.get("BitsStored") or bits), bits)
    out.HighBit = out.BitsStored - 1
    out.PixelRepresentation = int(arr.dtype.kind == "i")
    out.PixelData = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<")).tobytes()
    out.SOPClassUID = SecondaryCaptureImageStorage
    out.SOPInstanceUID = generate_uid()
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = out.SOPClassUID
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    out.file_meta = meta
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
