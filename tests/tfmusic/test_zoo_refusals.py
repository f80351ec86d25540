"""Every zoo family's loader refuses a truncated or mismatched weights file with an error naming it
(tfmusic.zoo.load dispatches to the family loaders; the Melody RNN case is in test_zoo.py)."""

import json
import pathlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

from tfmusic import zoo


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _manifest(folder, family, weights):
    (folder / zoo.MANIFEST).write_text(json.dumps({"name": folder.name, "family": family, "weights": weights}))


@pytest.fixture
def zoo_root(tmp_path, monkeypatch):
    monkeypatch.setenv(zoo.ZOO_ENV, str(tmp_path))
    return tmp_path


def _tiny_gansynth(run_dir, latent_size=None):
    """A model-only GANSynth folder as the zoo ships it: config.json + a generator_ema checkpoint."""
    from gansynth_tf.config import get_preset
    from gansynth_tf.generator import build_generator
    from gansynth_tf.synthesize import _EMAWeights
    from tfmusic import config as config_lib

    cfg = get_preset("tiny", [f"model.latent_size={latent_size}"] if latent_size else [])
    generator = build_generator(cfg.model, cfg.data.num_pitches)
    ema = _EMAWeights(generator)
    rng = np.random.default_rng(0)
    for avg in ema.averages:
        avg.assign(rng.normal(0, 0.1, tuple(avg.shape)).astype(np.float32))
    run_dir.mkdir(parents=True)
    checkpoint = tf.train.Checkpoint(generator_ema=ema)
    checkpoint.save_counter.assign(1)
    checkpoint.write(str(run_dir / "ckpt-1"))
    config_lib.save_json(cfg, str(run_dir / config_lib.CONFIG_FILENAME))
    return ema


def test_gansynth_zoo_model_loads_and_refuses_bad_weights(zoo_root):
    from gansynth_tf.synthesize import GANSynthCheckpointError, GANSynthSynthesizer

    folder = zoo_root / "tiny_gan"
    ema = _tiny_gansynth(folder / "run")
    _manifest(folder, "gansynth", "run")
    synth = zoo.load("tiny_gan")
    assert isinstance(synth, GANSynthSynthesizer) and synth.uses_ema
    for a, b in zip(synth.generator.weights, ema.averages):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    audio = synth.synthesize(synth.random_latents(2, 0), [60, 61])
    assert audio.shape == (2, synth.audio_length) and np.all(np.isfinite(audio))

    # a checkpoint made for another generator (latent 8 -> 16): refused, naming the checkpoint
    other = zoo_root / "other"
    _tiny_gansynth(other, latent_size=16)
    shutil.copy(other / "config.json", folder / "run" / "config.json")
    with pytest.raises(GANSynthCheckpointError, match=r"ckpt-1: checkpoint truncated, corrupt or not made for"):
        zoo.load("tiny_gan")
    shutil.copy(other / "ckpt-1.index", folder / "run" / "ckpt-1.index")
    shutil.copy(other / "ckpt-1.data-00000-of-00001", folder / "run" / "ckpt-1.data-00000-of-00001")
    assert zoo.load("tiny_gan").latent_size == 16
    # truncated data file
    _truncate(folder / "run" / "ckpt-1.data-00000-of-00001")
    with pytest.raises(GANSynthCheckpointError, match=r"ckpt-1"):
        zoo.load("tiny_gan")


def test_pitch_classifier_zoo_model_refuses_bad_weights(zoo_root):
    from music_eval import classifier as clf

    folder = zoo_root / "tiny_classifier"
    cfg = clf.PRESETS.get("gansynth")
    network = clf.build_pitch_network(cfg.model, cfg.features)
    model_dir = folder / "classifier"
    clf.export_classifier(clf.PitchClassifier(network, cfg), model_dir)
    _manifest(folder, "pitch_classifier", "classifier")
    assert zoo.load("tiny_classifier").network.count_params() == network.count_params()
    data_file = next(model_dir.glob("*.data-*"))
    _truncate(data_file)
    with pytest.raises(clf.ClassifierFileError, match="truncated, corrupt or not made for the network"):
        zoo.load("tiny_classifier")


@pytest.mark.parametrize("name", ["transformer_chorales", "transformer_harmonizer"])
def test_music_transformer_zoo_model_refuses_a_truncated_checkpoint(zoo_root, name):
    from tfmusic import tf1_checkpoints

    source = pathlib.Path(zoo.__file__).resolve().parent.parent / "models" / name
    if not (source / zoo.MANIFEST).is_file():
        pytest.skip(f"the zoo's {name} is not in this checkout")
    folder = zoo_root / "tiny_transformer"
    shutil.copytree(source / "t2t", folder / "t2t")
    _manifest(folder, "music_transformer", "t2t")
    data_file = next((folder / "t2t").glob("*.data-*"))
    _truncate(data_file)
    with pytest.raises((tf1_checkpoints.CheckpointReadError, tf1_checkpoints.PortingError), match="t2t"):
        zoo.load("tiny_transformer")
