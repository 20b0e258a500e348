"""Offline sample DICOM files: pydicom's bundled test data and the pydicom-data package (a dev dependency)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def sample_path(name: str) -> Path:
    """The path of a sample file, looked up in pydicom-data first, then in pydicom's own test data."""
    from pydicom.data import get_testdata_file

    try:
        import data_store

        extra = Path(data_store.__file__).parent / "data" / name
        if extra.exists():
            return extra
    except ImportError:  # pydicom-data is only in the dev install
        pass
    path = get_testdata_file(name)
    if path is None:
        raise FileNotFoundError(f"{name} is in neither pydicom's test data nor pydicom-data")
    return Path(path)


def sample_bytes(name: str) -> bytes:
    return sample_path(name).read_bytes()


def all_sample_paths() -> list[Path]:
    """Every sample DICOM file of both packages, sorted by name."""
    import warnings

    from pydicom.data import get_testdata_files

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns that its optional downloads are unavailable offline
        files = [Path(f) for f in get_testdata_files("*.dcm")]
    try:
        import data_store

        files += sorted((Path(data_store.__file__).parent / "data").glob("*.dcm"))
    except ImportError:  # pydicom-data is only in the dev install
        pass
    return sorted(set(files), key=lambda p: p.name)


@dataclass(frozen=True)
class SampleRender:
    path: Path
    modality: str  # "?" where the file names none
    label_bytes: bytes  # what the processor sends to DetectText and DetectLabels
    image: Any  # the same, decoded (a PIL image)


def distinct_dicom_renders(names: tuple[str, ...] | None = None) -> Iterator[SampleRender]:
    """Every sample that renders (or those ``names``), once for each distinct picture: the same pixels in another
    transfer syntax are skipped."""
    import io
    import warnings

    from PIL import Image

    from image_analyzer.errors import ProcessingError
    from image_analyzer.processing import analyse

    seen: set[bytes] = set()
    for path in all_sample_paths():
        if names is not None and path.name not in names:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # pydicom on the samples' own invalid values ("1A")
                analysis = analyse(path.read_bytes(), "application/dicom")
        except ProcessingError:
            continue
        image = Image.open(io.BytesIO(analysis.label_bytes))
        image.load()
        key = image.tobytes()[:4096] + bytes(str(image.size), "ascii")
        if key in seen:
            continue
        seen.add(key)
        yield SampleRender(path, (analysis.dicom or {}).get("modality") or "?", analysis.label_bytes, image)
