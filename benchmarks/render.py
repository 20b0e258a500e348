"""Render-time benchmark: Image Analyzer's DICOM renderer against the naive approach of the reference projects.

Naive = ``ds.pixel_array`` (every frame), per-image min/max scaling in float, Pillow's default PNG settings.
Run: ``python -m benchmarks.render`` (``--quick`` for one repetition, as CI does).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from pydicom.pixels import pixel_array

from image_analyzer import dicom
from local.samples import sample_path

warnings.simplefilter("ignore")


def naive_render(path: Path, frame: int | None = None) -> bytes:
    """The reference approach end to end: every frame decoded, per-image min/max, Pillow's default PNG."""
    buffer = io.BytesIO()
    Image.fromarray(dicom.naive_render(path.read_bytes(), frame)).save(buffer, format="PNG")
    return buffer.getvalue()


def ours(path: Path, frame: int | None = None) -> bytes:
    return dicom.render(path.read_bytes(), frame=frame).to_png()


def decode_only(path: Path, frame: int | None = None) -> object:
    return pixel_array(str(path), index=frame)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times) if repeats < 3 else statistics.median(times)


def peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


CASES = [
    ("CT_small.dcm", None, "CT 128²"),
    ("MR2_UNCR.dcm", None, "MR 1024²"),
    ("RG1_UNCR.dcm", None, "CR MONOCHROME1 3.6 MP, uncompressed"),
    ("RG1_J2KR.dcm", None, "CR MONOCHROME1 3.6 MP, JPEG 2000"),
    ("RG3_UNCR.dcm", None, "CR MONOCHROME1 3.1 MP, uncompressed"),
    ("color3d_jpeg_baseline.dcm", 60, "US 120 frames, one frame"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two repetitions: a smoke run")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    repeats = 2 if args.quick else args.repeats  # best of two even in a smoke run: one sample is too noisy
    print(f"{'case':42} {'naive ms':>9} {'ours ms':>8} {'decode ms':>9} {'speed-up':>9} {'ours/decode':>11}")
    ratios: dict[str, tuple[float, float]] = {}
    for name, frame, label in CASES:
        path = sample_path(name)
        ours(path, frame)  # warm imports and caches for both sides
        naive_render(path, frame)
        t_naive = best_of(lambda p=path, f=frame: naive_render(p, f), repeats)
        t_ours = best_of(lambda p=path, f=frame: ours(p, f), repeats)
        t_decode = best_of(lambda p=path, f=frame: decode_only(p, f), repeats)
        ratios[name] = (t_naive / t_ours, t_ours / t_decode)
        print(
            f"{label:42} {t_naive * 1e3:9.1f} {t_ours * 1e3:8.1f} {t_decode * 1e3:9.1f} "
            f"{t_naive / t_ours:8.1f}× {t_ours / t_decode:10.2f}×"
        )
    us = sample_path("color3d_jpeg_baseline.dcm")
    print(
        f"\npeak memory, one frame of the 120-frame US: ours {peak_mb(lambda: ours(us, 60)):.1f} MB, "
        f"naive {peak_mb(lambda: naive_render(us, 60)):.1f} MB"
    )
    targets = [
        ("uncompressed 3.6 MP CR at least 3× faster than naive", ratios["RG1_UNCR.dcm"][0] >= 3.0),
        ("JPEG 2000 CR total within 1.5× of decoding alone", ratios["RG1_J2KR.dcm"][1] <= 1.5),
    ]
    for text, ok in targets:
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    return 0 if all(ok for _, ok in targets) or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
