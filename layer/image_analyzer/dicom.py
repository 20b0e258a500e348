"""DICOM → 8-bit image, following the standard's grayscale pipeline (DESIGN.md, DICOM rendering rules).

Modality LUT → VOI (VOI LUT sequence, window centre/width with its VOI LUT function, or a robust automatic window)
→ 8 bits over the VOI output range → MONOCHROME1 inverted. Colour images become RGB and are never windowed.

The pipeline runs through pydicom's own LUT functions. For integer pixel data it is evaluated once over the range
of stored values that occur, giving a lookup table that is then indexed by the frame: the same result as running it
over every pixel, several times faster on large radiographs.
"""

from __future__ import annotations

import contextlib
import copy
import io
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import get_frame
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.filewriter import write_file_meta_info
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, apply_windowing, get_decoder, pixel_array
from pydicom.pixels.decoders import JPEGExtended12BitDecoder
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pydicom.valuerep import DSfloat

from image_analyzer import budget, codestreams, imaging, palette, png
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.imaging import MAX_PIXELS
from image_analyzer.windows import PRESETS, Window, description

# 12-bit JPEG Extended: imagecodecs (BSD) where pydicom's own plugins cannot (after them, so they stay first).
with contextlib.suppress(ValueError):  # already registered (a module reload)
    JPEGExtended12BitDecoder.add_plugin("imagecodecs", ("image_analyzer.jpeg_extended", "decode_frame"))

# Evaluate the pipeline over the stored-value domain when it has at most this many entries (17 bits).
_MAX_LUT_ENTRIES = 1 << 17
# Peak working memory of the per-pixel float64 pipeline (modality, VOI, scaling and their temporaries).
_FLOAT_PIPELINE_BYTES_PER_PIXEL = 48
# Share of pixels clipped at each end by the automatic window.
AUTO_WINDOW_PERCENTILES = (0.5, 99.5)
_GRAYSCALE = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420", "YBR_PARTIAL_422")


# Body Part Examined is free text in practice: only DICOM's defined terms (PS3.16 Annex L) are kept, anything
# else (a name, a note typed at the console) is dropped.
BODY_PARTS = frozenset(
    [
        "ABDOMEN",
        "ABDOMENPELVIS",
        "ACJOINT",
        "ADRENAL",
        "AMNIOTICFLUID",
        "ANKLE",
        "ANUS",
        "AORTA",
        "AORTICARCH",
        "APPENDIX",
        "ARM",
        "ASCAORTA",
        "AXILLA",
        "BACK",
        "BILEDUCT",
        "BLADDER",
        "BRAIN",
        "BREAST",
        "BRONCHUS",
        "BUTTOCK",
        "CALCANEUS",
        "CALF",
        "CAROTID",
        "CEREBELLUM",
        "CERVIX",
        "CHEEK",
        "CHEST",
        "CHESTABDOMEN",
        "CHESTABDPELVIS",
        "CIRCLEOFWILLIS",
        "CLAVICLE",
        "COCCYX",
        "COLON",
        "CORNEA",
        "CORONARYARTERY",
        "CSPINE",
        "CTSPINE",
        "DESCAORTA",
        "DUODENUM",
        "EAR",
        "ELBOW",
        "ESOPHAGUS",
        "EXTREMITY",
        "EYE",
        "EYELID",
        "FACE",
        "FEMUR",
        "FINGER",
        "FOOT",
        "GALLBLADDER",
        "HAND",
        "HEAD",
        "HEADNECK",
        "HEART",
        "HIP",
        "HUMERUS",
        "IAC",
        "ILEUM",
        "ILIUM",
        "JAW",
        "JEJUNUM",
        "KIDNEY",
        "KNEE",
        "LARYNX",
        "LEG",
        "LIVER",
        "LSPINE",
        "LSSPINE",
        "LUNG",
        "MAXILLA",
        "MEDIASTINUM",
        "MOUTH",
        "NECK",
        "NECKCHEST",
        "NECKCHESTABDOMEN",
        "NECKCHESTABDPELV",
        "NOSE",
        "ORBIT",
        "OVARY",
        "PANCREAS",
        "PAROTID",
        "PATELLA",
        "PELVIS",
        "PENIS",
        "PHARYNX",
        "PROSTATE",
        "RADIUS",
        "RADIUSULNA",
        "RECTUM",
        "RIB",
        "SCALP",
        "SCAPULA",
        "SCLERA",
        "SCROTUM",
        "SHOULDER",
        "SKULL",
        "SPINE",
        "SPLEEN",
        "SSPINE",
        "STERNUM",
        "STOMACH",
        "SUBCLAVIAN",
        "TESTIS",
        "THIGH",
        "THUMB",
        "THYMUS",
        "THYROID",
        "TIBIA",
        "TIBIAFIBULA",
        "TLSPINE",
        "TMJ",
        "TOE",
        "TONGUE",
        "TRACHEA",
        "TSPINE",
        "ULNA",
        "URETER",
        "URETHRA",
        "UTERUS",
        "VAGINA",
        "VULVA",
        "WHOLEBODY",
        "WRIST",
        "ZYGOMA",
    ]
)

