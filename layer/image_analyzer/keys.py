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


def job_objects(job_id: str) -> list[str]:
    """Every key a processing job may write (the served picture in each format, the frame copy, the crop): what a
    job that ends in error deletes, so that nothing it never serves stays."""
    served = [converted_key(job_id, extension) for extension in ("png", "jpg")]
    return [*served, view_source_key(job_id), crop_key(job_id)]
