"""Generation: the cached XLA loop equals recomputing the prefix, the filters do what they say,
primers are kept, seeds reproduce, EOS ends a row, and the ids decode to MIDI."""

import dataclasses
import io

import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from music_transformer_ext import config as C
from music_transformer_ext import encoding
from music_transformer_ext import sampling as S
from music_transformer_ext.model import MusicTransformer

PRIMER = [280, 60, 180, 148, 190]  # velocity, note-on 79, shift 30 ms, note-off 79, shift 130 ms


@pytest.fixture(scope="module")
def sampler():
    model = MusicTransformer(dataclasses.replace(C.get("tiny"), max_length=64))
    return S.Sampler(model)


@pytest.fixture(scope="module")
def conditioned_sampler():
    model = MusicTransformer(dataclasses.replace(C.get("tiny_conditioned"), max_length=64))
    return S.Sampler(model)


@pytest.mark.parametrize(
    "config",
    [S.SamplingConfig(temperature=0.0), S.SamplingConfig(temperature=1.0, top_k=40, top_p=0.95, seed=7)],
    ids=["greedy", "seeded"],
)
def test_cached_xla_loop_equals_recomputing_the_prefix(sampler, config):
    # 5 + 25 = 30 > max_relative_position 16, so far distances are exercised
    cached = sampler.generate(PRIMER, 25, num_outputs=2, config=config)
    full = S.generate_uncached(sampler.model, PRIMER, 25, num_outputs=2, config=config)
    assert cached.shape == (2, 30)
    np.testing.assert_array_equal(cached, full)
    np.testing.assert_array_equal(cached[:, :5], [PRIMER, PRIMER])  # primer kept
    assert (cached[:, 5:] > 0).all() or (cached == S.EOS_ID).any()  # PAD never sampled


def test_seeds_reproduce_and_rows_differ(sampler):
    config = S.SamplingConfig(temperature=1.0, seed=3)
    a = sampler.generate(PRIMER, 25, num_outputs=2, config=config)
    b = sampler.generate(PRIMER, 25, num_outputs=2, config=config)
    c = sampler.generate(PRIMER, 25, num_outputs=2, config=dataclasses.replace(config, seed=4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])


def test_top_k_one_is_greedy(sampler):
    greedy = sampler.generate(PRIMER, 25, num_outputs=2, config=S.SamplingConfig(temperature=0.0))
    top1 = sampler.generate(PRIMER, 25, num_outputs=2, config=S.SamplingConfig(temperature=1.3, top_k=1, seed=9))
    np.testing.assert_array_equal(top1, greedy)