# The only DICOM attributes that ever leave the file: technical, never identifying.
_ALLOWED_ATTRIBUTES = {
    "modality": "Modality",
    "bodyPart": "BodyPartExamined",
    "rows": "Rows",
    "columns": "Columns",
    "photometric": "PhotometricInterpretation",
    "bitsStored": "BitsStored",
}


@dataclass(frozen=True)
class FrameData:
    dataset: Dataset
    stored: np.ndarray  # the frame's stored values, as decoded
    index: int
    automatic: Window | None  # the automatic window it was shown in, if the file gave none


@dataclass
class Rendering:
    pixels: np.ndarray  # uint8, (rows, columns) or (rows, columns, 3)
    metadata: dict[str, Any] = field(default_factory=dict)
    # A greyscale frame as decoded: what the frame copy is made from.
    frame: FrameData | None = None

    def frame_copy(self, redact: np.ndarray | None = None) -> bytes | None:
        """The frame's stored values and the attributes that window them, as a DICOM file of its own: what other
        windows are rendered from once the upload is deleted (no identifying attribute is in it). ``redact``
        (a mask of the frame's size) is filled with the stored value that is darkest in every window."""
        if self.frame is None:
            return None
        return view_source(self.frame.dataset, self.frame.stored, self.frame.index, redact, self.frame.automatic)

    def to_image(self) -> Image.Image:
        return Image.fromarray(self.pixels, mode="L" if self.pixels.ndim == 2 else "RGB")

    def to_png(self) -> bytes:
        return png.encode(self.pixels)


# Items (of sequences and of encapsulated pixel data) a file may hold: each costs pydicom a dataset, and an
# undefined-length sequence is parsed whole to find its end (300,000 empty items took 11 s and 470 MB, 1.8 million
# 83 s and 2.4 GB). The largest enhanced multi-frame files hold tens of thousands.
MAX_DICOM_ITEMS = 100_000
_ITEM_TAGS = (b"\xfe\xff\x00\xe0", b"\xff\xfe\xe0\x00")  # (FFFE,E000), little and big endian


def check_item_count(data: bytes | bytearray) -> None:
    """Refuse, before parsing, a file with more item tags than any real file has (a count of the tag's bytes:
    it can only over-count, by chance matches in values, about once in four gigabytes)."""
    items = sum(data.count(tag) for tag in _ITEM_TAGS)
    if items > MAX_DICOM_ITEMS:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_COMPLEX,
            f"The DICOM file holds {items} sequence items, more than {MAX_DICOM_ITEMS}: it would take too long to read.",
        )


