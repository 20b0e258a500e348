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
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from image_analyzer.views import PRESET_NAMES
from local.client import ApiClient, ApiError, JobResult
from local.emulator import BACKEND_ENV, BACKENDS, BackendUnavailable

console = Console()
_PROGRESS = {"requested": 1, "uploaded": 2, "pending": 2, "processing": 3, "complete": 4, "error": 4}


TOKEN_ENV = "IMAGE_ANALYZER_TOKEN"


def _start_stack(
    backend: str, port: int = 0, log: Any = None, classifier: str | None = None, auth: bool = False
) -> Any:
    from local.stack import LocalStack, StackOptions

    # The processor reads the spec (and the model beside it) from this path, as a Lambda reads one under /opt.
    settings = {"CLASSIFIER_SPEC": str(Path(classifier).resolve())} if classifier else {}
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
                console.print(f"[dim]{source:>14}[/] {line}", markup=True, highlight=False, soft_wrap=True)
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


def cmd_up(args: argparse.Namespace) -> int:
    if reason := port_in_use(args.port):
        console.print(
            f"[red]cannot serve on port {args.port}: {reason}[/]; choose another with --port (0: any free port)"
        )
        return 2
    if args.classifier and not Path(args.classifier).is_file():
        console.print(f"[red]no such classifier spec:[/] {args.classifier}")
        return 2
    log = FunctionLog(args.log_file)
    try:
        stack = _start_stack(args.backend, args.port, log, args.classifier, args.auth)
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
    table = Table(title=f"{result.name} — {result.status} in {result.seconds:.2f} s", title_justify="left")
    table.add_column("Label")
    table.add_column("Confidence", justify="right")
    table.add_column("", min_width=20)
    table.add_column("Parents", style="dim")
    for label in result.labels:
        confidence = float(label["Confidence"])
        bar = "█" * round(confidence / 5)
        table.add_row(label["Name"], f"{confidence:.1f}%", bar, ", ".join(p["Name"] for p in label.get("Parents", [])))
    return table


def _describe(result: JobResult) -> None:
    record = result.record
    if not result.ok:
        console.print(f"[red]✗ {result.name}[/]: {record.get('errorCode')} — {record.get('error')}")
        return
    if result.labels:
        console.print(_labels_table(result))
    else:
        console.print(f"{result.name} — complete in {result.seconds:.2f} s: no label reached the minimum confidence")
    classifier = (record.get("results") or {}).get("classifier")
    if classifier:
        if classifier.get("error"):
            console.print(f"  classifier {classifier.get('model')}: [yellow]{classifier['error']}[/]")
        else:
            scores = ", ".join(f"{s['name']} {s['score']:.3f}" for s in classifier["scores"])
            predicted = classifier["predicted"]
            console.print(
                f"  classifier {classifier['model']} v{classifier['version']}: {predicted['name']} "
                f"(flag {predicted['index']}; {scores})"
            )
    redaction = (record.get("results") or {}).get("redaction")
    if redaction and redaction.get("method") != "none":
        console.print(f"  {redaction_summary(redaction)}")
    dicom = (record.get("results") or {}).get("dicom")
    if dicom:
        window = dicom.get("window") or {}
        console.print(
            f"  DICOM {dicom.get('modality')} {dicom.get('columns')}×{dicom.get('rows')}, {dicom.get('photometric')}, "
            f"{dicom.get('bitsStored')} bits, frame {dicom.get('frameRendered')} of {dicom.get('frames')}, "
            f"{dicom.get('transferSyntax')}, window {window.get('center')}/{window.get('width')} ({window.get('source')})"
        )


def redaction_summary(redaction: dict) -> str:
    regions = int(redaction.get("regions") or 0)
    if not regions:
        return "burned-in text: none found"
    share = 100 * float(redaction.get("areaFraction") or 0)
    return f"burned-in text: {regions} region{'s' if regions != 1 else ''} redacted ({share:.1f} % of the picture)"


