"""The local function runtime: each function in warm worker processes with exactly its cloud environment.

Timeouts and memory are enforced (the worker is killed, as Lambda kills a function past its timeout or its memory
size), a crashed or killed worker is replaced, and every line a function prints is forwarded to a log sink with
the function's name.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image_analyzer.definitions import FunctionDef
from local.calls import CALL_LOG_ENV
from local.emulators import LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY

ROOT = Path(__file__).resolve().parent.parent
INIT_TIMEOUT_S = 30.0
# How often a busy worker's resident memory is read (Linux /proc); a worker past its function's memory is killed.
MEMORY_POLL_S = 0.02
# Variables of the developer's machine that keep numerical libraries from crashing on some processors.
_PASSED_THROUGH = ("PATH", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "SYSTEMROOT")

LogSink = Callable[[str, str], None]


class InvocationError(RuntimeError):
    """The function did not return: it raised, timed out or its process died."""

    def __init__(self, kind: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind  # "error", "timeout", "crash"
        self.details = details or {}


def lambda_environment(
    definition: FunctionDef, function_env: dict[str, str], endpoints: dict[str, str], region: str = "us-east-1"
) -> dict[str, str]:
    """What Lambda gives a function: its configured variables, the runtime's own, credentials and endpoints."""
    env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_ACCESS_KEY,
            "AWS_LAMBDA_FUNCTION_NAME": definition.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(definition.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "_HANDLER": definition.handler,
            "LAMBDA_TASK_ROOT": str(ROOT),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            # No X-Ray daemon runs locally: the handlers' Tracer would try to send segments to one.
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    env.update(endpoints)  # boto3's standard AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_REKOGNITION
    env.update(function_env)
    return env


class _WorkerGone(Exception):
    """The worker's response pipe closed: the process died (crash, kill, out of memory)."""


class _OutOfMemory(Exception):
    """The worker went past its function's memory size and was killed."""


def _proc_mb(path: str, field_name: str) -> float | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(field_name):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


def resident_mb(pid: int) -> float | None:
    """The process's resident memory, or None where /proc cannot tell (not Linux, or the process is gone)."""
    return _proc_mb(f"/proc/{pid}/status", "VmRSS:")


def peak_resident_mb(pid: int) -> float | None:
    """The process's peak resident memory (the kernel's high-water mark)."""
    return _proc_mb(f"/proc/{pid}/status", "VmHWM:")


def proportional_mb(pid: int) -> float | None:
    """The process's share of the memory it uses: a page shared by n processes counts 1/n (a forked child shares
    its parent's pages until either writes them), so the sum over processes counts every page once, as the
    memory limit of Lambda's sandbox does."""
    return _proc_mb(f"/proc/{pid}/smaps_rollup", "Pss:")


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (Linux /proc); the process alone where /proc cannot tell."""
    tree, index = [pid], 0
    while index < len(tree):
        parent = tree[index]
        index += 1
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError, ValueError):
                tree.extend(int(child) for child in Path(f"/proc/{parent}/task/{task}/children").read_text().split())
    return tree


@dataclass(frozen=True)
class TreeMemory:
    total_mb: float  # every page once: the worker's resident memory alone, or the tree's proportional sum
    largest_pid: int  # the process the kernel's out-of-memory killer would choose (the largest resident)


def tree_memory(pid: int) -> TreeMemory | None:
    """What a sandbox's memory limit sees of a worker and the processes it forked."""
    tree = process_tree(pid)
    resident = {p: mb for p in tree if (mb := resident_mb(p)) is not None}
    if pid not in resident:
        return None
    largest = max(resident, key=resident.__getitem__)
    if len(resident) == 1:
        return TreeMemory(resident[pid], pid)
    # Resident memory counts a shared page in every process that maps it: a forked child would double its parent.
    return TreeMemory(sum(proportional_mb(p) or 0.0 for p in resident), largest)


class Worker:
    def __init__(self, definition: FunctionDef, env: dict[str, str], log: LogSink, wait: bool = True) -> None:
        self.definition = definition
        self._env = env
        self._log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._responses: Any = None
        self.invocations = 0
        # The most memory the worker and the processes it forked used at once, as sampled while busy (MB).
        self.peak_memory_mb = 0.0
        self.memory_kills = 0
        # Lambda bills each invocation's duration, rounded up to the millisecond, at the function's memory size.
        self.billed_ms = 0
        # The event being handled now (None when idle): lets operators and fault tests see what a worker is doing.
        self.current_event: dict[str, Any] | None = None
        self._ready = False
        self._spawn()
        if wait:
            self.await_ready()

    def _start(self) -> None:
        self._spawn()
        self.await_ready()

    def _spawn(self) -> None:
        self._ready = False
        read_fd, write_fd = os.pipe()
        # The AWS calls it makes are recorded where the developer (or the test session) asks: local.calls.
        call_log = [os.environ[CALL_LOG_ENV]] if os.environ.get(CALL_LOG_ENV) else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.worker", self.definition.handler, str(write_fd), *call_log],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self._env,
            cwd=ROOT,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self._responses = os.fdopen(read_fd, "rb", buffering=0)
        threading.Thread(target=self._forward_output, args=(self.process,), daemon=True).start()

    def await_ready(self) -> None:
        """Wait for the handler module to be imported (a cold start); workers can spawn first and wait together."""
        if self._ready:
            return
        try:
            ready = self._read_response(INIT_TIMEOUT_S)
        except _WorkerGone:
            ready = None
        if ready is None or "ready" not in ready:
            self.kill()
            detail = (ready or {}).get("initError", {}).get("errorMessage", "no response")
            raise InvocationError("crash", f"{self.definition.name} failed to initialise: {detail}")
        self._ready = True

    def _forward_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for raw in process.stdout:
            self._log(self.definition.name, raw.decode(errors="replace").rstrip())

    def _read_response(self, timeout_s: float, memory_mb: int | None = None) -> dict[str, Any] | None:
        """One JSON line, or None on timeout. Raises _WorkerGone when the response pipe closed: the worker has
        died, whether or not the process has been reaped yet; with ``memory_mb``, raises _OutOfMemory once the
        worker's resident memory went past it (the worker is killed)."""
        deadline = time.monotonic() + timeout_s
        buffer = b""
        while not buffer.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            wait = min(remaining, MEMORY_POLL_S) if memory_mb else remaining
            readable, _, _ = select.select([self._responses], [], [], wait)
            if not readable:
                if memory_mb:
                    self._watch_memory(memory_mb)
                continue
            chunk = self._responses.read(65536)
            if not chunk:
                raise _WorkerGone
            buffer += chunk
        return json.loads(buffer)

    def _watch_memory(self, memory_mb: int) -> None:
        """Past the function's memory, the largest process goes, as the kernel's out-of-memory killer would choose
        in Lambda's sandbox: a forked decode is killed and its parent carries on; the worker itself is killed
        with everything it forked, and the invocation fails as Lambda's does."""
        used = tree_memory(self.process.pid) if self.process else None
        if used is None:
            return
        self.peak_memory_mb = max(self.peak_memory_mb, used.total_mb)
        if used.total_mb <= memory_mb:
            return
        self.memory_kills += 1
        if used.largest_pid != self.process.pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(used.largest_pid, signal.SIGKILL)
            return
        self.kill()
        raise _OutOfMemory(f"{used.total_mb:.0f} MB")

    def memory_peak_mb(self) -> float:
        """The worker's peak so far: its own high-water mark, or the sampled peak with what it forked."""
        own = peak_resident_mb(self.process.pid) if self.alive() and self.process else None
        return max(own or 0.0, self.peak_memory_mb)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def invoke(self, event: dict[str, Any], timeout_s: float) -> Any:
        if not self.alive():
            self.restart()
        self.await_ready()
        self.current_event = event
        started = time.perf_counter()
        try:
            response = self._exchange(event, timeout_s)
        finally:
            self.current_event = None
            self.billed_ms += math.ceil((time.perf_counter() - started) * 1000)
        if isinstance(response, InvocationError):  # the worker died or timed out: replace it, then report
            self.restart()
            raise response
        if "error" in response:
            raise InvocationError("error", response["error"].get("errorMessage", ""), response["error"])
        return response["result"]

    def _exchange(self, event: dict[str, Any], timeout_s: float) -> dict[str, Any] | InvocationError:
        """Send one request and read its response; a dead or hung worker comes back as an InvocationError."""
        assert self.process is not None and self.process.stdin is not None
        deadline_ms = int((time.time() + timeout_s) * 1000)
        request = {"event": event, "requestId": str(uuid.uuid4()), "deadlineMs": deadline_ms}
        self.invocations += 1
        try:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            response = self._read_response(timeout_s, self.definition.memory_mb)
        except (BrokenPipeError, _WorkerGone):
            return InvocationError("crash", f"{self.definition.name}: worker process exited mid-invocation")
        except _OutOfMemory as exc:  # as Lambda reports it: the runtime was killed at the memory size
            return InvocationError(
                "crash",
                f"{self.definition.name}: Runtime exited with error: signal: killed "
                f"(memory size {self.definition.memory_mb} MB, {exc} resident)",
            )
        if response is None:
            return InvocationError("timeout", f"{self.definition.name}: task timed out after {timeout_s:.2f} seconds")
        return response

    def restart(self) -> None:
        self.kill()
        self._start()

    def kill(self) -> None:
        """The worker and whatever it forked (a decode in a child must not outlive its invocation)."""
        if self.process is not None and self.process.poll() is None:
            for pid in reversed(process_tree(self.process.pid)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        if self._responses is not None:
            self._responses.close()
            self._responses = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        self.kill()


@dataclass
class FunctionPool:
    """Up to ``size`` warm workers of one function; an invocation waits for a free one."""

    definition: FunctionDef
    env: dict[str, str]
    size: int
    log: LogSink
    timeout_s: float
    workers: list[Worker] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._idle: queue.Queue[Worker] = queue.Queue()
        # Spawned without waiting: FunctionRuntime waits for every worker of every function at once.
        self.workers = [Worker(self.definition, self.env, self.log, wait=False) for _ in range(self.size)]
        for worker in self.workers:
            self._idle.put(worker)

    def invoke(self, event: dict[str, Any]) -> Any:
        worker = self._idle.get()
        try:
            return worker.invoke(event, self.timeout_s)
        finally:
            self._idle.put(worker)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


class FunctionRuntime:
    def __init__(self, pools: dict[str, FunctionPool], wait: bool = True) -> None:
        self.pools = pools
        if wait:
            self.await_ready()

    def await_ready(self) -> None:
        for pool in self.pools.values():  # the workers were spawned together: their cold starts overlap
            for worker in pool.workers:
                worker.await_ready()

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        return self.pools[function].invoke(event)

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.stop()
