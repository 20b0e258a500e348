"""Local-stack benchmark: start-up, per-job latency (photos, and DICOM with text redaction), throughput, label
inference and DetectText on each backend, side by side.

    python -m benchmarks.local_stack [--quick] [--backends moto,localstack]

Baselines in the same run: latency against the bare core (the same processing called in-process, no queue, no
HTTP, no workers); LocalStack against moto (the ratio column); DetectText against DetectLabels on the same bytes
(what every job already pays). A backend that cannot run here (LocalStack without
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
from pathlib import Path
from typing import Any

import requests
from PIL import Image

from benchmarks.stats import percentile
from local.client import ApiClient
from local.emulators import BACKENDS, BackendUnavailable, local_client
from local.stack import LocalStack, StackOptions

TARGETS = {
    "start_s": 3.0,
    "p95_s": 1.0,
    "jobs_per_s": 10.0,
    "inference_ms": 15.0,
    "dicom_p95_s": 1.5,  # a DICOM job with its render searched for text and redacted
    "text_ultrasound_s": 0.4,  # DetectText p50, 640×480 ultrasound
    "text_cr_s": 1.0,  # DetectText p50, 3.6 MP CR
}
# Jobs are watched as a client watches them, through get-results, asked every 50 ms: a latency is within 50 ms of
# when the result became readable (the client's default back-off would add up to half a second more).
POLL_S = 0.05
ULTRASOUND = "ultrasound 640×480"
CR = "CR 2000×1800"


def dicom_files() -> dict[str, bytes]:
    """pydicom's annotated ultrasound (a hospital name and IDs burned in) and a 3.6 MP CR with a name in its corner."""
    from pydicom.data import get_testdata_file

    from tests.harness.canaries import annotated_cr

    ultrasound = Path(str(get_testdata_file("US1_J2KR.dcm"))).read_bytes()
    return {ULTRASOUND: ultrasound, CR: annotated_cr((1800, 2000), ["OKONKWO CHIDI", "ACC 90311842"], 48)}


def photo(seed: int, size: int) -> bytes:
    from skimage import data

    base = Image.fromarray(data.chelsea())
    left = seed % 200
    buffer = io.BytesIO()
    base.crop((left, 0, left + 250, 250)).resize((size, size)).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def latency(stack: LocalStack, jobs: int) -> list[float]:
    client = ApiClient(stack.api_url, poll_s=POLL_S)
    return [client.analyze(f"lat-{i}.jpg", photo(i, 512), timeout_s=60).seconds for i in range(jobs)]


def dicom_latency(stack: LocalStack, data: bytes, jobs: int) -> list[float]:
    """Whole DICOM jobs through the API, redaction on (the default): render, DetectText, fill, labels."""
    client = ApiClient(stack.api_url, poll_s=POLL_S)
    return [client.analyze(f"dicom-{i}.dcm", data, timeout_s=60).seconds for i in range(jobs)]


def rekognition_client(stack: LocalStack) -> Any:
    return local_client("rekognition", stack.labels.url)


def text_detection(stack: LocalStack, data: bytes, repeats: int) -> tuple[list[float], list[float]]:
    """DetectText on the bytes the processor sends for a DICOM file, and DetectLabels on the same bytes (the
    baseline), one after the other, through boto3."""
    from image_analyzer.processing import analyse

    rekognition = rekognition_client(stack)
    image = {"Bytes": analyse(data, "application/dicom").label_bytes}
    rekognition.detect_text(Image=image)  # the OCR model loads on first use
    text, labels = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        rekognition.detect_text(Image=image)
        text.append(time.perf_counter() - started)
        started = time.perf_counter()
        rekognition.detect_labels(Image=image, MaxLabels=20, MinConfidence=55)
        labels.append(time.perf_counter() - started)
    return text, labels


