"""Melody generation: primer kept, lengths, range, incremental state = full pass, argmax at T -> 0,
beam search beats sampling on a trained tiny model, determinism, primer parsing (list and MIDI)."""

import copy

import note_seq
import numpy as np
import pytest

from melody_rnn_ext import config as config_lib
from melody_rnn_ext import generate
from melody_rnn_ext import task as task_lib
from melody_rnn_ext.model import build_model
from tests.melody_rnn_ext.test_task import write_melodies
from tfmusic import training

PRIMER = "[60, -2, 60, -2, 67, -2, 67, -2]"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny basic_rnn trained 60 steps on patterned arpeggio melodies (XLA off)."""
    tmp = tmp_path_factory.mktemp("gen")
    path = write_melodies(str(tmp / "train.tfrecord"), count=48)
    cfg = config_lib.get_preset(
        "tiny",
        [
            f"data.train_data_path={path}",
            "trainer.train_steps=60",
            "trainer.checkpoint_every=60",
            "runtime.jit_compile=false",
            "model.hparams.dropout_keep_prob=1.0",
        ],
    )
    task = task_lib.MelodyRnnTask(cfg)
    training.Runner(task, cfg, str(tmp / "run")).train()
    return generate.MelodyGenerator(task.model, cfg.model)


def _squash_amount(config, melody):
    return copy.deepcopy(melody).squash(config.min_note, config.max_note, config.transpose_to_key)


def test_output_starts_with_primer_has_length_and_range(trained):
    primer = generate.parse_primer_melody(PRIMER)
    out = trained.generate(primer, generate.GenerationOptions(num_steps=48, seed=3))
    events = list(out.melody)
    assert len(events) == 48 and out.primer_steps == 8
    assert events[:8] == list(primer)
    t = _squash_amount(trained.config, primer)
    notes = [e for e in events[8:] if e >= 0]
    assert notes, events
    assert all(trained.config.min_note - t <= e < trained.config.max_note - t for e in notes)
    assert all(e >= -2 for e in events)
    assert np.isfinite(out.log_likelihood) and out.log_likelihood < 0


def test_primer_in_another_key_is_transposed_back(trained):
    # A primer in E major (squashed down to C by the model) comes back in E, unchanged.
    primer = generate.parse_primer_melody("[64, -2, 68, -2, 71, -2, 76, -2, 71, -2, 68, -2]")
    assert _squash_amount(trained.config, primer) != 0
    out = trained.generate(primer, generate.GenerationOptions(num_steps=32, seed=0))
    assert list(out.melody)[:12] == list(primer)


@pytest.mark.parametrize("preset", ["tiny", "tiny_attention"])
def test_incremental_state_equals_full_pass(preset):
    """The score accumulated step by step with the carried state equals one full-sequence pass."""
    model_cfg = config_lib.MODEL_PRESETS.get(preset)
    gen = generate.MelodyGenerator(build_model(model_cfg, dropout_keep_prob=1.0), model_cfg)
    primer = generate.parse_primer_melody(PRIMER)
    events, loglik = gen.generate_events(copy.deepcopy(primer), generate.GenerationOptions(num_steps=40, seed=1))
    assert len(events) == 40
    np.testing.assert_allclose(loglik, gen.log_likelihood(events, start=len(primer), squash=False), rtol=1e-4)


def test_temperature_to_zero_is_argmax(trained):
    primer = generate.parse_primer_melody(PRIMER)
    cold, _ = trained.generate_events(
        copy.deepcopy(primer), generate.GenerationOptions(num_steps=40, temperature=1e-4, seed=1)
    )
    greedy, _ = trained.generate_events(
        copy.deepcopy(primer), generate.GenerationOptions(num_steps=40, temperature=0.0, seed=2)
    )
    assert list(cold) == list(greedy)
    inputs, labels = trained.encoder_decoder.encode(greedy)
    logits = trained.model(np.asarray([inputs], np.float32)).numpy()[0]
    generated = slice(len(primer) - 1, None)  # label i is event i + 1
    np.testing.assert_array_equal(np.argmax(logits, -1)[generated], np.asarray(labels)[generated])


def test_beam_search_scores_at_least_sampling(trained):
    primer = generate.parse_primer_melody(PRIMER)
    sampled = [
        trained.generate(primer, generate.GenerationOptions(num_steps=40, seed=s)).log_likelihood for s in range(4)
    ]
    beam = trained.generate(
        primer, generate.GenerationOptions(num_steps=40, beam_size=4, branch_factor=4, steps_per_iteration=1, seed=0)
    )
    assert len(beam.melody) == 40 and list(beam.melody)[:8] == list(primer)
    assert beam.log_likelihood >= max(sampled), (beam.log_likelihood, sampled)
    # Steps per iteration > 1 with a first iteration of (n - 1) % spi + 1 steps: still exact length.
    beam2 = trained.generate(
        primer, generate.GenerationOptions(num_steps=37, beam_size=2, branch_factor=3, steps_per_iteration=4, seed=0)
    )
    assert len(beam2.melody) == 37
    # The reported score is the sequence's log-likelihood under the model.
    events, score = trained.generate_events(
        copy.deepcopy(primer),
        generate.GenerationOptions(num_steps=40, beam_size=3, branch_factor=2, steps_per_iteration=2, seed=5),
    )
    np.testing.assert_allclose(score, trained.log_likelihood(events, start=len(primer), squash=False), rtol=1e-4)


def test_seeded_generation_is_deterministic(trained):
    primer = generate.parse_primer_melody(PRIMER)
    opts = generate.GenerationOptions(num_steps=40, seed=11)
    a = trained.generate(primer, opts)
    b = trained.generate(primer, opts)
    c = trained.generate(primer, generate.GenerationOptions(num_steps=40, seed=12))
    assert list(a.melody) == list(b.melody) and a.log_likelihood == b.log_likelihood
    assert list(a.melody) != list(c.melody)


def test_bad_arguments_raise(trained):
    with pytest.raises(generate.GenerationError, match="shorter than num_steps"):
        trained.generate(generate.parse_primer_melody(PRIMER), generate.GenerationOptions(num_steps=8))
    with pytest.raises(generate.GenerationError, match="beam_size"):
        generate.GenerationOptions(beam_size=0)
    for text in ("[60, 'a']", "60 -2", "[]", "[60, 130]"):
        with pytest.raises(generate.GenerationError):
            generate.parse_primer_melody(text)


def test_primer_from_midi_round_trips(tmp_path):
    primer = generate.parse_primer_melody("[62, -2, 64, -1, 65, -2, -2, 67, 69, -2]")
    path = str(tmp_path / "primer.mid")
    note_seq.sequence_proto_to_midi_file(generate.melody_to_sequence(primer, qpm=90), path)
    melody, qpm = generate.primer_from_midi(path)
    assert qpm == pytest.approx(90, rel=1e-3)
    assert list(melody)[:10] == list(primer)
    (tmp_path / "bad.mid").write_bytes(b"not midi")
    with pytest.raises(generate.GenerationError, match="bad.mid"):
        generate.primer_from_midi(str(tmp_path / "bad.mid"))
