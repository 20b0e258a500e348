"""A mixed archive through `image-analyzer analyze` on the local stack: throughput, time to result, the client's
memory, and what the run would cost on AWS per 1,000 images.

    python -m benchmarks.archive [--quick]      # 1,000 files (60 with --quick)

The archive: distinct photos, DICOM samples (CT, MR, JPEG 2000, RLE; one ultrasound in fifty, whose burned-in text
is searched and redacted), copies of some under other folders, broken files, and a zip of a tenth of it. Baseline in
the same run, on the same files: the way analyze worked before (every file read first, four at a time, a result
table per file), files/s and peak memory beside the new one's.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from pathlib import Path

from PIL import Image

from benchmarks.stats import percentile
from local import archive, calls, costs
from local.runtime import peak_resident_mb
from local.stack import LocalStack, StackOptions

ROOT = Path(__file__).resolve().parent.parent
DICOM_SAMPLES = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "MR_small_RLE.dcm", "emri_small_jpeg_2k_lossless.dcm")

# What analyze did before folders, zips and reports: every file read into memory first, four at a time.
BASELINE = """
import sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from local.client import ApiClient
client = ApiClient(sys.argv[1])
files = sorted(p for p in Path(sys.argv[2]).rglob("*") if p.is_file() and p.suffix != ".zip")
items = [(f.name, f.read_bytes()) for f in files]

def run(item):
    try:
        return client.analyze(*item, timeout_s=120).status
    except Exception:  # an error row, as analyze printed one (e.g. 415 for a DICOM file without .dcm)
        return "refused"

with ThreadPoolExecutor(max_workers=4) as pool:
    results = list(pool.map(run, items))
