"""The local label service's test hooks: faults for one image's bytes, and how often each image was asked about."""

from __future__ import annotations

import hashlib

import requests

from local.stack import LocalStack


def inject_fault(stack: LocalStack, data: bytes, **fault: object) -> None:
    assert stack.labels is not None
    spec = {"sha256": hashlib.sha256(data).hexdigest(), **fault}
    requests.post(f"{stack.labels.url}/_local/faults", json=spec, timeout=5).raise_for_status()


def label_calls(stack: LocalStack) -> dict[str, int]:
    assert stack.labels is not None
    return requests.get(f"{stack.labels.url}/_local/stats", timeout=5).json()["byImage"]
