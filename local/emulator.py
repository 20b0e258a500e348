"""Emulated AWS backends: moto in-process (default, no Docker) or a LocalStack container (when Docker runs)."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import socket
import subprocess
import sys
from typing import Any, Protocol

from local.services import ChildService

# The last LocalStack community release that starts without an account (newer images need LOCALSTACK_AUTH_TOKEN).
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
BACKENDS = ("moto", "localstack")


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run on this machine; the message says why."""


class Backend(Protocol):
    name: str
    endpoint_url: str

    def await_ready(self) -> None: ...

    def stop(self) -> None: ...


class MotoBackend:
    """moto's ThreadedMotoServer. By default in a child process of its own, so that the emulator does not share
    one interpreter lock with the HTTP front, the poller and the caller (about 1.6× the throughput on 2 cores);
    ``in_process=True`` runs it in this process, as the unit tests' mock does."""

    name = "moto"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, in_process: bool = False, wait: bool = True) -> None:
        self._server: Any = None
        self._child: ChildService | None = None
        if in_process:
            self._server = _threaded_moto(host, port)
            bound_host, bound_port = self._server.get_host_and_port()
            self.endpoint_url = f"http://{bound_host}:{bound_port}"
            return
        port = port or free_port(host)  # known now, so that others can be configured while moto starts
        self.endpoint_url = f"http://{host}:{port}"
        command = [sys.executable, "-m", "local.emulator", "--host", host, "--port", str(port)]
        self._child = ChildService(command, stop_by_closing_stdin=True)
        self._child.description = "moto server"
        if wait:
            self.await_ready()

    def await_ready(self) -> None:
        if self._child is not None:
            try:
                self._child.await_ready()
            except RuntimeError as exc:
                raise BackendUnavailable(str(exc)) from exc

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._child is not None:
            self._child.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _threaded_moto(host: str, port: int) -> Any:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    return server


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

    def await_ready(self) -> None:
        """The container is ready once started."""

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


def start_backend(name: str, wait: bool = True) -> Backend:
    if name == "moto":
        return MotoBackend(wait=wait)
    if name == "localstack":
        return LocalStackBackend()
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def main(argv: list[str] | None = None) -> int:
    """Child-process entry of the moto backend: serve until stdin closes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = _threaded_moto(args.host, args.port)
    host, port = server.get_host_and_port()
    print(f"READY http://{host}:{port}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