print("RESULTS", sum(r != "refused" for r in results), "REFUSED", results.count("refused"))
"""


def photo(seed: int) -> bytes:
    from skimage import data

    base = Image.fromarray(data.chelsea())
    left, top = seed % 200, (seed // 200) % 50
    buffer = io.BytesIO()
    base.crop((left, top, left + 250, top + 250)).resize((160, 160)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def slice_512(seed: int) -> bytes:
    """A CT-sized slice (512², 16-bit, half a megabyte), distinct per seed: what a study holds hundreds of."""
    import numpy as np

    from tests.harness.files import make_dicom

    pixels = (np.add.outer(np.arange(512), np.arange(512)) * 3 + seed * 7) % 4000
    return make_dicom(pixels.astype(np.uint16), modality="CT", rescale=(1.0, -1024.0))


def build(root: Path, files: int) -> int:
    """The archive under ``root``; returns how many files it holds (zip members counted)."""
    from local.samples import sample_bytes

    samples = [sample_bytes(name) for name in DICOM_SAMPLES]
    ultrasound = sample_bytes("US1_J2KR.dcm")
    zipped = files // 10
    count = 0
    with zipfile.ZipFile(root / "export.zip", "w") as export:
        for i in range(files):
            folder = f"study{i // 100:02}/series{(i // 20) % 5}"
            if i % 50 == 49:
                name, data = f"{folder}/US{i:04}", ultrasound
            elif i % 20 == 7:
                name, data = f"{folder}/IM{i:04}", samples[i % len(samples)]
            elif i % 5 == 2:
                name, data = f"{folder}/CT{i:04}", slice_512(i)
            elif i % 25 == 13:
                name, data = f"{folder}/broken{i:04}.jpg", photo(i)[: 200 + i % 300]
            elif i % 40 == 21:
                name, data = f"copies/{folder}/IM{i:04}", samples[i % len(samples)]  # the same bytes again
            else:
                name, data = f"{folder}/p{i:04}.jpg", photo(i)
            if i < zipped:
                export.writestr(name, data)
            else:
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            count += 1
    return count


def timed(command: list[str]) -> tuple[float, float, str]:
    """(seconds, the process's peak resident MB, its output). The peak is the kernel's high-water mark of the
    process itself, read while it runs: a child's ru_maxrss would start from this benchmark's own size (Linux
    carries the parent's across fork and exec)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
        peak = 0.0
        while process.poll() is None:
            peak = max(
                peak, peak_resident_mb(process.pid) or 0.0
            )  # monotonic: the last reading before exit is the peak
            time.sleep(0.05)  # a sampling interval, not a wait for anything
        log.seek(0)
        output = log.read()
    if process.returncode not in (0, 1):  # 1: some files ended in error, as they should
        raise RuntimeError(f"{command[3]} failed ({process.returncode}):\n{output[-3000:]}")
    return time.perf_counter() - started, peak, output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 files instead of 1,000 (CI's smoke mode)")
    args, _ = parser.parse_known_args(argv)  # python -m benchmarks passes every benchmark the same options
    files = 60 if args.quick else 1000
    with tempfile.TemporaryDirectory(prefix="archive-bench-") as tmp:
        work = Path(tmp)
        (work / "archive").mkdir()
        total = build(work / "archive", files)
        call_log = work / "calls.jsonl"
        os.environ[calls.CALL_LOG_ENV] = str(call_log)  # the workers spawned from here record every call
        # No daily quota: one caller uploads the whole archive (twice, with the baseline).
        options = StackOptions(backend="moto", processor_workers=2, settings={"DAILY_UPLOAD_QUOTA": "0"})
        with LocalStack(options) as stack:
            report = work / "report.jsonl"
            seconds, peak_mb, output = timed(
                [sys.executable, "-m", "local.cli", "analyze", "--api", stack.api_url, str(work / "archive"),
                 "--report", str(report), "--out", str(work / "out"), "--jobs", "8"]
            )  # fmt: skip
            usage = measured_usage(stack, call_log, report)
            base_seconds, base_peak_mb, base_output = timed(
                [sys.executable, "-c", BASELINE, stack.api_url, str(work / "archive")]
            )
        rows = archive.read_report(report)
    times = [float(row["seconds"]) for row in rows if row.get("seconds")]
    statuses = Counter(row["status"] for row in rows)
    results = statuses["complete"] + statuses["error"]
    words = base_output.split()
    base_results, refused = int(words[words.index("RESULTS") + 1]), int(words[words.index("REFUSED") + 1])
    print(f"{total} files; analyze --jobs 8 on moto, 2 processor workers")
    print(f"{'':30}{'results':>8}{'not analysed':>14}{'results/s':>11}{'p50 s':>7}{'p95 s':>7}{'client MB':>11}")
    print(f"{'analyze (folders, zip, report)':30}{results:8}{statuses['skipped']:14}{results / seconds:11.1f}"
          f"{percentile(times, 0.5):7.2f}{percentile(times, 0.95):7.2f}{peak_mb:11.0f}")  # fmt: skip
    print(f"{'before (files, read all first)':30}{base_results:8}{total - base_results:14}"
          f"{base_results / base_seconds:11.1f}{'':7}{'':7}{base_peak_mb:11.0f}")  # fmt: skip
    print(
        f"  before: {refused} refused (DICOM files without .dcm: 415), {total - base_results - refused} zip members unread"
    )
    print(
        f"  ratio: {peak_mb / base_peak_mb:.2f}× the client's peak memory; {results / max(base_results, 1):.2f}× the results"
    )
    print(f"\ncost per 1,000 images on AWS ({costs.PRICES_AS_OF}; {usage.images} images, the rest skipped):")
    per_thousand = costs.per_thousand_images(usage)
    for service, usd in sorted(per_thousand.items(), key=lambda kv: -kv[1]):
        print(f"  {service:18}${usd:9.4f}")
    print(f"  {'total':18}${sum(per_thousand.values()):9.4f}")
    if "Traceback" in output:
        print(output[-2000:])
        return 1
    return 0


def measured_usage(stack: LocalStack, call_log: Path, report: Path) -> costs.Usage:
    rows = archive.read_report(report)
    uploaded = [row for row in rows if row.get("jobId")]
    recorded = Counter((c["service"], c["operation"]) for c in calls.read(call_log))
    workers = [worker for pool in stack.runtime.pools.values() for worker in pool.workers]
    billed = sum(w.billed_ms / 1000 * w.definition.memory_mb / 1024 for w in workers)
    invocations = sum(w.invocations for w in workers)
    api_requests = sum(1 for function, _ in stack.logs if function == "api-access")
    processed = stack.poller.stats.invocations + stack.dead_letter_poller.stats.invocations
    log_bytes = sum(len(line) + 1 for _, line in stack.logs)
    return costs.Usage(
        images=len(uploaded),
        calls=recorded,
        billed_gb_s=billed,
        invocations=invocations,
        api_requests=api_requests,
        client_s3_puts=len(uploaded),
        client_s3_gets=sum(len(row.get("outputs") or []) for row in rows),
        # S3's notification of each upload, and a receive and a delete per invocation of the event source mapping
        # (its empty receives depend on time, not on images: not counted).
        sqs_requests=len(uploaded) + 2 * processed,
        log_bytes=log_bytes,
    )


if __name__ == "__main__":
    sys.exit(main())
