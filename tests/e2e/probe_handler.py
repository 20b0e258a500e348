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
