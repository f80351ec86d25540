"""tf.data map functions from NSynth element dicts to (normalised specgram, one-hot pitch)."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf import data as gdata
from gansynth_tf.normalizer import SpecgramNormalizer
from gansynth_tf.specgrams import HIGH_FREQ_RES, LOW_FREQ_RES, SpecgramsHelper


def _elements(sample_notes, extra_pitches=()):
    """NSynth-reader-like dicts: the 12 real notes (pitch 60) plus copies at other pitches."""
    names, waves, meta = sample_notes
    pitches = [m["pitch"] for m in meta] + list(extra_pitches)
    audio = np.concatenate([waves, waves[: len(extra_pitches)]])
    sources = [m["instrument_source"] for m in meta] + [0] * len(extra_pitches)
    note_str = list(names) + [f"extra-{p}" for p in extra_pitches]
    return tf.data.Dataset.from_tensor_slices(
        {
            "audio": audio,
            "pitch": np.asarray(pitches, np.int64),
            "instrument_source": np.asarray(sources, np.int64),
            "note_str": note_str,
            "velocity": np.full(len(pitches), 100, np.int64),
        }
    )


def test_pitch_range():
    pr = gdata.GANSYNTH_PITCHES
    assert pr.num_classes == 61
    one_hot = pr.one_hot(tf.constant([24, 60, 84], tf.int64)).numpy()
    assert one_hot.shape == (3, 61) and one_hot.dtype == np.float32
    assert list(one_hot.argmax(-1)) == [0, 36, 60] and np.all(one_hot.sum(-1) == 1)
    assert list(pr.contains(tf.constant([23, 24, 84, 85])).numpy()) == [False, True, True, False]


def test_crop_or_pad():
    x = tf.range(5, dtype=tf.float32)
    np.testing.assert_array_equal(gdata.crop_or_pad(x, 8).numpy(), [0, 0, 0, 1, 2, 3, 4, 0])
    np.testing.assert_array_equal(gdata.crop_or_pad(x, 3).numpy(), [0, 1, 2])


def test_make_specgram_dataset_batches_and_matches_direct_computation(sample_notes):
    helper = SpecgramsHelper(LOW_FREQ_RES)
    norm = SpecgramNormalizer.prespecified(0.05, 0.3, 0.8, 0.0)
    ds = gdata.make_specgram_dataset(_elements(sample_notes, extra_pitches=[10, 100, 30]), helper, norm, 4)
    assert ds.element_spec[0].shape.as_list() == [4, 256, 512, 2]
    assert ds.element_spec[1].shape.as_list() == [4, 61]
    batches = list(ds.as_numpy_iterator())
    specs = np.concatenate([b[0] for b in batches])
    labels = np.concatenate([b[1] for b in batches])
    # 12 notes at pitch 60 + one at pitch 30 pass the 24..84 filter; 13 -> 3 full batches of 4.
    assert specs.shape == (12, 256, 512, 2) and labels.shape == (12, 61)
    assert np.all(specs >= -1.0) and np.all(specs <= 1.0)
    # Order is kept, so the 12 batched examples are the 12 real notes (the pitch-30 copy is dropped).
    expected = norm.normalize(helper.encode(sample_notes[1][:, :, None])).numpy()
    np.testing.assert_allclose(specs[..., 0], expected[..., 0], atol=1e-4)
    assert np.abs((specs[..., 1] - expected[..., 1] + 1.0) % 2.0 - 1.0).max() < 1e-4
    assert list(labels.argmax(-1)) == [36] * 12


def test_instrument_source_filter(sample_notes):
    meta = sample_notes[2]
    acoustic = sum(m["instrument_source"] == 0 for m in meta)
    ds = _elements(sample_notes).filter(gdata.element_filter(instrument_sources=[0]))
    assert sum(1 for _ in ds) == acoustic > 0


def test_example_fn_runs_in_graph_mode(sample_notes):
    helper = SpecgramsHelper(HIGH_FREQ_RES)
    fn = gdata.make_example_fn(helper, None)
    modes = []

    def traced(element):
        modes.append(tf.executing_eagerly())
        return fn(element)

    spec, label = next(iter(_elements(sample_notes).map(traced)))
    assert modes and not any(modes)
    assert spec.shape == (128, 1024, 2) and label.shape == (61,)
    np.testing.assert_allclose(
        spec.numpy()[..., 0], helper.encode(sample_notes[1][:1, :, None]).numpy()[0, ..., 0], atol=1e-4
    )


def test_fit_normalizer_from_elements(sample_notes):
    helper = SpecgramsHelper(LOW_FREQ_RES)
    norm = gdata.fit_normalizer(_elements(sample_notes), helper, num_examples=8, batch_size=3)
    assert norm.num_examples == 8 and norm.margin == 0.8
    specs = helper.encode(sample_notes[1][:8, :, None]).numpy()
    np.testing.assert_allclose(norm.data_min, specs.reshape(-1, 2).min(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(norm.data_max, specs.reshape(-1, 2).max(0), rtol=1e-4, atol=1e-4)
    y = norm.normalize(tf.constant(specs)).numpy()
    assert y.min() == pytest.approx(-0.8, abs=1e-3) and y.max() == pytest.approx(0.8, abs=1e-3)


def test_balance_by_pitch_evens_out_a_skewed_pitch_distribution():
    # 9 of 10 notes at pitch 60, 1 of 10 at pitch 30: balanced, the two are about equally common.
    pitches = np.array(([60] * 9 + [30]) * 400, np.int64)
    counts = gdata.count_pitches(pitches, gdata.GANSYNTH_PITCHES)
    assert counts[60 - 24] == 3600 and counts[30 - 24] == 400 and counts.sum() == 4000
    accept = gdata.acceptance_for_balance(counts)
    assert accept[6] == 1.0 and accept[36] == pytest.approx(1 / 9) and accept[0] == 0.0
    ds = tf.data.Dataset.from_tensor_slices({"pitch": pitches, "audio": np.zeros([len(pitches), 4], np.float32)})
    balanced = gdata.balance_by_pitch(ds, counts, gdata.GANSYNTH_PITCHES, seed=0)
    out = np.array([e["pitch"] for e in balanced.as_numpy_iterator()])
    assert np.sum(out == 30) == 400  # the rarest pitch is always kept
    assert 300 < np.sum(out == 60) < 500  # about 3600 / 9
    again = np.array([e["pitch"] for e in balanced.as_numpy_iterator()])
    np.testing.assert_array_equal(out, again)  # seeded
    with pytest.raises(ValueError, match="no notes"):
        gdata.acceptance_for_balance(np.zeros(61))


def test_make_specgram_dataset_balances_with_pitch_counts(sample_notes):
    helper = SpecgramsHelper(LOW_FREQ_RES)
    elements = _elements(sample_notes, extra_pitches=[30])  # 12 notes at 60, one at 30
    counts = gdata.count_pitches([e["pitch"] for e in elements.as_numpy_iterator()], gdata.GANSYNTH_PITCHES)
    ds = gdata.make_specgram_dataset(elements, helper, None, 1, pitch_counts=counts, seed=0, repeat=True)
    labels = np.concatenate([b[1] for b in ds.take(40).as_numpy_iterator()]).argmax(-1)
    # Unbalanced, 1 in 13 would be pitch 30 (class 6); balanced, about half are.
    assert set(labels) == {6, 36} and 10 <= np.sum(labels == 6) <= 30


def test_training_pitch_counts_reads_a_folder_and_tfrecords_alike(nsynth_sample_dir, tmp_path):
    from gansynth_tf import train_cli
    from gansynth_tf.config import get_preset
    from pipelines import nsynth, tfrecord_io

    records = [
        (str(i), nsynth.serialize_example(e))
        for i, e in enumerate(nsynth.read_jsonwav_dir(nsynth_sample_dir).as_numpy_iterator())
    ]
    tfrecord_io.write_sharded(str(tmp_path / "nsynth"), records, 2)
    preset = get_preset("tiny")
    for path in (str(nsynth_sample_dir), str(tmp_path / "nsynth-*.tfrecord")):
        for sources, expected in (((0,), 4), ((), 12)):  # 4 of the 12 sample notes are acoustic, all at 60
            data = dataclasses.replace(preset.data, train_data_path=path, instrument_sources=sources)
            cfg = dataclasses.replace(preset, data=data)
            counts = train_cli.training_pitch_counts(cfg, gdata.GANSYNTH_PITCHES)
            assert counts.shape == (61,) and counts[60 - 24] == expected and counts.sum() == expected, (path, sources)
