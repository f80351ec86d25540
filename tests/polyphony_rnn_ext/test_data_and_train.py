"""polyphony_rnn_create_dataset (Magenta's pipeline, defaults and file names; local and Beam) and
polyphony_rnn_train (from scratch with --export_bundle, fine-tuning that bundle, refusing a Melody RNN bundle)."""

import json

import note_seq
import numpy as np
import pytest
import tensorflow as tf

from events_rnn import data as events_data
from polyphony_rnn_ext import bundle as bundle_lib
from polyphony_rnn_ext import create_dataset_cli, data, train_cli
from polyphony_rnn_ext import polyphony_lib as pl
from pipelines.note_sequence_io import write_note_sequences
from tests.events_rnn import family_checks
from tests.events_rnn.family_checks import dataset_files, flags


def chord_sequence(seq_id: str, quarters: int, seed: int = 0, program: int = 0):
    """Three-voice chords, one per quarter note at 120 qpm (4 steps each), pitches 55..79."""
    rng = np.random.default_rng(seed)
    ns = note_seq.NoteSequence(id=seq_id, ticks_per_quarter=220)
    ns.tempos.add(qpm=120)
    ns.time_signatures.add(numerator=4, denominator=4)
    for q in range(quarters):
        for pitch in sorted(rng.choice(np.arange(55, 80), 3, replace=False).tolist()):
            ns.notes.add(pitch=int(pitch), velocity=80, start_time=q * 0.5, end_time=(q + 1) * 0.5, program=program)
    ns.total_time = quarters * 0.5
    return ns


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("poly_data")
    sequences = [chord_sequence(f"s{i}", 24 + 2 * i, seed=i) for i in range(6)]
    short = chord_sequence("short", 10, seed=9)  # 40 steps < min_steps 80
    two_programs = chord_sequence("two_programs", 24, seed=10)
    two_programs.notes[0].program = 5
    path = write_note_sequences(str(tmp / "ns.tfrecord"), sequences + [short, two_programs], [b"junk"])
    out = tmp / "out"
    rc = create_dataset_cli.main(["--input", path, "--output_dir", str(out), "--eval_ratio", "0.3", "--no_progress"])
    assert rc == 0
    return {"tmp": tmp, "input": path, "out": out, "sequences": sequences}


def read_examples(path):
    return [events_data.sequence_example_to_arrays(r.numpy()) for r in tf.data.TFRecordDataset(path)]


def test_magenta_file_names_defaults_and_counts(dataset):
    out = dataset["out"]
    stats = dataset_files(out, "polyphony_rnn_create_dataset", "poly_tracks")
    assert stats["config"]["transposition_range"] == list(range(-4, 5))
    assert (stats["config"]["min_steps"], stats["config"]["max_steps"]) == (80, 512)
    assert (stats["input_size"], stats["num_classes"]) == (259, 259)
    counts = stats["counts"]
    # 6 good sequences x 9 transpositions, the short one's 9 too short, the two-program one's 9 discarded.
    assert counts["poly_extractor/polyphonic_tracks_extracted"] == 54
    assert counts["poly_extractor/polyphonic_tracks_discarded_too_short"] == 9
    assert counts["poly_extractor/polyphonic_tracks_discarded_more_than_1_program"] == 9
    skipped = {s["name"]: s["reason"] for s in stats["skipped"]}
    assert set(skipped) == {"short", "two_programs", "record 8"}
    assert "too_short" in skipped["short"]
    train = read_examples(out / "training_poly_tracks.tfrecord")
    evals = read_examples(out / "eval_poly_tracks.tfrecord")
    assert len(train) + len(evals) == 54 and stats["outputs"]["training"]["examples"] == len(train)


