"""Typed access to the environment the functions are given (names and defaults live in ``definitions``)."""

from __future__ import annotations

import os

from image_analyzer.definitions import SETTINGS


class ConfigError(RuntimeError):
    """The deployment forgot a variable or gave an unusable value."""


def required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value


def setting(name: str) -> str:
    return os.environ.get(name, "").strip() or SETTINGS[name].default


def int_setting(name: str, minimum: int = 0) -> int:
    raw = setting(name)
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def bool_setting(name: str) -> bool:
    raw = setting(name).lower()
    if raw not in ("true", "false"):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return raw == "true"


def float_setting(name: str) -> float:
    raw = setting(name)
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def list_setting(name: str) -> list[str]:
    return [item.strip() for item in setting(name).split(",") if item.strip()]


def choice_setting(name: str, choices: tuple[str, ...]) -> str:
    value = setting(name).lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value
