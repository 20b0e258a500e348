"""The layer build: right platform and Python, deterministic, no GPL, within Lambda's size limit."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from layer import build

ELF_MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}


@pytest.mark.parametrize(
    ("licence", "gpl"),
    [
        ("GPL-3.0-or-later", True),
        ("License :: OSI Approved :: GNU General Public License v3 (GPLv3)", True),
        ("AGPL-3.0", True),
        ("License :: OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)", False),
        ("LGPL-2.1", False),
        ("MIT", False),
        ("BSD-3-Clause | License :: OSI Approved :: BSD License", False),
        ("Apache-2.0", False),
    ],
)
def test_gpl_detection(licence: str, gpl: bool) -> None:
    assert build.is_gpl(licence) is gpl


def test_gpl_packages_are_refused(tmp_path: Path) -> None:
    with pytest.raises(build.LayerError, match="GPL"):
        build.build("x86_64", tmp_path / "l.zip", requirements=["pylibjpeg-libjpeg==2.*"])


@pytest.mark.slow
def test_layer_is_built_for_lambda_python312_deterministically(tmp_path: Path) -> None:
    first = build.build("arm64", tmp_path / "a.zip")
    second = build.build("arm64", tmp_path / "b.zip")
    assert first.sha256 == second.sha256, "same input must give the same zip"
    assert first.unzipped_bytes < build.LAMBDA_UNZIPPED_LIMIT
    print(f"layer: {first.path.stat().st_size / 2**20:.1f} MB zipped, {first.unzipped_bytes / 2**20:.1f} MB unzipped")
    with zipfile.ZipFile(first.path) as archive:
        names = archive.namelist()
        assert "python/image_analyzer/dicom.py" in names and "python/pydicom/__init__.py" in names
        assert not [n for n in names if n.endswith(".pyc")]
        extensions = [n for n in names if n.endswith(".so") and "cpython" in n]
        assert extensions and all("cpython-312-aarch64-linux-gnu" in n for n in extensions), extensions[:5]
        shared_objects = [n for n in names if ".so" in Path(n).name]
        for name in shared_objects:
            header = archive.read(name)[:20]
            assert header[:4] == b"\x7fELF"
            assert int.from_bytes(header[18:20], "little") == ELF_MACHINE["arm64"], name
        wheels = [archive.read(n).decode() for n in names if n.endswith(".dist-info/WHEEL")]
        platform_tags = [line for w in wheels for line in w.splitlines() if line.startswith("Tag:") and "linux" in line]
        assert platform_tags and all("aarch64" in t for t in platform_tags)
        assert all("x86_64" not in t for t in platform_tags)
