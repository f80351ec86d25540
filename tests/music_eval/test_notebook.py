"""colab/evaluation.ipynb runs top to bottom (tiny settings) and shows both tables and the plots."""
import os

import pytest

from tests.conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "colab" / "evaluation.ipynb"


@pytest.mark.slow
def test_evaluation_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MUSIC_EVAL_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("MUSIC_EVAL_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    markdown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert any("| piece | role |" in m for m in markdown)  # the MIR table
    assert any("| set | notes | NDB |" in m for m in markdown)  # the GANSynth table
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 8  # piano rolls, chroma, spectrograms, tempo curves, NDB cells
    assert (tmp_path / "out" / "comparison" / "report.html").is_file()
    assert (tmp_path / "out" / "gan" / "gan_report.html").is_file()
