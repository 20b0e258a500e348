"""A whole archive through the API: files, folders and zip files, read when their upload starts, a bounded number in
flight, a report line per file as it finishes, and a rerun that skips what a report already holds.

Plain functions and small types; the CLI (``image-analyzer analyze``) draws the progress and the summary.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import threading
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from image_analyzer.definitions import SETTINGS
from image_analyzer.imaging import mime_type, sniff_format
from image_analyzer.uploads import ALLOWED_TYPES
from local.client import ApiClient, ApiError, content_type

# A zip is an index the client trusts only within bounds: members, their total size, and names that stay inside.
MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_TOTAL_BYTES = 50 * 1024**3
DEFAULT_MAX_UPLOAD_BYTES = int(SETTINGS["MAX_UPLOAD_BYTES"].default)
DEFAULT_JOBS = 4
# 429 (throttled) and 503 answers are retried after the Retry-After they carry, this many times, at most this long.
MAX_RETRIES = 6
MAX_RETRY_WAIT_S = 60.0
FINISHED = ("complete", "error")
FAILURES_NAMED = 10


@dataclass(frozen=True)
class Source:
    """One file of the input: where it is (relative to its input, the report's ``path``, unique in a run), how to
    read it, and where its outputs go under ``--out`` (``output``: a relative path without the output's own suffix,
    unique in a run, so no two files ever write one output)."""

    path: str
    size: int
    read: Callable[[], bytes] = field(repr=False, compare=False)
    output: str = ""


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


class QuotaExhausted(Exception):
    """The caller's daily upload quota is used up: nothing more can be uploaded until it resets."""

    def __init__(self, message: str, retry_after_s: float | None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not path.is_absolute() and ".." not in path.parts and not (path.parts and path.parts[0].endswith(":"))


def _zip_sources(archive_path: Path, prefix: str, max_bytes: int) -> Iterator[Source | Skipped]:
    try:
        archive = zipfile.ZipFile(archive_path)
    except zipfile.BadZipFile:
        yield Skipped(prefix, "not a readable zip file")
        return
    members = [info for info in archive.infolist() if not info.is_dir()]
    if len(members) > MAX_ZIP_MEMBERS:
        yield Skipped(prefix, f"the zip holds {len(members)} files, more than {MAX_ZIP_MEMBERS}")
        return
    if sum(info.file_size for info in members) > MAX_ZIP_TOTAL_BYTES:
        yield Skipped(prefix, f"the zip declares more than {MAX_ZIP_TOTAL_BYTES >> 30} GB")
        return
    for info in sorted(members, key=lambda i: i.filename):
        path = f"{prefix}/{info.filename}"
        if not _safe_member(info.filename):
            yield Skipped(path, "a member name that leaves the archive (absolute, or with '..')")
        elif info.file_size > max_bytes:
            yield Skipped(path, f"larger than the upload limit ({max_bytes} bytes)")
        else:
            yield Source(path, info.file_size, lambda info=info: _read_member(archive, info, max_bytes))


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int) -> bytes:
    """The member, streamed and capped: a header's size is not trusted (a bomb can declare less than it inflates
    to)."""
    with archive.open(info) as member:
        data = member.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"the member inflates past the upload limit ({max_bytes} bytes)")
    return data


def input_labels(inputs: list[Path]) -> list[str]:
    """What each input is called in the report and under ``--out``: its own name (``.`` and ``..`` by the folder
    they are), with as many parent folders as it takes to tell inputs of one name apart (day1/study, day2/study)."""
    resolved = [given.resolve() for given in inputs]
    labels = []
    for path in resolved:
        depth = 1
        while depth < len(path.parts) and any(
            other != path and other.parts[-depth:] == path.parts[-depth:] for other in resolved
        ):
            depth += 1
        labels.append("/".join(part.strip("/") for part in path.parts[-depth:]) or "root")
    return labels


