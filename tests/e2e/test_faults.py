"""Faults: duplicate deliveries, a killed worker, a record that always fails, and load."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from local.client import ApiClient
from local.runtime import process_tree
from tests.harness.files import photo_bytes
from tests.harness.hostile import slow_progressive_jpeg
from tests.harness.label_service import inject_fault, label_calls
from tests.harness.waiting import wait_until


def small_jpeg(seed: int, size: int = 128) -> bytes:
    """Distinct small photos (a crop of the cat, shifted by seed) so that every job has its own bytes."""
    base = Image.open(io.BytesIO(photo_bytes("chelsea")))
    left = seed % 200
    buffer = io.BytesIO()
    base.crop((left, 0, left + 250, 250)).resize((size, size)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def queue_drained(stack, queue_url: str | None = None) -> bool:
    sqs = stack.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url or stack.resources.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return attrs["ApproximateNumberOfMessages"] == "0" and attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_every_message_delivered_twice_processes_each_job_once(stack) -> None:
    client = ApiClient(stack.api_url)
    sqs = stack.client("sqs")
    images = [small_jpeg(1000 + i) for i in range(6)]
    jobs = []
    for i, data in enumerate(images):
        grant = client.request_upload(f"dup-{i}.jpg", "image/jpeg")
        client.upload(grant, data)
        key = stack.table().get_item(Key={"jobId": grant["jobId"]})["Item"]["s3Key"]
        duplicate = {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": stack.resources.bucket}, "object": {"key": key, "size": len(data)}},
                }
            ]
        }
        sqs.send_message(QueueUrl=stack.resources.queue_url, MessageBody=json.dumps(duplicate))
        jobs.append(grant["jobId"])
    for job_id in jobs:
        assert client.wait(job_id, 60)["status"] == "complete"
    wait_until(lambda: queue_drained(stack), 30, "the queue to drain")
    calls = label_calls(stack)
    for job_id, data in zip(jobs, images, strict=True):
        item = stack.table().get_item(Key={"jobId": job_id})["Item"]
        assert int(item["attempts"]) == 1
        assert calls[sha(data)] == 1, "labels were computed more than once for one job"


def test_worker_killed_mid_invocation_is_retried_and_completes(fault_stack) -> None:
    client = ApiClient(fault_stack.api_url)
    data = small_jpeg(7)
    inject_fault(fault_stack, data, delay=2.5, times=1)  # the first attempt hangs in DetectLabels
    job_id = client.submit("killed.jpg", data)
    table = fault_stack.table()
    wait_until(lambda: table.get_item(Key={"jobId": job_id})["Item"]["status"] == "processing", 20, "processing")
    pool = fault_stack.runtime.pools["process_image"]
    killed = [w.pid for w in pool.workers if w.alive()]
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    record = client.wait(job_id, 40)
    assert record["status"] == "complete", (record.get("errorCode"), record.get("error"))
    item = table.get_item(Key={"jobId": job_id})["Item"]
    assert int(item["attempts"]) == 2, "the retry took over after the killed attempt's lease ran out"
    assert all(w.pid not in killed for w in pool.workers), "killed workers are replaced"


def test_record_that_always_fails_goes_to_the_dlq_and_neighbours_complete(fault_stack) -> None:
    client = ApiClient(fault_stack.api_url)
    poison = small_jpeg(77)
    inject_fault(fault_stack, poison, error="AccessDeniedException")  # not retried by boto3, fails every time
    neighbours = [small_jpeg(300 + i) for i in range(4)]
    with ThreadPoolExecutor(5) as pool:
        ids = list(
            pool.map(
                lambda item: client.submit(*item),
                [("poison.jpg", poison)] + [(f"n{i}.jpg", d) for i, d in enumerate(neighbours)],
            )
        )
    poison_id, neighbour_ids = ids[0], ids[1:]
    for job_id in neighbour_ids:
        assert client.wait(job_id, 60)["status"] == "complete"
    record = client.wait(poison_id, 60)
    assert (record["status"], record["errorCode"]) == ("error", "PROCESSING_FAILED")
    # The message reached the dead-letter queue and its consumer took it (the job had already been marked).
    dead_letters = fault_stack.dead_letter_poller.stats
    wait_until(lambda: dead_letters.messages_deleted >= 1, 30, "the dead-letter consumer to take the message")
    wait_until(lambda: queue_drained(fault_stack, fault_stack.resources.dlq_url), 30, "the DLQ to drain")


def test_job_whose_worker_is_killed_on_every_delivery_ends_error_and_neighbours_complete(fault_stack) -> None:
    """An out-of-memory kill leaves no Python exception and no final-attempt marking: only the dead-letter
    consumer can end the job. SIGKILL the worker on each delivery of one job; it must still end, readably."""
    client = ApiClient(fault_stack.api_url)
    poison = small_jpeg(4242)
    inject_fault(fault_stack, poison, delay=30)  # every attempt blocks in DetectLabels, where it is killed
    poison_id = client.submit("oom.jpg", poison)
    pool = fault_stack.runtime.pools["process_image"]
    kills: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        while not stop.is_set():
            for worker in list(pool.workers):
                event, pid = worker.current_event, worker.pid
                if event and poison_id in json.dumps(event) and pid not in kills and worker.alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    kills.append(pid)
            stop.wait(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        wait_until(lambda: kills, 20, "the first delivery to reach a worker")
        neighbours = [client.submit(f"ok-{i}.jpg", small_jpeg(600 + i)) for i in range(3)]
        started = time.monotonic()
        record = client.wait(poison_id, 60)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        thread.join(timeout=5)
    assert (record["status"], record["errorCode"]) == ("error", "PROCESSING_FAILED"), record
    assert "every attempt" in record["error"]
    assert len(kills) == int(fault_stack.options.settings["MAX_RECEIVE_COUNT"]), "one kill per delivery"
    assert elapsed < 60
    for job_id in neighbours:
        assert client.wait(job_id, 60)["status"] == "complete"


def test_a_processor_past_its_memory_is_killed_and_its_job_ends_through_the_dead_letter_queue(memory_stack) -> None:
    """As on Lambda: past its memory size the runtime is killed on every delivery, no Python code runs to mark the
    job, and only the dead-letter queue's consumer ends it. The label service answers this image with 80 MB of
    tiny labels, which the processor (1024 MB) needs over a gigabyte to parse."""
    client = ApiClient(memory_stack.api_url)
    poison = small_jpeg(9191)
    inject_fault(memory_stack, poison, bloat_mb=80, operation="DetectLabels")
    pool = memory_stack.runtime.pools["process_image"]
    job_id = client.submit("bloated-answer.jpg", poison)
    record = client.wait(job_id, 90)
    assert (record["status"], record["errorCode"]) == ("error", "PROCESSING_FAILED"), record
    deliveries = int(memory_stack.options.settings["MAX_RECEIVE_COUNT"])
    assert sum(worker.memory_kills for worker in pool.workers) == deliveries, "killed for memory on each delivery"
    killed = [line for _, line in memory_stack.logs if "Runtime exited with error: signal: killed" in line]
    assert len(killed) == deliveries, killed
    assert int(memory_stack.table().get_item(Key={"jobId": job_id})["Item"]["attempts"]) == deliveries
    dead_letters = memory_stack.dead_letter_poller.stats
    wait_until(lambda: dead_letters.messages_deleted >= 1, 30, "the dead-letter consumer to take the message")
    neighbour = client.submit("after.jpg", small_jpeg(9192))
    assert client.wait(neighbour, 60)["status"] == "complete", "the replaced worker serves the next job"


def test_a_decode_past_its_time_limit_ends_on_the_first_delivery_and_frees_the_worker(fault_stack) -> None:
    """A photo under every structural limit that decodes for seconds: stopped at the time limit (2 s on this
    stack), DECODE_TIMED_OUT on the first delivery, well inside the function's timeout (4 s)."""
    client = ApiClient(fault_stack.api_url)
    job_id = client.submit("slow.jpg", slow_progressive_jpeg())
    record = client.wait(job_id, 30)
    assert (record["status"], record["errorCode"]) == ("error", "DECODE_TIMED_OUT"), record
    assert "2 s" in record["error"]
    assert int(fault_stack.table().get_item(Key={"jobId": job_id})["Item"]["attempts"]) == 1
    pool = fault_stack.runtime.pools["process_image"]
    assert all(len(process_tree(worker.pid)) == 1 for worker in pool.workers if worker.alive()), "no decode left"
    after = client.submit("after-slow.jpg", small_jpeg(9193))
    assert client.wait(after, 30)["status"] == "complete"


def test_two_hundred_concurrent_jobs_all_complete_once(stack) -> None:
    client = ApiClient(stack.api_url)
    images = [small_jpeg(i, size=96) for i in range(200)]
    before = label_calls(stack)
    with ThreadPoolExecutor(16) as pool:
        ids = list(pool.map(lambda i: client.submit(f"load-{i}.jpg", images[i]), range(200)))
    assert len(set(ids)) == 200
    # Every upload's notification is queued by now; once the queue is empty, every job has been handled.
    wait_until(lambda: queue_drained(stack), 180, "the queue to drain")
    with ThreadPoolExecutor(4) as pool:
        records = list(pool.map(client.results, ids))
    assert [r["status"] for r in records].count("complete") == 200
    after = label_calls(stack)
    per_image = [after.get(sha(d), 0) - before.get(sha(d), 0) for d in images]
    assert per_image == [1] * 200, "every job labelled exactly once"
    table = stack.table()
    attempts = [int(table.get_item(Key={"jobId": j})["Item"]["attempts"]) for j in ids]
    assert attempts == [1] * 200
