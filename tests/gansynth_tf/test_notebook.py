"""colab/gansynth.ipynb runs top to bottom on tiny settings: it trains, plays notes and MIDI, draws, exports."""
import os

import pytest

from tests.conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "colab" / "gansynth.ipynb"


@pytest.mark.slow
def test_gansynth_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("GANSYNTH_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("GANSYNTH_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    audio = [o for o in outputs if "<audio" in o.get("data", {}).get("text/html", "")]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(audio) == 2 + 2  # two notes, the MIDI file with fixed and interpolated timbre
    assert len(images) == 2 + 2  # note rainbowgrams, MIDI rainbowgrams
    out = tmp_path / "out"
    assert (out / "run" / "config.json").is_file() and (out / "run" / "normalizer.json").is_file()
    assert (out / "saved_model" / "saved_model.pb").is_file()
    text = "".join(o.get("text", "") for o in outputs)
    assert "served audio (1, 8192)" in text
