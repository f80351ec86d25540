"""colab/melody_rnn.ipynb runs top to bottom on tiny settings: bundle, fine-tune, generate, listen, evaluate."""
import os

import pytest

from tests.conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "colab" / "melody_rnn.ipynb"


@pytest.mark.slow
def test_melody_rnn_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    out = tmp_path / "out"
    monkeypatch.setenv("MELODY_RNN_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("MELODY_RNN_NOTEBOOK_OUT", str(out))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    audio = [o for o in outputs if "<audio" in o.get("data", {}).get("text/html", "")]
    assert len(audio) == 2
    tables = [o for o in outputs if "text/markdown" in o.get("data", {})]
    assert tables and tables[-1]["data"]["text/markdown"].count(".mid") >= 2
    assert (out / "base.mag").is_file() and (out / "finetuned.mag").is_file()
    assert (out / "run_finetune" / "eval_metrics.json").is_file()
    assert len(list((out / "generated").glob("*.mid"))) == 2