def read_dataset(data: bytes) -> Dataset:
    """Parse the header; large elements (the pixel data) stay unread until a frame is decoded.

    A deflated dataset is inflated here as a stream, capped by the memory budget: pydicom would inflate all of it
    at once, and a few hundred kilobytes can inflate to gigabytes."""
    part10 = len(data) >= 132 and data[128:132] == b"DICM"
    if not part10 and not imaging.looks_like_bare_dataset(data[:8]):
        raise ProcessingError(ErrorCode.CORRUPT_DICOM, "The file is not a DICOM file (no DICM preamble, no dataset).")
    check_item_count(data)
    if not part10:
        return _read_bare_dataset(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source, deflated = _inflate_if_deflated(data)
            ds = pydicom.dcmread(source, defer_size=4096)
            if not str(ds.file_meta.TransferSyntaxUID or "").strip():
                raise ValueError("empty transfer syntax")
            if deflated:  # reported as it was sent; the pixel data is native once inflated
                ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    except ProcessingError:
        raise
    except Exception as exc:  # parsers raise many types for damaged headers (RecursionError for deep nesting…)
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, "The DICOM file could not be parsed: it is corrupt or truncated."
        ) from exc
    return ds


def _read_bare_dataset(data: bytes) -> Dataset:
    """A dataset with no preamble and no file meta: its encoding is inferred from its first element, and its
    transfer syntax can only be a native (uncompressed) one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(io.BytesIO(data), force=True, defer_size=4096)
            implicit, little = ds.original_encoding
            ds.file_meta = FileMetaDataset()
            ds.file_meta.TransferSyntaxUID = (
                ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian if little else ExplicitVRBigEndian
            )
            if "PixelData" in ds and ds["PixelData"].is_undefined_length:
                raise ProcessingError(
                    ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                    "The dataset has compressed pixel data but no file meta saying how it is compressed.",
                )
    except ProcessingError:
        raise
    except Exception as exc:
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, "The DICOM dataset could not be parsed: it is corrupt or truncated."
        ) from exc
    return ds


def _inflate_if_deflated(data: bytes) -> tuple[io.BytesIO, bool]:
    """(the file with its dataset inflated and its file meta saying Explicit VR Little Endian, True) for a
    deflated file; (the file as it is, False) otherwise."""
    source = io.BytesIO(data)
    read_preamble(source, False)
    meta = _read_file_meta_info(source)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        source.seek(0)
        return source, False
    # The inflated bytes exist twice for a moment (inflater output, then the file), and the frame comes after.
    cap = budget.available_bytes() // 4
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        inflated = inflater.decompress(data[source.tell() :], cap + 1)
    except zlib.error as exc:
        raise ProcessingError(ErrorCode.CORRUPT_DICOM, "The deflated DICOM data is corrupt.") from exc
    if len(inflated) > cap or inflater.unconsumed_tail:
        raise ProcessingError(
            ErrorCode.IMAGE_TOO_LARGE,
            f"The deflated DICOM data inflates to more than {cap // (1024 * 1024)} MB, more than can be read safely.",
        )
    check_item_count(inflated)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    out.write(data[:128] + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=False)
    out.write(inflated)
    del inflated
    out.seek(0)
    return out, True


def _readable_int(value: Any) -> bool:
    try:
        int(value)
    except (TypeError, ValueError):
        return False
    return True


def frame_count(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames") or 1))
    except (TypeError, ValueError):
        return 1


def safe_metadata(ds: Dataset) -> dict[str, Any]:
    """The allow-listed technical attributes (PHI never leaves the file)."""
    meta: dict[str, Any] = {}
    for key, keyword in _ALLOWED_ATTRIBUTES.items():
        value = ds.get(keyword)
        meta[key] = None if value in (None, "") else (int(value) if isinstance(value, int) else str(value))
    if meta["bodyPart"] is not None:
        term = meta["bodyPart"].strip().upper()
        meta["bodyPart"] = term if term in BODY_PARTS else None
    meta["frames"] = frame_count(ds)
    tsyntax = ds.file_meta.get("TransferSyntaxUID")
    meta["transferSyntax"] = tsyntax.name if tsyntax is not None else None
    return meta


# What the greyscale pipeline reads, at the top level and in the functional-group macros that override it.
_PIPELINE_KEYWORDS = (
    "PhotometricInterpretation", "BitsStored", "BitsAllocated", "PixelRepresentation", "RescaleSlope",
    "RescaleIntercept", "ModalityLUTSequence", "VOILUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction",
    "PixelPaddingValue",
)  # fmt: skip
# What a LUT item holds for the pipeline: no LUTExplanation (free text), nothing else an item may carry.
_LUT_ITEM_KEYWORDS = ("LUTDescriptor", "LUTData", "ModalityLUTType")


def _copy_pipeline_attributes(source: Dataset, view: Dataset) -> None:
    """The named attributes only (never free text, identifying or private ones), LUT items rebuilt from their
    descriptor and data."""
    for keyword in _PIPELINE_KEYWORDS:
        if keyword not in source:
            continue
        if keyword.endswith("LUTSequence"):
            items = []
            for item in source[keyword].value or []:
                rebuilt = Dataset()
                for name in _LUT_ITEM_KEYWORDS:
                    if name in item:
                        rebuilt[name] = item[name]
                items.append(rebuilt)
            setattr(view, keyword, Sequence(items))
        else:
            view[keyword] = source[keyword]


def _frame_view(ds: Dataset, index: int) -> Dataset:
    """The attributes the grayscale pipeline reads, for one frame (functional groups override the top level)."""
    view = Dataset()
    view.file_meta = ds.file_meta  # LUT data in OW needs the byte order
    _copy_pipeline_attributes(ds, view)
    groups = [ds.get("SharedFunctionalGroupsSequence"), ds.get("PerFrameFunctionalGroupsSequence")]
    for sequence, item_index in zip(groups, (0, index), strict=True):
        if not sequence or item_index >= len(sequence):
            continue
        group = sequence[item_index]
        for macro in ("PixelValueTransformationSequence", "FrameVOILUTSequence"):
            if macro in group and group[macro].value:
                _copy_pipeline_attributes(group[macro].value[0], view)
    return view


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
    domain = np.arange(low, high + 1, dtype=np.int64) if high - low < _MAX_LUT_ENTRIES else np.array([low, high])
    values = np.asarray(apply_modality_lut(domain, view), dtype=np.float64)
    # Which end is dark is what the file's own pipeline says (MONOCHROME1 and pydicom's reading of a negative
    # rescale slope turn it round): the darkest values in its window, then the most extreme of them.
    shown = _grayscale_lut(copy.deepcopy(view), domain, lambda: np.ones(domain.shape), None, None)[0]
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
    view = _frame_view(ds, index)
    big_endian = ds.file_meta.get("TransferSyntaxUID") == ExplicitVRBigEndian
    if big_endian and any(k in view for k in ("ModalityLUTSequence", "VOILUTSequence")):
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
        for keyword in ("VOILUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction"):
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


def _first(value: Any) -> float:
    return float(value[0]) if isinstance(value, pydicom.multival.MultiValue) else float(value)


def _weighted_percentiles(
    values: np.ndarray, weights: np.ndarray, percentiles: tuple[float, float]
) -> tuple[float, float]:
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order], dtype=np.float64)
    total = cumulative[-1]
    low, high = (np.searchsorted(cumulative, p / 100 * total) for p in percentiles)
    return float(values[order][min(low, len(order) - 1)]), float(values[order][min(high, len(order) - 1)])


def _auto_window(modality_values: np.ndarray, weights: np.ndarray) -> Window:
    low, high = _weighted_percentiles(modality_values.ravel(), weights.ravel(), AUTO_WINDOW_PERCENTILES)
    if high <= low:
        high = low + 1
    return Window(center=(low + high) / 2, width=high - low, function="LINEAR_EXACT")


def _voi_output_range(view: Dataset, uses_lut: bool, domain_lut_output: np.ndarray) -> tuple[float, float]:
    """The range the VOI stage can produce: 8-bit scaling maps this, not the image's min/max, to 0-255."""
    if uses_lut:
        # PS3.3 C.11.2.1.1: the LUT's output spans 0…2ⁿ−1, n the descriptor's third value. A LUT whose entries
        # exceed that depth (a known encoder error) falls back to the range its entries actually cover.
        item = view.VOILUTSequence[0]
        entries = int(item.LUTDescriptor[0]) or 65536
        first = int(item.LUTDescriptor[1])
        bits = int(item.LUTDescriptor[2])
        lut = apply_voi(np.arange(first, first + entries, dtype=np.int64), view)
        declared_high = float(2**bits - 1) if 1 <= bits <= 16 else None
        if declared_high is not None and lut.min() >= 0 and lut.max() <= declared_high:
            return 0.0, declared_high
        return float(lut.min()), float(lut.max())
    with np.errstate(over="ignore"):
        ends = apply_windowing(np.array([-1e300, 1e300]), view)
    low, high = float(ends.min()), float(ends.max())
    if high <= low:  # degenerate declared range: fall back to what the window produced
        low, high = float(domain_lut_output.min()), float(domain_lut_output.max())
    return low, high


