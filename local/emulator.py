"""Emulated AWS backends: moto in-process (default, no Docker) or a LocalStack container (when Docker runs)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from typing import Protocol

# The last LocalStack community release that starts without an account (newer images need LOCALSTACK_AUTH_TOKEN).
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
BACKENDS = ("moto", "localstack")


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run on this machine; the message says why."""


class Backend(Protocol):
    name: str
    endpoint_url: str

    def stop(self) -> None: ...


class MotoBackend:
    name = "moto"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._server.start()
        bound_host, bound_port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{bound_host}:{bound_port}"

    def stop(self) -> None:
        self._server.stop()


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker command is not installed"
    try:
        probe = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker did not answer: {exc}"
    if probe.returncode != 0:
        return "no Docker engine is running (docker info failed)"
    return None


class LocalStackBackend:
    name = "localstack"

    def __init__(self, image: str = LOCALSTACK_IMAGE) -> None:
        reason = docker_unavailable_reason()
        if reason:
            raise BackendUnavailable(f"the LocalStack backend needs Docker: {reason}")
        try:
            from testcontainers.localstack import LocalStackContainer
        except ImportError as exc:
            raise BackendUnavailable("the LocalStack backend needs testcontainers: pip install '.[local]'") from exc
        container = LocalStackContainer(image=image).with_services("s3", "sqs", "dynamodb")
        token = os.environ.get("LOCALSTACK_AUTH_TOKEN")
        if token:
            container = container.with_env("LOCALSTACK_AUTH_TOKEN", token)
        try:
            self._container = container.start()
        except Exception as exc:
            raise BackendUnavailable(f"the LocalStack container did not start: {exc}") from exc
        self.endpoint_url = self._container.get_url()

    def stop(self) -> None:
        self._container.stop()


def start_backend(name: str) -> Backend:
    if name == "moto":
        return MotoBackend()
    if name == "localstack":
        return LocalStackBackend()
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
