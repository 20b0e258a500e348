"""image-analyzer: run the stack locally and send images through it (or through a deployed stack).

image-analyzer up                    # start the local stack, print the API URL, Ctrl-C to stop
image-analyzer analyze a.jpg b.dcm   # analyse files on a throw-away local stack (or --api URL)
image-analyzer demo                  # analyse bundled sample photos and DICOM files
image-analyzer localstack-image      # build the LocalStack image offline (for --backend localstack)
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import socket
import sys
import threading
import time
import unicodedata
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from image_analyzer.views import PRESET_NAMES
from local import archive
from local.client import ApiClient, ApiError, JobResult
from local.emulators import BACKEND_ENV, BACKENDS, BackendUnavailable
from local.stack_settings import LocalSettings, SettingError, local_settings, parse_assignments, read_stack_file

console = Console()


def shown(text: object, lines: bool = False) -> str:
    """A name or message from outside (a file name, an archive member, an API message) as the console prints it:
    control and format characters visible as escapes (no terminal title set, no screen cleared, no text reversed),
    rich's markup inert (a member named x[/y].png is a name, not a closing tag). ``lines``: newlines kept."""
    return escape("".join(_visible(ch, lines) for ch in str(text)))


def _visible(ch: str, lines: bool) -> str:
    if unicodedata.category(ch) not in ("Cc", "Cf") or (lines and ch == "\n"):
        return ch
    return f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"


def tail(text: str, width: int) -> str:
    """The end of a long name (where the file name is), marked as cut."""
    return text if len(text) <= width else "…" + text[-(width - 1) :]


_PROGRESS = {"requested": 1, "uploaded": 2, "pending": 2, "processing": 3, "complete": 4, "error": 4}


TOKEN_ENV = "IMAGE_ANALYZER_TOKEN"


def _start_stack(
    backend: str,
    port: int = 0,
    log: Any = None,
    classifier: str | None = None,
    auth: bool = False,
    environment: dict[str, str] | None = None,
) -> Any:
    from local.stack import LocalStack, StackOptions

    settings = dict(environment or {})
    if classifier:  # the processor reads the spec (and the model beside it) here, as a Lambda reads one in /opt
        settings["CLASSIFIER_SPEC"] = str(Path(classifier).resolve())
    options = StackOptions(backend=backend, port=port, log=log, settings=settings, auth=auth)
    with console.status(f"starting the local stack ({backend})…"):
        stack = LocalStack(options).start()
    console.print(f"[green]local stack ready[/] ({backend}) in {stack.startup_seconds:.1f} s — API {stack.api_url}")
    return stack


class FunctionLog:
    """Function output (Powertools' JSON lines, with the jobId) and the poller's errors, to a file or the console."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._file = None if target == "-" else open(target, "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def __call__(self, source: str, line: str) -> None:
        with self._lock:
            if self._file is None:
                console.print(f"[dim]{source:>14}[/] {shown(line)}", markup=True, highlight=False, soft_wrap=True)
            else:
                self._file.write(f"{source} {line}\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def port_in_use(port: int, host: str = "127.0.0.1") -> str | None:
    """Why ``port`` cannot be served on, checked before anything starts; None when it is free (or 0: any)."""
    if port == 0:
        return None
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def _stack_settings(args: argparse.Namespace) -> LocalSettings:
    """The stack file's settings, then each --set over them, checked as `pulumi up` checks them."""
    values = read_stack_file(Path(args.stack_config)) if args.stack_config else {}
    values.update(parse_assignments(args.set or []))
    if args.classifier and "classifierSpec" in values:
        raise SettingError("--classifier and classifierSpec are two ways to give one model: choose one")
    return local_settings(values)


