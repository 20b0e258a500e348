"""Burned-in text over every DICOM sample of pydicom and pydicom-data: which renders the local DetectText finds
text in (and so get redacted), and how long one DetectText takes: ``python -m benchmarks.redaction [--quick]``.

The baseline, measured in the same run, is DetectLabels on the same renders (what every job already pays).
"""

from __future__ import annotations

import statistics
import sys
import time

from local.label_service.detections import WordFilter, text_detections
from local.label_service.label_model import Classifier
from local.label_service.text import TextReader
from local.samples import distinct_dicom_renders

QUICK_FILES = ("US1_J2KR.dcm", "CT_small.dcm", "MR_small.dcm", "RG3_J2KI.dcm")


def main(args: list[str]) -> int:
    quick = "--quick" in args
    reader, classifier = TextReader(), Classifier()
    rows: list[tuple[str, str, int, int]] = []
    text_seconds: list[float] = []
    label_seconds: list[float] = []
    for sample in distinct_dicom_renders(QUICK_FILES if quick else None):
        started = time.perf_counter()
        lines = reader.read(sample.image)
        text_seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
        classifier.predict(sample.image)
        label_seconds.append(time.perf_counter() - started)
        words = sum(e["Type"] == "WORD" for e in text_detections(lines, sample.image.size, WordFilter(), []))
        rows.append((sample.path.name, sample.modality, len(lines), words))
    found = [row for row in rows if row[2]]
    print(f"{len(rows)} distinct DICOM renders; text found in {len(found)}:")
    print("| file | modality | lines | words |\n|---|---|---|---|")
    for name, modality, lines_found, words in found:
        print(f"| {name} | {modality} | {lines_found} | {words} |")
    p50_text, p50_labels = statistics.median(text_seconds), statistics.median(label_seconds)
    print(
        f"DetectText (local) p50 {1000 * p50_text:.0f} ms, DetectLabels (local, baseline) p50 "
        f"{1000 * p50_labels:.0f} ms: ratio {p50_text / p50_labels:.1f}×"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
