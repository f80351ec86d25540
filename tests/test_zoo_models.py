"""The shipped zoo (models/): every model loads, its card's check figures match a fresh evaluation on a
sample of its held-out data, and its manifest and card agree."""

import json
import os

import numpy as np
import pytest

from tfmusic import zoo

MODELS = zoo.names()


def _manifest(name):
    return json.loads((zoo.zoo_dir() / name / zoo.MANIFEST).read_text())


@pytest.mark.parametrize("name", MODELS)
def test_every_zoo_model_loads_and_has_a_card(name):
    entry = zoo.get(name)
    assert os.path.isfile(entry.card), f"{name}: no model card"
    card = open(entry.card, encoding="utf-8").read()
    # what every card gives: data and split, the retraining command, held-out figures, a picture
    for part in ("## Data", "## Training", "held-out", "![", "```"):
        assert part in card or part in card.lower(), f"{name}: the card has no {part!r}"
    assert zoo.load(name) is not None


def _check_melody_rnn(name, manifest):
    from melody_rnn_ext import evaluation
    from pipelines import music21_corpus

    check = manifest["check"]
    read = music21_corpus.read_collection(check["collection"], only=set(check["ids"]), progress=False)
    assert {s.id for s in read.sequences} == set(check["ids"])  # (music21 lists a few chorales twice)
    generator = zoo.load(name)
    return evaluation.evaluate_sequences(generator.model, generator.config, read.sequences)


def _check_jsb(name, check):
    """A JSB note-wise model: note-wise NLL of the first validation chorales, scored as its zoo script
    (bench/zoo/jsb.py) scores them."""
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "bench" / "zoo"))
    import jsb as zoo_jsb

    from music_transformer_ext import jsb

    chorales = jsb.load_jsb_chorales()[check["split"]][: check["chorales"]]
    return zoo_jsb.validation_nll(zoo.load(name), chorales, check["window"])


def _check_music_transformer(name, manifest):
    import music21

    from music_transformer_ext import evaluation
    from pipelines import note_sequences

    check = manifest["check"]
    if "window" in check:
        return _check_jsb(name, check)
    paths = {os.path.basename(str(p)): str(p) for p in music21.corpus.getComposer("bach")}
    sequences = []
    for file_name in check["files"]:
        ns = note_sequences.parse_musicxml(paths[file_name])
        ns.id = note_sequences.note_sequence_id(file_name, "bach", "musicxml")
        sequences.append(ns)
    # a melody-conditioned model (transformer_harmonizer) is scored on the melody-conditioned examples
    return evaluation.evaluate_note_sequences(zoo.load(name), sequences, check.get("max_length", 512))


def _check_gansynth(name, manifest):
    """The card's check notes regenerated (same pitches and seed), peak-limited and cut as the card's
    evaluation does, and scored by the zoo's pitch classifier."""
    from gansynth_tf.synthesize import peak_limit

    check = manifest["check"]
    synth = zoo.load(name)
    pitches = np.asarray(check["pitches"], np.int64)
    audio = synth.synthesize(synth.random_latents(len(pitches), check["seed"]), pitches)
    audio = np.stack([peak_limit(a) for a in audio])
    notes = np.zeros((len(audio), 64000), np.float32)
    notes[:, : synth.audio_length] = audio
    probs = zoo.load("pitch_classifier").probabilities(notes)
    pred = probs.argmax(-1) + 24
    return {
        "pitch_accuracy": float(np.mean(pred == pitches)),
        "mean_top_probability": float(probs.max(-1).mean()),
        "rms": float(np.sqrt(np.mean(audio**2))),
    }


CHECKS = {"melody_rnn": _check_melody_rnn, "music_transformer": _check_music_transformer, "gansynth": _check_gansynth}
# figures that are counts over a small sample: a fresh run may differ by one note on another CPU
COUNT_TOLERANCE = {"pitch_accuracy": 1.5}


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in MODELS if zoo.get(n).family in CHECKS])
def test_card_figures_match_a_fresh_evaluation(name):
    manifest = _manifest(name)
    fresh = CHECKS[manifest["family"]](name, manifest)
    for key, value in manifest["check"]["metrics"].items():
        if key in COUNT_TOLERANCE:
            count = len(manifest["check"]["pitches"])
            assert abs(fresh[key] - value) * count <= COUNT_TOLERANCE[key], f"{name}: {key} {fresh[key]} vs {value}"
        else:
            # generated audio goes through an inverse STFT: a little more float slack across CPUs
            rtol = 1e-3 if manifest["family"] == "gansynth" else 1e-4
            np.testing.assert_allclose(fresh[key], value, rtol=rtol, err_msg=f"{name}: {key}")
    # the card prints the manifest's held-out figures
    card = open(zoo.get(name).card, encoding="utf-8").read()
    if manifest["family"] == "gansynth":
        generated = manifest["metrics"]["held_out"]["generated"]
        assert f"{100 * generated['pitch_accuracy']:.1f} %" in card and f"{generated['fid']:.1f}" in card
    else:
        held_out = next(iter(manifest["metrics"].values()))
        figure = held_out.get("perplexity", held_out.get("nll_per_token", held_out.get("nll_per_note")))
        assert f"{figure:.3f}" in card


def test_zoo_weights_fit_the_budget():
    total = 0
    for root, _, files in os.walk(zoo.zoo_dir()):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    assert total <= 60 * 2**20, f"the zoo holds {total / 2**20:.1f} MB, over 60 MB"
