"""colab/music_transformer.ipynb runs top to bottom on tiny settings: it ports a t2t-named checkpoint,
fine-tunes on chorales, exports and re-ports, continues a primer, accompanies a melody, plays the
results and compares them with the evaluation suite."""

import pytest

from tests import notebooks
from tests.browser import check_if_chromium


@pytest.mark.slow
def test_music_transformer_notebook_executes(tmp_path):
    outputs = notebooks.run("music_transformer", tmp_path / "out")
    assert len(notebooks.audio(outputs)) == 3  # primer, continuation, accompaniment
    text = notebooks.text(outputs)
    assert "t2t export == fine-tuned weights: True; fine-tuning changed the ported weights: True" in text
    assert "ported: 2 layers, hidden 32, 4 heads, dot_product_relative_v2" in text
    out = tmp_path / "out"
    for name in ("primer.wav", "continuation_0.wav", "accompaniment.wav", "continuation_1.mid"):
        assert (out / name).stat().st_size > 100, name
    assert list((out / "t2t_export").glob("model.ckpt-6.index"))
    [html] = list((out / "comparison").rglob("*.html"))
    check_if_chromium(html, tmp_path / "screenshots")
    markdown = notebooks.markdown(outputs)
    assert markdown and "continuation 0" in markdown[-1]
