"""Run every benchmark: ``python -m benchmarks [--quick]``."""

from __future__ import annotations

import sys

from benchmarks import archive, local_stack, redaction, render, text_modes


def main() -> int:
    args = sys.argv[1:]
    print("== DICOM render (vs the naive reference approach) ==")
    status = render.main(args)
    print("\n== Burned-in text over the DICOM samples ==")
    status = status or redaction.main(args)
    print("\n== What each textDetection mode costs ==")
    status = status or text_modes.main(args)
    print("\n== Local stack ==")
    status = status or local_stack.main(args)
    print("\n== An archive through analyze, and its cost on AWS ==")
    return status or archive.main(args)


if __name__ == "__main__":
    sys.exit(main())
