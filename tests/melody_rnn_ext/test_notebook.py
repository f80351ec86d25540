"""colab/melody_rnn.ipynb runs top to bottom on tiny settings: bundle, fine-tune, generate, listen, evaluate."""

import pytest

from tests import notebooks


@pytest.mark.slow
def test_melody_rnn_notebook_executes(tmp_path):
    pytest.importorskip("nbclient")
    out = tmp_path / "out"
    nb = notebooks.execute("melody_rnn", out)
    outputs = notebooks.outputs(nb)
    audio = [o for o in outputs if "<audio" in o.get("data", {}).get("text/html", "")]
    assert len(audio) == 2
    tables = [o for o in outputs if "text/markdown" in o.get("data", {})]
    assert tables and tables[-1]["data"]["text/markdown"].count(".mid") >= 2
    assert (out / "base.mag").is_file() and (out / "finetuned.mag").is_file()
    assert (out / "run_finetune" / "eval_metrics.json").is_file()
    assert len(list((out / "generated").glob("*.mid"))) == 2


@pytest.mark.slow
def test_melody_rnn_notebook_takes_a_zoo_name(tmp_path, monkeypatch):
    """BUNDLE may be a zoo model's name: the dataset is made in its encoding and it is fine-tuned."""
    import json

    import numpy as np

    from melody_rnn_ext import bundle as bundle_lib
    from melody_rnn_ext import config as config_lib
    from melody_rnn_ext.model import build_model

    pytest.importorskip("nbclient")
    config = config_lib.MODEL_PRESETS.get("tiny_attention")
    model = build_model(config, dropout_keep_prob=1.0)
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(0, 0.1, tuple(v.shape)).astype(np.float32))
    zoo_dir = tmp_path / "zoo"
    bundle_lib.write_bundle(model, config, str(zoo_dir / "tiny_attention" / "m.mag"))
    (zoo_dir / "tiny_attention" / "model.json").write_text(json.dumps({"family": "melody_rnn", "weights": "m.mag"}))
    out = tmp_path / "out"
    monkeypatch.setenv("TFMUSIC_ZOO_DIR", str(zoo_dir))  # the kernel inherits it
    nb = notebooks.execute("melody_rnn", out, {"BUNDLE": "tiny_attention"})
    text = "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", []))
    assert "config: attention_rnn" in text and str(zoo_dir / "tiny_attention" / "m.mag") in text
    assert not (out / "base.mag").exists() and (out / "finetuned.mag").is_file()
    assert len(list((out / "generated").glob("*.mid"))) == 2
