"""The notebooks run top to bottom in a fresh kernel, as a researcher would open them."""

from pathlib import Path

import nbformat
import pytest

nbclient = pytest.importorskip("nbclient")  # A test extra: pip install -e ".[test]"

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_and_they_are_stored_without_outputs():
  assert len(NOTEBOOKS) >= 2
  for path in NOTEBOOKS:
    book = nbformat.read(path, as_version=4)
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert code, path.name
    assert all(not cell.outputs and cell.execution_count is None for cell in code), path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
  monkeypatch.setenv("MPLBACKEND", "Agg")
  book = nbformat.read(path, as_version=4)
  client = nbclient.NotebookClient(book, timeout=600, kernel_name="python3",
                                   resources={"metadata": {"path": str(ROOT / "notebooks")}})
  client.execute()  # Raises CellExecutionError, with the cell and its traceback, on failure.
  errors = [o for cell in book.cells for o in cell.get("outputs", []) if o.output_type == "error"]
  assert not errors
