"""The layer build: right platform and Python, deterministic, no GPL, within Lambda's size limit."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from image_analyzer import text_model
from layer import build

ELF_MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}
# What the layer is held to (the build itself refuses less than 40 MB of headroom under Lambda's 250 MB).
TARGET_UNZIPPED_BYTES = 190 * 1024 * 1024


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
def _report_size(layer: build.LayerBuild, arch: str, report) -> None:
    report(
        f"layer {arch}: {layer.unzipped_bytes / 2**20:.1f} MB unzipped ({layer.path.stat().st_size / 2**20:.1f} MB "
        f"zipped), headroom {(build.LAMBDA_UNZIPPED_LIMIT - layer.unzipped_bytes) / 2**20:.1f} MB; removed "
        + ", ".join(f"{kind} {size / 2**20:.1f} MB" for kind, size in layer.removed.items())
        + "; every ELF file's needed libraries are in the layer or Lambda's runtime"
    )
    assert layer.unzipped_bytes < TARGET_UNZIPPED_BYTES


def test_layer_is_built_for_lambda_python312_deterministically(tmp_path: Path, report) -> None:
    first = build.build("arm64", tmp_path / "a.zip")  # refuses a missing library or less than 40 MB of headroom
    second = build.build("arm64", tmp_path / "b.zip")
    assert first.sha256 == second.sha256, "same input must give the same zip"
    assert build.unresolved_libraries_in_zip(first.path) == {}
    _report_size(first, "arm64", report)
    with zipfile.ZipFile(first.path) as archive:
        names = archive.namelist()
        assert "python/image_analyzer/dicom/render.py" in names and "python/pydicom/__init__.py" in names
        # The in-function text detector's model ships where text_model looks for it first.
        assert "python/image_analyzer/models/ppocrv4_det.onnx" in names
        assert f"python/{text_model._PACKAGED.relative_to(text_model._PACKAGED.parents[2])}" in names
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


@pytest.mark.slow
def test_the_x86_64_layer_keeps_its_headroom_and_links_whole(tmp_path: Path, report) -> None:
    layer = build.build("x86_64", tmp_path / "x.zip")  # refuses a missing library or less than 40 MB of headroom
    assert build.unresolved_libraries_in_zip(layer.path) == {}
    _report_size(layer, "x86_64", report)
    assert layer.removed["unlinked ELF files"] > 40 * 2**20
    with zipfile.ZipFile(layer.path) as archive:
        names = set(archive.namelist())
    assert "python/_gdcm/libgdcmMSFF.so.3.2" in names and "python/_gdcm/libgdcmMSFF.so" not in names
    assert not any(name.startswith("python/onnxruntime/capi/libonnxruntime.so") for name in names)
    assert "python/_gdcm/gdcmconv" not in names


def test_a_library_nothing_provides_is_found(tmp_path: Path) -> None:
    """The static link check reads real ELF files: a copy of an extension module whose libraries are absent."""
    import _gdcm

    shutil.copy2(Path(_gdcm.__file__).parent / "_gdcmswig.so", tmp_path / "_gdcmswig.so")
    missing = build.unresolved_libraries(tmp_path)
    assert "libgdcmMSFF.so.3.2" in missing["_gdcmswig.so"] and "libc.so.6" not in missing["_gdcmswig.so"]


def test_pruned_imagecodecs_still_decodes_twelve_bit_jpeg(tmp_path: Path) -> None:
    """The layer keeps only the codecs the core uses: prune this machine's imagecodecs the same way and decode
    the 12-bit JPEG Extended sample with what is left, in a fresh interpreter."""
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
    assert _run_fresh(script, tmp_path).split() == ["uint16", "(1024,", "256)"]


def _run_fresh(script: str, path: Path) -> str:
    """``script`` in a new interpreter that imports from ``path`` first (the pruned copies), then the project."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{path}{os.pathsep}{build.ROOT}"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_elf_pruning_keeps_what_the_modules_link_and_they_still_work(tmp_path: Path) -> None:
    """Prune this machine's GDCM and onnxruntime as the layer build does, then, in a fresh interpreter that imports
    the pruned copies, decode JPEG lossless, baseline, JPEG 2000 and JPEG-LS samples with GDCM (each of its codec libraries) and run the
    bundled ONNX model: the same pixels and the same scores as the unpruned packages give."""
    import _gdcm
    import onnxruntime

    site = Path(_gdcm.__file__).parent.parent
    for name in ("_gdcm", "python_gdcm.libs", "gdcm.py", "gdcmswig.py", "onnxruntime", "onnxruntime.libs"):
        source = site / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, tmp_path / name)
    assert Path(onnxruntime.__file__).parent.parent == site
    before = {folder: sorted(p.name for p in (tmp_path / folder).iterdir()) for folder in build.LINKED_ONLY}
    removed = build.prune_unlinked(tmp_path)
    after = {folder: sorted(p.name for p in (tmp_path / folder).iterdir()) for folder in build.LINKED_ONLY}
    gone = {folder: sorted(set(before[folder]) - set(after[folder])) for folder in build.LINKED_ONLY}
    assert removed > 40 * 2**20, f"{removed / 2**20:.0f} MB removed"
    assert (
        "gdcmconv" in gone["_gdcm"] and "libgdcmMSFF.so" in gone["_gdcm"] and "libgdcmMSFF.so.3.2" not in gone["_gdcm"]
    )
    assert any(name.startswith("libonnxruntime.so") for name in gone["onnxruntime/capi"])
    assert build.unresolved_libraries(tmp_path) == {}
    script = (
        "import hashlib, json\n"
        "import numpy as np, _gdcm, onnxruntime\n"
        "from PIL import Image\n"
        "from pydicom.pixels import pixel_array\n"
        "from local.samples import sample_path\n"
        "from local.label_service.label_model import Classifier\n"
        "out = {'gdcm': _gdcm.__file__, 'onnx': onnxruntime.__file__, 'pixels': {}}\n"
        "for name in ('JPGLosslessP14SV1_1s_1f_8b.dcm', 'SC_rgb_jpeg_dcmtk.dcm', 'JPEG-LL.dcm', 'US1_J2KR.dcm', 'MR_small_jpeg_ls_lossless.dcm'):\n"
        "    pixels = pixel_array(sample_path(name), decoding_plugin='gdcm')\n"
        "    out['pixels'][name] = hashlib.sha256(pixels.tobytes()).hexdigest()\n"
        "ramp = np.add.outer(np.arange(224), np.arange(224)).astype(np.uint8)\n"
        "logits, _ = Classifier().outputs(Image.fromarray(np.dstack([ramp, ramp.T, 255 - ramp])))\n"
        "out['logits'] = [round(float(v), 5) for v in np.ravel(logits)[:50]]\n"
        "print(json.dumps(out))\n"
    )
    pruned = json.loads(_run_fresh(script, tmp_path))
    whole = json.loads(_run_fresh(script, tmp_path / "nothing-here"))
    assert pruned["gdcm"].startswith(str(tmp_path)) and pruned["onnx"].startswith(str(tmp_path))
    assert not whole["gdcm"].startswith(str(tmp_path))
    assert pruned["pixels"] == whole["pixels"] and pruned["logits"] == whole["logits"]
