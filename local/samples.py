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
