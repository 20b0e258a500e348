"""Validation of upload requests (pure: no AWS, no heavy imports)."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from image_analyzer.definitions import UPLOAD_PREFIX
from image_analyzer.errors import ApiError, ErrorCode

MAX_BODY_BYTES = 8 * 1024
MAX_EXTENSION_CHARS = 10
UPLOAD_OBJECT_NAME = "original"
DICOM_TYPE = "application/dicom"
ALLOWED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff", DICOM_TYPE)
_TYPE_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/tif": "image/tiff",
    "application/dicom+binary": DICOM_TYPE,
}
_DICOM_SUFFIXES = (".dcm", ".dicom")
_GENERIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")
_EXTENSION = re.compile(rf"^[a-z0-9]{{1,{MAX_EXTENSION_CHARS}}}$")
_JOB_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class UploadRequest:
    """What is kept of a request: radiology file names often carry a patient's name, so of the name only the
    extension survives (no key, record, message or log line ever holds it)."""

    file_type: str
    file_size: int | None
    extension: str | None


def parse_body(body: str | None, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    if body is None or not body.strip():
        raise ApiError(
            400, ErrorCode.BAD_REQUEST, "Request body is required: a JSON object with fileName and fileType."
        )
    if len(body.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ApiError(413, ErrorCode.BODY_TOO_LARGE, f"Request body is larger than {max_bytes} bytes.")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # ValueError also covers integers of more than 4300 digits
        raise ApiError(400, ErrorCode.BAD_REQUEST, "Request body is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ApiError(400, ErrorCode.BAD_REQUEST, "Request body must be a JSON object.")
    return parsed


def file_extension(name: str) -> str | None:
    """The name's extension, lower case, if it is a short alphanumeric one ("dcm", "jpg"); otherwise None."""
    base = re.split(r"[\\/]", name)[-1]
    stem, dot, ext = base.rpartition(".")
    ext = ext.lower()
    return ext if dot and stem.strip() and _EXTENSION.match(ext) else None


def normalise_type(file_name: str, file_type: str) -> str:
    declared = file_type.strip().lower().split(";")[0].strip()
    declared = _TYPE_ALIASES.get(declared, declared)
    if declared in _GENERIC_TYPES and file_name.lower().endswith(_DICOM_SUFFIXES):
        return DICOM_TYPE
    return declared


def validate_upload_request(body: dict[str, Any], max_upload_bytes: int) -> UploadRequest:
    file_name = body.get("fileName")
    file_type = body.get("fileType", "")
    file_size = body.get("fileSize")
    if not isinstance(file_name, str) or not file_name.strip():
        raise ApiError(400, ErrorCode.BAD_REQUEST, "fileName is required and must be a non-empty string.")
    if len(file_name) > 1024:
        raise ApiError(400, ErrorCode.BAD_REQUEST, "fileName is longer than 1024 characters.")
    if not isinstance(file_type, str):
        raise ApiError(400, ErrorCode.BAD_REQUEST, "fileType must be a string.")
    if file_size is not None and (isinstance(file_size, bool) or not isinstance(file_size, int)):
        raise ApiError(400, ErrorCode.BAD_REQUEST, "fileSize must be an integer number of bytes.")
    if file_size is not None and file_size <= 0:
        raise ApiError(400, ErrorCode.BAD_REQUEST, "fileSize must be greater than zero: the file is empty.")
    if file_size is not None and file_size > max_upload_bytes:
        raise ApiError(413, ErrorCode.FILE_TOO_LARGE, f"The file is larger than the limit of {max_upload_bytes} bytes.")
    content_type = normalise_type(file_name, file_type)
    if content_type not in ALLOWED_TYPES:
        allowed = ", ".join(ALLOWED_TYPES)
        raise ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, f"File type is not allowed; use one of: {allowed}.")
    return UploadRequest(content_type, file_size, file_extension(file_name))


def new_job_id() -> str:
    return str(uuid.uuid4())


def is_job_id(value: object) -> bool:
    return isinstance(value, str) and bool(_JOB_ID.match(value))


def upload_key(job_id: str) -> str:
    return f"{UPLOAD_PREFIX}{job_id}/{UPLOAD_OBJECT_NAME}"


def job_id_from_key(key: str) -> str | None:
    """The job an uploaded object belongs to, or None for a key this system did not hand out."""
    if not key.startswith(UPLOAD_PREFIX):
        return None
    parts = key[len(UPLOAD_PREFIX) :].split("/", 1)
    return parts[0] if len(parts) == 2 and parts[1] and is_job_id(parts[0]) else None
