"""melody_rnn_create_dataset: the melody pipeline on real Bach chorales, Magenta's SequenceExample layout,
the train/eval split, counters, the CLI's files, and the padded tf.data reader."""

import copy
import json
import os

import note_seq
import numpy as np
import pytest
import tensorflow as tf
from note_seq import sequences_lib

from melody_rnn_ext import create_dataset_cli, data, encodings
from pipelines.tfrecord_io import Counters
from pipelines.note_sequence_io import write_note_sequences
from tests.melody_rnn_ext.chorales import chorale, seed_splitting_both_ways

# bwv10.7: one track holding all four voices (4/4); bwv124.6: one instrument per voice (4/4);
# bwv110.7: 4/4 then 3/4; bwv1.6: pickup bar and a 3/4 bar among 4/4.
CHORALES = ("bwv10.7.mxl", "bwv124.6.mxl", "bwv110.7.mxl", "bwv1.6.mxl", "bwv115.6.mxl", "bwv146.8.mxl")


def _pipeline(**kw):
    return data.MelodyPipeline(data.MelodyPipelineConfig(**kw))


# --------------------------------------------------------------------------- stages


@pytest.mark.parametrize("name", CHORALES)
def test_real_chorale_melodies_pass_magentas_filters(name):
    pipeline = _pipeline()
    melodies = pipeline.melodies(chorale(name))
    assert melodies, pipeline.counters.summary()
    low, high = encodings.note_range("basic_rnn")
    for m in melodies:
        assert m.steps_per_quarter == 4
        assert len(m) >= 7 * m.steps_per_bar  # >= 7 bars
        assert len(m) <= 512
        assert np.count_nonzero(m.get_note_histogram()) >= 5  # >= 5 pitch classes
        pitches = {e for e in m if e >= 0}
        assert len(pitches) >= 5
        squashed, _ = pipeline.encoder.squash(m)
        assert all(low <= e < high for e in squashed if e >= 0)
    assert pipeline.counters.get("melody_extractor/melodies_extracted") == len(melodies)


def test_single_track_chorale_gives_the_top_voice():
    sequence = chorale("bwv10.7.mxl")
    assert {n.instrument for n in sequence.notes} == {0}  # all four voices in one track
    pipeline = _pipeline()
    (melody,) = pipeline.melodies(sequence)
    assert pipeline.counters.get("melody_extractor/polyphonic_tracks_reduced_to_top_note") == 1
    # At every onset the melody holds the highest pitch starting on that step.
    quantized = sequences_lib.quantize_note_sequence(sequence, 4)
    top = {}
    for n in quantized.notes:
        top[n.quantized_start_step] = max(top.get(n.quantized_start_step, -1), n.pitch)
    onsets = [(melody.start_step + i, e) for i, e in enumerate(melody) if e >= 0]
    assert len(onsets) > 50
    assert all(top[step] == pitch for step, pitch in onsets)


def test_discarding_polyphonic_tracks_as_magentas_melody_rnn_does():
    pipeline = _pipeline(ignore_polyphonic_notes=False)
    assert pipeline.melodies(chorale("bwv10.7.mxl")) == []
    assert pipeline.counters.get("melody_extractor/polyphonic_tracks_discarded") == 1
    # One voice per instrument: nothing is polyphonic, so the four voices come out.
    pipeline = _pipeline(ignore_polyphonic_notes=False)
    assert len(pipeline.melodies(chorale("bwv124.6.mxl"))) >= 4


def _three_four_then_four_four():
    """bwv124.6's notes (a 4/4 chorale) with a 3/4 signature over its first 12 quarters, then 4/4."""
    sequence = chorale("bwv124.6.mxl")
    del sequence.time_signatures[:]
    sequence.time_signatures.add(time=0.0, numerator=3, denominator=4)
    sequence.time_signatures.add(time=12.0, numerator=4, denominator=4)
    return sequence, 12.0, [(3, 4), (4, 4)], [12, 16]


def _bwv110_7():
    """A real chorale whose MusicXML goes from 4/4 to 3/4 at quarter 20.5."""
    sequence = chorale("bwv110.7.mxl")
    signatures = sorted((ts.time, ts.numerator, ts.denominator) for ts in sequence.time_signatures)
    assert [s[1:] for s in signatures] == [(4, 4), (3, 4)]
    return sequence, signatures[1][0], [(4, 4), (3, 4)], [16, 12]


