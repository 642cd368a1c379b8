"""Every notebook runs (on small data) and its jupytext .py twin holds the same cells.

Every notebook starts with a cell tagged ``parameters`` (papermill's convention) whose ``SMALL`` reads
``SNFKIT_NOTEBOOK_SMALL=1`` to shrink the work (fewer trials, smaller traces); this test sets it. A notebook's ``.ipynb`` and its percent-format ``.py`` must agree cell by cell:
after editing one, run ``jupytext --sync notebooks/NAME.py`` (or ``--to ipynb``).
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

NOTEBOOKS = REPO / "notebooks"
IPYNBS = sorted(NOTEBOOKS.glob("*.ipynb"))
PAIRED_PY = sorted(p for p in NOTEBOOKS.glob("*.py") if "jupytext" in p.read_text()[:400])


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_there_are_notebooks():
    assert IPYNBS, "notebooks/*.ipynb: none found"


@pytest.mark.parametrize("path", PAIRED_PY, ids=lambda p: p.name)
def test_every_paired_py_has_its_ipynb(path: Path):
    assert path.with_suffix(".ipynb").exists(), f"{path.name} has no .ipynb (jupytext --sync)"


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_ipynb_and_py_are_in_sync(path: Path):
    py = path.with_suffix(".py")
    assert py.exists(), (
        f"{path.name} has no paired {py.name} (jupytext --set-formats ipynb,py:percent)"
    )
    a = _cells(nbformat.read(path, as_version=4))
    b = _cells(jupytext.read(py))
    assert a == b, f"{path.name} and {py.name} differ: run jupytext --sync {py}"


def parameters_cell(nb) -> str | None:
    """The source of the notebook's first code cell when it is tagged ``parameters`` (papermill's
    convention: the cell whose values a run may replace), else None."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    if code and "parameters" in code[0].get("metadata", {}).get("tags", []):
        return code[0].source
    return None


@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_every_notebook_starts_with_its_parameters(path: Path):
    source = parameters_cell(nbformat.read(path, as_version=4))
    assert source is not None, f"{path.name}: the first code cell is not tagged 'parameters'"
    assert 'SMALL = os.environ.get("SNFKIT_NOTEBOOK_SMALL") == "1"' in source
    assert "snfkit" not in source.replace("SNFKIT_NOTEBOOK_SMALL", ""), "parameters only"


def test_parameters_cell_check_can_fail():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("SMALL = True")]
    assert parameters_cell(nb) is None
    nb.cells[0].metadata["tags"] = ["parameters"]
    assert parameters_cell(nb) == "SMALL = True"


@pytest.mark.slow
@pytest.mark.parametrize("path", IPYNBS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, monkeypatch, tmp_path):
    monkeypatch.setenv("SNFKIT_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the kernel imports this checkout's snfkit
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]  # fmt: skip
    assert not errors
