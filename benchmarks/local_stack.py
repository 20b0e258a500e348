"""Local-stack benchmark: start-up, per-job latency, throughput and label inference, each against a baseline.

    python -m benchmarks.local_stack [--quick]

Baselines in the same run: latency against the bare core (the same processing called in-process, no queue, no
HTTP, no workers); throughput with two processor workers against one; label inference against the targets.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from PIL import Image

from local.client import ApiClient
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
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    out = []
    for i in range(jobs):
        data = photo(i, 512)
        started = time.perf_counter()
        analysis = analyse(data, "image/jpeg")
        rekognition.detect_labels(Image={"Bytes": analysis.label_bytes}, MaxLabels=20, MinConfidence=55)
        out.append(time.perf_counter() - started)
    return out


def throughput(workers: int, jobs: int) -> float:
    with LocalStack(StackOptions(processor_workers=workers, api_workers=2)) as stack:
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
            time.sleep(0.05)
        return jobs / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    args = parser.parse_args(argv)
    n_latency, n_throughput = (5, 20) if args.quick else (40, 150)

    started = time.perf_counter()
    stack = LocalStack(StackOptions()).start()
    start_s = time.perf_counter() - started
    try:
        latency(stack, 2)  # warm the workers
        stack_latency = latency(stack, n_latency)
        core_latency = bare_core(stack, n_latency)
        stats = requests.get(f"{stack.labels.url}/_local/stats", timeout=5).json()["inferenceMs"]
    finally:
        stack.stop()
    one = throughput(1, n_throughput)
    two = throughput(2, n_throughput)

    p50, p95 = percentile(stack_latency, 0.5), percentile(stack_latency, 0.95)
    core_p50 = statistics.median(core_latency)
    print(f"stack start to ready         {start_s:7.2f} s    target < {TARGETS['start_s']:.0f} s")
    print(
        f"job latency 512² JPEG  p50   {p50 * 1e3:7.0f} ms   bare core p50 {core_p50 * 1e3:.0f} ms "
        f"(platform overhead ×{p50 / core_p50:.1f})"
    )
    print(f"job latency 512² JPEG  p95   {p95 * 1e3:7.0f} ms   target < {TARGETS['p95_s'] * 1e3:.0f} ms")
    print(
        f"throughput small JPEGs       {two:7.1f} jobs/s with 2 workers, {one:.1f} with 1 (×{two / one:.2f}); "
        f"target ≥ {TARGETS['jobs_per_s']:.0f}"
    )
    print(
        f"label inference per image    {stats['p50']:7.1f} ms p50 (in the service, under load)   target < "
        f"{TARGETS['inference_ms']:.0f} ms"
    )
    idle = inference_idle()
    print(f"label inference, idle        {idle:7.1f} ms p50")
    checks = [
        start_s < TARGETS["start_s"],
        p95 < TARGETS["p95_s"],
        two >= TARGETS["jobs_per_s"],
        idle < TARGETS["inference_ms"],
    ]
    names = ["start", "p95 latency", "throughput", "inference"]
    print("  ".join(f"{'PASS' if ok else 'MISS'} {name}" for name, ok in zip(names, checks, strict=True)))
    return 0 if all(checks) or args.quick else 1


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
