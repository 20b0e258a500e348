"""Files to upload: the project's photos and DICOM samples, DICOM files generated with pydicom (canaries in
every place PHI hides), and a few malformed ones."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

# Re-exported: the tests take sample files from the one lookup the project has.
from local.samples import sample_bytes as sample_bytes
from local.samples import sample_path as sample_path

CANARY = "CANARY^ZEBRA-7Q3"


def make_dicom(
    pixels: np.ndarray,
    *,
    modality: str = "DX",
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] | None = None,
    patient_name: str = "Anonymous",
    patient_id: str = "ID0",
    transfer_syntax: str = ExplicitVRLittleEndian,
    mutate: Callable[[FileDataset], None] | None = None,
) -> bytes:
    """A valid single-frame grayscale DICOM Part 10 file (e.g. MG or DX, for which no public sample exists)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # test files carry out-of-range values on purpose (a 20-character canary)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = transfer_syntax
        ds = FileDataset("generated.dcm", {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = "19700101"
        ds.AccessionNumber = "ACC-" + patient_id
        ds.InstitutionName = "General Hospital " + patient_id
        ds.Modality = modality
        ds.BodyPartExamined = "CHEST" if modality == "DX" else "BREAST"
        ds.Rows, ds.Columns = pixels.shape
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 16
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
        if window is not None:
            ds.WindowCenter, ds.WindowWidth = window
        if rescale is not None:
            ds.RescaleSlope, ds.RescaleIntercept = rescale
        ds.PixelData = pixels.astype(np.int16 if ds.PixelRepresentation else np.uint16).tobytes()
        if mutate is not None:
            mutate(ds)
        buffer = io.BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        return buffer.getvalue()


def gradient(rows: int = 256, columns: int = 256, high: int = 4095) -> np.ndarray:
    """Stored values rising left to right: a property-test friendly image."""
    return np.tile(np.linspace(0, high, columns).round().astype(np.uint16), (rows, 1))


def photo_bytes(name: str = "chelsea", fmt: str = "JPEG") -> bytes:
    """One of scikit-image's offline sample photos, encoded as JPEG or PNG."""
    from PIL import Image
    from skimage import data

    image = Image.fromarray(getattr(data, name)())
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit PNG of huge dimensions that is only a few kilobytes on disk."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def unknown_syntax_dicom() -> bytes:
    """A valid file whose transfer syntax no decoder knows (a private, unregistered UID of the same length)."""
    explicit_le = make_dicom(gradient())
    unknown = explicit_le.replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.9\x00")
    assert unknown != explicit_le
    return unknown


def photo_as(fmt: str, name: str = "chelsea") -> bytes:
    """A sample photo in another format: GIF (palette), WebP, BMP, TIFF (RGB) or TIFF16 (16-bit greyscale, as lab
    and scanner software write it, using only the low 12 bits)."""
    from PIL import Image
    from skimage import data

    pixels = getattr(data, name)()
    buffer = io.BytesIO()
    if fmt == "TIFF16":
        grey = np.asarray(Image.fromarray(pixels).convert("L"), dtype=np.uint16) * 16  # 0…4080 of 65535
        Image.fromarray(grey).save(buffer, format="TIFF")
    else:
        Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def _identifying(item: Dataset, private_group: int = 0x0009) -> Dataset:
    """``item`` with a canary where attackers and careless consoles put one: identifying attributes, free-text
    explanations, and a private block."""
    item.PatientName, item.PatientID = CANARY, CANARY
    item.private_block(private_group, "ACME CONSOLE", create=True).add_new(0x10, "LO", CANARY)
    return item


def _lut_item(descriptor: list[int], data: list[int], **explanations: str) -> Dataset:
    item = Dataset()
    item.add_new("LUTDescriptor", "US", descriptor)
    item.add_new("LUTData", "US", data)
    for keyword, text in explanations.items():
        setattr(item, keyword, text)
    return _identifying(item)


def _with_functional_groups(ds: FileDataset) -> None:
    pixel_values = _identifying(Dataset())
    pixel_values.RescaleSlope, pixel_values.RescaleIntercept, pixel_values.RescaleType = 1, -1024, "HU"
    frame_voi = _identifying(Dataset())
    frame_voi.WindowCenter, frame_voi.WindowWidth = 1000, 3000
    frame_voi.WindowCenterWidthExplanation = CANARY
    shared = _identifying(Dataset())
    shared.PixelValueTransformationSequence = Sequence([pixel_values])
    shared.FrameVOILUTSequence = Sequence([frame_voi])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = _identifying(Dataset())
    per_frame.FrameVOILUTSequence = Sequence([_identifying(Dataset())])
    ds.PerFrameFunctionalGroupsSequence = Sequence([per_frame])
    _identifying(ds, 0x0011)


def _with_lookup_tables(ds: FileDataset) -> None:
    ramp = [min(4095, 2 * value) for value in range(0, 4096, 16)]
    ds.ModalityLUTSequence = Sequence([_lut_item([256, 0, 16], ramp, LUTExplanation=CANARY, ModalityLUTType="US")])
    voi = [value * 16 for value in range(256)]
    ds.VOILUTSequence = Sequence([_lut_item([256, 0, 16], voi, LUTExplanation=CANARY)])
    ds.WindowCenterWidthExplanation = CANARY


_NESTED_CANARIES = {"macros": _with_functional_groups, "luts": _with_lookup_tables}


NESTED_CANARY_PLACES = tuple(_NESTED_CANARIES)


def nested_canary_dicom(where: str) -> bytes:
    """A greyscale file with the canary inside functional-group macro items ("macros") or LUT items and window
    explanations ("luts"), and in private blocks at every level."""
    return make_dicom(gradient(), mutate=_NESTED_CANARIES[where])