def test_examples_are_magentas_encoding_of_the_tracks(dataset):
    """The untransposed example of a sequence is the polyphony encoding of its quantized track."""
    from note_seq import sequences_lib

    enc = pl.make_encoder_decoder()
    examples = read_examples(dataset["out"] / "training_poly_tracks.tfrecord") + read_examples(
        dataset["out"] / "eval_poly_tracks.tfrecord"
    )
    keyed = {(x.shape[0], x.tobytes()): y for x, y in examples}
    for seq in dataset["sequences"][:2]:
        track = pl.PolyphonicSequence(sequences_lib.quantize_note_sequence(seq, 4))
        inputs, labels = enc.encode(track)
        x = np.asarray(inputs, np.float32)
        assert (x.shape[0], x.tobytes()) in keyed
        np.testing.assert_array_equal(keyed[(x.shape[0], x.tobytes())], labels)


@pytest.mark.slow
def test_beam_runner_writes_the_same_records(dataset):
    pytest.importorskip("apache_beam")
    out = dataset["tmp"] / "beam"
    argv = flags(input=dataset["input"], output_dir=out, eval_ratio=0.3, runner="beam", num_workers=1)
    rc = create_dataset_cli.main(argv)
    assert rc == 0
    for name in data.OUTPUT_FILENAMES.values():
        local = sorted(r.numpy() for r in tf.data.TFRecordDataset(str(dataset["out"] / name)))
        beam = sorted(r.numpy() for r in tf.data.TFRecordDataset(str(out / name)))
        assert local == beam, name
    a = json.loads((out / data.STATS_FILENAME).read_text())
    b = json.loads((dataset["out"] / data.STATS_FILENAME).read_text())
    assert a["counts"] == b["counts"] and a["skipped"] == b["skipped"]


@pytest.fixture(scope="module")
def scratch_run(dataset):
    run_dir = dataset["tmp"] / "run"
    bundle = dataset["tmp"] / "poly.mag"
    train = str(dataset["out"] / "training_poly_tracks.tfrecord")
    eval_file = dataset["out"] / "eval_poly_tracks.tfrecord"
    more = dict(eval_file=eval_file, export_bundle=bundle, hparams="rnn_layer_sizes=[16,12]")
    family_checks.train(train_cli, run_dir, train, 6, **more)
    return run_dir, bundle, train


def test_train_from_scratch_exports_a_polyphony_bundle(scratch_run):
    run_dir, bundle, _ = scratch_run
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"]["config_id"] == "polyphony" and cfg["model"]["hparams"]["rnn_layer_sizes"] == [16, 12]
    metrics = json.loads((run_dir / "eval_metrics.json").read_text())
    assert metrics["global_step"] == 6 and metrics["steps"] > 0 and np.isfinite(metrics["loss"])
    model, config, parsed = bundle_lib.load_bundle(str(bundle))
    assert parsed.generator_id == "polyphony" and parsed.metagraph_size > 0
    assert config.hparams.rnn_layer_sizes == (16, 12) and int(parsed.variables["global_step"]) == 6


def test_fine_tune_the_bundle(scratch_run):
    run_dir, bundle, train = scratch_run
    source, _, _ = bundle_lib.load_bundle(str(bundle))
    ft_dir = run_dir.parent / "ft"
    out = run_dir.parent / "ft.mag"
    family_checks.train(train_cli, ft_dir, train, 3, bundle=bundle, freeze="cell_0", export_bundle=out)
    tuned, _, _ = bundle_lib.load_bundle(str(out))
    after = tuned.tf1_variables()
    for name, var in source.tf1_variables().items():
        if "/cell_0/" in name:
            np.testing.assert_array_equal(after[name].numpy(), var.numpy(), err_msg=name)
        else:
            assert np.abs(after[name].numpy() - var.numpy()).max() > 0, name


def test_a_melody_bundle_is_refused_by_name(scratch_run, tmp_path, capsys):
    from melody_rnn_ext import bundle as melody_bundle
    from melody_rnn_ext import config as melody_config
    from melody_rnn_ext.model import build_model

    cfg = melody_config.MODEL_PRESETS.get("tiny")
    path = melody_bundle.write_bundle(build_model(cfg), cfg, str(tmp_path / "melody.mag"), include_metagraph=False)
    with pytest.raises(SystemExit) as e:
        train_cli.main(["--bundle", path, "--run_dir", str(tmp_path / "r"), "--sequence_example_file", scratch_run[2]])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "melody.mag" in err and "not a Polyphony RNN config" in err