@pytest.mark.parametrize("make", [_three_four_then_four_four, _bwv110_7], ids=["3/4->4/4", "bwv110.7"])
def test_piece_with_a_time_signature_change_is_split(make):
    sequence, change, signatures, steps_per_bar = make()
    counters = Counters()
    pieces = data.TimeChangeSplitter().transform(sequence, counters)
    assert len(pieces) == 2
    assert counters.get("time_change_splitter/pieces_out") == 2
    for piece, signature in zip(pieces, signatures):
        assert [(ts.numerator, ts.denominator) for ts in piece.time_signatures] == [signature]
    assert pieces[0].total_time == pytest.approx(change)
    assert all(n.start_time >= 0 for p in pieces for n in p.notes)  # each piece starts at 0
    # Unsplit, the quantizer refuses the piece and counts why.
    counters = Counters()
    assert data.Quantizer(4).transform(sequence, counters) == []
    assert counters.get("quantizer/discarded_multiple_time_signatures") == 1
    # Split, both pieces quantize at 4 steps per quarter with their own bar length.
    quantized = [data.Quantizer(4).transform(p, counters)[0] for p in pieces]
    assert [sequences_lib.steps_per_bar_in_quantized_sequence(q) for q in quantized] == steps_per_bar
    assert counters.get("quantizer/quantized") == 2


def test_transposer_shifts_and_skips_out_of_range():
    quantized = sequences_lib.quantize_note_sequence(chorale("bwv124.6.mxl"), 4)
    counters = Counters()
    out = data.Transposer(range(-2, 3)).transform(quantized, counters)
    assert len(out) == 5 and counters.get("transposer/transpositions_generated") == 5
    base = [n.pitch for n in quantized.notes]
    for shift, seq in zip(range(-2, 3), out):
        assert [n.pitch for n in seq.notes] == [p + shift for p in base]
    high = max(base)
    counters = Counters()
    out = data.Transposer([0, 127 - high + 1]).transform(quantized, counters)
    assert len(out) == 1 and counters.get("transposer/skipped_due_to_range_exceeded") == 1


def test_transposition_augmentation_multiplies_the_melodies():
    sequence = chorale("bwv124.6.mxl")
    plain = _pipeline(config_id="mono_rnn").melodies(sequence)
    augmented = _pipeline(config_id="mono_rnn", transposition_range=(-1, 0, 1)).melodies(sequence)
    assert len(augmented) == 3 * len(plain)
    first = [e for e in plain[0] if e >= 0]
    shifted = {
        tuple(np.array([e for e in m if e >= 0]) - np.array(first))
        for m in augmented
        if len([e for e in m if e >= 0]) == len(first)
    }
    assert {(d,) * len(first) for d in (-1, 0, 1)} <= shifted


# --------------------------------------------------------------------------- SequenceExample layout


@pytest.fixture(scope="module")
def bwv124_melody():
    return _pipeline().melodies(chorale("bwv124.6.mxl"))[0]


@pytest.mark.parametrize("config_id", ["basic_rnn", "mono_rnn", "lookback_rnn"])
def test_sequence_example_layout_is_magentas(config_id, bwv124_melody):
    encoder = data.MelodyEncoder(config_id)
    (example,) = encoder.transform(bwv124_melody, Counters())
    example = tf.train.SequenceExample.FromString(example.SerializeToString())
    assert not example.context.feature
    lists = example.feature_lists.feature_list
    assert set(lists) == {"inputs", "labels"}
    inputs, labels = lists["inputs"].feature, lists["labels"].feature
    assert len(inputs) == len(labels) == len(bwv124_melody) - 1
    assert all(
        f.WhichOneof("kind") == "float_list" and len(f.float_list.value) == encoder.encoder_decoder.input_size
        for f in inputs
    )
    assert all(f.WhichOneof("kind") == "int64_list" and len(f.int64_list.value) == 1 for f in labels)
    # Equal to note-seq's own encoding of the squashed melody; label t is the class of event t + 1.
    squashed, _ = encoder.squash(bwv124_melody)
    ref_inputs, ref_labels = encodings.make_encoder_decoder(config_id).encode(squashed)
    x, y = data.sequence_example_to_arrays(example)
    np.testing.assert_array_equal(x, np.array(ref_inputs, np.float32))
    np.testing.assert_array_equal(y, np.array(ref_labels))
    enc = encoder.encoder_decoder
    assert [enc.events_to_label(squashed, t + 1) for t in range(len(y))] == list(y)
    if config_id != "lookback_rnn":  # one-hot: input t is the one-hot of event t, i.e. of label t - 1
        np.testing.assert_array_equal(np.argmax(x[1:], axis=1), y[:-1])
    # Decoding the labels gives the squashed melody back.
    assert list(encodings.decode_labels(config_id, squashed[0], y)) == list(squashed)


