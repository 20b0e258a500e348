"""The emulator backends the local stack runs on: moto (``moto_server``) and LocalStack (``localstack``, with its
offline image), what every backend offers (``base``) and the Docker probing LocalStack needs (``containers``)."""

from __future__ import annotations

from collections.abc import Callable

from local.emulators.base import (
    BACKEND_ENV,
    BACKENDS,
    LOCAL_ACCESS_KEY_ID,
    LOCAL_SECRET_ACCESS_KEY,
    LOOPBACK,
    Backend,
    BackendUnavailable,
    free_port,
    local_client,
)

__all__ = [
    "BACKENDS", "BACKEND_ENV", "LOCAL_ACCESS_KEY_ID", "LOCAL_SECRET_ACCESS_KEY", "LOOPBACK", "Backend",
    "BackendUnavailable", "free_port", "local_client", "start_backend",
]  # fmt: skip


def start_backend(name: str, wait: bool = True, log: Callable[[str], None] | None = None) -> Backend:
    if name == "moto":
        from local.emulators.moto_server import MotoBackend

        return MotoBackend(wait=wait)
    if name == "localstack":
        from local.emulators.localstack import LocalStackBackend  # testcontainers: only when asked for

        return LocalStackBackend(log=log)
    raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
