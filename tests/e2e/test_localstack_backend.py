"""The LocalStack backend (a pinned LocalStack 4.x container); skipped with the reason when Docker is absent.

The same behaviour is covered on the embedded moto backend by the rest of tests/e2e (run them with
``--backend localstack`` to run everything on LocalStack).
"""

from __future__ import annotations

import pytest

from local.client import ApiClient
from local.emulator import LOCALSTACK_IMAGE, docker_unavailable_reason
from local.stack import LocalStack, StackOptions
from tests.support import photo_bytes


def test_localstack_image_is_pinned_to_a_4x_release() -> None:
    repository, tag = LOCALSTACK_IMAGE.split(":")
    assert repository == "localstack/localstack" and tag.startswith("4.") and tag != "latest"


def test_flow_on_localstack() -> None:
    reason = docker_unavailable_reason()
    if reason:
        pytest.skip(f"LocalStack needs Docker: {reason}")
    with LocalStack(StackOptions(backend="localstack")) as stack:
        result = ApiClient(stack.api_url).analyze("cat.jpg", photo_bytes("chelsea"), timeout_s=120)
        assert result.ok and "Cat" in {label["Name"] for label in result.labels}
