"""Handlers used only to test the function runtime itself."""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def environment(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"env": dict(os.environ), "pid": os.getpid(), "remainingMs": context.get_remaining_time_in_millis()}


def sleep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event["seconds"]))
    return {"pid": os.getpid()}


def crash(event: dict[str, Any], context: Any) -> None:
    os._exit(3)


def fail(event: dict[str, Any], context: Any) -> None:
    raise ValueError("boom")


def killed(event: dict[str, Any], context: Any) -> None:
    """Dies as an out-of-memory kill does: no exit handlers, no flushed output."""
    os.kill(os.getpid(), signal.SIGKILL)


def hog(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Takes ``mb`` megabytes of resident memory, 16 MB at a time, then holds it for ``hold`` seconds."""
    chunks = [b"x" * (16 << 20) for _ in range(int(event["mb"]) // 16)]
    time.sleep(float(event.get("hold", 0)))
    return {"held": len(chunks) * 16}


def forked_hog(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Holds ``parent_mb`` itself, then forks a child that takes ``mb`` more and holds it for ``hold`` seconds;
    reports how the child ended (its signal, or 0) and what the worker measured while it ran."""
    held = [b"p" * (16 << 20) for _ in range(int(event.get("parent_mb", 0)) // 16)]
    pid = os.fork()
    if pid == 0:
        chunks = [b"x" * (16 << 20) for _ in range(int(event["mb"]) // 16)]
        time.sleep(float(event.get("hold", 0)))
        os._exit(0 if chunks or held else 1)
    _, status = os.waitpid(pid, 0)
    return {"childSignal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0, "held": len(held) * 16}