def _grayscale_lut(
    view: Dataset,
    domain: np.ndarray,
    counts: Callable[[], np.ndarray],
    window: Window | None,
    window_source: str | None,
) -> tuple[np.ndarray, dict[str, Any], Window | None]:
    """Run the pipeline over ``domain`` (stored values) and return the 8-bit result for each entry, what to
    record of the window, and the automatic window when one was chosen (exactly, unrounded).

    ``counts`` gives how often each domain entry occurs; it is only computed when an automatic window needs it."""
    modality = apply_modality_lut(domain, view)
    uses_lut = window is None and bool(view.get("VOILUTSequence"))
    source = window_source or "override"
    if window is None and not uses_lut and "WindowCenter" in view and "WindowWidth" in view:
        try:
            window = Window(
                _first(view.WindowCenter), _first(view.WindowWidth), str(view.get("VOILUTFunction") or "LINEAR")
            )
            source = "file"
        except (TypeError, ValueError, IndexError):
            window = None
    if window is not None and (window.width < (1 if window.function.upper() == "LINEAR" else 1e-9)):
        window = None  # an unusable window in the file: better an automatic one than an error
    if window is None and not uses_lut:
        window, source = _auto_window(modality, counts()), "auto"
    if uses_lut:
        voi = apply_voi(modality if np.issubdtype(modality.dtype, np.integer) else modality.astype(np.int64), view)
        source, window_meta = "voi_lut", {"center": None, "width": None, "source": "voi_lut"}
    else:
        assert window is not None
        for keyword in ("VOILUTSequence", "WindowCenter", "WindowWidth", "VOILUTFunction"):
            if keyword in view:
                del view[keyword]
        view.WindowCenter, view.WindowWidth, view.VOILUTFunction = window.center, window.width, window.function
        voi = apply_windowing(modality, view)
        window_meta = description(window, source)
    low, high = _voi_output_range(view, uses_lut, voi)
    scaled = np.clip((voi.astype(np.float64) - low) * (255.0 / (high - low)), 0, 255)
    lut = np.rint(scaled).astype(np.uint8)
    if view.PhotometricInterpretation == "MONOCHROME1":
        lut = 255 - lut  # MONOCHROME1: low values are white
    return lut, window_meta, (window if source == "auto" else None)


