"""Where a classifier's spec and model are read from: ``s3://bucket/key`` or a path (e.g. a model shipped in a
layer under /opt). The model's location in the spec is relative to the spec's own."""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path

from image_analyzer.classifier import Classifier, ClassifierError, ClassifierSpec, ClassifierStage


def read_location(location: str, s3_read: Callable[[str, str], bytes]) -> bytes:
    """Bytes at ``s3://bucket/key`` (through ``s3_read(bucket, key)``) or at a filesystem path."""
    if location.startswith("s3://"):
        bucket, _, key = location[len("s3://") :].partition("/")
        return s3_read(bucket, key)
    return Path(location).read_bytes()


def beside(location: str, relative: str) -> str:
    """``relative`` resolved against the folder of ``location`` (an S3 URI or a path)."""
    if relative.startswith("s3://") or posixpath.isabs(relative):
        return relative
    if location.startswith("s3://"):
        return posixpath.join(posixpath.dirname(location), relative)
    return str(Path(location).parent / relative)


def load_classifier(location: str, s3_read: Callable[[str, str], bytes]) -> Classifier:
    try:
        spec = ClassifierSpec.parse(read_location(location, s3_read))
        return Classifier(spec, read_location(beside(location, spec.model), s3_read))
    except ClassifierError:
        raise
    except Exception as exc:  # missing object or file, access denied…
        raise ClassifierError(f"the classifier could not be read from {location}: {type(exc).__name__}") from exc


def load_stage(location: str | None, s3_read: Callable[[str, str], bytes]) -> ClassifierStage:
    """The classifier stage for a spec location (None or empty: off); a model that cannot be loaded makes the
    stage broken, with the reason, rather than failing the worker."""
    if not location:
        return ClassifierStage.off()
    try:
        return ClassifierStage.ready(load_classifier(location, s3_read))
    except ClassifierError as exc:
        return ClassifierStage.broken(str(exc))
