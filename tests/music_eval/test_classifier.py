"""The pitch classifier (trained through tfmusic.training.Runner) and the GAN metrics built on it.

A tiny NSynth-format set is rendered with FluidSynth (4 GM programs x 13 pitches x 2
velocities); a small CNN trains on 80 % of it for 120 steps of 16 notes.
"""

import json

import numpy as np
import pytest

from music_eval import classifier as clf
from music_eval import gan_metrics as gm
from tfmusic import training

PITCHES = range(58, 71)  # 13 classes; chance accuracy 1/13 = 7.7 %
PROGRAMS = (0, 19, 24, 40)


def tiny_experiment(train_dir=""):
    return clf.ClassifierExperiment(
        model=clf.ClassifierModelConfig(
            min_pitch=58, max_pitch=70, filters=(8, 16, 16), embedding_dim=32, dropout=0.1, learning_rate=3e-3
        ),
        data=clf.ClassifierDataConfig(train_dir=str(train_dir), holdout_fraction=0.2, seed=0),
        trainer=training.TrainerConfig(
            train_steps=120, global_batch_size=16, checkpoint_every=120, summary_every=60, progress=False
        ),
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    from pipelines import nsynth_render as nr

    out = tmp_path_factory.mktemp("nsynth_tiny")
    notes = nr.select_notes(programs=PROGRAMS, pitches=PITCHES, velocities=(80, 127))
    counters = nr.render_dataset(out, notes, workers=1, progress=False)
    assert counters.get("rendered") == len(notes) == 104
    return out


@pytest.fixture(scope="module")
def trained(rendered, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("clf")
    result = clf.train_classifier(tiny_experiment(rendered), model_dir)
    return result, model_dir


def test_features_shape_and_standardization():
    audio = np.random.default_rng(0).normal(scale=0.1, size=(2, 64000)).astype(np.float32)
    x = clf.classifier_features(audio)
    assert x.shape == (2, 61, 128, 1)
    assert np.allclose(x.mean(axis=(1, 2, 3)), 0, atol=1e-4) and np.allclose(x.std(axis=(1, 2, 3)), 1, atol=1e-3)
    # Standardization makes the input level-free.
    assert np.allclose(clf.classifier_features(audio * 0.1), x, atol=1e-3)
    assert clf.ndb_features(audio).shape == (2, 15 * 32)


def test_pitch_from_path():
    assert clf.pitch_from_path("pitch_60/sample_3.wav") == 60
    assert clf.pitch_from_path("guitar_acoustic_015-072-127.wav") == 72
    assert clf.pitch_from_path("whatever.wav") is None


def test_classifier_learns_pitch(trained, rendered):
    result, model_dir = trained
    m = result.metrics
    assert m["num_train"] == 83 and m["num_heldout"] == 21
    print("tiny classifier:", json.dumps({k: m[k] for k in ("train_accuracy", "heldout_accuracy")}))
    assert m["train_accuracy"] >= 0.8
    # Held-out notes are other (program, velocity) pairs of seen pitches; chance is 0.077.
    assert m["heldout_accuracy"] >= 0.5
    saved = json.loads((model_dir / clf.METRICS_FILENAME).read_text())
    assert saved["heldout_accuracy"] == m["heldout_accuracy"]
    assert (model_dir / "config.json").is_file()
    # the held-out accuracy also lands in the run's TensorBoard logs, under eval/, beside the training scalars
    import pathlib

    import tensorflow as tf

    logged = {
        (v.tag, e.step): float(tf.make_ndarray(v.tensor))
        for path in pathlib.Path(model_dir, "train").glob("events.out.tfevents.*")
        for e in tf.compat.v1.train.summary_iterator(str(path))
        for v in e.summary.value
        if v.tag.startswith(("eval/", "xent/"))
    }
    assert logged[("eval/heldout_accuracy", m["final_step"])] == pytest.approx(m["heldout_accuracy"])
    assert ("eval/train_accuracy", m["final_step"]) in logged and any(t.startswith("xent/") for t, _ in logged)


def test_reload_gives_same_outputs(trained, rendered):
    result, model_dir = trained
    data = clf.load_nsynth_dir(rendered)
    audio = data.audio[:6]
    again = clf.load_classifier(model_dir)
    np.testing.assert_allclose(again.probabilities(audio), result.classifier.probabilities(audio), atol=1e-5)
    assert again.embeddings(audio).shape == (6, 32)


def test_real_notes_are_scored(trained, nsynth_sample_dir):
    result, _ = trained
    real = clf.load_nsynth_dir(nsynth_sample_dir)
    assert len(real) == 12 and set(real.pitches) == {60}
    acc = result.classifier.accuracy(real.audio, real.pitches)
    print(f"tiny classifier on the 12 real NSynth notes: {acc:.3f}")
    assert 0.0 <= acc <= 1.0


def test_metrics_known_answers_with_the_classifier(trained, rendered):
    result, _ = trained
    c = result.classifier
    data = clf.load_nsynth_dir(rendered)
    emb = c.embeddings(data.audio)
    # Real against itself: FID 0 and no NDB cell differs.
    assert gm.frechet_distance(emb, emb) == pytest.approx(0.0, abs=1e-6)
    feats = clf.ndb_features(data.audio)
    assert gm.number_of_different_bins(feats, feats, k=10).num_different == 0
    # A one-pitch set (the training notes of pitch 64) has (near) zero predicted-pitch entropy.
    one = data.audio[data.pitches == 64]
    assert gm.predicted_pitch_histogram_entropy(c.probabilities(one)) <= 0.5
    # The whole set spans 13 pitches: IS well above 1.
    assert gm.inception_score(c.probabilities(data.audio)) > 4.0


def test_gan_command(trained, rendered, tmp_path, capsys):
    from music_eval import cli
    from tfmusic.audio import write_wav

    _, model_dir = trained
    data = clf.load_nsynth_dir(rendered)
    gen = tmp_path / "generated"
    rng = np.random.default_rng(0)
    for i in range(0, len(data), 3):  # "generated" = real notes plus noise, in Magenta's pitch_NN layout
        d = gen / f"pitch_{data.pitches[i]}"
        d.mkdir(parents=True, exist_ok=True)
        write_wav(d / f"sample_{i}.wav", data.audio[i] * 0.8 + rng.normal(scale=0.02, size=64000), 16000)
    (gen / "pitch_60" / "broken.wav").write_bytes(b"RIFFxxxxWAVEnope")
    out = tmp_path / "out"
    rc = cli.main(["gan", str(rendered), str(gen), "--classifier", str(model_dir), "--out", str(out), "--k", "5"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| set | notes | NDB |" in printed and "| generated |" in printed and "broken.wav" in printed
    table = json.loads((out / "gan_metrics.json").read_text())
    real_row, gen_row = table["rows"]
    assert real_row["k"] == 5 and gen_row["num_notes"] == 35
    assert 0 <= gen_row["pitch_accuracy"] <= 1 and gen_row["fid"] > 0
    assert (out / "gan_report.html").read_text().count("<audio") >= 2
    assert len(table["skipped"]) == 1
    from tests.browser import check_if_chromium

    check_if_chromium(out / "gan_report.html", tmp_path / "screenshots")


def test_gan_command_rejects_missing_folder(tmp_path, capsys):
    from music_eval import cli

    rc = cli.main(["gan", str(tmp_path / "nope"), str(tmp_path), "--out", str(tmp_path / "o")])
    assert rc == 2 and "nope" in capsys.readouterr().err


# --------------------------------------------------------------------------- export, loader errors, zoo names


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """The tiny classifier exported as a one-model zoo (``ZOO/tiny_pitch/classifier``)."""
    result, _ = trained
    zoo_root = tmp_path_factory.mktemp("zoo")
    folder = zoo_root / "tiny_pitch"
    clf.export_classifier(result.classifier, folder / "classifier")
    (folder / "model.json").write_text(
        json.dumps({"name": "tiny_pitch", "family": "pitch_classifier", "weights": "classifier", "metrics": {}})
    )
    return zoo_root, folder / "classifier"


def test_export_is_model_only_and_reloads(exported, trained, rendered):
    result, run_dir = trained
    _, weights = exported
    size = sum(f.stat().st_size for f in weights.iterdir())
    run_size = sum(f.stat().st_size for f in run_dir.glob("ckpt-*"))
    assert size < run_size  # no optimizer state
    audio = clf.load_nsynth_dir(rendered).audio[:4]
    np.testing.assert_allclose(clf.load_classifier(weights).logits(audio), result.classifier.logits(audio), atol=1e-5)


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_loader_refuses_truncated_or_mismatched_weights(exported, tmp_path):
    _, weights = exported
    bad = _copy(weights, tmp_path / "truncated")
    data = next(bad.glob("ckpt-*.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(clf.ClassifierFileError, match=r"ckpt-1: checkpoint truncated, corrupt or not made for"):
        clf.load_classifier(bad)
    bad = _copy(weights, tmp_path / "bad_index")
    index = next(bad.glob("ckpt-*.index"))
    index.write_bytes(index.read_bytes()[:40])
    with pytest.raises(clf.ClassifierFileError, match="ckpt-1"):
        clf.load_classifier(bad)
    bad = _copy(weights, tmp_path / "mismatched")  # a config for a wider network than the weights
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["embedding_dim"] = 48
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(clf.ClassifierFileError, match="not made for the network in .*config.json"):
        clf.load_classifier(bad)
    bad = _copy(weights, tmp_path / "bad_config")
    (bad / "config.json").write_text("{not json")
    with pytest.raises(clf.ClassifierFileError, match=r"config.json: not a pitch-classifier config"):
        clf.load_classifier(bad)


def test_gan_command_takes_zoo_names(exported, rendered, tmp_path, capsys, monkeypatch):
    from music_eval import cli
    from tfmusic import zoo

    zoo_root, weights = exported
    monkeypatch.setenv(zoo.ZOO_ENV, str(zoo_root))
    assert zoo.resolve("tiny_pitch", family="pitch_classifier") == str(weights)
    rc = cli.main(
        ["gan", str(rendered), str(rendered), "--classifier", "tiny_pitch", "--out", str(tmp_path / "o"), "--k", "3"]
    )
    assert rc == 0 and f"pitch classifier: {weights}" in capsys.readouterr().err
    # the default is the zoo's pitch_classifier; this zoo has none, so the error names the choices
    rc = cli.main(["gan", str(rendered), str(rendered), "--out", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert rc == 2 and "pitch_classifier: no such file, and no such zoo model (zoo models: tiny_pitch)" in err
