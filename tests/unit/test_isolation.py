"""The forked decode: results and errors come back intact, a decode past its time limit or killed ends the job
with its own code, and no child outlives its work."""

from __future__ import annotations

import faulthandler
import io
import os
import signal
import time

import numpy as np
import pydicom
import pytest

from image_analyzer import processing
from image_analyzer.errors import ErrorCode, ProcessingError
from image_analyzer.isolation import WorkDied, WorkTimedOut, run_isolated
from local.runtime import process_tree
from tests.harness.files import sample_bytes
from tests.harness.hostile import slow_progressive_jpeg


def spin() -> None:
    while True:  # pure computation: no signal handler or thread could stop it from inside
        pass


def test_results_come_back_whole_with_large_arrays_out_of_band() -> None:
    array = np.arange(12_000_000, dtype=np.uint16).reshape(3000, 4000)
    back = run_isolated(lambda: {"pixels": array * 2, "name": "x"}, 30)
    assert back["name"] == "x" and back["pixels"].shape == (3000, 4000)
    assert np.array_equal(back["pixels"], array * 2)


def test_a_processing_error_raised_in_the_child_is_raised_with_its_code() -> None:
    def refuse() -> None:
        raise ProcessingError(ErrorCode.IMAGE_TOO_LARGE, "too big")

    with pytest.raises(ProcessingError) as info:
        run_isolated(refuse, 30)
    assert (info.value.code, info.value.message) == (ErrorCode.IMAGE_TOO_LARGE, "too big")


def test_work_past_its_limit_is_stopped_and_its_child_is_gone() -> None:
    started = time.monotonic()
    with pytest.raises(WorkTimedOut):
        run_isolated(spin, 0.3)
    assert time.monotonic() - started < 2
    assert process_tree(os.getpid()) == [os.getpid()], "the child was killed and reaped"


def test_a_child_that_dies_is_reported_with_how() -> None:
    with pytest.raises(WorkDied) as killed:
        run_isolated(lambda: os.kill(os.getpid(), signal.SIGKILL), 30)
    assert killed.value.killed
    with pytest.raises(WorkDied) as exited:
        run_isolated(lambda: os._exit(3), 30)
    assert not exited.value.killed


@pytest.mark.parametrize("name", ["US1_J2KR.dcm", "CT_small.dcm", "SC_rgb.dcm", "MR_small_RLE.dcm"])
def test_an_isolated_analysis_is_the_analysis(name) -> None:
    data = sample_bytes(name)
    isolated = processing.analyse_within(data, "application/dicom", 30)
    direct = processing.analyse(data, "application/dicom")
    assert isolated.rendered_png == direct.rendered_png and isolated.dicom == direct.dicom
    copies = [processing.frame_copy(analysis, data) for analysis in (isolated, direct)]
    if copies[0] is not None:  # greyscale: the stored values /render draws from (each copy has its own UID)
        values = [pydicom.dcmread(io.BytesIO(copy)).PixelData for copy in copies]
        assert values[0] == values[1]


def test_a_decode_past_the_time_limit_ends_decode_timed_out_and_within_it_completes() -> None:
    slow = slow_progressive_jpeg(6000, 85)  # over a second of decoding (3× the limit), under every structural limit
    started = time.monotonic()
    with pytest.raises(ProcessingError) as info:
        processing.analyse_within(slow, "image/jpeg", 0.5)
    assert info.value.code is ErrorCode.DECODE_TIMED_OUT
    assert time.monotonic() - started < 2.5
    assert processing.analyse_within(slow, "image/jpeg", 60).image["width"] == 6000


def test_a_decode_killed_for_memory_ends_image_too_large_and_a_crash_as_damage(monkeypatch) -> None:
    data = sample_bytes("CT_small.dcm")
    monkeypatch.setattr(processing, "analyse", lambda *_: os.kill(os.getpid(), signal.SIGKILL))
    with pytest.raises(ProcessingError) as killed:
        processing.analyse_within(data, "application/dicom", 30)
    assert killed.value.code is ErrorCode.IMAGE_TOO_LARGE

    def crash(*_: object) -> None:
        faulthandler.disable()  # pytest's would print the child's stack
        os.kill(os.getpid(), signal.SIGSEGV)

    monkeypatch.setattr(processing, "analyse", crash)
    with pytest.raises(ProcessingError) as crashed:
        processing.analyse_within(data, "application/dicom", 30)
    assert crashed.value.code is ErrorCode.CORRUPT_DICOM
