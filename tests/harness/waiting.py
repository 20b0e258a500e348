"""Waiting on observable state where the system gives no other signal (a queue drained, a process gone)."""

from __future__ import annotations

import time


def wait_until(condition, timeout_s: float, what: str):
    """Poll observable state until ``condition()`` is truthy (the system gives no other signal)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
