"""Offline sample DICOM files: pydicom's bundled test data and the pydicom-data package (a dev dependency)."""

from __future__ import annotations

from pathlib import Path


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