def bare_core(stack: LocalStack, jobs: int) -> list[float]:
    """The same work without the platform: analyse + label in-process (the floor the stack adds to)."""
    from image_analyzer.processing import analyse

    rekognition = rekognition_client(stack)
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
    dicom_s: list[float] = field(default_factory=list)
    # DetectText and DetectLabels timings (s) by image; measured on the first backend only (the service is the same)
    text_s: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    jobs_per_s: float = 0.0
    inference_ms: float = 0.0
    unavailable: str = ""


def measure(backend: str, n_latency: int, n_throughput: int, with_text: bool) -> BackendRun:
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
        files = dicom_files()
        dicom_latency(stack, files[ULTRASOUND], 1)  # warm the local DetectText
        run.dicom_s = dicom_latency(stack, files[ULTRASOUND], n_latency)
        if with_text:
            run.text_s = {name: text_detection(stack, data, max(3, n_latency // 4)) for name, data in files.items()}
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
        ("job latency US1_J2KR redacted p50", [percentile(r.dicom_s, 0.5) * 1e3 for r in ready], "ms"),
        ("job latency US1_J2KR redacted p95", [percentile(r.dicom_s, 0.95) * 1e3 for r in ready], "ms"),
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
    for name, (text, labels) in next((r.text_s for r in ready if r.text_s), {}).items():
        p50_text, p50_labels = statistics.median(text), statistics.median(labels)
        lines.append(
            f"DetectText {name:20} p50 {p50_text * 1e3:6.0f} ms; DetectLabels on the same bytes "
            f"(baseline) {p50_labels * 1e3:4.0f} ms: ×{p50_text / p50_labels:.0f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    parser.add_argument(
        "--backends", default=",".join(BACKENDS), help="comma-separated, measured in this order (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    n_latency, n_throughput = (5, 20) if args.quick else (40, 150)
    backends = args.backends.split(",")
    runs = [measure(backend, n_latency, n_throughput, with_text=i == 0) for i, backend in enumerate(backends)]
    for line in table(runs):
        print(line)

    idle = inference_idle()
    print(f"label inference, idle             {idle:7.1f} ms p50")
    default = next((run for run in runs if run.backend == "moto" and not run.unavailable), None)
    if default is None:
        print("targets are for the default backend (moto), which was not measured")
        return 0 if args.quick else 1
    p95 = percentile(default.latency_s, 0.95)
    measured_text = next((run.text_s for run in runs if run.text_s), {})
    text_p50 = {name: statistics.median(text) for name, (text, _) in measured_text.items()}
    checks = {
        "start": default.start_s < TARGETS["start_s"],
        "p95 latency": p95 < TARGETS["p95_s"],
        "throughput": default.jobs_per_s >= TARGETS["jobs_per_s"],
        "inference": idle < TARGETS["inference_ms"],
        "DICOM p95": percentile(default.dicom_s, 0.95) < TARGETS["dicom_p95_s"],
        "DetectText ultrasound": text_p50.get(ULTRASOUND, float("inf")) <= TARGETS["text_ultrasound_s"],
        "DetectText CR": text_p50.get(CR, float("inf")) <= TARGETS["text_cr_s"],
    }
    targets = (
        f"targets (moto): start < {TARGETS['start_s']:.0f} s, p95 < {TARGETS['p95_s'] * 1e3:.0f} ms, "
        f"≥ {TARGETS['jobs_per_s']:.0f} jobs/s, inference < {TARGETS['inference_ms']:.0f} ms, DICOM p95 < "
        f"{TARGETS['dicom_p95_s']:.1f} s, DetectText p50 ≤ {TARGETS['text_ultrasound_s']:.1f} s (ultrasound), "
        f"≤ {TARGETS['text_cr_s']:.0f} s (CR)"
    )
    print(targets)
    print("  ".join(f"{'PASS' if ok else 'MISS'} {name}" for name, ok in checks.items()))
    return 0 if all(checks.values()) or args.quick else 1


def inference_idle(runs: int = 50) -> float:
    from local.label_service.label_model import Classifier

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
