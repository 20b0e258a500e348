from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.client import ApiClient
from local.emulators import Backend, BackendUnavailable, local_client, start_backend
from local.emulators.containers import docker_unavailable_reason
from local.label_service.service import LabelServiceProcess
from local.stack import LocalStack, StackOptions
from tests.harness.browser import CHROMIUM
from tests.harness.deployed_api import ApiTarget


@pytest.fixture(scope="session")
def emulator(backend: str) -> Iterator[Backend]:
    """One emulator for the whole session (a LocalStack container takes seconds to start); each stack gets
    resources of its own in it."""
    if backend == "localstack":
        reason = docker_unavailable_reason()
        if reason:
            pytest.skip(
                f"the LocalStack backend needs Docker ({reason}); the same tests run on the moto backend. "
                "Install and start Docker, then build the image with `image-analyzer localstack-image`."
            )
    try:
        running = start_backend(backend)
    except BackendUnavailable as exc:
        pytest.skip(f"{exc}; the same tests run on the moto backend")
    yield running
    running.stop()


def start(options: StackOptions) -> LocalStack:
    return LocalStack(options).start()


@pytest.fixture(scope="module")
def stack(backend: str, emulator: Backend) -> Iterator[LocalStack]:
    """The stack as deployed (default timeouts), on the chosen backend."""
    running = start(StackOptions(backend=backend, emulator=emulator, processor_workers=2))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api_target(request: pytest.FixtureRequest, backend: str) -> ApiTarget:
    """The HTTP API under test: the deployed stack given by --api (with --token), or this module's local stack."""
    url = request.config.getoption("--api")
    if url:
        return ApiTarget(url.rstrip("/"), request.config.getoption("--token"))
    return ApiTarget(request.getfixturevalue("stack").api_url)


@pytest.fixture(scope="module")
def client(api_target: ApiTarget) -> ApiClient:
    return ApiClient(api_target.url, token=api_target.token)


def quick_retry_stack(backend: str, emulator: Backend, workers: int, timeout_s: float, **settings: str) -> LocalStack:
    """Two deliveries, each within ``timeout_s``, redelivered soon after (the visibility timeout just outlasts the
    function's, as deployed: a redelivery finds a killed attempt's lease run out)."""
    options = StackOptions(
        backend=backend,
        emulator=emulator,
        processor_workers=workers,
        timeouts={"process_image": timeout_s},
        visibility_timeout_s=int(timeout_s) + 1,
        settings={"MAX_RECEIVE_COUNT": "2", **settings},
    )
    return start(options)


@pytest.fixture(scope="module")
def fault_stack(backend: str, emulator: Backend) -> Iterator[LocalStack]:
    """Short timeouts so that retries, kills and the dead-letter queue happen within seconds."""
    running = quick_retry_stack(backend, emulator, 2, 4.0, DECODE_TIME_LIMIT_S="2")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def memory_stack(backend: str, emulator: Backend) -> Iterator[LocalStack]:
    """A timeout long enough that only the memory limit ends an invocation."""
    running = quick_retry_stack(backend, emulator, 1, 15.0)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def rekognition(stack: LocalStack) -> Any:
    """boto3's own Rekognition client, pointed at the stack's label service."""
    return local_client("rekognition", stack.labels.url)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (.ci/run installs Debian's chromium package)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def label_service_rekognition() -> Iterator[Any]:
    """boto3's Rekognition client on a label service of its own, with no stack: for what does not depend on the
    backend (the service is the same on both), run once instead of once a backend. Module-scoped: its process
    ends with the module, so later tests see no child of the test process that is not theirs."""
    service = LabelServiceProcess()
    yield local_client("rekognition", service.url)
    service.stop()
