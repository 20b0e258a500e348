"""Execute the notebooks headless and keep their outputs, so that they read on a code host without running.

    python notebooks/run.py            # execute every notebook in place (what `make notebooks` does)
    python notebooks/run.py --check    # execute them and fail if a committed output is stale

Outputs are made comparable from run to run: no execution timings or counts beyond the cell order, and the
things that differ on every run by nature (ports, job ids, durations) are masked in text (``comparable_text``);
figures are compared by their pixels (``same_picture``).
"""

from __future__ import annotations

import base64
import io
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parent
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
# What a figure may differ by and still be the same figure: font rasterisation across library versions.
MAX_MEAN_GREY_DIFFERENCE = 1.0
_VOLATILE = (
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "<uuid>"),
    (re.compile(r"(127\.0\.0\.1|localhost):\d+"), r"\1:<port>"),
    (re.compile(r"\d+(\.\d+)?\s?(ms|s)\b"), "<duration>"),
)


def execute(path: Path) -> nbformat.NotebookNode:
    """The notebook at ``path`` executed top to bottom in a fresh kernel, with its outputs."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", record_timing=False, resources={"metadata": {"path": str(FOLDER)}}
    )
    client.execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
    notebook.metadata.pop("widgets", None)  # widget state: the page has no live kernel to talk to
    return notebook


def comparable_text(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _outputs(notebook: nbformat.NotebookNode) -> list[list[tuple[str, str]]]:
    """Per code cell, each output as (kind, content): text masked, pictures as base64 PNG."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                # How printed text is cut into stream outputs depends on timing: consecutive ones are one text.
                if outputs and outputs[-1][0] == "stream":
                    outputs[-1] = ("stream", outputs[-1][1] + comparable_text(output.text))
                else:
                    outputs.append(("stream", comparable_text(output.text)))
                continue
            data = output.get("data", {})
            if "image/png" in data:
                outputs.append(("png", data["image/png"]))
            elif "text/html" in data:
                outputs.append(("text", comparable_text(str(data["text/html"]))))
            elif "text/plain" in data:
                outputs.append(("text", comparable_text(str(data["text/plain"]))))
            else:
                outputs.append(("text", output.output_type))
        cells.append(outputs)
    return cells


def same_picture(committed: str, fresh: str) -> bool:
    import numpy as np
    from PIL import Image

    a, b = (
        np.asarray(Image.open(io.BytesIO(base64.b64decode(x))).convert("L"), dtype=np.float32)
        for x in (committed, fresh)
    )
    return a.shape == b.shape and float(np.abs(a - b).mean()) <= MAX_MEAN_GREY_DIFFERENCE


def stale_outputs(committed: nbformat.NotebookNode, fresh: nbformat.NotebookNode) -> list[str]:
    """Where the committed outputs differ from a fresh run's (empty: they are current)."""
    problems = []
    old, new = _outputs(committed), _outputs(fresh)
    if len(old) != len(new):
        return [f"{len(old)} code cells committed, {len(new)} executed"]
    for index, (before, after) in enumerate(zip(old, new, strict=True), start=1):
        if [kind for kind, _ in before] != [kind for kind, _ in after]:
            problems.append(
                f"code cell {index}: outputs {[k for k, _ in before]} committed, {[k for k, _ in after]} now"
            )
            continue
        for (kind, a), (_, b) in zip(before, after, strict=True):
            if kind == "png" and not same_picture(a, b):
                problems.append(f"code cell {index}: a figure changed")
            elif kind != "png" and a != b:
                problems.append(f"code cell {index}: text changed: {a[:200]!r} → {b[:200]!r}")
    return problems


def main(argv: list[str]) -> int:
    check = "--check" in argv
    status = 0
    for path in NOTEBOOKS:
        fresh = execute(path)
        if check:
            problems = stale_outputs(nbformat.read(path, as_version=4), fresh)
            for problem in problems:
                print(f"{path.name}: {problem}")
            status |= bool(problems)
        else:
            nbformat.write(fresh, path)
            print(f"{path.name}: executed, outputs kept ({path.stat().st_size // 1024} KB)")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