def test_attention_rnn_example_matches_key_melody_encoder(bwv124_melody):
    melody = copy.deepcopy(bwv124_melody)
    melody.set_length(8 * melody.steps_per_bar)  # KeyMelodyEncoderDecoder is quadratic in length
    encoder = data.MelodyEncoder("attention_rnn")
    (example,) = encoder.transform(melody, Counters())
    x, y = data.sequence_example_to_arrays(example)
    squashed, _ = encoder.squash(melody)
    ref_inputs, ref_labels = note_seq.KeyMelodyEncoderDecoder(48, 84).encode(squashed)
    assert x.shape == (len(melody) - 1, 74) and y.max() < 40
    np.testing.assert_array_equal(x, np.array(ref_inputs, np.float32))
    assert list(y) == list(ref_labels)


# --------------------------------------------------------------------------- split


def test_eval_split_follows_the_ratio_and_the_seed():
    keys = [f"piece-{i}.mid" for i in range(4000)]
    split = [data.partition_of(k, 0.1, seed=0) for k in keys]
    assert set(split) == {"eval", "training"}
    assert abs(split.count("eval") / len(keys) - 0.1) < 0.015
    assert split == [data.partition_of(k, 0.1, seed=0) for k in keys]  # deterministic
    assert split != [data.partition_of(k, 0.1, seed=1) for k in keys]  # the seed matters
    assert all(data.partition_of(k, 0.0) == "training" for k in keys[:200])
    assert all(data.partition_of(k, 1.0) == "eval" for k in keys[:200])


def test_sequences_without_id_are_split_by_content():
    a, b = chorale("bwv10.7.mxl"), chorale("bwv124.6.mxl")
    a.id = a.filename = b.id = b.filename = ""
    assert data.sequence_key(a) != data.sequence_key(b)
    assert data.sequence_key(a) == data.sequence_key(copy.deepcopy(a))


# --------------------------------------------------------------------------- files and CLI


@pytest.fixture(scope="module")
def note_sequence_tfrecord(tmp_path_factory):
    folder = tmp_path_factory.mktemp("note_sequences")
    return write_note_sequences(
        str(folder / "chorales.tfrecord"), [chorale(n) for n in CHORALES], extra_records=[b"not a NoteSequence"]
    )


def _seed_splitting_both_ways():
    """A seed that puts CHORALES[0] in eval and CHORALES[1] in training, so both files get melodies."""
    return seed_splitting_both_ways(CHORALES[0], CHORALES[1])


@pytest.fixture(scope="module")
def created(note_sequence_tfrecord, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("dataset"))
    rc = create_dataset_cli.main(
        [
            "--config",
            "basic_rnn",
            "--input",
            note_sequence_tfrecord,
            "--output_dir",
            out,
            "--eval_ratio",
            "0.5",
            "--seed",
            str(_seed_splitting_both_ways()),
            "--no_progress",
        ]
    )
    assert rc == 0
    return out


def _records(path):
    return [bytes(r) for r in tf.data.TFRecordDataset(path).as_numpy_iterator()]


def test_cli_writes_magentas_files_and_counters(created, capsys):
    assert sorted(os.listdir(created)) == sorted(
        [data.TRAINING_FILENAME, data.EVAL_FILENAME, data.STATS_FILENAME]
    )  # no temporary file left
    stats = json.load(open(os.path.join(created, data.STATS_FILENAME)))
    counts = stats["counts"]
    train = _records(os.path.join(created, data.TRAINING_FILENAME))
    evals = _records(os.path.join(created, data.EVAL_FILENAME))
    assert train and evals
    assert stats["outputs"]["training"]["examples"] == len(train) == counts["output/training_melodies"]
    assert stats["outputs"]["eval"]["examples"] == len(evals) == counts["output/eval_melodies"]
    assert counts["time_change_splitter/sequences_in"] == len(CHORALES)
    assert counts["partition/training_sequences"] + counts["partition/eval_sequences"] == len(CHORALES)
    assert counts["melody_extractor/melodies_extracted"] == len(train) + len(evals) == counts["encoder/examples_out"]
    assert counts.get("quantizer/discarded_multiple_time_signatures", 0) == 0  # split first
    assert counts["quantizer/quantized"] == counts["time_change_splitter/pieces_out"] > len(CHORALES)
    assert sum(stats["melody_lengths_in_bars"].values()) == len(train) + len(evals)
    assert min(int(k) for k in stats["melody_lengths_in_bars"]) >= 7
    assert stats["config"]["config_id"] == "basic_rnn" and stats["input_size"] == 38
    # The record that is not a NoteSequence is skipped, named and explained.
    skipped = {s["name"]: s["reason"] for s in stats["skipped"]}
    assert "record 6" in skipped and "not a serialized NoteSequence" in skipped["record 6"]
    for r in train[:3] + evals[:3]:
        x, y = data.sequence_example_to_arrays(r)
        assert x.shape == (len(y), 38) and 0 <= y.min() and y.max() < 38


