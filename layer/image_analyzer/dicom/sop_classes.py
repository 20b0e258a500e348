"""DICOM objects that are not pictures, by SOP class: refused with what they are and why, before anything decodes.

A segmentation has pixel data (its frames are masks) and "renders" as a white blob; a structured report, a
presentation state or an RT plan has none. Either way the user learns more from "this is a segmentation: upload the
image it segments" than from a blob or DICOM_NO_PIXEL_DATA.
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.uid import UID

from image_analyzer.errors import ErrorCode, ProcessingError

_STORAGE = "1.2.840.10008.5.1.4.1.1."

# (a SOP class UID, or a root ending in "." that covers a family of them) → why it is not a picture.
NOT_PICTURES: tuple[tuple[str, str], ...] = (
    (_STORAGE + "66.4", "a segmentation: its frames are masks of regions in other images; upload the image it segments"),
    (_STORAGE + "66.5", "a surface segmentation: meshes of regions in other images"),
    (_STORAGE + "66.7", "a label map segmentation: its frames label regions in other images"),
    (_STORAGE + "66", "raw data: vendor data, not a picture"),
    (_STORAGE + "66.1", "a spatial registration: how other images align"),
    (_STORAGE + "66.2", "spatial fiducials: points marked on other images"),
    (_STORAGE + "66.3", "a deformable registration: how other images align"),
    (_STORAGE + "67", "a real-world value mapping for other images"),
    (_STORAGE + "481.3", "an RT structure set: contours drawn on other images"),
    (_STORAGE + "481.4", "an RT treatment record: no picture"),
    (_STORAGE + "481.5", "an RT plan: no picture"),
    (_STORAGE + "481.6", "an RT treatment record: no picture"),
    (_STORAGE + "481.7", "an RT treatment summary: no picture"),
    (_STORAGE + "481.8", "an RT ion plan: no picture"),
    (_STORAGE + "481.9", "an RT ion treatment record: no picture"),
    (_STORAGE + "88.", "a structured report or key object selection: a document that refers to images"),
    (_STORAGE + "11.", "a presentation state: how to display another image, not an image"),
    (_STORAGE + "9.", "a waveform (ECG, audio, hemodynamics): signals, not a picture"),
    (_STORAGE + "104.", "an encapsulated document (PDF, CDA, a 3D model)"),
    ("1.2.840.10008.5.1.4.38.", "a hanging protocol: how to lay out other images"),
    ("1.2.840.10008.5.1.4.39.", "a colour palette for other images"),
)  # fmt: skip


def sop_class(ds: Dataset) -> UID | None:
    uid = ds.get("SOPClassUID") or ds.get("file_meta", Dataset()).get("MediaStorageSOPClassUID")
    return UID(str(uid).strip()) if uid else None


def why_not_a_picture(uid: str) -> str | None:
    for root, why in NOT_PICTURES:
        if uid == root or (root.endswith(".") and uid.startswith(root)):
            return why
    return None


def check_is_picture(ds: Dataset) -> None:
    """DICOM_NOT_AN_IMAGE for an object whose SOP class is not a picture, naming the class and why."""
    uid = sop_class(ds)
    why = why_not_a_picture(str(uid)) if uid is not None else None
    if why is not None:
        name = uid.name if uid.name != str(uid) else "an object"
        raise ProcessingError(
            ErrorCode.DICOM_NOT_AN_IMAGE, f"This DICOM file is {name} ({uid}), {why}. Only images can be analysed."
        )
