"""An SQS poller with Lambda's event-source-mapping semantics.

Batches of up to ``batch_size`` messages become one SQS event; with ReportBatchItemFailures only the listed
messages stay on the queue; an invocation that fails, times out or crashes leaves the whole batch to reappear
after the visibility timeout; the queue's redrive policy moves a message to the DLQ after too many receives.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.runtime import InvocationError


@dataclass
class PollerStats:
    invocations: int = 0
    failed_invocations: int = 0
    messages_deleted: int = 0
    items_failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def to_lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "local"),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueuePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Callable[[dict[str, Any]], Any],
        batch_size: int,
        concurrency: int,
        region: str = "us-east-1",
        on_error: Callable[[str], None] | None = None,
        function: str = "process_image",
    ) -> None:
        self._function = function
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._invoke = invoke
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._region = region
        self._on_error = on_error or (lambda _: None)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stats = PollerStats()

    def start(self) -> QueuePoller:
        for i in range(self._concurrency):
            thread = threading.Thread(target=self._loop, name=f"sqs-poller-{self._function}-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
                failures = 0
            except Exception as exc:  # the emulator going away, a network blip
                if self._stop.is_set():
                    return
                failures += 1
                if failures & (failures - 1) == 0:  # 1st, 2nd, 4th, 8th…: a dead emulator does not flood the log
                    self._on_error(f"poller error ({failures} in a row): {exc}")
                # Back off, up to 5 s; stop() interrupts the wait.
                self._stop.wait(min(5.0, 0.2 * 2 ** min(failures, 5)))

    def poll_once(self, wait_seconds: int = 0) -> int:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=self._batch_size,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [to_lambda_record(m, self._queue_arn, self._region) for m in messages]}
        with self.stats.lock:
            self.stats.invocations += 1
        try:
            result = self._invoke(event)
        except InvocationError as exc:
            with self.stats.lock:
                self.stats.failed_invocations += 1
            self._on_error(f"{self._function} invocation failed ({exc.kind}): {exc}; the batch will be retried")
            return len(messages)
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        with self.stats.lock:
            self.stats.messages_deleted += len(done)
            self.stats.items_failed += len(failed)
        return len(messages)
