"""Where a job's derived objects live. Everything a job shows is under converted/ (never under uploads/: writing
there would trigger processing again), written once, and named by the job id alone."""

from __future__ import annotations

from image_analyzer.definitions import CONVERTED_PREFIX


def converted_key(job_id: str, extension: str = "png") -> str:
    """What imageUrl serves: the DICOM render or converted photo (PNG), or the JPEG/PNG photo as uploaded."""
    return f"{CONVERTED_PREFIX}{job_id}.{extension}"


def crop_key(job_id: str) -> str:
    return f"{CONVERTED_PREFIX}{job_id}-crop.png"


def view_source_key(job_id: str) -> str:
    """A greyscale DICOM job's frame, stored values and windowing attributes only: what /render draws from."""
    return f"{CONVERTED_PREFIX}{job_id}/source.dcm"