def _render_grayscale(
    ds: Dataset, arr: np.ndarray, index: int, window: Window | None, source: str | None
) -> tuple[np.ndarray, dict[str, Any], Window | None]:
    view = _frame_view(ds, index)
    padding = view.get("PixelPaddingValue")
    if np.issubdtype(arr.dtype, np.integer):
        low, high = int(arr.min()), int(arr.max())
        if high - low < _MAX_LUT_ENTRIES:
            # Small non-negative values index the table directly; others are shifted to start at zero first.
            base = 0 if low >= 0 and high < _MAX_LUT_ENTRIES else low
            index = arr if base == 0 else (arr.astype(np.int64) - base)

            def histogram() -> np.ndarray:
                counts = np.bincount(index.ravel(), minlength=high - base + 1)[low - base :]
                if isinstance(padding, int) and low <= padding <= high and counts.sum() > counts[padding - low]:
                    counts[padding - low] = 0  # padding around the body must not steer the automatic window
                return counts

            domain = np.arange(low, high + 1, dtype=arr.dtype if arr.dtype.itemsize >= 4 else np.int32)
            lut, meta, automatic = _grayscale_lut(view, domain, histogram, window, source)
            if low > base:  # entries below the smallest value are never looked up
                lut = np.concatenate([np.zeros(low - base, dtype=lut.dtype), lut])
            return np.take(lut, index), meta, automatic
    # Wide or floating-point values: the pipeline runs per pixel in float64, several arrays at once.
    budget.require(arr.size * _FLOAT_PIPELINE_BYTES_PER_PIXEL, f"Windowing a {arr.shape[1]}×{arr.shape[0]} frame")
    return _grayscale_lut(view, arr, lambda: np.ones(arr.shape), window, source)