class _Names:
    """Report paths and output names handed out in discovery order: a second file of the same name (two zip
    members of one name; a.dcm beside a.png, whose outputs would both be a.analysed.png) gets a name of its own.
    Compared case-insensitively, as some file systems the outputs land on do."""

    def __init__(self) -> None:
        self._paths: set[str] = set()
        self._outputs: set[str] = set()

    @staticmethod
    def _claim(taken: set[str], candidates: Iterator[str]) -> str:
        for candidate in candidates:
            if candidate.lower() not in taken:
                taken.add(candidate.lower())
                return candidate
        raise AssertionError("unreachable: the candidates never end")

    def path(self, wanted: str) -> str:
        parent, _, name = wanted.rpartition("/")
        stem, dot, suffix = name.partition(".") if not name.startswith(".") else (name, "", "")
        numbered = (f"{parent}/{stem}~{n}{dot}{suffix}".lstrip("/") for n in itertools.count(2))
        return self._claim(self._paths, itertools.chain([wanted], numbered))

    def output(self, path: str) -> str:
        parts = [safe_part(part) for part in PurePosixPath(path.replace("\\", "/")).parts]
        parts = [part for part in parts if part] or ["file"]
        parent, name = "/".join(parts[:-1]), parts[-1]
        stem = PurePosixPath(name).stem or name
        join = lambda last: f"{parent}/{last}" if parent else last  # noqa: E731
        numbered = (join(f"{name}~{n}") for n in itertools.count(2))
        return self._claim(self._outputs, itertools.chain([join(stem), join(name)], numbered))


def in_memory(items: list[tuple[str, bytes]]) -> list[Source]:
    """Files held in memory (the demo's samples) as sources, named as discovered files are."""
    names = _Names()
    sources = []
    for wanted, data in items:
        path = names.path(wanted)
        sources.append(Source(path, len(data), lambda data=data: data, names.output(path)))
    return sources


def safe_part(part: str) -> str:
    """One folder or file name of an output path: no way up or out ('', '.', '..', a drive), no control
    characters."""
    part = "".join("_" if unicodedata.category(ch) == "Cc" else ch for ch in part).replace(":", "_")
    return "" if part in ("", ".", "..") else part


def discover(inputs: list[Path], max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> Iterator[Source | Skipped]:
    """Every file of the inputs in a stable order (each input in turn, its files sorted by path): folders
    recursively, zip files member by member; nothing is read yet. Symbolic links are not followed. Every file gets
    a report path and an output name no other file of the run has."""
    names = _Names()
    seen_inputs: set[Path] = set()
    for given, label in zip(inputs, input_labels(inputs), strict=True):
        if given.exists() and given.resolve() in seen_inputs:
            yield Skipped(names.path(label), "given more than once (analysed once)")
            continue
        seen_inputs.add(given.resolve())
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if not p.is_dir())
            entries: Iterator[Source | Skipped] = itertools.chain.from_iterable(
                _file_sources(path, f"{label}/{path.relative_to(given).as_posix()}", max_bytes) for path in found
            )
        elif given.is_file():
            entries = _file_sources(given, label, max_bytes)
        else:
            entries = iter([Skipped(str(given), "no such file or folder")])
        for entry in entries:
            path = names.path(entry.path)
            if isinstance(entry, Skipped):
                yield Skipped(path, entry.reason)
            else:
                yield Source(path, entry.size, entry.read, names.output(path))


def _file_sources(path: Path, relative: str, max_bytes: int) -> Iterator[Source | Skipped]:
    if path.is_symlink():
        yield Skipped(relative, "a symbolic link (not followed)")
    elif path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
        yield from _zip_sources(path, relative, max_bytes)
    elif path.stat().st_size > max_bytes:
        yield Skipped(relative, f"larger than the upload limit ({max_bytes} bytes)")
    else:
        yield Source(relative, path.stat().st_size, path.read_bytes)


def upload_type(path: str, data: bytes) -> str | None:
    """What the file is, by its content first (PACS exports name DICOM files IM0001), else by its name; None
    when it is nothing the API takes."""
    detected = sniff_format(data[:132])
    declared = mime_type(detected) if detected else content_type(path)
    return declared if declared in ALLOWED_TYPES else None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- the report ---------------------------------------------------------------------------------------------------

REPORT_FIELDS = (
    "path", "sha256", "jobId", "status", "errorCode", "labels", "modality", "bodyPart", "photometric", "columns",
    "rows", "bitsStored", "frame", "frames", "windowCenter", "windowWidth", "windowSource", "transferSyntax",
    "redaction", "redactedRegions", "redactedFraction", "classifier", "outputs", "seconds", "reason",
)  # fmt: skip


