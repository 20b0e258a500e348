"""The function runtime itself: exact environment, enforced timeouts, crashed workers replaced."""

from __future__ import annotations

import signal

import pytest

from image_analyzer.definitions import FunctionDef
from local.runtime import FunctionPool, InvocationError, lambda_environment


def pool(handler: str, timeout_s: float = 5.0, env: dict[str, str] | None = None) -> FunctionPool:
    definition = FunctionDef("probe", f"tests.e2e.probe_handler.{handler}", 256, int(timeout_s) or 1, "probe", ())
    environment = lambda_environment(definition, env or {"TABLE_NAME": "t"}, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})
    return FunctionPool(definition, environment, 1, lambda *_: None, timeout_s)


def test_worker_gets_exactly_the_lambda_environment(monkeypatch) -> None:
    monkeypatch.setenv("SECRET_OF_THE_DEVELOPER", "leak")
    probe = pool("environment", env={"TABLE_NAME": "jobs", "UPLOAD_BUCKET": "b"})
    try:
        result = probe.invoke({})
    finally:
        probe.stop()
    env = result["env"]
    assert "SECRET_OF_THE_DEVELOPER" not in env
    assert env["TABLE_NAME"] == "jobs" and env["UPLOAD_BUCKET"] == "b"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9" and env["AWS_LAMBDA_FUNCTION_NAME"] == "probe"
    assert env["AWS_REGION"] == "us-east-1" and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    unexpected = set(env) - set(
        lambda_environment(probe.definition, {"TABLE_NAME": "", "UPLOAD_BUCKET": ""}, {"AWS_ENDPOINT_URL": ""})
    )
    # Only what the interpreter itself adds may appear beyond what the runtime passed.
    assert unexpected <= {"LC_CTYPE", "PWD", "_"}, unexpected
    assert 0 < result["remainingMs"] <= 5000


def test_worker_stays_warm_between_invocations() -> None:
    probe = pool("environment")
    try:
        assert probe.invoke({})["pid"] == probe.invoke({})["pid"]
    finally:
        probe.stop()


def test_timeout_is_enforced_and_the_worker_replaced() -> None:
    probe = pool("sleep", timeout_s=0.5)
    try:
        first_pid = probe.workers[0].pid
        with pytest.raises(InvocationError) as info:
            probe.invoke({"seconds": 5})
        assert info.value.kind == "timeout"
        assert probe.workers[0].pid != first_pid
        assert probe.invoke({"seconds": 0})["pid"] == probe.workers[0].pid
    finally:
        probe.stop()


@pytest.mark.parametrize("attempt", range(4))
@pytest.mark.parametrize("handler", ["crash", "killed"])
def test_crashed_worker_is_reported_as_a_crash_and_replaced(handler: str, attempt: int) -> None:
    # A long timeout: a death must be seen when the response pipe closes, not when the timeout runs out
    # (repeated, because that once depended on whether the process had been reaped yet).
    probe = pool(handler, timeout_s=120.0)
    try:
        first_pid = probe.workers[0].pid
        with pytest.raises(InvocationError) as info:
            probe.invoke({})
        assert info.value.kind == "crash", info.value
        assert probe.workers[0].alive() and probe.workers[0].pid != first_pid
    finally:
        probe.stop()


def test_a_forked_child_counts_once_and_past_the_memory_size_the_largest_process_goes() -> None:
    """A worker of 96 MB forks a child: the child shares the parent's pages (resident memory would count them
    twice), so a child of 64 MB more fits in 256 MB; one of 400 MB is killed, as the kernel's out-of-memory
    killer would choose it, and the worker carries on."""
    probe = pool("forked_hog", timeout_s=60.0)
    try:
        worker = probe.workers[0]
        pid = worker.pid
        fits = probe.invoke({"parent_mb": 96, "mb": 64, "hold": 1.0})
        assert fits["childSignal"] == 0 and worker.memory_kills == 0
        assert 96 + 64 <= worker.peak_memory_mb < 256, f"the tree's peak counted {worker.peak_memory_mb:.0f} MB"
        killed = probe.invoke({"parent_mb": 96, "mb": 400, "hold": 30})
        assert killed["childSignal"] == signal.SIGKILL and worker.memory_kills == 1
        assert worker.pid == pid, "the worker itself was not the largest process: it lives on"
    finally:
        probe.stop()


def test_handler_exception_is_an_error_not_a_crash() -> None:
    probe = pool("fail")
    try:
        pid = probe.workers[0].pid
        with pytest.raises(InvocationError) as info:
            probe.invoke({})
        assert info.value.kind == "error" and info.value.details["errorType"] == "ValueError"
        assert probe.workers[0].pid == pid, "an exception does not cost the warm worker"
    finally:
        probe.stop()


def test_a_worker_past_its_memory_size_is_killed_and_replaced() -> None:
    # As Lambda: the probe function has 256 MB; a worker that holds more is killed, whatever it was doing.
    probe = pool("hog", timeout_s=60.0)
    try:
        first_pid = probe.workers[0].pid
        assert probe.invoke({"mb": 64})["held"] == 64, "within its memory a function runs"
        with pytest.raises(InvocationError) as info:
            probe.invoke({"mb": 512, "hold": 30})
        assert info.value.kind == "crash" and "memory size 256 MB" in str(info.value), info.value
        assert probe.workers[0].alive() and probe.workers[0].pid != first_pid
        assert probe.invoke({"mb": 16})["held"] == 16
    finally:
        probe.stop()
