"""The end-to-end suite against a stack that something else started (`pytest tests/e2e --api URL --token T`):
which tests can run there, and what they talk to."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

# Fixtures that need nothing of the stack but its URL (and token); a test asking for any other one (the local
# stack, its emulator, a browser on the local page, boto3 on the stack's resources) needs the local stack.
HTTP_ONLY_FIXTURES = frozenset(
    {"api_target", "client", "backend", "tmp_path", "tmp_path_factory", "request", "report", "monkeypatch", "capsys"}
)


@dataclass(frozen=True)
class ApiTarget:
    url: str
    token: str | None = None


def needs_only_the_api(item: pytest.Item) -> bool:
    if not item.nodeid.startswith("tests/e2e/"):
        return False
    parametrized = set(getattr(getattr(item, "callspec", None), "params", {}))
    fixtures = set(getattr(item, "fixturenames", ())) - parametrized
    return fixtures <= HTTP_ONLY_FIXTURES and bool(fixtures & {"api_target", "client"})


def split_for_a_deployed_api(items: list[pytest.Item]) -> tuple[list[pytest.Item], list[pytest.Item]]:
    """(the tests that run against --api, the end-to-end tests deselected); tests outside tests/e2e are kept."""
    kept, deselected = [], []
    for item in items:
        if not item.nodeid.startswith("tests/e2e/") or needs_only_the_api(item):
            kept.append(item)
        else:
            deselected.append(item)
    return kept, deselected
