"""What each ``textDetection`` mode costs: the processor's analyse + redact stages on DICOM samples, in this
process, with DetectText answered by the local Rekognition-compatible service over boto3 (as the processor calls
it). ``python -m benchmarks.text_modes [--quick]``.

The baseline, measured in the same run, is ``rekognition`` mode (what the project did before the in-function
detector); ratios are against it. Cost per 1,000 images counts the DetectText calls each mode makes at the
project's price table (DetectLabels and the rest are the same in every mode).
"""

from __future__ import annotations

import statistics
import sys
import time

from benchmarks.stats import percentile
from image_analyzer.processing import analyse, redact_text
from image_analyzer.text import TextDetector
from image_analyzer.text_model import TextModel
from image_analyzer.text_search import TextDetection, TextSearch
from local.costs import PRICES
from local.emulators import local_client
from local.label_service.label_model import Classifier
from local.label_service.service import LabelServer, ServiceState
from local.samples import sample_bytes

FILES = ("US1_J2KR.dcm", "gdcm-US-ALOKA-16.dcm", "CT_small.dcm", "693_J2KI.dcm", "MR2_J2KI.dcm", "RG1_J2KR.dcm")
QUICK_FILES = ("US1_J2KR.dcm", "CT_small.dcm")
CR_FILE = "RG1_J2KR.dcm"  # 1955 × 1841: the 3.6 MP radiograph


def main(args: list[str]) -> int:
    quick = "--quick" in args
    files = QUICK_FILES if quick else FILES
    repeats = 1 if quick else 5
    server = LabelServer(ServiceState(Classifier())).start()
    try:
        model = TextModel()
        client = local_client("rekognition", server.url)
        made = [0]
        client.meta.events.register("before-call.rekognition.DetectText", lambda **_: made.__setitem__(0, made[0] + 1))
        rekognition = TextDetector(client)
        data = {name: sample_bytes(name) for name in files}
        rows = {}
        for mode in (TextDetection.REKOGNITION, TextDetection.FUNCTION, TextDetection.BOTH):
            search = TextSearch(
                mode,
                rekognition if mode is not TextDetection.FUNCTION else None,
                (lambda: model) if mode is not TextDetection.REKOGNITION else None,
            )
            seconds: list[float] = []
            cr: list[float] = []
            made[0] = 0
            for _ in range(repeats):
                for name, content in data.items():
                    started = time.perf_counter()
                    analysis = analyse(content, "application/dicom")
                    redact_text(analysis, search, content)
                    elapsed = time.perf_counter() - started
                    seconds.append(elapsed)
                    if name == CR_FILE:
                        cr.append(elapsed)
            rows[mode] = (seconds, cr, made[0] / len(seconds))
    finally:
        server.stop()
    base = statistics.median(rows[TextDetection.REKOGNITION][0])
    print(f"analyse + redact over {len(files)} DICOM samples × {repeats} (in-process; DetectText on the local service)")
    print("| textDetection | p50 | p95 | ×rekognition (p50) | 3.6 MP CR p95 | DetectText calls / image | $ / 1,000 |")
    print("|---|---|---|---|---|---|---|")
    for mode, (seconds, cr, calls) in rows.items():
        p50, p95 = statistics.median(seconds), percentile(seconds, 0.95)
        cr_p95 = f"{1000 * percentile(cr, 0.95):.0f} ms" if cr else "—"
        dollars = calls * PRICES["rekognition_image"] * 1000
        print(
            f"| {mode.value} | {1000 * p50:.0f} ms | {1000 * p95:.0f} ms | ×{p50 / base:.2f} | {cr_p95} | "
            f"{calls:.1f} | {dollars:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
