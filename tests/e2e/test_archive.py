"""A whole archive through `image-analyzer analyze`: folders and a zip, every file accounted for in the report,
no output overwritten; interrupted mid-run and resumed without uploading a finished file again."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
import zipfile
from pathlib import Path

from PIL import Image

from local import archive
from tests.harness.cli import start_cli
from tests.harness.files import gradient, make_dicom, photo_bytes, sample_bytes

ROOT = Path(__file__).resolve().parents[2]


def distinct_photo(seed: int) -> bytes:
    base = Image.open(io.BytesIO(photo_bytes("chelsea")))
    buffer = io.BytesIO()
    base.crop((seed % 150, 0, seed % 150 + 250, 250)).resize((120, 120)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def archive_tree(root: Path, photos: int = 0) -> dict[str, str]:
    """The tree, and what each path must end as: "complete", "error" or "skipped"."""
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "IM0001").write_bytes(sample_bytes("CT_small.dcm"))
    (root / "b" / "IM0001").write_bytes(make_dicom(gradient(64, 64)))
    (root / "broken.jpg").write_bytes(distinct_photo(1)[:300])
    (root / "notes.txt").write_text("minutes of the meeting")
    with zipfile.ZipFile(root / "export.zip", "w") as zipped:
        zipped.writestr("IM0001", make_dicom(gradient(32, 32)))
        zipped.writestr("../escaped.jpg", distinct_photo(2))
    for i in range(photos):
        (root / "photos").mkdir(exist_ok=True)
        (root / "photos" / f"p{i:02}.jpg").write_bytes(distinct_photo(10 + i))
    name = root.name
    expected = {
        f"{name}/a/IM0001": "complete",
        f"{name}/b/IM0001": "complete",
        f"{name}/broken.jpg": "error",
        f"{name}/notes.txt": "skipped",
        f"{name}/export.zip/IM0001": "complete",
        f"{name}/export.zip/../escaped.jpg": "skipped",
    }
    expected.update({f"{name}/photos/p{i:02}.jpg": "complete" for i in range(photos)})
    return expected


def analyze(api_url: str, *args: str) -> subprocess.Popen[str]:
    return start_cli("analyze", "--api", api_url, *args, cwd=ROOT)


def uploads_requested(stack) -> int:
    return sum(1 for function, line in stack.logs if function == "api-access" and '"POST /request-upload"' in line)


def test_every_file_of_folders_and_a_zip_is_accounted_for_and_no_output_is_overwritten(stack, tmp_path) -> None:
    expected = archive_tree(tmp_path / "study")
    report, out = tmp_path / "report.jsonl", tmp_path / "out"
    process = analyze(stack.api_url, str(tmp_path / "study"), "--report", str(report), "--out", str(out))
    output = process.communicate(timeout=240)[0]
    assert process.returncode == 1, output  # broken.jpg ends in error
    rows = archive.read_report(report)
    assert {row["path"]: row["status"] for row in rows} == expected, output
    assert len(rows) == len(expected), "each file once"
    broken = next(row for row in rows if row["path"].endswith("broken.jpg"))
    assert broken["errorCode"] == "CORRUPT_IMAGE" and broken["sha256"] and broken["jobId"]
    ct = next(row for row in rows if row["path"] == "study/a/IM0001")
    assert (ct["modality"], ct["columns"], ct["rows"]) == ("CT", 128, 128) and ct["redactedRegions"] == 0
    first, second = out / "study" / "a" / "IM0001.analysed.png", out / "study" / "b" / "IM0001.analysed.png"
    assert first.read_bytes() != second.read_bytes(), "same names in other folders keep their own outputs"
    assert ct["outputs"] == [str(first)] and (out / "study" / "export.zip" / "IM0001.analysed.png").exists()
    assert "3 complete, 1 error, 2 skipped" in output and "../escaped.jpg" not in "".join(
        p.name for p in out.rglob("*")
    )


def test_an_interrupted_run_resumes_without_uploading_a_finished_file_again(stack, tmp_path) -> None:
    expected = archive_tree(tmp_path / "study", photos=16)
    uploadable = [path for path, outcome in expected.items() if outcome != "skipped"]
    report = tmp_path / "report.jsonl"
    before = uploads_requested(stack)
    process = analyze(
        stack.api_url, str(tmp_path / "study"), "--report", str(report), "--jobs", "2", "--out", str(tmp_path / "out")
    )
    deadline = time.monotonic() + 120
    while len(archive.read_report(report)) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # polling the report the run writes: the only thing a user sees of it
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130 and "--resume" in output, output
    interrupted = archive.read_report(report)
    assert all(json.dumps(row) for row in interrupted) and 5 <= len(interrupted) < len(expected), output
    finished = {row["path"] for row in interrupted if row["status"] in ("complete", "error")}
    uploads_first = uploads_requested(stack) - before
    assert uploads_first < len(uploadable), "the interruption stopped the run"

    resumed = analyze(stack.api_url, str(tmp_path / "study"), "--resume", str(report), "--out", str(tmp_path / "out"))
    output = resumed.communicate(timeout=240)[0]
    broken_this_time = "study/broken.jpg" not in finished
    assert resumed.returncode == (1 if broken_this_time else 0), output  # this run's errors: broken.jpg, if it ran
    uploads_second = uploads_requested(stack) - before - uploads_first
    assert uploads_second == len(set(uploadable) - finished), "no finished file was uploaded again"
    rows = archive.read_report(report)
    assert {row["path"]: row["status"] for row in rows} == expected and len(rows) == len(expected), output
