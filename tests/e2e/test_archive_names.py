"""`image-analyzer analyze` with the names an archive really holds: `.` and `..`, two inputs of one name, files
whose outputs would share a name, zip members named to break the terminal, the console markup or a spreadsheet —
and a run too large to print file by file, which must still say which files failed."""

from __future__ import annotations

import csv
import io
import json
import warnings
import zipfile
from pathlib import Path

import pydicom

from local import archive
from tests.harness.cli import run_cli
from tests.harness.files import gradient, make_dicom, photo_bytes


def distinct_dicom(seed: int) -> bytes:
    return make_dicom(gradient(32 + seed, 32))


def test_every_output_stays_under_out_and_distinct_inputs_never_share_one(stack, tmp_path: Path) -> None:
    work = tmp_path / "work"
    for day, seed in (("day1", 1), ("day2", 2)):
        (work / day / "study").mkdir(parents=True)
        (work / day / "study" / "IM0001").write_bytes(distinct_dicom(seed))
    inbox = work / "inbox"
    inbox.mkdir()
    (inbox / "a.dcm").write_bytes(distinct_dicom(3))
    (inbox / "a.png").write_bytes(photo_bytes("coffee", "PNG"))
    with warnings.catch_warnings(), zipfile.ZipFile(inbox / "twice.zip", "w") as zipped:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name: exactly what an archive may hold
        zipped.writestr("x.dcm", distinct_dicom(4))
        zipped.writestr("x.dcm", distinct_dicom(5))
    out = tmp_path / "out"
    report = tmp_path / "report.jsonl"
    inputs = ["day1/study", "day2/study", "../work/inbox", "."]  # `.` is work itself: every file once more
    done = run_cli("analyze", "--api", stack.api_url, *inputs, "--out", str(out), "--report", str(report), cwd=work)
    rows = archive.read_report(report)
    assert done.returncode == 0, done.stdout + done.stderr
    paths = [row["path"] for row in rows]
    assert len(paths) == len(set(paths)) == 6 + 6, paths  # the report names each file once, on its own
    outputs = [output for row in rows for output in row["outputs"]]
    assert len(outputs) == len(set(outputs)) == len(rows), "one output per file, none shared"
    assert all(Path(output).resolve().is_relative_to(out.resolve()) for output in outputs), outputs
    written = sorted(p for p in tmp_path.rglob("*.analysed.*"))
    assert all(p.is_relative_to(out) for p in written) and len(written) == len(rows), written
    # Each output holds its own file's picture: as many different pictures as different files.
    assert len({p.read_bytes() for p in written}) == len({row["sha256"] for row in rows})


HOSTILE_MEMBERS = [
    "x[/y].png",  # rich markup: a closing tag
    "[bold red]loud[/].png",
    "\x1b]0;owned\x07\x1b[2Jtitle.png",  # a terminal title, then clear the screen
    '=HYPERLINK("evil.example","open").png',  # formulas, to a spreadsheet
    "+1+2.png",
    "-2+3.png",
    "@SUM(A1).png",
    "\u202egnp.exe",  # right-to-left override: reads as exe.png
]


def test_hostile_member_names_are_printed_as_names_and_the_csv_holds_no_formula(stack, tmp_path: Path) -> None:
    bundle = tmp_path / "hostile.zip"
    with zipfile.ZipFile(bundle, "w") as zipped:
        for index, name in enumerate(HOSTILE_MEMBERS):
            zipped.writestr(name, make_dicom(gradient(24 + index, 24)))
    report = tmp_path / "report.csv"
    done = run_cli(
        "analyze", "--api", stack.api_url, str(bundle), "--out", str(tmp_path / "out"), "--report", str(report),
        cwd=tmp_path,
    )  # fmt: skip
    printed = done.stdout + done.stderr
    assert done.returncode == 0 and "MarkupError" not in printed, printed
    assert "\x1b" not in printed and "\u202e" not in printed, "no control character reaches the terminal"
    assert "x[/y].png" in printed and "[bold red]loud[/].png" in printed, "names are printed as they are"
    assert "…e.zip/[bold red]loud[/].png" in printed, "a long name's row shows its end, marked as cut"
    assert printed.count("complete in") == len(HOSTILE_MEMBERS), printed
    with report.open(newline="") as handle:
        cells = [cell for row in csv.reader(handle) for cell in row]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")], "a cell a sheet would run"
    rows = archive.read_report(report)
    assert sorted(row["path"] for row in rows) == sorted(f"hostile.zip/{name}" for name in HOSTILE_MEMBERS)


def no_pixel_data_dicom() -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(make_dicom(gradient(16, 16))))
    del dataset.PixelData
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    return buffer.getvalue()


def test_a_large_run_names_its_failing_files_and_reports_what_research_needs(stack, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    for index in range(10):
        (folder / f"IM{index:04}").write_bytes(distinct_dicom(10 + index))
    (folder / "IM9999").write_bytes(no_pixel_data_dicom())
    report = tmp_path / "report.jsonl"
    done = run_cli(
        "analyze", "--api", stack.api_url, str(folder), "--report", str(report), "--out", "out", cwd=tmp_path
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 1, printed
    assert "export/IM9999: DICOM_NO_PIXEL_DATA" in printed, printed
    rows = {row["path"]: row for row in archive.read_report(report)}
    first = rows["export/IM0000"]
    research = {key: first[key] for key in ("modality", "photometric", "frame", "frames", "windowSource", "redaction")}
    assert research == {
        "modality": "DX", "photometric": "MONOCHROME2", "frame": 1, "frames": 1, "windowSource": "auto",
        "redaction": "function+rekognition",
    }, json.dumps(first)  # fmt: skip
    assert isinstance(first["windowCenter"], (int, float)) and first["windowWidth"] > 0
    assert "bodyPart" in first and first["redactedRegions"] == 0
