"""The whole system on one machine: emulated AWS, the label service, the functions, the HTTP front, the poller.

    with LocalStack() as stack:      # moto backend, no Docker, ready in about a second
        print(stack.api_url)

Resources come from the same definitions as the Pulumi program; each function runs in its own warm worker
processes with exactly the environment Lambda would give it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from image_analyzer.definitions import FUNCTIONS, QUEUE, StackSettings
from local.apigw import ApiServer
from local.auth import LocalIssuer
from local.emulators import (
    BACKEND_ENV,
    LOCAL_ACCESS_KEY_ID,
    LOCAL_SECRET_ACCESS_KEY,
    LOOPBACK,
    Backend,
    free_port,
    start_backend,
)
from local.label_service.service import LabelServiceProcess
from local.poller import QueuePoller
from local.resources import StackResources, provision, resource_names
from local.runtime import FunctionPool, FunctionRuntime, lambda_environment

REGION = "us-east-1"


def page_origins(port: int) -> list[str]:
    """The origins of the stack's own page, as a browser on this machine names it."""
    return [f"http://{host}:{port}" for host in (LOOPBACK, "localhost")]


def _stderr_sink(function: str, line: str) -> None:
    print(f"[{function}] {line}", file=sys.stderr)


@dataclass
class StackOptions:
    backend: str = field(default_factory=lambda: os.environ.get(BACKEND_ENV, "moto"))
    processor_workers: int = 2
    api_workers: int = 1
    # Overrides for tests and demos; the defaults are the deployed values.
    settings: dict[str, str] = field(default_factory=dict)
    timeouts: dict[str, float] = field(default_factory=dict)
    visibility_timeout_s: int | None = None
    log: Callable[[str, str], None] | None = None
    port: int = 0
    # A running emulator to share (e.g. one LocalStack container for a whole test session); the stack leaves it
    # running when it stops. None: the stack starts its own backend.
    emulator: Backend | None = None
    # Resource names get this suffix; stacks sharing one in-process emulator must differ.
    name: str = field(default_factory=lambda: f"local-{uuid.uuid4().hex[:6]}")
    # True: every route needs a token of the stack's own issuer (`up --auth`), as a deployed JWT authorizer does.
    auth: bool = False


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        self.backend: Backend | None = None
        self.resources: StackResources | None = None
        self.labels: LabelServiceProcess | None = None
        self.runtime: FunctionRuntime | None = None
        self.api: ApiServer | None = None
        self.poller: QueuePoller | None = None
        self.dead_letter_poller: QueuePoller | None = None
        self.issuer: LocalIssuer | None = LocalIssuer() if self.options.auth else None
        self.startup_seconds = 0.0
        self.settings: dict[str, str] = {}  # the functions' settings, by variable, as the stack runs them
        self._watch_stop: threading.Event | None = None
        self.logs: list[tuple[str, str]] = []

    # -- life cycle -------------------------------------------------------------------------------------------
    def start(self) -> LocalStack:
        started = time.perf_counter()
        opts = self.options
        try:
            # Every process is spawned first (their start-ups overlap), then each is waited for.
            self.backend = opts.emulator or start_backend(opts.backend, wait=False)
            self.labels = LabelServiceProcess(self.backend.endpoint_url, wait=False)
            # The page's origin is known before anything starts: the bucket, the functions and the front answer
            # browsers of that origin only, unless the settings name others (a page on any other site the developer
            # has open must not read the stack).
            port = opts.port or free_port()
            settings = StackSettings()
            settings.values.update(opts.settings)
            configured = [o for o in opts.settings.get("ALLOWED_ORIGINS", "").split(",") if o]
            if "*" not in configured:  # the stack's own page always works; others only when they are named
                settings.values["ALLOWED_ORIGINS"] = ",".join(dict.fromkeys([*page_origins(port), *configured]))
            self.settings = dict(settings.values)
            timeouts = {name: opts.timeouts.get(name, float(fn.timeout_s)) for name, fn in FUNCTIONS.items()}
            names = resource_names(opts.name)
            endpoints = {"AWS_ENDPOINT_URL": self.backend.endpoint_url, "AWS_ENDPOINT_URL_REKOGNITION": self.labels.url}
            sink = opts.log or self._record_log
            pools = {}
            for name, definition in FUNCTIONS.items():
                env = lambda_environment(
                    definition, settings.environment_for(name, names.bucket, names.table), endpoints, REGION
                )
                size = opts.processor_workers if name == QUEUE.consumer else opts.api_workers
                pools[name] = FunctionPool(definition, env, size, sink, timeouts[name])
            self.runtime = FunctionRuntime(pools, wait=False)

            self.backend.await_ready()
            visibility = opts.visibility_timeout_s or QUEUE.visibility_timeout_s(int(timeouts[QUEUE.consumer]))
            self.resources = provision(
                self.session,
                self.backend.endpoint_url,
                suffix=opts.name,
                visibility_timeout_s=visibility,
                max_receive_count=int(settings.values["MAX_RECEIVE_COUNT"]),
                allowed_origins=settings.values["ALLOWED_ORIGINS"].split(","),
            )
            self.labels.await_ready()
            self.runtime.await_ready()
            origins = settings.values["ALLOWED_ORIGINS"].split(",")
            self.api = ApiServer(self.runtime, origins, port=port, issuer=self.issuer, access_log=sink).start()
            self.poller = self._poller(
                self.resources.queue_url, self.resources.queue_arn, QUEUE.consumer, QUEUE.batch_size,
                concurrency=min(opts.processor_workers, QUEUE.max_concurrency), log=sink, label="poller",
            )  # fmt: skip
            self.dead_letter_poller = self._poller(
                self.resources.dlq_url, self.resources.dlq_arn, QUEUE.dead_letter_consumer,
                QUEUE.dead_letter_batch_size, concurrency=1, log=sink, label="dead-letter poller",
            )  # fmt: skip
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def stop(self) -> None:
        if self._watch_stop is not None:
            self._watch_stop.set()
        owned_backend = self.backend if self.backend is not self.options.emulator else None
        for part in (self.poller, self.dead_letter_poller, self.api, self.runtime, self.labels, owned_backend):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the rest
                    print(f"warning: stopping {type(part).__name__}: {exc}", file=sys.stderr)
        self.poller = self.dead_letter_poller = self.api = self.runtime = self.labels = self.backend = None

    def _poller(
        self,
        url: str,
        arn: str,
        function: str,
        batch_size: int,
        concurrency: int,
        log: Callable[[str, str], None],
        label: str,
    ) -> QueuePoller:
        """A poller with Lambda's event-source-mapping semantics, feeding ``function`` from one queue."""
        return QueuePoller(
            self.client("sqs"),
            url,
            arn,
            lambda event: self.runtime.invoke(function, event),  # type: ignore[union-attr]
            batch_size=batch_size,
            concurrency=concurrency,
            region=REGION,
            on_error=lambda message: log(label, message),
            function=function,
        ).start()

    def watch(self, on_failure: Callable[[str], None], every_s: float = 1.0) -> None:
        """Supervise the emulator: if it dies, every bucket, queue and table is gone with it, so rather than let
        the functions and the poller fail forever, stop polling and report once."""
        assert self.backend is not None
        backend, stopped = self.backend, threading.Event()
        self._watch_stop = stopped

        def loop() -> None:
            while not stopped.wait(every_s):
                if not backend.alive():
                    for poller in (self.poller, self.dead_letter_poller):
                        if poller is not None:
                            poller.stop()
                    on_failure(
                        f"the emulator ({backend.name}) stopped unexpectedly: its buckets, queues and tables are lost"
                    )
                    return

        threading.Thread(target=loop, name="emulator-watch", daemon=True).start()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ----------------------------------------------------------------------------------------------
    def _record_log(self, function: str, line: str) -> None:
        self.logs.append((function, line))

    @property
    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY_ID, aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY, region_name=REGION
        )

    def client(self, service: str) -> Any:
        assert self.backend is not None
        return self.session.client(service, endpoint_url=self.backend.endpoint_url)

    @property
    def api_url(self) -> str:
        assert self.api is not None
        return self.api.url

    def table(self) -> Any:
        assert self.backend is not None and self.resources is not None
        return self.session.resource("dynamodb", endpoint_url=self.backend.endpoint_url).Table(self.resources.table)