def _render_colour(ds: Dataset, arr: np.ndarray, photometric: str) -> np.ndarray:
    if photometric == "PALETTE COLOR":
        arr = apply_color_lut(arr, ds)
        if arr.dtype != np.uint8:
            arr = arr >> 8 if arr.max() > 255 else arr
    elif arr.dtype != np.uint8:
        bits = int(ds.get("BitsStored") or arr.dtype.itemsize * 8)
        arr = arr >> max(0, bits - 8)
    return np.ascontiguousarray(arr.astype(np.uint8, copy=False))


# The longest value of each value representation a recorded attribute has (PS3.5 Table 6.2-1), in characters.
_VR_MAX_CHARS = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "UI": 64}


def check_recorded_values(ds: Dataset) -> None:
    """What a job records or quotes of the file must fit its value representation: a longer value makes the file
    malformed (and a record holding it may not fit in a DynamoDB item, whose size is bounded)."""
    # Body Part Examined is free text in practice and recorded only when it is one of the defined terms.
    for keyword in (k for k in _ALLOWED_ATTRIBUTES.values() if k != "BodyPartExamined"):
        # The VR the standard gives it: a value too long for a 16-bit length is written (and read) as UN.
        vr = dictionary_VR(keyword)
        limit = _VR_MAX_CHARS.get(vr)
        value = ds[keyword].value if limit is not None and keyword in ds else None
        if value is None:
            continue
        values = value if isinstance(value, MultiValue | list | tuple) else [value]
        if any(len(item) > limit for item in values if isinstance(item, str | bytes)):
            raise ProcessingError(
                ErrorCode.CORRUPT_DICOM,
                f"The DICOM attribute {keyword} is longer than its value representation allows "
                f"({vr}: at most {limit} characters).",
            )
    if len(str(ds.file_meta.get("TransferSyntaxUID") or "")) > _VR_MAX_CHARS["UI"]:
        raise ProcessingError(ErrorCode.CORRUPT_DICOM, "The DICOM transfer syntax UID is longer than a UID may be.")


def check_decodable(ds: Dataset) -> None:
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


