"""colab/gansynth.ipynb runs top to bottom on tiny settings: it trains, plays notes and MIDI, draws, exports."""

import pytest

from tests import notebooks


@pytest.mark.slow
def test_gansynth_notebook_executes(tmp_path):
    outputs = notebooks.run("gansynth", tmp_path / "out")
    assert len(notebooks.audio(outputs)) == 2 + 2  # two notes, the MIDI file with fixed and interpolated timbre
    assert len(notebooks.images(outputs)) == 2 + 2  # note rainbowgrams, MIDI rainbowgrams
    out = tmp_path / "out"
    assert (out / "run" / "config.json").is_file() and (out / "run" / "normalizer.json").is_file()
    assert (out / "saved_model" / "saved_model.pb").is_file()
    text = notebooks.text(outputs)
    assert "served audio (1, 8192)" in text
