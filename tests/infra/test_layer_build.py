"""The layer build: right platform and Python, deterministic, no GPL, within Lambda's size limit."""

from __future__ import annotations

import os
import shutil
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


def test_pruned_imagecodecs_still_decodes_twelve_bit_jpeg(tmp_path: Path) -> None:
    """The layer keeps only the codecs the core uses: prune this machine's imagecodecs the same way and decode
    the 12-bit JPEG Extended sample with what is left, in a fresh interpreter."""
    import subprocess
    import sys

    import imagecodecs

    installed = Path(imagecodecs.__file__).parent
    shutil.copytree(installed, tmp_path / "imagecodecs")
    if (installed.parent / "imagecodecs.libs").exists():
        shutil.copytree(installed.parent / "imagecodecs.libs", tmp_path / "imagecodecs.libs")
    before = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    removed = build.prune_bundles(tmp_path)
    assert removed > before / 2, "most of imagecodecs is codecs the core does not use"
    kept = {p.name.split(".")[0] for p in (tmp_path / "imagecodecs").glob("_*.so")}
    assert set(build.KEEP_ONLY["imagecodecs"]) <= kept and len(kept) <= 6  # and what they import
    script = (
        "import imagecodecs, pydicom\n"
        f"assert imagecodecs.__file__.startswith({str(tmp_path)!r})\n"
        "from pydicom.encaps import generate_frames\n"
        "from local.samples import sample_path\n"
        "ds = pydicom.dcmread(sample_path('JPGExtended.dcm'))\n"
        "frame = next(generate_frames(ds.PixelData, number_of_frames=1))\n"
        "pixels = imagecodecs.jpeg8_decode(frame)\n"
        "print(pixels.dtype, pixels.shape)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{build.ROOT}"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["uint16", "(1024,", "256)"]