def cmd_up(args: argparse.Namespace) -> int:
    if reason := port_in_use(args.port):
        console.print(
            f"[red]cannot serve on port {args.port}: {reason}[/]; choose another with --port (0: any free port)"
        )
        return 2
    if args.classifier and not Path(args.classifier).is_file():
        console.print(f"[red]no such classifier spec:[/] {shown(args.classifier)}")
        return 2
    try:
        chosen = _stack_settings(args)
    except SettingError as exc:
        console.print(f"[red]{shown(exc, lines=True)}[/]")
        return 2
    auth = args.auth if chosen.auth is None else chosen.auth
    log = FunctionLog(args.log_file)
    try:
        stack = _start_stack(args.backend, args.port, log, args.classifier, auth, chosen.environment)
    except OSError as exc:
        log.close()
        console.print(f"[red]cannot serve on port {args.port}: {exc.strerror}[/]; choose another with --port")
        return 2
    stopped = threading.Event()
    failures: list[str] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    stack.watch(lambda message: (failures.append(message), stopped.set()))
    console.print(f"  web page   {stack.api_url}/")
    console.print(f"  API        {stack.api_url}/request-upload, {stack.api_url}/get-results?jobId=…")
    console.print(
        f"  emulator   {stack.backend.endpoint_url} (bucket {stack.resources.bucket}, table {stack.resources.table})"
    )
    if stack.issuer is not None:
        token = stack.issuer.token("developer")
        console.print("  auth       every route needs a token of this session's key (API Gateway's JWT rules)")
        console.print(f"  token      export {TOKEN_ENV}={token}", soft_wrap=True, highlight=False)
    else:
        console.print("  auth       none (open, for localhost development; `up --auth` checks tokens)")
    origins = stack.settings.get("ALLOWED_ORIGINS", "")
    console.print(f"  browsers   only pages of {shown(origins)} may call it (--set allowedOrigins=… for others)")
    if chosen.given:
        console.print("  settings   " + shown(", ".join(f"{k}={v}" for k, v in sorted(chosen.given.items()))))
    if chosen.deployed_only:
        console.print(f"  not here   {shown(', '.join(chosen.deployed_only))}: shape deployed resources only")
    where = "below" if args.log_file == "-" else f"in {args.log_file} (tail -f it)"
    console.print(f"  logs       function logs {where}")
    console.print("Ctrl-C to stop.")
    stopped.wait()
    with console.status("stopping…"):
        stack.stop()
    log.close()
    if failures:
        console.print(f"[red]{failures[0]}[/]; the stack stopped. Start it again with `image-analyzer up`.")
        return 1
    console.print("stopped cleanly.")
    return 0


def _labels_table(result: JobResult) -> Table:
    table = Table(title=f"{shown(result.name)} — {result.status} in {result.seconds:.2f} s", title_justify="left")
    table.add_column("Label")
    table.add_column("Confidence", justify="right")
    table.add_column("", min_width=20)
    table.add_column("Parents", style="dim")
    for label in result.labels:
        confidence = float(label["Confidence"])
        bar = "█" * round(confidence / 5)
        parents = ", ".join(p["Name"] for p in label.get("Parents", []))
        table.add_row(shown(label["Name"]), f"{confidence:.1f}%", bar, shown(parents))
    return table


def _describe(result: JobResult) -> None:
    record = result.record
    if not result.ok:
        console.print(
            f"[red]✗ {shown(result.name)}[/]: {shown(record.get('errorCode'))} — {shown(record.get('error'))}"
        )
        return
    if result.labels:
        console.print(_labels_table(result))
    else:
        console.print(
            f"{shown(result.name)} — complete in {result.seconds:.2f} s: no label reached the minimum confidence"
        )
    classifier = (record.get("results") or {}).get("classifier")
    if classifier:
        if classifier.get("error"):
            console.print(f"  classifier {shown(classifier.get('model'))}: [yellow]{shown(classifier['error'])}[/]")
        else:
            scores = ", ".join(f"{s['name']} {s['score']:.3f}" for s in classifier["scores"])
            predicted = classifier["predicted"]
            console.print(
                shown(
                    f"  classifier {classifier['model']} v{classifier['version']}: {predicted['name']} "
                    f"(flag {predicted['index']}; {scores})"
                )
            )
    redaction = (record.get("results") or {}).get("redaction")
    if redaction and redaction.get("method") != "none":
        console.print(f"  {redaction_summary(redaction)}")
    dicom = (record.get("results") or {}).get("dicom")
    if dicom:
        window = dicom.get("window") or {}
        # Colour pictures have no window: they are shown as stored.
        drawn = (
            f"window {window['center']}/{window['width']} ({window.get('source')})"
            if window.get("center") is not None and window.get("width") is not None
            else "colour as stored (no window)"
        )
        console.print(
            shown(
                f"  DICOM {dicom.get('modality')} {dicom.get('columns')}×{dicom.get('rows')}, "
                f"{dicom.get('photometric')}, {dicom.get('bitsStored')} bits, frame {dicom.get('frameRendered')} "
                f"of {dicom.get('frames')}, {dicom.get('transferSyntax')}, {drawn}"
            )
        )


