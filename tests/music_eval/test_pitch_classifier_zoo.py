"""The zoo's ``pitch_classifier`` (models/pitch_classifier): it loads, its card's figures match a fresh
evaluation, and its loader refuses damaged weights.

The held-out SoundFont is pretty_midi's TimGM6mb, which every install has, so the card's sample of
held-out notes (one per pitch 24-84) is re-rendered and re-scored here; so are the 12 real NSynth notes.
"""

import json
import math
import pathlib
import shutil

import numpy as np
import pytest

from music_eval import classifier as clf
from pipelines import nsynth_render as nr
from tfmusic import zoo


@pytest.fixture(scope="module")
def entry():
    return zoo.get("pitch_classifier")


@pytest.fixture(scope="module")
def model(entry):
    return zoo.load("pitch_classifier")


def test_loads_with_gansynth_classes_and_is_small(entry, model):
    assert entry.family == "pitch_classifier" and isinstance(model, clf.PitchClassifier)
    assert model.pitches.tolist() == list(range(24, 85))  # GANSynth's 61 classes
    size = sum(f.stat().st_size for f in pathlib.Path(entry.path).iterdir())
    assert size < 5e6, size
    folder = pathlib.Path(entry.card).parent
    assert pathlib.Path(entry.card).is_file() and (folder / "accuracy_by_pitch.png").is_file()


def test_card_figures_are_the_manifest_ones(entry):
    card = pathlib.Path(entry.card).read_text()
    m = entry.metrics
    for key in ("heldout_soundfont", "heldout_instruments"):
        assert f"{100 * m[key]['accuracy']:.1f} %" in card, key
        assert f"{m[key]['num']:,} notes" in card, key
    real = m["real_nsynth_sample"]
    assert f"{real['correct']} of 12" in card
    assert "bench/zoo/pitch_classifier.py" in card and "make zoo-deps" in card


def test_heldout_soundfont_sample_matches_the_card(entry, model, tmp_path):
    sample = entry.metrics["heldout_soundfont_sample"]
    notes = [nr.NoteSpec(*n) for n in sample["notes"]]
    counters = nr.render_dataset(tmp_path, notes, nr.RenderSettings(), workers=1, progress=False)
    assert counters.get("rendered") == sample["num"]  # a note that renders silent is skipped, as in training
    x, y, _ = clf.load_features(tmp_path, model.config.features)
    correct = int(np.sum(model.network(x, training=False).numpy().argmax(-1) + model.min_pitch == y))
    print(f"held-out SoundFont sample: {correct} of {len(y)} (card: {sample['correct']})")
    assert abs(correct - sample["correct"]) <= 1  # float round-off may flip one borderline note
    # the sample agrees with the card's figure on the whole held-out SoundFont (binomial, 3 sigma)
    p = entry.metrics["heldout_soundfont"]["accuracy"]
    assert abs(correct / len(y) - p) <= 3 * math.sqrt(max(p * (1 - p), 0.01) / len(y)) + 1 / len(y)


def test_real_nsynth_notes_match_the_card(entry, model, nsynth_sample_dir):
    real = clf.load_nsynth_dir(nsynth_sample_dir)
    pred = model.predict_pitches(real.audio)
    card = entry.metrics["real_nsynth_sample"]
    assert int(np.sum(pred == real.pitches)) == card["correct"]
    assert pred.tolist() == card["predicted"]


def test_loader_refuses_a_truncated_zoo_checkpoint(entry, tmp_path):
    bad = pathlib.Path(shutil.copytree(entry.path, tmp_path / "weights"))
    data = next(bad.glob("ckpt-*.data-*"))
    data.write_bytes(data.read_bytes()[:1000])
    with pytest.raises(clf.ClassifierFileError, match="checkpoint truncated, corrupt"):
        clf.load_classifier(bad)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["model"]["max_pitch"] = 96  # 73 classes: the logits no longer fit
    shutil.copy(next(pathlib.Path(entry.path).glob("ckpt-*.data-*")), data)
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(clf.ClassifierFileError, match="not made for the network"):
        clf.load_classifier(bad)
