"""Work on one hostile file in a forked child, with a time limit.

A decoder stuck in C never returns to Python, so no signal or thread can stop it: only a process can be stopped
mid-decode. The child is forked (the parent's imports are shared, not repeated: a fork costs milliseconds) and sends
its result back pickled, large arrays out of band (pickle protocol 5) so that they are copied once. The child's
memory counts against the function's as it would on Lambda (one sandbox): the memory budget still applies.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import time
import warnings
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_LENGTH = struct.Struct("<Q")
_CHUNK = 1 << 20


class WorkTimedOut(Exception):
    """The work ran past its time limit; the child was killed."""


class WorkDied(Exception):
    """The child ended without a result: killed (for memory, by the kernel or a watchdog) or crashed."""

    def __init__(self, signal_number: int | None) -> None:
        super().__init__(f"the isolated work died ({'signal ' + str(signal_number) if signal_number else 'no result'})")
        self.signal_number = signal_number

    @property
    def killed(self) -> bool:
        return self.signal_number == signal.SIGKILL


def run_isolated(work: Callable[[], T], time_limit_s: float) -> T:
    """``work()``'s result, computed in a forked child; what it raises is raised here (it must pickle).
    Raises WorkTimedOut past ``time_limit_s`` and WorkDied when the child ends without a result."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12 warns when a process with threads forks: the child runs only ``work`` and exits at once,
        # never touching a lock another thread might have held.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        _child(work, write_fd)
    os.close(write_fd)
    try:
        payload = _read_payload(read_fd, time.monotonic() + time_limit_s)
    except WorkTimedOut:
        _kill(pid)
        raise
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    if payload is None:
        raise WorkDied(os.WTERMSIG(status) if os.WIFSIGNALED(status) else None)
    ok, value = _unpack(payload)
    if ok:
        return value
    raise value


def _child(work: Callable[[], object], write_fd: int) -> None:
    code = 0
    try:
        try:
            message = (True, work())
        except BaseException as exc:  # everything goes back to the parent, which decides
            message = (False, exc)
        buffers: list[pickle.PickleBuffer] = []
        head = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        raws = [buffer.raw() for buffer in buffers]
        lengths = struct.pack(f"<{len(raws) + 1}Q", len(head), *(len(raw) for raw in raws))
        total = _LENGTH.size + len(lengths) + len(head) + sum(len(raw) for raw in raws)
        with os.fdopen(write_fd, "wb", buffering=0) as out:
            out.write(_LENGTH.pack(total) + _LENGTH.pack(len(raws)) + lengths)
            for part in (head, *raws):
                view = memoryview(part)
                while view:
                    view = view[out.write(view) :]
    except BaseException:  # nothing can be sent: the parent sees a death
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no buffered output of the parent's written twice


def _read_payload(fd: int, deadline: float) -> bytearray | None:
    """The child's message, or None if it closed the pipe before sending all of it."""
    head = _read_exactly(fd, _LENGTH.size, deadline)
    if head is None:
        return None
    return _read_exactly(fd, _LENGTH.unpack(head)[0], deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytearray | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise WorkTimedOut
        count = os.readv(fd, [view[filled : filled + _CHUNK]])
        if count == 0:
            return None
        filled += count
    return buffer


def _unpack(payload: bytearray) -> tuple[bool, object]:
    view = memoryview(payload)
    (count,) = _LENGTH.unpack_from(view, 0)
    lengths = struct.unpack_from(f"<{count + 1}Q", view, _LENGTH.size)
    offset = _LENGTH.size + 8 * (count + 1)
    parts = []
    for length in lengths:
        parts.append(view[offset : offset + length])
        offset += length
    return pickle.loads(parts[0], buffers=parts[1:])


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