def test_filters_on_random_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (64, 50)).astype(np.float32)
    body = logits[:, 1:]  # id 0 (PAD) is always removed
    # top-k = 1 is the argmax; top-k keeps exactly k
    kept1 = np.isfinite(S.filter_logits(logits, 1, 1.0).numpy())
    np.testing.assert_array_equal(np.argmax(kept1, 1), 1 + np.argmax(body, 1))
    assert (kept1.sum(1) == 1).all()
    kept7 = np.isfinite(S.filter_logits(logits, 7, 1.0).numpy())
    assert (kept7.sum(1) == 7).all()
    assert (np.sort(body, 1)[:, -7:] == np.sort(np.where(kept7, logits, -np.inf), 1)[:, -7:]).all()
    # top-p keeps the smallest set of most likely ids whose mass reaches p
    probs = np.exp(body - body.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    for p in (0.1, 0.5, 0.9, 0.99):
        kept = np.isfinite(S.filter_logits(logits, 0, p).numpy())[:, 1:]
        for row in range(len(logits)):
            order = np.argsort(-probs[row])
            need = int(np.searchsorted(np.cumsum(probs[row][order]), p - 1e-6) + 1)
            assert set(np.flatnonzero(kept[row])) == set(order[:need]), (p, row)
            assert probs[row][kept[row]].sum() >= p - 1e-5
    # top-p after top-k renormalises over the k kept ids
    both = np.isfinite(S.filter_logits(logits, 3, 0.999).numpy())
    assert (both.sum(1) == 3).all()
    assert not np.isfinite(S.filter_logits(logits, 0, 1.0).numpy()[:, 0]).any()


def test_draws_follow_the_filtered_distribution():
    logits = tf.tile(tf.constant([[0.0, 0.0, 1.0, 2.0, 3.0]]), [400, 1])  # id 0 is PAD: never drawn
    draws = S.sample_logits(logits, 1.0, 2, 1.0, S.step_seed(5, 0)).numpy()  # rows draw independently
    assert set(draws) == {3, 4}
    assert 0.6 < np.mean(draws == 4) < 0.85  # e / (1 + e) = 0.73


def test_eos_ends_a_row_and_pads_the_rest():
    tokens = tf.constant([[5, 0, 0, 0], [5, 0, 0, 0]])
    finished = tf.zeros([2], tf.bool)
    tokens, finished = S._next_tokens(tokens, tf.constant([S.EOS_ID, 9]), 1, 1, finished, True)
    tokens, finished = S._next_tokens(tokens, tf.constant([7, 8]), 2, 1, finished, True)
    np.testing.assert_array_equal(tokens.numpy(), [[5, 1, 0, 0], [5, 9, 8, 0]])
    np.testing.assert_array_equal(finished.numpy(), [True, False])
    # a primer EOS is kept and does not end the row
    t2, f2 = S._next_tokens(tf.constant([[1, 0]]), tf.constant([4]), 0, 1, tf.zeros([1], tf.bool), True)
    assert t2.numpy().tolist() == [[1, 0]] and not f2.numpy()[0]


@pytest.mark.slow
def test_accompaniment_runs_the_encoder_once_and_matches_the_uncached_decoder(conditioned_sampler):
    melody = "60 -2 -2 62 -2 64 -1 -2 67 -2"
    config = S.SamplingConfig(seed=1, top_p=0.9)
    out = S.accompany(conditioned_sampler, melody, decode_length=20, num_outputs=2, config=config)
    ref = S.generate_uncached(conditioned_sampler.model, None, 20, 2, config, inputs=S.melody_inputs(melody))
    np.testing.assert_array_equal(out, ref)
    other = S.accompany(
        conditioned_sampler, "48 -2 -2 50 -2 52 -1 -2 55 -2", decode_length=20, num_outputs=2, config=config
    )
    assert not np.array_equal(out, other)  # the melody conditions the output
    with pytest.raises(ValueError, match="melody-conditioned"):
        conditioned_sampler.generate(PRIMER, 5)


def test_melody_inputs_from_a_note_sequence():
    import note_seq

    ns = note_seq.NoteSequence()
    for i, pitch in enumerate([60, 62, 64]):
        ns.notes.add(pitch=pitch, start_time=0.5 * i, end_time=0.5 * i + 0.4, velocity=80)
    ns.total_time = 1.5
    ids = S.melody_inputs(ns)
    enc = encoding.MelodyEncoder()
    assert len(ids) == 15
    assert enc.decode_events(ids)[:6] == [60, -2, -2, -2, -1, 62]


def test_generated_ids_decode_to_midi_with_the_primer_notes(sampler, tmp_path):
    ids = sampler.generate(PRIMER, 25, num_outputs=2, config=S.SamplingConfig(seed=2))[0]
    data = S.ids_to_midi(ids, tmp_path / "out.mid")
    assert (tmp_path / "out.mid").read_bytes() == data
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    decoded = S.ids_to_note_sequence(ids)
    primer_notes = S.ids_to_note_sequence(PRIMER).notes
    assert [(n.pitch, n.start_time, n.end_time) for n in primer_notes] == [(79, 0.0, 0.03)]
    first = primer_notes[0]
    assert any(n.pitch == first.pitch and n.start_time == first.start_time for n in decoded.notes)
    assert sum(len(i.notes) for i in pm.instruments) == len(decoded.notes)


def test_bad_requests_raise(sampler):
    with pytest.raises(ValueError, match="max_length"):
        sampler.generate(PRIMER, 64)
    with pytest.raises(ValueError, match="PAD"):
        sampler.generate([5, 0, 6], 3)
    with pytest.raises(ValueError, match="vocabulary"):
        sampler.generate([5, 400], 3)
    with pytest.raises(ValueError, match="top_p"):
        S.SamplingConfig(top_p=0.0)
