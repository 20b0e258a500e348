"""The notebooks are part of the product: they execute top to bottom, headless, and are committed with their
outputs (so that they read on a code host without running), which must be what a fresh run produces."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))


def _runner():
    """notebooks/run.py, what `make notebooks` runs (the notebooks folder is not a package)."""
    spec = importlib.util.spec_from_file_location("notebook_runner", FOLDER / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_notebooks_exist() -> None:
    assert {p.name for p in NOTEBOOKS} == {"dicom_windowing.ipynb", "label_outputs.ipynb"}


def _figures(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in output.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_with_its_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), "run `make notebooks` and commit the outputs"
    assert _figures(notebook) >= 4, "the figures are committed"
    assert path.stat().st_size < 1_500_000, "figures small enough to read on a code host"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_headless_and_its_committed_outputs_are_current(path: Path) -> None:
    runner = _runner()
    try:
        fresh = runner.execute(path)
    except CellExecutionError as exc:  # a cell that raises fails the suite, with the cell's error
        pytest.fail(f"{path.name}: {exc}")
    assert _figures(fresh) >= 4, f"{path.name} produced only {_figures(fresh)} figures"
    stale = runner.stale_outputs(nbformat.read(path, as_version=4), fresh)
    assert not stale, f"{path.name}: committed outputs are stale (run `make notebooks`): {stale}"