def redaction_summary(redaction: dict) -> str:
    regions = int(redaction.get("regions") or 0)
    if not regions:
        return "burned-in text: none found"
    share = 100 * float(redaction.get("areaFraction") or 0)
    return f"burned-in text: {regions} region{'s' if regions != 1 else ''} redacted ({share:.1f} % of the picture)"


# Up to this many files, each gets its own progress row and its results printed; more get one display for the run.
FEW_FILES = 8


def _failure_record(client: ApiClient, exc: Exception) -> dict[str, Any]:
    """What a file's row says when the API could not be used for it (the run goes on with the next)."""
    if isinstance(exc, requests.ConnectionError):
        message = (
            f"cannot reach the API at {client.api_url}: is the stack running? Start one with "
            "`image-analyzer up`, or check the URL given to --api"
        )
        return {"status": "error", "errorCode": "CONNECTION", "error": message}
    if isinstance(exc, ApiError) and exc.status == 401:
        message = (
            f"the API at {client.api_url} needs a token (401): pass --token or set {TOKEN_ENV} "
            "(`image-analyzer up --auth` prints one for a local stack)"
        )
        return {"status": "error", "errorCode": "UNAUTHORIZED", "error": message}
    if isinstance(exc, ApiError) and exc.body.get("error"):  # refused by the API (e.g. FILE_TOO_LARGE): its code
        return {"status": "error", "errorCode": str(exc.body["error"]), "error": str(exc.body.get("message") or exc)}
    return {"status": "error", "errorCode": "CLIENT", "error": str(exc)}


