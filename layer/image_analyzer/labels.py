"""Rekognition adapter: DetectLabels with permanent rejections told apart from transient failures."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from image_analyzer.errors import ErrorCode, ProcessingError

# Rekognition's own verdicts on an image: retrying the same bytes cannot succeed.
_PERMANENT = {
    "InvalidImageFormatException": "The image format is not supported by the label service.",
    "ImageTooLargeException": "The image is too large for the label service.",
    "InvalidParameterException": "The label service rejected the image (it may be too small or malformed).",
}


class LabelDetector:
    def __init__(self, client: Any, max_labels: int, min_confidence: float) -> None:
        """``client`` is a boto3 Rekognition client."""
        self._rekognition = client
        self.max_labels = max_labels
        self.min_confidence = min_confidence

    def detect(self, image: bytes) -> dict[str, Any]:
        try:
            response = self._rekognition.detect_labels(
                Image={"Bytes": image}, MaxLabels=self.max_labels, MinConfidence=self.min_confidence
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _PERMANENT:
                raise ProcessingError(ErrorCode.LABELS_REJECTED, _PERMANENT[code]) from exc
            raise
        response.pop("ResponseMetadata", None)
        return response
