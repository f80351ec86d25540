"""evaluate_note_sequences: held-out NLL of NoteSequences through the eval split's examples, for the
unconditional model and for the melody-conditioned one (scored on the melody-conditioned examples)."""

import numpy as np
import pytest

note_seq = pytest.importorskip("note_seq")

from music_transformer_ext import config as model_config  # noqa: E402
from music_transformer_ext import data, evaluation  # noqa: E402
from music_transformer_ext import task as task_lib  # noqa: E402
from music_transformer_ext.model import MusicTransformer  # noqa: E402


def _chorale_like(seconds=12.0, beat=0.5):
    """Four voices in block chords, a soprano line on top: a piece the melody HMM reads."""
    ns = note_seq.NoteSequence(id="test/chorale")
    soprano = [72, 74, 76, 77, 79, 77, 76, 74]
    for i in range(int(seconds / beat)):
        top = soprano[i % len(soprano)]
        for pitch in (top, top - 5, top - 12, top - 19):
            ns.notes.add(pitch=pitch, start_time=i * beat, end_time=(i + 1) * beat, velocity=80)
    ns.total_time = seconds
    return ns


def test_conditioned_model_is_scored_on_its_melody_examples():
    cfg = model_config.get("tiny_conditioned")
    model = MusicTransformer(cfg)
    ns = _chorale_like()
    metrics = evaluation.evaluate_note_sequences(model, [ns], max_length=64, batch_size=2)
    # the same examples the melody-conditioned dataset's eval split holds, inputs and all
    records = data.process_note_sequence(ns.id, ns, "eval", data.melody_conditioned_config(max_length=64)).records
    examples = [data.parse_example(r) for _, _, r in records]
    assert metrics["examples"] == len(examples) >= 1
    assert metrics["tokens"] == sum(len(e["targets"]) for e in examples)
    width = max(len(e["inputs"]) for e in examples)
    batch = {
        "targets": np.zeros((len(examples), 64), np.int32),
        "inputs": np.zeros((len(examples), width), np.int32),
    }
    for i, e in enumerate(examples):
        batch["targets"][i, : len(e["targets"])] = e["targets"]
        batch["inputs"][i, : len(e["inputs"])] = e["inputs"]
    expected = task_lib.evaluate(model, [batch], jit_compile=False)
    assert metrics["nll_per_token"] == pytest.approx(expected["nll_per_token"], rel=1e-5)
    assert np.isfinite(metrics["nll_per_token"]) and 0.0 <= metrics["accuracy"] <= 1.0


def test_unconditional_model_is_scored_on_consecutive_pieces():
    model = MusicTransformer(model_config.get("tiny"))
    ns = _chorale_like()
    metrics = evaluation.evaluate_note_sequences(model, [ns], max_length=64)
    records = data.process_note_sequence(ns.id, ns, "eval", data.unconditional_config(max_length=64)).records
    assert metrics["examples"] == len(records) > 1
    assert np.isfinite(metrics["nll_per_token"])
