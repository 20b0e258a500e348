"""The attributes that leave a file: an allow-list of technical ones, each checked against its value representation."""

from __future__ import annotations

from typing import Any

from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from image_analyzer.dicom.body_parts import BODY_PARTS
from image_analyzer.dicom.reading import frame_count
from image_analyzer.errors import ErrorCode, ProcessingError

# The only DICOM attributes that ever leave the file: technical, never identifying.
ALLOWED_ATTRIBUTES = {
    "modality": "Modality",
    "bodyPart": "BodyPartExamined",
    "rows": "Rows",
    "columns": "Columns",
    "photometric": "PhotometricInterpretation",
    "bitsStored": "BitsStored",
}


def safe_metadata(ds: Dataset) -> dict[str, Any]:
    """The allow-listed technical attributes (PHI never leaves the file)."""
    meta: dict[str, Any] = {}
    for key, keyword in ALLOWED_ATTRIBUTES.items():
        value = ds.get(keyword)
        meta[key] = None if value in (None, "") else (int(value) if isinstance(value, int) else str(value))
    if meta["bodyPart"] is not None:
        term = meta["bodyPart"].strip().upper()
        meta["bodyPart"] = term if term in BODY_PARTS else None
    meta["frames"] = frame_count(ds)
    tsyntax = ds.file_meta.get("TransferSyntaxUID")
    meta["transferSyntax"] = tsyntax.name if tsyntax is not None else None
    return meta


# The longest value of each value representation a recorded attribute has (PS3.5 Table 6.2-1), in characters.
_VR_MAX_CHARS = {"AE": 16, "CS": 16, "SH": 16, "LO": 64, "UI": 64}


def check_recorded_values(ds: Dataset) -> None:
    """What a job records or quotes of the file must fit its value representation: a longer value makes the file
    malformed (and a record holding it may not fit in a DynamoDB item, whose size is bounded)."""
    # Body Part Examined is free text in practice and recorded only when it is one of the defined terms.
    for keyword in (k for k in ALLOWED_ATTRIBUTES.values() if k != "BodyPartExamined"):
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
