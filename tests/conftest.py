from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.calls import CALL_LOG_ENV
from local.emulators import BACKEND_ENV, BACKENDS
from tests.harness.deployed_api import split_for_a_deployed_api
from tests.harness.session import E2E_IN_SESSION, RUNS_LAST

# Never reach real AWS from a test, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_REKOGNITION"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_DEV="false",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backend",
        default=os.environ.get(BACKEND_ENV) or ",".join(BACKENDS),
        help=f"emulated AWS for the end-to-end tests, comma-separated: {', '.join(BACKENDS)} "
        f"(default: ${BACKEND_ENV}, else all; LocalStack skips with the reason where Docker or its image is missing)",
    )
    parser.addoption(
        "--api",
        default=None,
        help="run the end-to-end tests that need nothing but the HTTP API against this deployed stack's URL "
        "(e.g. after `pulumi up`, or a separate `image-analyzer up --auth`); the others are deselected",
    )
    parser.addoption(
        "--token",
        default=os.environ.get("IMAGE_ANALYZER_TOKEN"),
        help="bearer token for --api (default: $IMAGE_ANALYZER_TOKEN)",
    )
    parser.addoption(
        "--fail-on-skip",
        action="store_true",
        default=os.environ.get("CI") == "true",
        help="a skipped end-to-end test is a failure (on by default in CI: every test must run on every backend)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Every local function worker started in this session records the AWS calls it makes (local.calls), in one
    # file per session: tests/infra/test_permissions.py checks each role against them.
    if not os.environ.get(CALL_LOG_ENV):
        os.environ[CALL_LOG_ENV] = str(Path(tempfile.mkdtemp(prefix="image-analyzer-calls-")) / "calls.jsonl")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--api"):
        kept, deselected = split_for_a_deployed_api(items)
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = kept
            config.stash[_NEED_THE_LOCAL_STACK] = sorted({item.nodeid.split("[")[0] for item in deselected})
    config.stash[E2E_IN_SESSION] = any(item.nodeid.startswith("tests/e2e/") for item in items)
    items.sort(key=lambda item: item.nodeid.startswith(RUNS_LAST))  # stable: everything else keeps its order


_NEED_THE_LOCAL_STACK = pytest.StashKey[list[str]]()


def selected_backends(config: pytest.Config) -> list[str]:
    chosen = [name.strip() for name in config.getoption("--backend").split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or not chosen:
        raise pytest.UsageError(f"--backend {','.join(unknown) or '(empty)'}: choose from {', '.join(BACKENDS)}")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that runs on the emulated stack runs once on each selected backend ([moto], [localstack]), or
    # once against the deployed stack given by --api ([api]).
    if "backend" in metafunc.fixturenames:
        backends = ["api"] if metafunc.config.getoption("--api") else selected_backends(metafunc.config)
        metafunc.parametrize("backend", backends, scope="session")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and item.config.getoption("--fail-on-skip") and "e2e" in item.nodeid:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but --fail-on-skip is set: {reason}"


@dataclass
class MockStack:
    bucket: str
    table_name: str
    queue_url: str
    dlq_url: str

    @property
    def s3(self) -> Any:
        return boto3.client("s3")

    @property
    def table(self) -> Any:
        return boto3.resource("dynamodb").Table(self.table_name)

    def items(self) -> list[dict[str, Any]]:
        return self.table.scan()["Items"]


@pytest.fixture
def mock_stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[MockStack]:
    """The stack's resources on moto's in-process mock, and a handler environment pointing at them."""
    from moto import mock_aws

    from image_analyzer import aws
    from local.resources import provision

    with mock_aws():
        resources = provision(boto3.session.Session(), None, suffix="test")
        monkeypatch.setenv("UPLOAD_BUCKET", resources.bucket)
        monkeypatch.setenv("TABLE_NAME", resources.table)
        aws.reset()  # clients, adapters and the processor are built once per container
        yield MockStack(resources.bucket, resources.table, resources.queue_url, resources.dlq_url)
        aws.reset()


_REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Lines a test wants shown after the run (measurements such as peak memory), whatever the capture mode."""
    lines = request.config.stash.setdefault(_REPORTS, [])
    return lines.append


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if local_only := config.stash.get(_NEED_THE_LOCAL_STACK, []):
        terminalreporter.section("deselected with --api")
        terminalreporter.write_line(
            f"{len(local_only)} end-to-end tests need the local stack's internals (its table, queues, workers, "
            "logs, injected faults or its own token issuer), not only the HTTP API:"
        )
        for nodeid in local_only:
            terminalreporter.write_line(f"  {nodeid}")
    lines = config.stash.get(_REPORTS, [])
    if lines:
        terminalreporter.section("measurements")
        for line in lines:
            terminalreporter.write_line(line)
