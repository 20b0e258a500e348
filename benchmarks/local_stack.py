"""Local-stack benchmark: start-up, per-job latency, throughput and label inference on each backend, side by side.

    python -m benchmarks.local_stack [--quick] [--backends moto,localstack]

Baselines in the same run: latency against the bare core (the same processing called in-process, no queue, no
HTTP, no workers); LocalStack against moto (the ratio column). A backend that cannot run here (LocalStack without
Docker) is reported as not measured.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests
from PIL import Image

from local.client import ApiClient
from local.emulator import BACKENDS, LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY, BackendUnavailable
from local.stack import LocalStack, StackOptions

TARGETS = {"start_s": 3.0, "p95_s": 1.0, "jobs_per_s": 10.0, "inference_ms": 15.0}


def photo(seed: int, size: int) -> bytes:
    from skimage import data

    base = Image.fromarray(data.chelsea())
    left = seed % 200
    buffer = io.BytesIO()
    base.crop((left, 0, left + 250, 250)).resize((size, size)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(stack: LocalStack, jobs: int) -> list[float]:
    client = ApiClient(stack.api_url)
    return [client.analyze(f"lat-{i}.jpg", photo(i, 512), timeout_s=60).seconds for i in range(jobs)]


def bare_core(stack: LocalStack, jobs: int) -> list[float]:
    """The same work without the platform: analyse + label in-process (the floor the stack adds to)."""
    import boto3

    from image_analyzer.processing import analyse

    rekognition = boto3.client(
        "rekognition",
        endpoint_url=stack.labels.url,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_ACCESS_KEY_ID,
        aws_secret_access_key=LOCAL_SECRET_ACCESS_KEY,
    )
    out = []
    for i in range(jobs):
        data = photo(i, 512)
        started = time.perf_counter()
        analysis = analyse(data, "image/jpeg")
        rekognition.detect_labels(Image={"Bytes": analysis.label_bytes}, MaxLabels=20, MinConfidence=55)
        out.append(time.perf_counter() - started)
    return out


def throughput(stack: LocalStack, jobs: int) -> float:
    """Jobs a second from submission to an empty queue, small JPEGs submitted 8 at a time."""
    client = ApiClient(stack.api_url)
    images = [photo(10_000 + i, 128) for i in range(jobs)]
    sqs = stack.client("sqs")
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: client.submit(f"tp-{i}.jpg", images[i]), range(jobs)))
    while True:
        attrs = sqs.get_queue_attributes(
            QueueUrl=stack.resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if attrs["ApproximateNumberOfMessages"] == attrs["ApproximateNumberOfMessagesNotVisible"] == "0":
            break
        time.sleep(0.05)  # polling the queue's own counters: the measurement ends when they reach zero
    return jobs / (time.perf_counter() - started)


@dataclass
class BackendRun:
    backend: str
    start_s: float = 0.0
    latency_s: list[float] = field(default_factory=list)
    core_s: list[float] = field(default_factory=list)
    jobs_per_s: float = 0.0
    inference_ms: float = 0.0
    unavailable: str = ""


def measure(backend: str, n_latency: int, n_throughput: int) -> BackendRun:
    run = BackendRun(backend)
    started = time.perf_counter()
    try:
        stack = LocalStack(StackOptions(backend=backend, processor_workers=2, api_workers=2)).start()
    except BackendUnavailable as exc:
        run.unavailable = str(exc)
        return run
    run.start_s = time.perf_counter() - started
    try:
        latency(stack, 2)  # warm the workers
        run.latency_s = latency(stack, n_latency)
        run.core_s = bare_core(stack, n_latency)
        run.jobs_per_s = throughput(stack, n_throughput)
        run.inference_ms = requests.get(f"{stack.labels.url}/_local/stats", timeout=5).json()["inferenceMs"]["p50"]
    finally:
        stack.stop()
    return run


def table(runs: list[BackendRun]) -> list[str]:
    """One column a backend, and the ratio of the second to the first (the baseline: moto, the default)."""
    ready = [run for run in runs if not run.unavailable]
    rows: list[tuple[str, list[float], str]] = [
        ("stack start to ready", [r.start_s for r in ready], "s"),
        ("job latency 512² JPEG p50", [percentile(r.latency_s, 0.5) * 1e3 for r in ready], "ms"),
        ("job latency 512² JPEG p95", [percentile(r.latency_s, 0.95) * 1e3 for r in ready], "ms"),
        ("bare core p50 (no platform)", [statistics.median(r.core_s) * 1e3 for r in ready], "ms"),
        ("throughput, 2 workers", [r.jobs_per_s for r in ready], "jobs/s"),
        ("label inference p50 (in service)", [r.inference_ms for r in ready], "ms"),
    ]
    header = f"{'':34}" + "".join(f"{r.backend:>11}{'':7}" for r in ready)
    if len(ready) == 2:
        header += f"{ready[1].backend + '/' + ready[0].backend:>18}"
    lines = [header]
    for name, values, unit in rows:
        line = f"{name:34}" + "".join(f"{value:>11.{1 if unit != 'ms' else 0}f} {unit:<6}" for value in values)
        if len(values) == 2 and values[0]:
            line += f"{'×' + format(values[1] / values[0], '.2f'):>18}"
        lines.append(line)
    for run in runs:
        if run.unavailable:
            lines.append(f"{run.backend}: not measured — {run.unavailable}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated, measured in this order (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    n_latency, n_throughput = (5, 20) if args.quick else (40, 150)
    runs = [measure(backend, n_latency, n_throughput) for backend in args.backends.split(",")]
    for line in table(runs):
        print(line)

    idle = inference_idle()
    print(f"label inference, idle             {idle:7.1f} ms p50")
    default = next((run for run in runs if run.backend == "moto" and not run.unavailable), None)
    if default is None:
        print("targets are for the default backend (moto), which was not measured")
        return 0 if args.quick else 1
    p95 = percentile(default.latency_s, 0.95)
    checks = {
        "start": default.start_s < TARGETS["start_s"],
        "p95 latency": p95 < TARGETS["p95_s"],
        "throughput": default.jobs_per_s >= TARGETS["jobs_per_s"],
        "inference": idle < TARGETS["inference_ms"],
    }
    targets = (
        f"targets (moto): start < {TARGETS['start_s']:.0f} s, p95 < {TARGETS['p95_s'] * 1e3:.0f} ms, "
        f"≥ {TARGETS['jobs_per_s']:.0f} jobs/s, inference < {TARGETS['inference_ms']:.0f} ms"
    )
    print(targets)
    print("  ".join(f"{'PASS' if ok else 'MISS'} {name}" for name, ok in checks.items()))
    return 0 if all(checks.values()) or args.quick else 1


def inference_idle(runs: int = 50) -> float:
    from local.labels.classifier import Classifier

    classifier = Classifier()
    image = Image.open(io.BytesIO(photo(1, 512)))
    classifier.predict(image)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        classifier.predict(image)
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1e3


if __name__ == "__main__":
    sys.exit(main())
