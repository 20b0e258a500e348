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
