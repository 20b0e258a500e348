from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from local.emulator import BACKEND_ENV, BACKENDS

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
        "--fail-on-skip",
        action="store_true",
        default=os.environ.get("CI") == "true",
        help="a skipped end-to-end test is a failure (on by default in CI: every test must run on every backend)",
    )


def selected_backends(config: pytest.Config) -> list[str]:
    chosen = [name.strip() for name in config.getoption("--backend").split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(BACKENDS))
    if unknown or not chosen:
        raise pytest.UsageError(f"--backend {','.join(unknown) or '(empty)'}: choose from {', '.join(BACKENDS)}")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Every test that runs on the emulated stack runs once on each selected backend ([moto], [localstack]).
    if "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", selected_backends(metafunc.config), scope="session")


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
        aws.reset()
        import handlers.process_image

        handlers.process_image.processor.cache_clear()
        handlers.process_image.classifier.cache_clear()
        yield MockStack(resources.bucket, resources.table, resources.queue_url, resources.dlq_url)
        aws.reset()
        handlers.process_image.processor.cache_clear()
        handlers.process_image.classifier.cache_clear()


_REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Lines a test wants shown after the run (measurements such as peak memory), whatever the capture mode."""
    lines = request.config.stash.setdefault(_REPORTS, [])
    return lines.append


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    lines = config.stash.get(_REPORTS, [])
    if lines:
        terminalreporter.section("measurements")
        for line in lines:
            terminalreporter.write_line(line)