def report_row(path: str, digest: str, record: dict[str, Any], seconds: float, outputs: list[str]) -> dict[str, Any]:
    results = record.get("results") or {}
    dicom = results.get("dicom") or {}
    classifier = results.get("classifier") or {}
    labels = [f"{label['Name']}:{float(label['Confidence']):.1f}" for label in (results.get("Labels") or [])[:5]]
    window = dicom.get("window") or {}
    redaction = results.get("redaction") or {}
    return {
        "path": path,
        "sha256": digest,
        "jobId": record.get("jobId"),
        "status": record.get("status"),
        "errorCode": record.get("errorCode"),
        "labels": labels,
        "modality": dicom.get("modality"),
        "bodyPart": dicom.get("bodyPart"),
        "photometric": dicom.get("photometric"),
        "columns": dicom.get("columns"),
        "rows": dicom.get("rows"),
        "bitsStored": dicom.get("bitsStored"),
        "frame": dicom.get("frameRendered"),  # 1-based, as DICOM numbers frames
        "frames": dicom.get("frames"),
        "windowCenter": window.get("center"),
        "windowWidth": window.get("width"),
        "windowSource": window.get("source"),
        "transferSyntax": dicom.get("transferSyntax"),
        "redaction": redaction.get("method"),
        "redactedRegions": redaction.get("regions"),
        "redactedFraction": redaction.get("areaFraction"),
        "classifier": (classifier.get("predicted") or {}).get("name") or classifier.get("error"),
        "outputs": outputs,
        "seconds": round(seconds, 3),
        "reason": record.get("error") if record.get("status") != "complete" else None,
    }


def skipped_row(path: str, reason: str, digest: str | None = None) -> dict[str, Any]:
    return {**dict.fromkeys(REPORT_FIELDS), "path": path, "sha256": digest, "status": "skipped", "reason": reason}


# A cell starting with one of these is a formula to Excel, LibreOffice and Google Sheets (a file named
# "=HYPERLINK(…).png" would run as one); OWASP's advice: prefix a quote, which they show as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _from_spreadsheet(value: str | None) -> str | None:
    if value and value.startswith("'") and value[1:].startswith(_FORMULA_STARTS):
        return value[1:]
    return value


class Report:
    """JSON lines (or CSV when the name ends in .csv), one row per file as it finishes, flushed at once: after an
    interruption the file is valid up to the last finished file. Appends to an existing report."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._csv = path.suffix.lower() == ".csv"
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, REPORT_FIELDS) if self._csv else None
        if self._writer and new:
            self._writer.writeheader()
        self._lock = threading.Lock()

    def write(self, row: dict[str, Any]) -> None:
        row = {key: row.get(key) for key in REPORT_FIELDS}  # the fields, in order (a row may carry more in memory)
        with self._lock:
            if self._writer:
                flat = {k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()}
                self._writer.writerow({k: spreadsheet_safe(v) for k, v in flat.items()})
            else:
                self._file.write(json.dumps(row) + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_report(path: Path) -> list[dict[str, Any]]:
    """The rows of a report (JSON lines or CSV); a last line cut by an interruption is ignored."""
    if not path.exists():
        return []
    text = path.read_text()
    if path.suffix.lower() == ".csv":
        return [{k: _from_spreadsheet(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]
    rows = []
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            continue
    return rows


@dataclass(frozen=True)
class Done:
    """What a report already holds: files with a terminal result (by content) are not uploaded again, and files
    it listed as skipped are not listed again."""

    digests: frozenset[str] = frozenset()
    skipped_paths: frozenset[str] = frozenset()


def already_done(path: Path) -> Done:
    rows = read_report(path)
    return Done(
        frozenset(r["sha256"] for r in rows if r.get("status") in (*FINISHED, "skipped") and r.get("sha256")),
        frozenset(r["path"] for r in rows if r.get("status") == "skipped"),
    )


# ---- the run ------------------------------------------------------------------------------------------------------


@dataclass
class RunStats:
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_error: dict[str, int] = field(default_factory=dict)
    resumed: int = 0  # already in the report: not uploaded again
    slowest: list[tuple[float, str]] = field(default_factory=list)
    # The first files that ended in error, with their code: the summary names them (the report has every one).
    failures: list[tuple[str, str]] = field(default_factory=list)

    def count(self, row: dict[str, Any]) -> None:
        self.by_status[row["status"]] = self.by_status.get(row["status"], 0) + 1
        if row.get("errorCode"):
            self.by_error[row["errorCode"]] = self.by_error.get(row["errorCode"], 0) + 1
        if row["status"] == "error" and len(self.failures) < FAILURES_NAMED:
            self.failures.append((row["path"], row.get("errorCode") or "ERROR"))
        if row.get("seconds"):
            self.slowest = sorted([*self.slowest, (float(row["seconds"]), row["path"])], reverse=True)[:5]

    @property
    def done(self) -> int:
        return sum(self.by_status.values())


def with_retries(call: Callable[[], Any], sleep: Callable[[float], None] = time.sleep) -> Any:
    """``call()``, retried on 429 (throttled) and 503 after the Retry-After they carry (bounded); the daily quota
    is not retried: it raises QuotaExhausted with when it resets."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return call()
        except ApiError as exc:
            if exc.status == 429 and exc.body.get("error") == "QUOTA_EXCEEDED":
                raise QuotaExhausted(str(exc.body.get("message") or exc), exc.retry_after) from exc
            if exc.status not in (429, 503) or attempt == MAX_RETRIES:
                raise
            sleep(min(exc.retry_after if exc.retry_after is not None else 2.0**attempt, MAX_RETRY_WAIT_S))
    raise AssertionError("unreachable")