def analyze(
    client: ApiClient, items: list[tuple[str, bytes]], out: Path | None, timeout: float, window: str | None = None
) -> list[JobResult]:
    results: list[JobResult] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.fields[state]}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks = {name: progress.add_task(name[:28], total=4, state="requested") for name, _ in items}

        def run(name: str, data: bytes) -> JobResult:
            def on_status(state: str) -> None:
                progress.update(tasks[name], completed=_PROGRESS.get(state, 0), state=state)

            try:
                return client.analyze(name, data, timeout_s=timeout, on_status=on_status)
            except requests.ConnectionError:
                on_status("error")
                message = (
                    f"cannot reach the API at {client.api_url}: is the stack running? Start one with "
                    "`image-analyzer up`, or check the URL given to --api"
                )
                return JobResult(name, "", "error", {"errorCode": "CONNECTION", "error": message}, 0.0)
            except ApiError as exc:  # an API refusal is a result too
                on_status("error")
                if exc.status == 401:
                    message = (
                        f"the API at {client.api_url} needs a token (401): pass --token or set {TOKEN_ENV} "
                        "(`image-analyzer up --auth` prints one for a local stack)"
                    )
                    return JobResult(name, "", "error", {"errorCode": "UNAUTHORIZED", "error": message}, 0.0)
                return JobResult(name, "", "error", {"errorCode": "CLIENT", "error": str(exc)}, 0.0)
            except Exception as exc:
                on_status("error")
                return JobResult(name, "", "error", {"errorCode": "CLIENT", "error": str(exc)}, 0.0)

        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda item: run(*item), items))
    for result in results:
        _describe(result)
        url = result.record.get("imageUrl")
        if out is not None and url:
            out.mkdir(parents=True, exist_ok=True)
            target = (
                out
                / f"{Path(result.name).stem}.analysed{'.png' if result.record['results'].get('dicom') else Path(result.name).suffix}"
            )
            target.write_bytes(client.download(url))
            console.print(f"  saved {target}")
            if window and (result.record["results"].get("dicom") or {}).get("window"):
                view = client.render(result.job_id, window)
                target = out / f"{Path(result.name).stem}.{view['view']}.png"
                target.write_bytes(client.download(view["imageUrl"]))
                console.print(f"  saved {target} (window {view['view']})")
            if crop_url := result.record.get("croppedImageUrl"):
                crop = out / f"{Path(result.name).stem}.crop.png"
                crop.write_bytes(client.download(crop_url))
                console.print(f"  saved {crop} (the classifier's crop)")
    return results


def cmd_analyze(args: argparse.Namespace) -> int:
    if args.classifier and args.api:
        console.print("[red]--classifier configures a local stack; a deployed stack has its own (Pulumi config)[/]")
        return 2
    if args.classifier and not Path(args.classifier).is_file():
        console.print(f"[red]no such classifier spec:[/] {args.classifier}")
        return 2
    files = [Path(f) for f in args.files]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        console.print(f"[red]no such file:[/] {', '.join(missing)}")
        return 2
    with ExitStack() as stack_scope:
        api = args.api
        if api is None:
            stack = _start_stack(args.backend, classifier=args.classifier)
            stack_scope.callback(stack.stop)
            api = stack.api_url
        items = [(f.name, f.read_bytes()) for f in files]
        results = analyze(ApiClient(api, token=args.token), items, Path(args.out), args.timeout, args.window)
    failed = sum(not r.ok for r in results)
    console.print(f"{len(results) - failed} complete, {failed} error")
    return 1 if failed else 0


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
        results = analyze(ApiClient(stack.api_url), demo_items(), Path(args.out), args.timeout)
    finally:
        stack.stop()
    expected_errors = [r for r in results if r.name == "not-an-image.jpg"]
    unexpected = [r for r in results if not r.ok and r not in expected_errors]
    console.print(
        f"\n{sum(r.ok for r in results)} complete; the PDF named .jpg ended "
        f"{expected_errors[0].record.get('errorCode') if expected_errors else '?'} as it should. Images saved in {args.out}/"
    )
    return 1 if unexpected else 0


def cmd_localstack_image(args: argparse.Namespace) -> int:
    from local.localstack import image

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
    up.set_defaults(run=cmd_up)
    an = _subcommand(commands, "analyze", "analyse image or DICOM files", [backend_option])
    an.add_argument("files", nargs="+", help="JPEG, PNG, GIF, WebP, BMP, TIFF or DICOM files")
    an.add_argument("--api", help="API URL of a running stack (default: start a local one)")
    an.add_argument(
        "--token",
        default=os.environ.get(TOKEN_ENV) or None,
        help=f"bearer token for an authenticated stack (default: ${TOKEN_ENV})",
    )
    an.add_argument("--out", default="analysed", help="folder for the analysed images")
    an.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each job")
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
