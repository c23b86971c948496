"""The workshop notebooks (notebooks/*.ipynb) run top to bottom without an error.

They are executed with nbclient on the ``python3`` kernel. jupyter_client starts that kernel
with ``sys.executable`` when the spec's command is a bare ``python`` (the spec that ipykernel
ships and installs into the venv), so the kernel runs this interpreter and imports the code
under test; a first injected cell checks that, so a kernel from another environment (an
installed Jupyter's, say) fails loudly instead of testing other code. The notebooks are
committed without outputs: the numbers are always made by the code that is checked out.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

FOLDER = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))


def test_the_workshop_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} == {"quickstart", "beer_game"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    assert [c for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)] \
        == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path):
    nb = nbformat.read(path, as_version=4)
    check = nbformat.v4.new_code_cell(
        f"import sys\nassert sys.prefix == {sys.prefix!r}, sys.prefix")
    nb.cells.insert(0, check)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=120,
                                     resources={"metadata": {"path": str(FOLDER)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on an error
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, "the notebook drew no plot"
