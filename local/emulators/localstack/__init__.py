"""The LocalStack backend: LocalStack in a container started through testcontainers; ``image`` builds its image
offline."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable

from local.emulators.base import LOOPBACK, BackendUnavailable
from local.emulators.containers import OWNER_LABEL, docker_unavailable_reason, remove_orphaned_containers

EDGE_PORT = 4566


def _configure_ryuk() -> None:
    """Ryuk (testcontainers' reaper) is an image: use it only when present, unless the user chose explicitly."""
    from testcontainers.core.config import testcontainers_config

    if "TESTCONTAINERS_RYUK_DISABLED" in os.environ:
        return
    from local.emulators.localstack.image import image_present

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
        from local.emulators.localstack.image import select_image

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
