"""Emulated AWS backends: moto in-process (default, no Docker) or a LocalStack container (when Docker runs)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any, Protocol

from local.services import ChildService, exit_with_parent

BACKENDS = ("moto", "localstack")
BACKEND_ENV = "IMAGE_ANALYZER_BACKEND"  # the default backend of the CLI and the tests
# The credentials every local client signs with. LocalStack checks presigned signatures against the secret "test"
# for keys it does not know (as S3 checks them against the real secret); moto accepts any.
LOCAL_ACCESS_KEY_ID = "test"
LOCAL_SECRET_ACCESS_KEY = "test"


def local_client(service: str, endpoint_url: str) -> Any:
    """boto3's client of ``service`` at a local endpoint (an emulator, the label service), signed as every local
    client signs."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    )


class BackendUnavailable(RuntimeError):
    """The chosen backend cannot run on this machine; the message says why."""


LOOPBACK = "127.0.0.1"  # emulators have no authentication: nothing off this machine may reach them


class Backend(Protocol):
    name: str
    endpoint_url: str

    def await_ready(self) -> None: ...

    def listening_addresses(self) -> list[str]:
        """The host addresses the emulator accepts connections on."""
        ...

    def alive(self) -> bool: ...

    def stop(self) -> None: ...


class MotoBackend:
    """moto's ThreadedMotoServer. By default in a child process of its own, so that the emulator does not share
    one interpreter lock with the HTTP front, the poller and the caller (about 1.6× the throughput on 2 cores);
    ``in_process=True`` runs it in this process, as the unit tests' mock does."""

    name = "moto"

    def __init__(self, host: str = LOOPBACK, port: int = 0, in_process: bool = False, wait: bool = True) -> None:
        self._host = host
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

    def alive(self) -> bool:
        return self._child.alive() if self._child is not None else True

    def listening_addresses(self) -> list[str]:
        return [self._host]

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


OWNER_LABEL = "org.image-analyzer.owner-pid"
EDGE_PORT = 4566


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_orphaned_containers() -> list[str]:
    """Remove LocalStack containers whose owning process died without stopping them (kill -9, a crash). Needed
    because testcontainers' own reaper (Ryuk) is an image that cannot be pulled offline."""
    listed = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label={OWNER_LABEL}",
            "--format",
            f'{{{{.ID}}}} {{{{.Label "{OWNER_LABEL}"}}}}',
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    orphans = []
    for line in listed.stdout.splitlines():
        container_id, _, owner = line.partition(" ")
        if owner.isdigit() and not _pid_alive(int(owner)):
            orphans.append(container_id)
    if orphans:
        subprocess.run(["docker", "rm", "-f", *orphans], capture_output=True, timeout=60)
    return orphans


def _configure_ryuk() -> None:
    """Ryuk (testcontainers' reaper) is an image: use it only when present, unless the user chose explicitly."""
    from testcontainers.core.config import testcontainers_config

    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        return
    from local.localstack.image import image_present

    testcontainers_config.ryuk_disabled = not image_present(testcontainers_config.ryuk_image)


class LocalStackBackend:
    """LocalStack 4.14 (S3, SQS, DynamoDB) in a container started through testcontainers: the official image when
    present or pullable, else the one this project builds offline (``image-analyzer localstack-image``)."""

    name = "localstack"

    def await_ready(self) -> None:
        """The container is ready once started."""

    def __init__(self, image: str | None = None, log: Callable[[str], None] | None = None) -> None:
        reason = docker_unavailable_reason()
        if reason:
            raise BackendUnavailable(f"the LocalStack backend needs Docker: {reason}")
        try:
            from testcontainers.core.container import DockerContainer
            from testcontainers.core.wait_strategies import LogMessageWaitStrategy
        except ImportError as exc:
            raise BackendUnavailable("the LocalStack backend needs testcontainers: pip install -e '.[local]'") from exc
        from local.localstack.image import select_image

        log = log or _log_stderr
        try:
            self.image = image or select_image(log)
        except LookupError as exc:
            raise BackendUnavailable(str(exc)) from exc
        _configure_ryuk()
        remove_orphaned_containers()
        container = (
            DockerContainer(self.image)
            .with_env("SERVICES", "s3,sqs,dynamodb")
            .with_env("AWS_DEFAULT_REGION", "us-east-1")
            # Presigned URLs are checked as S3 checks them (LocalStack skips this by default; moto cannot).
            .with_env("S3_SKIP_SIGNATURE_VALIDATION", "0")
            # The offline image has everything it needs; these stop LocalStack from trying downloads.
            .with_env("SKIP_SSL_CERT_DOWNLOAD", "1")
            .with_env("DNS_ADDRESS", "0")
            .with_env("DISABLE_EVENTS", "1")
            .with_kwargs(labels={OWNER_LABEL: str(os.getpid())})
            .waiting_for(LogMessageWaitStrategy(re.compile(r"^Ready\.$", re.MULTILINE)).with_startup_timeout(120))
        )
        # Published on the loopback address only, on a port Docker picks (its default is every interface, IPv4
        # and IPv6). testcontainers types host bindings as ports; Docker's client takes an (address,) tuple.
        container.ports[str(EDGE_PORT)] = (LOOPBACK,)  # type: ignore[assignment]
        token = os.environ.get("LOCALSTACK_AUTH_TOKEN")
        if token:
            container = container.with_env("LOCALSTACK_AUTH_TOKEN", token)
        self._container = container
        try:
            container.start()
        except Exception as exc:
            self.stop()
            raise BackendUnavailable(f"the LocalStack container ({self.image}) did not start: {exc}") from exc
        self.endpoint_url = f"http://{LOOPBACK}:{container.get_exposed_port(EDGE_PORT)}"

    def listening_addresses(self) -> list[str]:
        container = self._container.get_wrapped_container()
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{EDGE_PORT}/tcp") or []
        return [binding["HostIp"] for binding in bindings]

    def alive(self) -> bool:
        try:
            container = self._container.get_wrapped_container()
            container.reload()
            return container.status == "running"
        except Exception:  # the engine or the container is gone
            return False

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self._container.stop()


def _log_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start_backend(name: str, wait: bool = True, log: Callable[[str], None] | None = None) -> Backend:
    if name == "moto":
        return MotoBackend(wait=wait)
    if name == "localstack":
        return LocalStackBackend(log=log)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def main(argv: list[str] | None = None) -> int:
    """Child-process entry of the moto backend: serve until stdin closes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = _threaded_moto(args.host, args.port)
    exit_with_parent()
    host, port = server.get_host_and_port()
    print(f"READY http://{host}:{port}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
