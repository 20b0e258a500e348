from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import requests

from local.emulator import BackendUnavailable, docker_unavailable_reason
from local.stack import BACKEND_ENV, LocalStack, StackOptions


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        choices=("moto", "localstack"),
        default=os.environ.get(BACKEND_ENV, "moto"),
        help="emulated AWS for the end-to-end tests",
    )


def start(options: StackOptions) -> LocalStack:
    if options.backend == "localstack":
        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(f"LocalStack backend needs Docker ({reason}); the same tests run on the moto backend")
    try:
        return LocalStack(options).start()
    except BackendUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--backend")


@pytest.fixture(scope="module")
def stack(backend: str) -> Iterator[LocalStack]:
    """The stack as deployed (default timeouts), on the chosen backend."""
    running = start(StackOptions(backend=backend, processor_workers=2))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fault_stack(backend: str) -> Iterator[LocalStack]:
    """Short timeouts so that retries, kills and the dead-letter queue happen within seconds."""
    running = start(
        StackOptions(
            backend=backend,
            processor_workers=2,
            timeouts={"process_image": 4.0},
            visibility_timeout_s=5,
            settings={"MAX_RECEIVE_COUNT": "2"},
        )
    )
    yield running
    running.stop()


def inject_fault(stack: LocalStack, data: bytes, **fault: object) -> None:
    import hashlib

    assert stack.labels is not None
    spec = {"sha256": hashlib.sha256(data).hexdigest(), **fault}
    requests.post(f"{stack.labels.url}/_local/faults", json=spec, timeout=5).raise_for_status()


def label_calls(stack: LocalStack) -> dict[str, int]:
    assert stack.labels is not None
    return requests.get(f"{stack.labels.url}/_local/stats", timeout=5).json()["byImage"]
