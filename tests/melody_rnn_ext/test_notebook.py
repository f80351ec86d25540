"""colab/melody_rnn.ipynb runs top to bottom on tiny settings: bundle, fine-tune, generate, listen, evaluate."""

import pytest

from tests import notebooks


@pytest.mark.slow
def test_melody_rnn_notebook_executes(tmp_path):
    out = tmp_path / "out"
    outputs = notebooks.run("melody_rnn", out)
    assert len(notebooks.audio(outputs)) == 2
    tables = notebooks.markdown(outputs)
    assert tables and tables[-1].count(".mid") >= 2
    assert (out / "base.mag").is_file() and (out / "finetuned.mag").is_file()
    assert (out / "run_finetune" / "eval_metrics.json").is_file()
    assert len(list((out / "generated").glob("*.mid"))) == 2


@pytest.mark.slow
def test_melody_rnn_notebook_takes_a_zoo_name(tmp_path, monkeypatch):
    """BUNDLE may be a zoo model's name: the dataset is made in its encoding and it is fine-tuned."""
    import json

    from melody_rnn_ext import bundle as bundle_lib
    from melody_rnn_ext import config as config_lib
    from melody_rnn_ext.model import build_model
    from tests.weights import randomize

    pytest.importorskip("nbclient")
    config = config_lib.MODEL_PRESETS.get("tiny_attention")
    model = randomize(build_model(config, dropout_keep_prob=1.0), scale=0.1)
    zoo_dir = tmp_path / "zoo"
    bundle_lib.write_bundle(model, config, str(zoo_dir / "tiny_attention" / "m.mag"))
    (zoo_dir / "tiny_attention" / "model.json").write_text(json.dumps({"family": "melody_rnn", "weights": "m.mag"}))
    out = tmp_path / "out"
    monkeypatch.setenv("TFMUSIC_ZOO_DIR", str(zoo_dir))  # the kernel inherits it
    text = notebooks.text(notebooks.run("melody_rnn", out, {"BUNDLE": "tiny_attention"}))
    assert "config: attention_rnn" in text and str(zoo_dir / "tiny_attention" / "m.mag") in text
    assert not (out / "base.mag").exists() and (out / "finetuned.mag").is_file()
    assert len(list((out / "generated").glob("*.mid"))) == 2
