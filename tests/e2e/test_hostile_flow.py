"""The hostile corpus through the real flow: every job ends, on its first delivery, with a stable code (or complete).

Uploads go through the API and presigned URLs, processing through the queue and the processor's warm workers, as
in production. A job that needed a second delivery would mean a content failure was treated as transient.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from image_analyzer.errors import ErrorCode
from local.client import ApiClient
from local.emulators import Backend
from local.stack import LocalStack, StackOptions
from tests.harness.hostile import corpus

UPLOAD_CONCURRENCY = 8


@pytest.fixture(scope="module")
def stack(backend: str, emulator: Backend) -> Iterator[LocalStack]:
    """The processor as deployed, text redaction included: every DICOM render that decodes goes to DetectText."""
    options = StackOptions(backend=backend, emulator=emulator, processor_workers=2)
    with LocalStack(options) as running:
        yield running


def processing_seconds(stack: LocalStack) -> dict[str, float]:
    """Each job's time in the processor, from its "object processed" log line (claim to recorded outcome)."""
    seconds = {}
    for function, line in stack.logs:
        if function == "process_image" and line.startswith("{") and '"object processed"' in line:
            entry = json.loads(line)
            if "jobId" in entry:
                seconds[entry["jobId"]] = float(entry["seconds"])
    return seconds


def test_every_hostile_file_ends_on_its_first_delivery(stack, backend, report) -> None:
    client = ApiClient(stack.api_url)
    items = corpus()
    started = time.monotonic()
    with ThreadPoolExecutor(UPLOAD_CONCURRENCY) as pool:
        job_ids = list(pool.map(lambda item: client.submit(item.name, item.data, item.file_type), items))
        records = list(pool.map(lambda job_id: client.wait(job_id, 120), job_ids))
    elapsed = time.monotonic() - started
    codes = {code.value for code in ErrorCode}
    table = stack.table()
    outcomes: Counter[str] = Counter()
    for item, job_id, record in zip(items, job_ids, records, strict=True):
        assert record["status"] in ("complete", "error"), f"{item.name} never finished: {record['status']}"
        if record["status"] == "error":
            assert record["errorCode"] in codes and record["error"], item.name
            assert record["errorCode"] != "PROCESSING_FAILED", f"{item.name} failed as if transient"
        attempts = int(table.get_item(Key={"jobId": job_id})["Item"]["attempts"])
        assert attempts == 1, f"{item.name} was delivered {attempts} times"
        outcomes[record.get("errorCode") or "complete"] += 1
    workers = stack.runtime.pools["process_image"].workers
    # Each worker's peak with the decodes it forked (every page counted once, as Lambda's sandbox counts them).
    peaks = [worker.memory_peak_mb() for worker in workers]
    seconds = processing_seconds(stack)
    slowest = max(job_ids, key=lambda job_id: seconds[job_id])
    report(
        f"hostile flow [{backend}]: {len(items)} files in {elapsed:.1f} s, all on the first delivery; "
        f"processor workers' peak memory {', '.join(f'{p:.0f} MB' for p in peaks)} "
        f"(function memory {workers[0].definition.memory_mb} MB); slowest job {seconds[slowest]:.1f} s "
        f"({items[job_ids.index(slowest)].name})"
    )
    report(f"  outcomes: {', '.join(f'{code} {n}' for code, n in outcomes.most_common())}")
    assert max(peaks) < 0.6 * workers[0].definition.memory_mb
    assert all(worker.memory_kills == 0 for worker in workers), "no worker went past its memory"
    assert seconds[slowest] < 30, f"{items[job_ids.index(slowest)].name} took {seconds[slowest]:.1f} s"