Analyse = Callable[[Source, bytes, str], tuple[dict[str, Any], float, list[str]]]


@dataclass
class _Progress:
    """What a run has done so far, written by its worker threads under one lock."""

    stats: RunStats
    report: Report | None
    on_row: Callable[[dict[str, Any], RunStats], None] | None
    lock: threading.Lock = field(default_factory=threading.Lock)
    quota: list[QuotaExhausted] = field(default_factory=list)

    def finish(self, row: dict[str, Any]) -> None:
        with self.lock:
            self.stats.count(row)
            if self.report:
                self.report.write(row)
            if self.on_row:
                self.on_row(row, self.stats)

    def resumed(self) -> None:
        with self.lock:
            self.stats.resumed += 1
            self.stats.total -= 1


def _analyse_source(source: Source, done: Done, analyse_one: Analyse, progress: _Progress) -> None:
    """One file: read when its turn comes, skipped if the report has its content already or the API would refuse
    its type, else analysed and reported."""
    try:
        data = source.read()
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        progress.finish(skipped_row(source.path, f"could not be read: {exc}"))
        return
    digest = sha256(data)
    if digest in done.digests:
        progress.resumed()
        return
    file_type = upload_type(source.path, data)
    if file_type is None:
        reason = "not an image or DICOM file the API takes (by content and name)"
        progress.finish(skipped_row(source.path, reason, digest))
        return
    try:
        record, seconds, outputs = analyse_one(source, data, file_type)
    except QuotaExhausted as exc:
        progress.quota.append(exc)
        return
    del data
    progress.finish({**report_row(source.path, digest, record, seconds, outputs), "record": record})


def run(
    client: ApiClient,
    sources: list[Source | Skipped],
    report: Report | None,
    analyse_one: Analyse,
    jobs: int = DEFAULT_JOBS,
    done: Done | None = None,
    on_row: Callable[[dict[str, Any], RunStats], None] | None = None,
) -> RunStats:
    """Every source through ``analyse_one`` (upload, wait, save outputs), ``jobs`` at a time; each file is read when
    its turn comes, so memory holds ``jobs`` files at most. Stops early on QuotaExhausted (raised after the files in
    flight are reported)."""
    progress = _Progress(RunStats(total=len(sources)), report, on_row)
    done = done or Done()
    slots = threading.BoundedSemaphore(jobs)
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures: list[Future[None]] = []
    interrupted = False
    try:
        for source in sources:
            if progress.quota:
                break
            if isinstance(source, Skipped):
                if source.path in done.skipped_paths:
                    progress.resumed()
                else:
                    progress.finish(skipped_row(source.path, source.reason))
                continue
            slots.acquire()
            future = pool.submit(_analyse_source, source, done, analyse_one, progress)
            future.add_done_callback(lambda _: slots.release())
            futures.append(future)
    except KeyboardInterrupt:
        # Ctrl-C: nothing new starts; the files in flight finish and are reported, so that a rerun with --resume
        # does not upload them again. A second Ctrl-C leaves them.
        interrupted = True
    pool.shutdown(wait=False, cancel_futures=interrupted)
    for future in futures:
        if not future.cancelled():
            future.result()
    if interrupted:
        raise KeyboardInterrupt
    if progress.quota:
        raise progress.quota[0]
    return progress.stats
