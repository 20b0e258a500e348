"""boto3 clients, created once per process. Endpoints come from boto3's standard configuration
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_REKOGNITION``…), so nothing here knows where it runs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config

_RETRIES = {"mode": "standard", "max_attempts": 5}
_T = TypeVar("_T")
_BUILT_ONCE: list[Any] = []


def per_container(factory: Callable[[], _T]) -> Callable[[], _T]:
    """Build once per warm container (what is built from clients and settings); forgotten by :func:`reset`."""
    cached = functools.cache(factory)
    _BUILT_ONCE.append(cached)
    return cached


@functools.cache
def session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def s3_client() -> Any:
    return session().client("s3", config=Config(signature_version="s3v4", retries=_RETRIES))


@functools.cache
def dynamodb_table(name: str) -> Any:
    return session().resource("dynamodb", config=Config(retries=_RETRIES)).Table(name)


@functools.cache
def rekognition_client() -> Any:
    return session().client("rekognition", config=Config(retries=_RETRIES))


def reset() -> None:
    """Forget cached clients (tests change the environment between cases)."""
    for factory in (session, s3_client, dynamodb_table, rekognition_client, *_BUILT_ONCE):
        getattr(factory, "cache_clear", lambda: None)()
