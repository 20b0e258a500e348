"""What a DICOM job keeps: defined body-part terms only, and a frame copy for other windows with nothing else in it."""

from __future__ import annotations

import io
import sys
import warnings

import numpy as np
import pydicom
import pytest

from image_analyzer import budget, dicom
from image_analyzer.errors import ProcessingError
from local.samples import all_sample_paths
from tests.harness.files import CANARY, NESTED_CANARY_PLACES, gradient, make_dicom, nested_canary_dicom


def body_part(value: str) -> str | None:
    def mutate(ds) -> None:
        ds.BodyPartExamined = value

    return dicom.render(make_dicom(gradient(), mutate=mutate)).metadata["bodyPart"]


@pytest.mark.parametrize(("value", "kept"), [("CHEST", "CHEST"), (" knee ", "KNEE"), ("WHOLEBODY", "WHOLEBODY")])
def test_defined_body_part_terms_are_kept(value, kept) -> None:
    assert body_part(value) == kept


@pytest.mark.parametrize("value", ["DOE^JOHN", "left knee of Mr Smith", "CHEST 1961", "Thorax"])
def test_free_text_body_parts_are_dropped(value) -> None:
    assert body_part(value) is None


def test_the_view_source_holds_no_identifying_attribute() -> None:
    data = make_dicom(gradient(), patient_name=CANARY, patient_id=CANARY, window=(2000, 4000))
    source = dicom.render(data, keep_view_source=True).frame_copy()
    assert source is not None and CANARY.encode() not in source
    ds = pydicom.dcmread(io.BytesIO(source))
    assert "PatientName" not in ds and "PatientID" not in ds and "InstitutionName" not in ds
    assert "AccessionNumber" not in ds and "PatientBirthDate" not in ds


@pytest.mark.parametrize("where", NESTED_CANARY_PLACES)
def test_the_frame_copy_keeps_no_canary_in_any_nested_place(where) -> None:
    """Inside functional-group macro items, LUT items, explanations and private blocks: the copy holds the
    named attributes the pipeline reads, LUT items rebuilt from descriptor and data, and nothing else."""
    data = nested_canary_dicom(where)
    assert data.count(CANARY.encode()) >= 5, "the canaries are in the original"
    source = dicom.render(data, keep_view_source=True).frame_copy()
    assert source is not None and CANARY.encode() not in source
    for window in (None, "lung", dicom.Window(300, 900)):  # and it still renders as the original does
        assert np.array_equal(dicom.render(source, window=window).pixels, dicom.render(data, window=window).pixels)


def test_every_greyscale_sample_renders_the_same_from_its_view_source(report) -> None:
    # Whatever the window, the frame copy gives the original's render, pixel for pixel.
    compared = 0
    for path in all_sample_paths():
        data = path.read_bytes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                rendering = dicom.render(data, keep_view_source=True)
            except (ProcessingError, ValueError):
                continue
            if rendering.metadata.get("window") is None:
                assert rendering.frame_copy() is None, "colour is never windowed: no source is kept"
                continue
            copy = rendering.frame_copy()
            assert copy is not None, path.name
            for window in (None, "lung", dicom.Window(100, 500)):
                expected = dicom.render(data, window=window).pixels
                actual = dicom.render(copy, window=window).pixels
                assert np.array_equal(expected, actual), (path.name, window)
        compared += 1
    report(f"view sources: {compared} greyscale sample files render identically from their frame copy")
    assert compared >= 50


def test_without_memory_for_the_copy_the_render_still_succeeds(monkeypatch) -> None:
    data = make_dicom(gradient(512, 512), window=(2000, 4000))
    full = dicom.render(data, keep_view_source=True)
    full_copy = full.frame_copy()  # made on demand: before the budget tightens
    frame_bytes = 512 * 512 * 2
    real = budget.available_bytes

    def after_decoding() -> int:
        # What is left once the frame is decoded (the process grew): room for two copies of it, not three.
        return frame_bytes * 2 if sys._getframe(1).f_code.co_name == "view_source" else real()

    monkeypatch.setattr(budget, "available_bytes", after_decoding)
    tight = dicom.render(data, keep_view_source=True)
    assert full_copy is not None and tight.frame_copy() is None
    assert np.array_equal(full.pixels, tight.pixels)