@pytest.mark.slow  # two spawned workers import note-seq and TensorFlow (~30 s on 2 cores)
def test_cli_rerun_is_identical_and_workers_do_not_change_the_output(created, note_sequence_tfrecord, tmp_path):
    rc = create_dataset_cli.main(
        [
            "--input",
            note_sequence_tfrecord,
            "--output_dir",
            str(tmp_path),
            "--eval_ratio",
            "0.5",
            "--seed",
            str(_seed_splitting_both_ways()),
            "--no_progress",
            "--num_workers",
            "2",
        ]
    )
    assert rc == 0
    for name in (data.TRAINING_FILENAME, data.EVAL_FILENAME):
        assert _records(os.path.join(created, name)) == _records(str(tmp_path / name))


def test_cli_eval_ratio_zero_and_options(note_sequence_tfrecord, tmp_path):
    rc = create_dataset_cli.main(
        [
            "--config",
            "lookback_rnn",
            "--input",
            note_sequence_tfrecord,
            "--output_dir",
            str(tmp_path),
            "--eval_ratio",
            "0",
            "--no_progress",
            "--transposition_range=-1:1",
            "--set",
            "min_bars=4",
        ]
    )
    assert rc == 0
    stats = json.load(open(tmp_path / data.STATS_FILENAME))
    assert stats["config"]["transposition_range"] == [-1, 0] and stats["config"]["min_bars"] == 4
    assert stats["outputs"]["eval"]["examples"] == 0 and _records(str(tmp_path / data.EVAL_FILENAME)) == []
    x, _ = data.sequence_example_to_arrays(_records(str(tmp_path / data.TRAINING_FILENAME))[0])
    assert x.shape[1] == 121


def test_cli_errors(tmp_path, capsys):
    assert (
        create_dataset_cli.main(
            ["--input", str(tmp_path / "missing-*.tfrecord"), "--output_dir", str(tmp_path / "o"), "--no_progress"]
        )
        == 1
    )
    assert "missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        create_dataset_cli.main(["--input", "x", "--output_dir", "y", "--config", "polyphony_rnn"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        create_dataset_cli.main(["--input", "x", "--output_dir", "y", "--set", "no_such_field=1"])
    with pytest.raises(SystemExit):
        create_dataset_cli.main(["--input", "x", "--output_dir", "y", "--eval_ratio", "1.5"])
    assert create_dataset_cli.parse_transposition_range("-5:6") == tuple(range(-5, 6))
    assert create_dataset_cli.parse_transposition_range("0,2") == (0, 2)


# --------------------------------------------------------------------------- reader


def test_reader_yields_padded_batches(created):
    path = os.path.join(created, data.TRAINING_FILENAME)
    expected = [data.sequence_example_to_arrays(r) for r in _records(path)]
    ds = data.make_sequence_example_dataset(path, input_size=38, batch_size=4, shuffle=False)
    seen = 0
    for inputs, labels, lengths in ds:
        assert inputs.dtype == tf.float32 and labels.dtype == tf.int64 and lengths.dtype == tf.int32
        b, t = labels.shape
        assert inputs.shape == (b, t, 38) and lengths.shape == (b,)
        assert int(tf.reduce_max(lengths)) == t
        for i in range(b):
            x, y = expected[seen + i]
            n = int(lengths[i])
            assert n == len(y)
            np.testing.assert_array_equal(inputs[i, :n].numpy(), x)
            np.testing.assert_array_equal(labels[i, :n].numpy(), y)
            assert not inputs[i, n:].numpy().any() and not labels[i, n:].numpy().any()
        seen += b
    assert seen == len(expected) == data.count_records(path)


def test_reader_static_shapes_for_xla(created):
    path = os.path.join(created, data.TRAINING_FILENAME)
    ds = data.make_sequence_example_dataset(
        path,
        input_size=38,
        batch_size=2,
        shuffle=True,
        seed=1,
        repeat=True,
        max_length=64,
        pad_to_max_length=True,
        drop_remainder=True,
    )
    assert ds.element_spec[0].shape == (2, 64, 38) and ds.element_spec[1].shape == (2, 64)
    for inputs, labels, lengths in ds.take(3):
        assert int(tf.reduce_max(lengths)) <= 64
    with pytest.raises(ValueError):
        data.make_sequence_example_dataset(path, input_size=38, batch_size=2, pad_to_max_length=True)
