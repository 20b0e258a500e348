"""What every emulator backend offers, and how local clients reach one (the same credentials everywhere)."""

from __future__ import annotations

import socket
from typing import Any, Protocol

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


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
