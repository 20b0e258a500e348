"""DCMTK as an independent oracle: our 8-bit renders equal ``dcmj2pnm``'s within one grey level.

Every greyscale test file (pydicom's and pydicom-data's) that DCMTK can decode is compared on the frame we render:
with the file's own first window (``+Wi 1``) or VOI LUT (``+Wl 1``) where it has one, else with the same explicit
window on both sides (``+Ww c w``). DCMTK truncates where we round, hence one level of tolerance.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from image_analyzer import dicom
from image_analyzer.errors import ProcessingError
from local.reference_render import naive_render
from local.samples import all_sample_paths

DCMJ2PNM = shutil.which("dcmj2pnm")
MIN_FILES_COMPARED = 30
# DCMTK 3.6.7 renders these 32-bit explicit big-endian files unlike their little-endian twins (the same values):
# we are compared with DCMTK's render of the twin instead, and the twin's render must differ from DCMTK's own
# render of the big-endian file for the exception to stand.
DCMTK_BIG_ENDIAN_DEFECT = {"rtdose_expb.dcm": "rtdose.dcm", "rtdose_expb_1frame.dcm": "rtdose_1frame.dcm"}


def _case(path: Path) -> tuple[list[str], dicom.Window | None, int] | None:
    """(dcmj2pnm's window options, our window override, the 0-based frame) for a greyscale file, else None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # some test files carry invalid values on purpose (badVR.dcm)
        return _case_of(path)


def _case_of(path: Path) -> tuple[list[str], dicom.Window | None, int] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = dicom.read_dataset(path.read_bytes())
            dicom.check_decodable(ds)
    except (ProcessingError, OSError):
        return None
    if str(ds.get("PhotometricInterpretation", "")).strip() not in ("MONOCHROME1", "MONOCHROME2"):
        return None
    frame = dicom.frame_count(ds) // 2
    view = dicom.frame_view(ds, frame)
    if view.get("VOILUTSequence"):
        return ["+Wl", "1"], None, frame
    if "WindowCenter" in view and "WindowWidth" in view:
        return ["+Wi", "1"], None, frame
    # No window of its own: the same explicit window on both sides, over the frame's own modality values.
    try:
        values = dicom.modality_values(path.read_bytes(), frame)
    except Exception:  # undecodable here: not comparable
        return None
    low, high = float(values.min()), float(values.max())
    center, width = round((low + high) / 2), max(2, round(high - low))
    return ["+Ww", str(center), str(width)], dicom.Window(center, width), frame


def _dcmtk_render(path: Path, options: list[str], frame: int, out: Path) -> np.ndarray | None:
    target = out / f"{path.stem}.png"
    done = subprocess.run(
        # -O: DCMTK burns overlay planes into the picture by default; we do not render overlays.
        [DCMJ2PNM, "--quiet", "+on", "-O", "+F", str(frame + 1), *options, str(path), str(target)],  # type: ignore[list-item]
        capture_output=True,
        timeout=120,
    )
    if done.returncode != 0 or not target.exists():
        return None  # a transfer syntax DCMTK's build cannot decode (JPEG 2000): not comparable
    return np.asarray(Image.open(target))


def test_our_renders_equal_dcmtk_within_one_level(tmp_path, report) -> None:
    if DCMJ2PNM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dcmtk is not installed; CI must install it (apt-get install dcmtk)")
        pytest.skip("dcmtk is not installed (apt-get install dcmtk): the DCMTK oracle cannot run")
    compared, mismatched, not_decodable = [], [], []
    for path in all_sample_paths():
        case = _case(path)
        if case is None:
            continue
        options, window, frame = case
        theirs = _dcmtk_render(path, options, frame, tmp_path)
        if theirs is None:
            not_decodable.append(path.name)
            continue
        if path.name in DCMTK_BIG_ENDIAN_DEFECT:
            twin = _dcmtk_render(path.with_name(DCMTK_BIG_ENDIAN_DEFECT[path.name]), options, frame, tmp_path)
            assert twin is not None and int(np.abs(twin.astype(int) - theirs.astype(int)).max()) > 1, path.name
            theirs = twin
        try:
            ours = dicom.render(path.read_bytes(), frame=frame, window=window).pixels
        except ProcessingError as exc:
            mismatched.append(f"{path.name}: DCMTK renders it, we refuse it ({exc.code}: {exc.message})")
            continue
        if theirs.shape != ours.shape:
            mismatched.append(f"{path.name}: shape {ours.shape} vs DCMTK {theirs.shape}")
            continue
        difference = int(np.abs(ours.astype(int) - theirs.astype(int)).max())
        compared.append(path.name)
        if difference > 1:
            mismatched.append(f"{path.name} ({' '.join(options)}): differs by up to {difference} levels")
    report(
        f"DCMTK oracle: {len(compared)} files equal within one level; "
        f"{len(not_decodable)} not decodable by this DCMTK build ({', '.join(not_decodable[:6])}…)"
    )
    assert mismatched == []
    assert len(compared) >= MIN_FILES_COMPARED


def test_the_oracle_would_see_a_wrong_render(tmp_path) -> None:
    """The comparison is not vacuous: the naive rendering of a MONOCHROME1 radiograph (not inverted) differs from
    DCMTK's by far more than a level."""
    if DCMJ2PNM is None:
        pytest.skip("dcmtk is not installed")
    from local.samples import sample_path

    path = sample_path("RG3_UNCR.dcm")
    case = _case(path)
    assert case is not None
    theirs = _dcmtk_render(path, case[0], case[2], tmp_path)
    assert theirs is not None
    naive = naive_render(path.read_bytes())
    assert int(np.abs(naive.astype(int) - theirs.astype(int)).max()) > 10


# Served pictures against ``dcmj2pnm +a +Sxf 1`` (square pixels, the width kept; its default interpolation): the
# same size, and the same grey levels but where the two scalers' interpolations differ (measured: mean 0.5, 99th
# percentile 1 to 7 levels).
ASPECT_MEAN_LEVELS = 1.0
ASPECT_P99_LEVELS = 8


def _aspect_cases(tmp_path: Path) -> list[tuple[str, Path, list[str]]]:
    from tests.harness.files import make_dicom

    yy, xx = np.mgrid[0:101, 0:90]
    pixels = (xx * 30 + yy * 10 + 1500 * ((xx - 45) ** 2 + (yy - 50) ** 2 < 400)).astype(np.uint16)
    cases = []
    for keyword, value in (
        ("PixelAspectRatio", [3, 2]),
        ("PixelSpacing", [0.3, 0.2]),
        ("ImagerPixelSpacing", [0.2, 0.3]),
    ):
        path = tmp_path / f"{keyword}.dcm"
        path.write_bytes(
            make_dicom(pixels, window=(2048, 4096), mutate=lambda ds, k=keyword, v=value: setattr(ds, k, v))
        )
        cases.append((f"{keyword} {value[0]}\\{value[1]}", path, ["+Wi", "1"]))
    from local.samples import sample_path

    cases += [(name, sample_path(name), []) for name in ("color-pl.dcm", "color-px.dcm")]  # PixelAspectRatio 4\\3
    return cases


def test_pixels_are_served_square_as_dcmtk_scales_them(tmp_path, report) -> None:
    if DCMJ2PNM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("dcmtk is not installed; CI must install it (apt-get install dcmtk)")
        pytest.skip("dcmtk is not installed (apt-get install dcmtk): the DCMTK oracle cannot run")
    measured = []
    for name, path, options in _aspect_cases(tmp_path):
        theirs = _dcmtk_render(path, ["+a", "+Sxf", "1.0", *options], 0, tmp_path)
        assert theirs is not None, name
        rendering = dicom.render(path.read_bytes(), frame=0)
        ours = rendering.served()
        theirs = theirs if theirs.ndim == ours.ndim else np.stack([theirs] * 3, axis=-1)
        assert rendering.pixels.shape != ours.shape, f"{name}: stored and served grids differ"
        assert ours.shape == theirs.shape, f"{name}: {ours.shape} vs DCMTK {theirs.shape}"
        difference = np.abs(ours.astype(int) - theirs.astype(int))
        mean, p99 = float(difference.mean()), float(np.percentile(difference, 99))
        measured.append(f"{name} {ours.shape[1]}x{ours.shape[0]} mean {mean:.2f} p99 {p99:.0f}")
        assert mean <= ASPECT_MEAN_LEVELS and p99 <= ASPECT_P99_LEVELS, measured[-1]
    report("square pixels against dcmj2pnm +a: " + "; ".join(measured))
