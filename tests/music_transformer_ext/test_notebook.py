"""colab/music_transformer.ipynb runs top to bottom on tiny settings: it ports a t2t-named checkpoint,
fine-tunes on chorales, exports and re-ports, continues a primer, accompanies a melody, plays the
results and compares them with the evaluation suite."""
import os

import pytest

from tests.conftest import REPO_ROOT

NOTEBOOK = REPO_ROOT / "colab" / "music_transformer.ipynb"


@pytest.mark.slow
def test_music_transformer_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("MUSIC_TRANSFORMER_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("MUSIC_TRANSFORMER_NOTEBOOK_OUT", str(tmp_path / "out"))
    for name in ("MUSIC_TRANSFORMER_CHECKPOINT", "MUSIC_TRANSFORMER_PRESET", "MUSIC_TRANSFORMER_MIDI_DIR",
                 "MUSIC_TRANSFORMER_CONDITIONED_CHECKPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    audio = [o for o in outputs if "<audio" in o.get("data", {}).get("text/html", "")]
    assert len(audio) == 3  # primer, continuation, accompaniment
    text = "".join(o.get("text", "") for o in outputs)
    assert "t2t export == fine-tuned weights: True; fine-tuning changed the ported weights: True" in text
    assert "ported: 2 layers, hidden 32, 4 heads, dot_product_relative_v2" in text
    out = tmp_path / "out"
    for name in ("primer.wav", "continuation_0.wav", "accompaniment.wav", "continuation_1.mid"):
        assert (out / name).stat().st_size > 100, name
    assert list((out / "t2t_export").glob("model.ckpt-6.index"))
    assert list((out / "comparison").rglob("*.html"))
    markdown = [o for o in outputs if "text/markdown" in o.get("data", {})]
    assert markdown and "continuation 0" in markdown[-1]["data"]["text/markdown"]