def render_dataset(
    ds: Dataset,
    frame: int | None = None,
    window: Window | str | None = None,
    source: str | None = None,
    invert_monochrome1: bool = True,
    keep_view_source: bool = False,
) -> Rendering:
    """Render one frame (the middle one by default); ``window`` is a Window or a preset name."""
    check_decodable(ds)
    frames = frame_count(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about the invalid value it is asked to read
        if "NumberOfFrames" in ds and not _readable_int(ds["NumberOfFrames"].value):
            ds.NumberOfFrames = frames  # unreadable ('1A'): one frame, as DCMTK reads it; pydicom's decoder fails
    index = frames // 2 if frame is None else frame
    if not 0 <= index < frames:
        raise ValueError(f"frame {index} is out of range: the file has {frames} frame(s)")
    check_codestream(ds, index)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "PALETTE COLOR":  # before any decoding
        palette.check_segmented_palettes(ds, ds.file_meta.TransferSyntaxUID != ExplicitVRBigEndian)
    if isinstance(window, str):
        source = source or f"preset:{window}"
        window = PRESETS[window]
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    frame_data = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # Only the rendered frame is decoded, whatever the number of frames.
            arr = pixel_array(ds, index=index if frames > 1 else None)
    except RuntimeError as exc:
        if "does not support" in str(exc):  # e.g. 12-bit JPEG Extended, whose only decoder is GPL-licensed
            name = ds.file_meta.TransferSyntaxUID.name
            raise ProcessingError(
                ErrorCode.UNSUPPORTED_TRANSFER_SYNTAX,
                f"This variant of {name} cannot be decoded by the shipped decoders.",
            ) from exc
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, "The DICOM pixel data could not be decoded: it is corrupt or truncated."
        ) from exc
    except Exception as exc:  # decoders raise many types for damaged data
        raise ProcessingError(
            ErrorCode.CORRUPT_DICOM, "The DICOM pixel data could not be decoded: it is corrupt or truncated."
        ) from exc
    meta = safe_metadata(ds)
    meta["frameRendered"] = index + 1  # 1-based, as DICOM numbers frames (and every user-facing output)
    if photometric in _GRAYSCALE:
        if arr.ndim != 2:
            raise ProcessingError(ErrorCode.UNSUPPORTED_DICOM, "The grayscale DICOM image has an unexpected shape.")
        pixels, meta["window"], automatic = _render_grayscale(ds, arr, index, window, source)
        if not invert_monochrome1 and photometric == "MONOCHROME1":
            pixels = 255 - pixels  # only to show what skipping the inversion would look like
        if keep_view_source:
            frame_data = FrameData(ds, arr, index, automatic)
    elif photometric in _COLOUR or photometric == "PALETTE COLOR":
        pixels, meta["window"] = _render_colour(ds, arr, photometric), None
    else:
        raise ProcessingError(
            ErrorCode.UNSUPPORTED_DICOM, f"The photometric interpretation {photometric!r} is not supported."
        )
    return Rendering(pixels=pixels, metadata=meta, frame=frame_data)


def render(
    data: bytes,
    frame: int | None = None,
    window: Window | str | None = None,
    invert_monochrome1: bool = True,
    keep_view_source: bool = False,
) -> Rendering:
    return render_dataset(
        read_dataset(data),
        frame=frame,
        window=window,
        invert_monochrome1=invert_monochrome1,
        keep_view_source=keep_view_source,
    )


def modality_values(data: bytes, frame: int = 0) -> np.ndarray:
    """One frame after the modality LUT: Hounsfield units for CT (for histograms and exploration)."""
    ds = read_dataset(data)
    check_decodable(ds)
    arr = pixel_array(ds, index=frame if frame_count(ds) > 1 else None)
    return np.asarray(apply_modality_lut(arr, _frame_view(ds, frame)), dtype=np.float64)


def naive_render(data: bytes, frame: int | None = None) -> np.ndarray:
    """What the reference implementations do — for comparison only, never used to serve results.

    Decodes every frame, ignores the modality LUT, the window and MONOCHROME1, and stretches the image's own
    min/max to 0-255."""
    ds = pydicom.dcmread(io.BytesIO(data))
    arr = ds.pixel_array
    if frame is not None and frame_count(ds) > 1:
        arr = arr[frame]
    arr = arr.astype(np.float64)
    return ((arr - arr.min()) / max(float(arr.max() - arr.min()), 1.0) * 255.0).astype(np.uint8)
