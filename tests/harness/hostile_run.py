"""Run ``analyse`` on each hostile file in a forked child and report its outcome and the child's peak memory."""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass

from tests.harness.hostile import Hostile

CHILD_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class HostileOutcome:
    name: str
    kind: str
    code: str  # the ProcessingError code, "complete", or "UNCAUGHT:<type>" (a bug), or "KILLED:<signal>"
    peak_rss_mb: float
    seconds: float


def _child(item: Hostile, write_fd: int) -> None:
    from image_analyzer.errors import ProcessingError
    from image_analyzer.processing import analyse, frame_copy

    started = time.perf_counter()
    try:
        # What the processor computes from the content (without redaction): the analysis, then the frame copy.
        frame_copy(analyse(item.data, item.file_type), item.data)
        code = "complete"
    except ProcessingError as exc:
        code = exc.code.value
    except BaseException as exc:
        code = f"UNCAUGHT:{type(exc).__name__}"
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    payload = {"code": code, "peak": peak_kb / 1024, "seconds": time.perf_counter() - started}
    os.write(write_fd, json.dumps(payload).encode())
    os._exit(0)


def run(items: Iterable[Hostile]) -> list[HostileOutcome]:
    # Import once in the parent as the processor's worker does (handler, boto3, Powertools, pydicom, numpy): each
    # child starts warm, and its peak includes all of that.
    os.environ.setdefault("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
    import handlers.process_image  # noqa: F401
    import image_analyzer.dicom  # noqa: F401

    outcomes = []
    for item in items:
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(item, write_fd)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as reader:
            # A child that hangs is a finding too: it is killed after CHILD_TIMEOUT_S and reported as HUNG.
            ready, _, _ = select.select([reader], [], [], CHILD_TIMEOUT_S)
            raw = reader.read() if ready else b""
        if not ready:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            outcomes.append(HostileOutcome(item.name, item.kind, "HUNG", 0, CHILD_TIMEOUT_S))
            continue
        _, status = os.waitpid(pid, 0)
        if raw:
            result = json.loads(raw)
            outcomes.append(HostileOutcome(item.name, item.kind, result["code"], result["peak"], result["seconds"]))
        else:
            outcomes.append(HostileOutcome(item.name, item.kind, f"KILLED:{os.waitstatus_to_exitcode(status)}", 0, 0))
    return outcomes


def run_in_fresh_process(memory_mb: int) -> list[HostileOutcome]:
    """The whole run in a new interpreter, so that the peaks start from what a worker holds, not from what a test
    process has accumulated."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "tests.harness.hostile_run", "--json"],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"the hostile run failed: {done.stderr[-2000:]}")
    return [HostileOutcome(**json.loads(line)) for line in done.stdout.splitlines() if line.startswith("{")]


if __name__ == "__main__":
    from dataclasses import asdict

    from tests.harness.hostile import corpus

    results = run(corpus())
    if "--json" in sys.argv:
        for outcome in results:
            print(json.dumps(asdict(outcome)))
        sys.exit(0)
    for outcome in sorted(results, key=lambda o: -o.peak_rss_mb):
        print(
            f"{outcome.peak_rss_mb:8.0f} MB {outcome.seconds:6.2f} s  {outcome.code:32} {outcome.kind:22} {outcome.name}"
        )
    print(len(results), "files", file=sys.stderr)
