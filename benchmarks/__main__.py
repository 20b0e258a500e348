"""Run every benchmark: ``python -m benchmarks [--quick]``."""

from __future__ import annotations

import sys

from benchmarks import render


def main() -> int:
    args = sys.argv[1:]
    print("== DICOM render ==")
    return render.main(args)


if __name__ == "__main__":
    sys.exit(main())
