"""colab/gansynth.ipynb runs top to bottom on tiny settings: it trains, plays notes and MIDI, draws, exports."""

import pytest

from tests import notebooks


@pytest.mark.slow
def test_gansynth_notebook_executes(tmp_path):
    pytest.importorskip("nbclient")
    nb = notebooks.execute("gansynth", tmp_path / "out")
    outputs = notebooks.outputs(nb)
    audio = [o for o in outputs if "<audio" in o.get("data", {}).get("text/html", "")]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(audio) == 2 + 2  # two notes, the MIDI file with fixed and interpolated timbre
    assert len(images) == 2 + 2  # note rainbowgrams, MIDI rainbowgrams
    out = tmp_path / "out"
    assert (out / "run" / "config.json").is_file() and (out / "run" / "normalizer.json").is_file()
    assert (out / "saved_model" / "saved_model.pb").is_file()
    text = "".join(o.get("text", "") for o in outputs)
    assert "served audio (1, 8192)" in text
