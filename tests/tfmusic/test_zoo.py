"""The zoo registry (tfmusic.zoo): names, paths, loading by family, clear refusals."""

import json

import numpy as np
import pytest

from melody_rnn_ext import bundle as bundle_lib
from melody_rnn_ext import config as config_lib
from melody_rnn_ext.generate import MelodyGenerator
from melody_rnn_ext.model import build_model
from tests.weights import randomize
from tfmusic import zoo


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    """A zoo folder with one tiny Melody RNN bundle (random weights) named ``tiny_melody``."""
    monkeypatch.setenv(zoo.ZOO_ENV, str(tmp_path))
    config = config_lib.MODEL_PRESETS.get("tiny")
    model = randomize(build_model(config, dropout_keep_prob=1.0))
    folder = tmp_path / "tiny_melody"
    bundle_lib.write_bundle(model, config, str(folder / "m.mag"), include_metagraph=False)
    (folder / "model.json").write_text(
        json.dumps({"name": "tiny_melody", "family": "melody_rnn", "weights": "m.mag", "metrics": {"x": 1}})
    )
    return tmp_path, model


def test_names_path_resolve_and_load(tiny_zoo):
    root, model = tiny_zoo
    assert zoo.names() == ["tiny_melody"] and zoo.names("melody_rnn") == ["tiny_melody"]
    assert zoo.names("gansynth") == []
    assert zoo.path("tiny_melody") == str(root / "tiny_melody" / "m.mag")
    assert zoo.resolve("tiny_melody", family="melody_rnn") == zoo.path("tiny_melody")
    # an existing path is returned as given, zoo or not
    assert zoo.resolve(str(root / "tiny_melody" / "m.mag")) == str(root / "tiny_melody" / "m.mag")
    generator = zoo.load("tiny_melody")
    assert isinstance(generator, MelodyGenerator)
    for a, b in zip(generator.model.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert zoo.get("tiny_melody").metrics == {"x": 1}


def test_unknown_name_lists_the_known_ones(tiny_zoo):
    with pytest.raises(zoo.ZooError, match="no such zoo model.*tiny_melody"):
        zoo.resolve("no_such_model")
    with pytest.raises(zoo.ZooError, match="no zoo model 'nope'.*known: tiny_melody"):
        zoo.load("nope")
    with pytest.raises(zoo.ZooError, match="is a melody_rnn model, not a gansynth one"):
        zoo.resolve("tiny_melody", family="gansynth")


def test_bad_manifest_missing_weights_and_truncated_bundle(tiny_zoo):
    root, _ = tiny_zoo
    folder = root / "tiny_melody"
    data = (folder / "m.mag").read_bytes()
    (folder / "m.mag").write_bytes(data[: len(data) // 2])
    with pytest.raises(bundle_lib.BundleError, match="m.mag"):
        zoo.load("tiny_melody")
    (folder / "m.mag").unlink()
    with pytest.raises(zoo.ZooError, match="weights .*m.mag missing"):
        zoo.load("tiny_melody")
    (folder / "model.json").write_text("{not json")
    with pytest.raises(zoo.ZooError, match="model.json: unreadable zoo manifest"):
        zoo.get("tiny_melody")
    (folder / "model.json").write_text(json.dumps({"family": "lute", "weights": "m.mag"}))
    with pytest.raises(zoo.ZooError, match="unknown family 'lute'"):
        zoo.get("tiny_melody")


def test_commands_take_a_zoo_name_or_the_default(tiny_zoo, tmp_path, capsys):
    from melody_rnn_ext import generate_cli

    out = tmp_path / "gen"
    rc = generate_cli.main(
        ["--bundle_file", "tiny_melody", "--output_dir", str(out), *"--num_outputs 1 --num_steps 16".split()]
        + ["--primer_melody", "[60]", "--seed", "1"]
    )
    assert rc == 0 and len(list(out.glob("*.mid"))) == 1
    assert "zoo model tiny_melody" in capsys.readouterr().err
    # no model given and no default model in this zoo: a clear message, exit 1
    rc = generate_cli.main(["--output_dir", str(out), "--num_steps", "16"])
    assert rc == 1 and "holds no melody_rnn model 'melody_rnn_attention'" in capsys.readouterr().err
    # other commands say the same for their families
    from gansynth_tf import generate_cli as gansynth_cli
    from music_transformer_ext import generate_cli as transformer_cli

    assert gansynth_cli.main(["notes", "--output_dir", str(out), "--pitches", "60"]) == 2
    assert "holds no gansynth model" in capsys.readouterr().err
    assert transformer_cli.main(["--output_dir", str(out)]) == 2
    assert "holds no music_transformer model" in capsys.readouterr().err
