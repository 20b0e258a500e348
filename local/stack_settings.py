"""A deployed stack's settings on the local stack: `up --set KEY=VALUE` and `up --stack-config Pulumi.<stack>.yaml`
take Pulumi's keys, checked by the same table the Pulumi program checks them with (``infra.config``), and become the
functions' environment exactly as `pulumi up` would set it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from image_analyzer.definitions import PROJECT
from infra.config import KEYS, SettingError, from_values


@dataclass(frozen=True)
class LocalSettings:
    """What the local stack runs with: the functions' variables, whether routes need a token (None: as the command
    line says; cognito and jwt: a token of the session's own key, as `up --auth`), and the keys that only shape
    deployed resources (named, so that nobody thinks they apply here)."""

    environment: dict[str, str] = field(default_factory=dict)
    auth: bool | None = None
    deployed_only: list[str] = field(default_factory=list)
    given: dict[str, str] = field(default_factory=dict)


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` pairs (the key with or without ``image-analyzer:``), as `pulumi config set` takes them."""
    values = {}
    for assignment in assignments:
        key, equals, value = assignment.partition("=")
        if not equals or not key.strip():
            raise SettingError(f"--set takes KEY=VALUE (a Pulumi key of {PROJECT}), not {assignment!r}")
        values[key.strip().removeprefix(f"{PROJECT}:")] = value
    return values


def read_stack_file(path: Path) -> dict[str, str]:
    """The ``image-analyzer:`` values of a Pulumi stack file, as text the way Pulumi hands them to the program
    (lists as JSON, booleans as true/false); other namespaces (aws:region) are not the program's."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SettingError(f"{path}: not a readable Pulumi stack file ({exc})") from exc
    config = document.get("config") if isinstance(document, dict) else None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise SettingError(f"{path}: 'config' must be a mapping of keys to values")
    prefix = f"{PROJECT}:"
    values = {}
    for key, value in config.items():
        if not str(key).startswith(prefix):
            continue
        if isinstance(value, dict) and "secure" in value:
            raise SettingError(f"{path}: {key} is a Pulumi secret, which only `pulumi` can decrypt; --set it instead")
        values[str(key).removeprefix(prefix)] = _as_text(value)
    return values


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def local_settings(values: dict[str, str]) -> LocalSettings:
    """These Pulumi values, checked as `pulumi up` checks them (every problem named at once), as the local stack
    runs them. Raises SettingError."""
    config = from_values(values)
    environment = {}
    deployed_only = []
    for name in sorted(values):
        key = KEYS[name]
        if key.env is not None:
            environment[key.env] = key.render(getattr(config, key.field))
        elif name == "classifierSpec":
            environment["CLASSIFIER_SPEC"] = str(Path(config.classifier_spec or "").resolve())
        elif name != "auth":
            deployed_only.append(name)
    auth = None if "auth" not in values else config.auth != "none"
    return LocalSettings(environment, auth, deployed_only, dict(values))