def _save_outputs(
    client: ApiClient, source: archive.Source, record: dict[str, Any], out: Path, window: str | None
) -> list[str]:
    """The analysed image (and a window, the classifier's crop) under the file's own output name, which no other
    file of the run has: two IM0001 in different folders, a.dcm beside a.png, never overwrite each other."""
    url = record.get("imageUrl")
    if not url:
        return []
    results = record.get("results") or {}
    served = PurePosixPath(urlsplit(url).path).suffix or ".png"  # what the stack serves, whatever the file's name
    wanted = [("analysed", served, url)]
    dicom = results.get("dicom") or {}
    # A named window only where the job offers it (the CT presets need Hounsfield units); C,W on any greyscale.
    if window and dicom.get("window") and (window not in PRESET_NAMES or window in dicom.get("views", PRESET_NAMES)):
        view = client.render(record["jobId"], window)
        wanted.append((view["view"], ".png", view["imageUrl"]))
    if crop_url := record.get("croppedImageUrl"):
        wanted.append(("crop", ".png", crop_url))
    saved = []
    for kind, suffix, image_url in wanted:
        path = output_path(out, f"{source.output}.{archive.safe_part(kind)}{suffix}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(client.download(image_url))
        saved.append(str(path))
    return saved


def output_path(out: Path, relative: str) -> Path:
    """``relative`` under ``out``; refused if it would land anywhere else (a name is never trusted to stay inside)."""
    root = out.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or path == root:
        raise ValueError(f"an output path outside --out: {relative!r}")
    return path


def analyze(
    client: ApiClient,
    sources: list[archive.Source | archive.Skipped],
    out: Path | None,
    timeout: float,
    window: str | None = None,
    report: archive.Report | None = None,
    jobs: int = archive.DEFAULT_JOBS,
    done: archive.Done | None = None,
) -> tuple[archive.RunStats, list[dict[str, Any]]]:
    """Every source through the API; returns the run's counts and every row (as written to ``report``)."""
    few = len(sources) <= FEW_FILES
    rows: list[dict[str, Any]] = []
    columns: list[Any] = [SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn()]
    if few:
        columns += [TextColumn("{task.fields[state]}"), TimeElapsedColumn()]
    else:
        columns += [
            TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.fields[state]}"),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        ]
    with Progress(*columns, console=console) as progress:
        started = time.monotonic()
        tasks = {}
        if few:  # each file a row: the end of its name, where the file name is
            tasks = {s.path: progress.add_task(shown(tail(s.path, 28)), total=4, state="requested") for s in sources}
        run_task = None if few else progress.add_task("analysing", total=len(sources), state="", rate="")

        def analyse_one(source: archive.Source, data: bytes, file_type: str) -> tuple[dict[str, Any], float, list[str]]:
            def on_status(state: str) -> None:
                if few:
                    progress.update(tasks[source.path], completed=_PROGRESS.get(state, 0), state=state)

            began = time.perf_counter()
            name = PurePosixPath(source.path).name
            try:
                job_id = archive.with_retries(lambda: client.submit(name, data, file_type))
                on_status("uploaded")
                record = client.wait(job_id, timeout, on_status)
                outputs = _save_outputs(client, source, record, out, window) if out is not None else []
            except archive.QuotaExhausted:
                raise
            except Exception as exc:
                on_status("error")
                return _failure_record(client, exc), time.perf_counter() - began, []
            return record, time.perf_counter() - began, outputs

        def on_row(row: dict[str, Any], stats: archive.RunStats) -> None:
            rows.append(row)
            if few:
                if row["path"] in tasks:
                    progress.update(tasks[row["path"]], completed=4, state=row["status"])
                return
            counts = ", ".join(f"{status} {n}" for status, n in sorted(stats.by_status.items()))
            rate = stats.done / max(time.monotonic() - started, 1e-6)
            progress.update(run_task, completed=stats.done, total=stats.total, state=counts, rate=f"{rate:.1f}/s")

        try:
            stats = archive.run(client, sources, report, analyse_one, jobs, done, on_row)
        except archive.QuotaExhausted as exc:
            progress.stop()
            wait = f" (in {exc.retry_after_s / 3600:.1f} h)" if exc.retry_after_s else ""
            console.print(
                f"[red]stopped: {shown(exc)}{wait}[/] Rerun with --resume REPORT then: finished files are skipped."
            )
            raise
    if few:
        for row in rows:
            _describe_row(row)
    return stats, rows


def _describe_row(row: dict[str, Any]) -> None:
    if row["status"] == "skipped":
        console.print(f"[yellow]- {shown(row['path'])}[/]: skipped, {shown(row['reason'])}")
        return
    record = row.get("record") or {}
    _describe(JobResult(row["path"], row.get("jobId") or "", row["status"], record, float(row.get("seconds") or 0)))
    for saved in row.get("outputs") or []:
        console.print(f"  saved {shown(saved)}")


def _summary(stats: archive.RunStats) -> None:
    errors = sum(n for status, n in stats.by_status.items() if status == "error")
    complete = stats.by_status.get("complete", 0)
    parts = [f"{complete} complete, {errors} error"]
    if skipped := stats.by_status.get("skipped", 0):
        parts.append(f"{skipped} skipped")
    if stats.resumed:
        parts.append(f"{stats.resumed} already in the report (not uploaded again)")
    console.print(", ".join(parts))
    if stats.by_error:
        console.print("  errors: " + shown(", ".join(f"{code} {n}" for code, n in sorted(stats.by_error.items()))))
    if stats.total > FEW_FILES:  # (a few files' rows were printed each, with their errors)
        for path, code in stats.failures:
            console.print(f"  [red]✗[/] {shown(path)}: {shown(code)}")
        if errors > len(stats.failures):
            console.print(f"  … and {errors - len(stats.failures)} more in error: the report names every one")
        if stats.slowest:
            console.print("  slowest: " + shown(", ".join(f"{path} {sec:.1f} s" for sec, path in stats.slowest)))


def cmd_analyze(args: argparse.Namespace) -> int:
    if args.classifier and args.api:
        console.print("[red]--classifier configures a local stack; a deployed stack has its own (Pulumi config)[/]")
        return 2
    if args.classifier and not Path(args.classifier).is_file():
        console.print(f"[red]no such classifier spec:[/] {shown(args.classifier)}")
        return 2
    if args.jobs < 1:
        console.print("[red]--jobs must be at least 1[/]")
        return 2
    missing = [f for f in args.files if not Path(f).exists()]
    if missing:
        console.print(f"[red]no such file:[/] {shown(', '.join(missing))}")
        return 2
    sources = list(archive.discover([Path(f) for f in args.files], args.max_bytes))
    report_path = Path(args.report) if args.report else Path(args.resume) if args.resume else None
    done = archive.already_done(Path(args.resume)) if args.resume else None
    report = archive.Report(report_path) if report_path else None
    try:
        with ExitStack() as stack_scope:
            api = args.api
            if api is None:
                stack = _start_stack(args.backend, classifier=args.classifier)
                stack_scope.callback(stack.stop)
                api = stack.api_url
            client = ApiClient(api, token=args.token)
            stats, _ = analyze(client, sources, Path(args.out), args.timeout, args.window, report, args.jobs, done)
    except archive.QuotaExhausted:
        return 1
    except KeyboardInterrupt:
        where = f" {report_path} holds every finished file: rerun with --resume {report_path}" if report_path else ""
        console.print(f"interrupted.{where}")
        return 130
    finally:
        if report:
            report.close()
    _summary(stats)
    if report_path:
        console.print(f"report: {report_path}")
    return 1 if stats.by_status.get("error") else 0


def demo_items() -> list[tuple[str, bytes]]:
    """Sample photos (scikit-image) and DICOM files (pydicom, pydicom-data) that ship with the dev install."""
    items: list[tuple[str, bytes]] = []
    try:
        from PIL import Image
        from skimage import data

        for name, fmt in (("chelsea", "JPEG"), ("coffee", "PNG"), ("astronaut", "JPEG")):
            buffer = io.BytesIO()
            Image.fromarray(getattr(data, name)()).save(buffer, format=fmt)
            items.append((f"{name}.{fmt.lower().replace('jpeg', 'jpg')}", buffer.getvalue()))
    except ImportError:
        console.print("[yellow]scikit-image is not installed: no sample photos (pip install -e '.[dev]')[/]")
    from local.samples import sample_bytes

    for name in ("CT_small.dcm", "emri_small_jpeg_2k_lossless.dcm", "RG3_J2KI.dcm"):
        try:
            items.append((name, sample_bytes(name)))
        except FileNotFoundError:  # RG3 comes with pydicom-data, part of the dev install
            console.print(f"[yellow]{name} is not available: skipped[/]")
    items.append(("not-an-image.jpg", b"%PDF-1.7 this is not an image\n" * 10))
    return items


def cmd_demo(args: argparse.Namespace) -> int:
    stack = _start_stack(args.backend)
    try:
        sources = archive.in_memory(demo_items())
        _, rows = analyze(ApiClient(stack.api_url), sources, Path(args.out), args.timeout)
    finally:
        stack.stop()
    expected_errors = [r for r in rows if r["path"] == "not-an-image.jpg"]
    unexpected = [r for r in rows if r["status"] != "complete" and r not in expected_errors]
    console.print(
        f"\n{sum(r['status'] == 'complete' for r in rows)} complete; the PDF named .jpg ended "
        f"{expected_errors[0].get('errorCode') if expected_errors else '?'} as it should. Images saved in {args.out}/"
    )
    return 1 if unexpected else 0


def cmd_localstack_image(args: argparse.Namespace) -> int:
    from local.emulators.localstack import image

    return image.main(["--force"] if args.force else [])


EXIT_CODES = """exit codes:
  0    every job complete (up: stopped cleanly)
  1    a job ended in error, or (up) the emulator stopped unexpectedly
  2    usage: a bad option, a missing file, a port in use, a backend that cannot run here
  130  interrupted with Ctrl-C"""


def _subcommand(commands: Any, name: str, help_text: str, parents: list[argparse.ArgumentParser]) -> Any:
    """A subcommand whose --help shows every option's default and the exit codes."""
    return commands.add_parser(
        name,
        parents=parents,
        help=help_text,
        description=help_text,
        epilog=EXIT_CODES,
        formatter_class=lambda prog: _HelpFormatter(prog, max_help_position=32),
    )


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        # Options without a default (None, off) or that name their default already say nothing more.
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="image-analyzer",
        description=__doc__.splitlines()[0],
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    default_backend = os.environ.get(BACKEND_ENV) or "moto"
    if default_backend not in BACKENDS:
        parser.error(f"{BACKEND_ENV}={default_backend!r}: choose one of {', '.join(BACKENDS)}")
    backend_help = f"emulated AWS for the local stack (default: ${BACKEND_ENV} or moto; now {default_backend})"
    parser.add_argument("--backend", choices=BACKENDS, default=default_backend, help=backend_help)
    # Accepted after the subcommand too (`image-analyzer up --backend localstack`); SUPPRESS keeps the global value.
    backend_option = argparse.ArgumentParser(add_help=False)
    backend_option.add_argument("--backend", choices=BACKENDS, default=argparse.SUPPRESS, help=backend_help)
    commands = parser.add_subparsers(dest="command", required=True)
    up = _subcommand(commands, "up", "start the local stack and keep it running", [backend_option])
    up.add_argument("--port", type=int, default=8000, help="port of the API and web page (0: any free port)")
    up.add_argument(
        "--log-file",
        default="local-stack.log",
        help="where the functions' logs go (JSON lines with the jobId); '-' for the console",
    )
    up.add_argument("--classifier", metavar="SPEC", help="run this ONNX classifier spec (JSON) on every image")
    up.add_argument(
        "--auth",
        action="store_true",
        help="require a JWT on every route, as a deployed stack does; prints a development token",
    )
    up.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="a stack setting by its Pulumi key (redactText=all, dailyUploadQuota=3…), checked as `pulumi up` "
        "checks it; repeatable, over --stack-config",
    )
    up.add_argument(
        "--stack-config",
        metavar="FILE",
        help="run with a stack's settings: its Pulumi.<stack>.yaml (the image-analyzer: keys)",
    )
    up.set_defaults(run=cmd_up)
    an = _subcommand(commands, "analyze", "analyse image or DICOM files", [backend_option])
    an.add_argument(
        "files", nargs="+", help="JPEG, PNG, GIF, WebP, BMP, TIFF or DICOM files, folders (recursive) and zip files"
    )
    an.add_argument("--api", help="API URL of a running stack (default: start a local one)")
    an.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"bearer token for an authenticated stack (default: ${TOKEN_ENV})",
    )
    an.add_argument("--out", default="analysed", help="folder for the analysed images")
    an.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each job")
    an.add_argument("--jobs", type=int, default=archive.DEFAULT_JOBS, help="files in flight at once")
    an.add_argument(
        "--report", metavar="FILE", help="a row per file as it finishes: JSON lines, or CSV when FILE ends in .csv"
    )
    an.add_argument(
        "--resume",
        metavar="FILE",
        help="skip every file whose sha256 has a finished row in this report (and append to it)",
    )
    an.add_argument(
        "--max-bytes",
        type=int,
        default=archive.DEFAULT_MAX_UPLOAD_BYTES,
        help="files larger than this are listed as skipped, not uploaded (the stack's maxUploadBytes)",
    )
    an.add_argument(
        "--classifier", metavar="SPEC", help="run this ONNX classifier spec (JSON) on the local stack it starts"
    )
    an.add_argument(
        "--window",
        metavar="NAME|C,W",
        help=f"also save each greyscale DICOM in this window: {', '.join(PRESET_NAMES)}, or CENTRE,WIDTH",
    )
    an.set_defaults(run=cmd_analyze)
    demo = _subcommand(commands, "demo", "start the local stack and analyse sample images", [backend_option])
    demo.add_argument("--out", default="analysed", help="folder for the analysed images")
    demo.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each job")
    demo.set_defaults(run=cmd_demo)
    image = _subcommand(
        commands,
        "localstack-image",
        "build the LocalStack image offline (PyPI, Debian and npm only; needs root and Docker)",
        [],
    )
    image.add_argument("--force", action="store_true", help="rebuild even if an image of this recipe exists")
    image.set_defaults(run=cmd_localstack_image)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except BackendUnavailable as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    except KeyboardInterrupt:  # Ctrl-C before `up` was ready: everything started so far has been stopped
        console.print("interrupted.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
