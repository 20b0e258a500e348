"""Rekognition's error responses: the error type (``__type``), a message and the HTTP status."""

from __future__ import annotations


class RekognitionError(Exception):
    def __init__(self, error_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status
