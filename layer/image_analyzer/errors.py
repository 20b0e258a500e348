"""Outcomes a user can act on: each has a stable code and a human-readable message without internals."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # Upload-time (API) errors.
    BAD_REQUEST = "BAD_REQUEST"
    BODY_TOO_LARGE = "BODY_TOO_LARGE"
    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    INVALID_JOB_ID = "INVALID_JOB_ID"
    JOB_NOT_FOUND = "JOB_NOT_FOUND"
    VIEW_NOT_AVAILABLE = "VIEW_NOT_AVAILABLE"  # /render: not a completed greyscale DICOM job
    UPLOAD_GONE = "UPLOAD_GONE"  # /render: the job's stored source has expired
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"  # the caller's daily upload (or render) quota is used up
    VIEW_LIMIT_REACHED = "VIEW_LIMIT_REACHED"  # /render: the job keeps as many custom windows as it may
    FORBIDDEN = "FORBIDDEN"  # a verified token that cannot own a job (no subject)
    NOT_FOUND = "NOT_FOUND"
    INTERNAL = "INTERNAL"
    # Processing errors recorded on the job.
    EMPTY_OBJECT = "EMPTY_OBJECT"
    OBJECT_TOO_LARGE = "OBJECT_TOO_LARGE"
    UNSUPPORTED_FORMAT = "UNSUPPORTED_FORMAT"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    CORRUPT_IMAGE = "CORRUPT_IMAGE"
    IMAGE_TOO_LARGE = "IMAGE_TOO_LARGE"
    IMAGE_DIMENSIONS_UNSUPPORTED = "IMAGE_DIMENSIONS_UNSUPPORTED"
    IMAGE_TOO_COMPLEX = "IMAGE_TOO_COMPLEX"  # its structure (scans, strips) would take too long to decode
    DECODE_TIMED_OUT = "DECODE_TIMED_OUT"  # decoding ran past the per-file time limit and was stopped
    CORRUPT_DICOM = "CORRUPT_DICOM"
    DICOM_NO_PIXEL_DATA = "DICOM_NO_PIXEL_DATA"
    DICOM_NOT_AN_IMAGE = "DICOM_NOT_AN_IMAGE"  # a segmentation, a report, an RT plan…: its SOP class is no picture
    UNSUPPORTED_TRANSFER_SYNTAX = "UNSUPPORTED_TRANSFER_SYNTAX"
    UNSUPPORTED_DICOM = "UNSUPPORTED_DICOM"
    LABELS_REJECTED = "LABELS_REJECTED"
    REDACTION_FAILED = "REDACTION_FAILED"  # text in the picture could not be looked for: nothing is served
    RESULT_TOO_LARGE = "RESULT_TOO_LARGE"  # the job's record would not fit in a DynamoDB item
    PROCESSING_FAILED = "PROCESSING_FAILED"


class ProcessingError(Exception):
    """A permanent failure of one job: retrying cannot help, the job ends ``error`` with this code."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[ProcessingError], tuple[ErrorCode, str]]:
        # Raised in a forked decode and sent back pickled: Exception's default would pass the message only.
        return type(self), (self.code, self.message)


class ApiError(Exception):
    """A client error from the API with its HTTP status."""

    def __init__(self, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
