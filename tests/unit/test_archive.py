"""An archive's files: found in a stable order, bounded, read only when their turn comes, reported as they finish,
and skipped on a rerun when the report already holds them."""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest

from local import archive
from local.client import ApiError
from tests.harness.files import gradient, make_dicom, photo_bytes


def tree(root: Path) -> Path:
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "IM0001").write_bytes(make_dicom(gradient(32, 32)))
    (root / "b" / "IM0001").write_bytes(make_dicom(gradient(48, 48)))
    (root / "notes.txt").write_text("not an image")
    with zipfile.ZipFile(root / "study.zip", "w") as zipped:
        zipped.writestr("IM0002", make_dicom(gradient(16, 16)))
        zipped.writestr("../escape.jpg", photo_bytes())
        zipped.writestr("/etc/absolute.jpg", photo_bytes())
        zipped.writestr("photos/cat.jpg", photo_bytes())
    (root / "big.jpg").write_bytes(b"\xff\xd8\xff" + bytes(90_000))
    os.symlink("/etc/passwd", root / "link.dcm")
    return root


def test_folders_and_zips_in_a_stable_order_with_what_cannot_be_uploaded_named(tmp_path) -> None:
    found = list(archive.discover([tree(tmp_path / "in")], max_bytes=80_000))
    paths = [item.path for item in found]
    assert paths == [
        "in/a/IM0001", "in/b/IM0001", "in/big.jpg", "in/link.dcm", "in/notes.txt", "in/study.zip/../escape.jpg",
        "in/study.zip//etc/absolute.jpg", "in/study.zip/IM0002", "in/study.zip/photos/cat.jpg",
    ]  # fmt: skip
    sources = {item.path: item for item in found if isinstance(item, archive.Source)}
    skipped = {item.path: item.reason for item in found if isinstance(item, archive.Skipped)}
    assert set(sources) == {
        "in/a/IM0001",
        "in/b/IM0001",
        "in/notes.txt",
        "in/study.zip/IM0002",
        "in/study.zip/photos/cat.jpg",
    }
    assert "leaves the archive" in skipped["in/study.zip/../escape.jpg"]
    assert "leaves the archive" in skipped["in/study.zip//etc/absolute.jpg"]
    assert "upload limit" in skipped["in/big.jpg"] and "symbolic link" in skipped["in/link.dcm"]
    assert [item.path for item in archive.discover([tmp_path / "in"], max_bytes=80_000)] == paths, (
        "the same order again"
    )


def test_a_zip_with_too_many_members_is_refused_whole(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(archive, "MAX_ZIP_MEMBERS", 2)
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as zipped:
        for i in range(3):
            zipped.writestr(f"f{i}.jpg", b"x")
    (found,) = archive.discover([tmp_path / "many.zip"])
    assert isinstance(found, archive.Skipped) and "3 files" in found.reason


def test_the_type_comes_from_the_content_first() -> None:
    assert archive.upload_type("IM0001", make_dicom(gradient(8, 8))) == "application/dicom"
    assert archive.upload_type("scan.JPG", photo_bytes()) == "image/jpeg"
    assert archive.upload_type("notes.txt", b"hello") is None
    # A PDF named .jpg is uploaded as what it claims: the processor's verdict (UNSUPPORTED_FORMAT) is the answer.
    assert archive.upload_type("paper.jpg", b"%PDF-1.7") == "image/jpeg"


@pytest.mark.parametrize("name", ["report.jsonl", "report.csv"])
def test_the_report_is_valid_up_to_the_last_finished_file_and_a_rerun_skips_it(tmp_path, name) -> None:
    path = tmp_path / name
    report = archive.Report(path)
    record = {"jobId": "j1", "status": "complete", "results": {"Labels": [{"Name": "Cat", "Confidence": 91.23}]}}
    report.write(archive.report_row("a/cat.jpg", "d1", record, 1.5, ["out/a/cat.analysed.jpg"]))
    report.write(archive.skipped_row("notes.txt", "not an image", "d2"))
    report.close()
    if name.endswith(".jsonl"):
        with path.open("a") as cut:
            cut.write('{"path": "half a line')  # an interruption mid-write
    rows = archive.read_report(path)
    assert [row["path"] for row in rows] == ["a/cat.jpg", "notes.txt"]
    labels = rows[0]["labels"] if name.endswith(".jsonl") else rows[0]["labels"].split(";")
    assert labels == ["Cat:91.2"]
    done = archive.already_done(path)
    assert done.digests == {"d1", "d2"} and done.skipped_paths == {"notes.txt"}


def test_throttling_is_answered_with_its_retry_after_and_the_daily_quota_stops_the_run() -> None:
    waits: list[float] = []
    answers = [ApiError(429, {"message": "Too Many Requests"}, 0.5), ApiError(503, {}, None), "ok"]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert archive.with_retries(call, waits.append) == "ok" and waits == [0.5, 2.0]
    quota = ApiError(429, {"error": "QUOTA_EXCEEDED", "message": "The daily quota of 500 uploads is used up"}, 3600)
    with pytest.raises(archive.QuotaExhausted) as info:
        archive.with_retries(lambda: (_ for _ in ()).throw(quota), waits.append)
    assert info.value.retry_after_s == 3600 and "500 uploads" in str(info.value)
    always = ApiError(503, {}, 0.0)
    with pytest.raises(ApiError):
        archive.with_retries(lambda: (_ for _ in ()).throw(always), lambda _: None)


def test_at_most_jobs_files_are_read_and_in_flight_at_once(tmp_path) -> None:
    in_memory, peak, lock = 0, 0, threading.Lock()

    def reader(i: int):
        def read() -> bytes:
            nonlocal in_memory, peak
            with lock:
                in_memory += 1
                peak = max(peak, in_memory)
            return photo_bytes() + bytes([i])

        return read

    def analyse_one(source, data, file_type):
        nonlocal in_memory
        time.sleep(0.01)  # the work a job takes (not synchronisation: the count is what is checked)
        with lock:
            in_memory -= 1
        return {"jobId": source.path, "status": "complete", "results": {}}, 0.01, []

    sources = [archive.Source(f"p{i}.jpg", 0, reader(i)) for i in range(40)]
    report = archive.Report(tmp_path / "r.jsonl")
    stats = archive.run(None, sources, report, analyse_one, jobs=3)
    report.close()
    assert stats.by_status == {"complete": 40} and peak <= 3
    assert len(archive.read_report(tmp_path / "r.jsonl")) == 40
    rerun = archive.run(None, sources, None, analyse_one, jobs=3, done=archive.already_done(tmp_path / "r.jsonl"))
    assert rerun.resumed == 40 and rerun.done == 0
    assert all(json.loads(line)["status"] == "complete" for line in (tmp_path / "r.jsonl").read_text().splitlines())
