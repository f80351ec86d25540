"""performance_rnn_create_dataset (Magenta's pipeline, augmentation, conditioning), performance_rnn_train
(scratch, fine-tune) and performance_rnn_generate (primers, controls, beam search, Magenta's timing)."""

import os

import note_seq
import numpy as np
import pytest
import tensorflow as tf

from events_rnn import data as events_data
from events_rnn.model import build_model
from performance_rnn_ext import bundle as bundle_lib
from performance_rnn_ext import config as config_lib
from performance_rnn_ext import create_dataset_cli, data, generate, generate_cli, train_cli
from tests.events_rnn import family_checks
from tests.events_rnn.family_checks import dataset_files, flags


def piece(seq_id: str, seconds: float, seed: int = 0, program: int = 0):
    """Random piano notes (2 to 4 per second, velocities 30..110), with one sustain-pedal press."""
    rng = np.random.default_rng(seed)
    ns = note_seq.NoteSequence(id=seq_id, ticks_per_quarter=220)
    ns.tempos.add(qpm=120)
    t = 0.0
    while t < seconds - 0.5:
        ns.notes.add(
            pitch=int(rng.integers(50, 80)),
            velocity=int(rng.integers(30, 110)),
            start_time=t,
            end_time=t + float(rng.uniform(0.1, 0.5)),
            program=program,
        )
        t += float(rng.uniform(0.25, 0.5))
    ns.control_changes.add(time=1.0, control_number=64, control_value=127)
    ns.control_changes.add(time=2.0, control_number=64, control_value=0)
    ns.total_time = seconds
    return ns


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("perf")
    seqs = [piece(f"p{i}", 12 + 4 * i, seed=i) for i in range(3)] + [piece("short", 2.0, seed=9)]
    mixed = piece("mixed", 10, seed=5)
    mixed.notes[0].program = 40
    config = "multiconditioned_performance_with_dynamics"
    path, out = family_checks.create_dataset(create_dataset_cli, tmp, seqs + [mixed], config, 0, "multi")
    return {"tmp": tmp, "input": path, "out": out, "seqs": seqs}


def test_dataset_files_counts_and_encoding(dataset):
    out = dataset["out"]
    stats = dataset_files(out, "performance_rnn_create_dataset", "performances")
    assert (stats["input_size"], stats["num_classes"]) == (408, 388)
    c = stats["config"]
    assert (c["min_events"], c["max_events"], c["hop_size_seconds"]) == (32, 512, 30.0)
    assert c["stretch_factors"] == [0.95, 0.975, 1.0, 1.025, 1.05] and c["transposition_range"] == list(range(-3, 4))
    counts = stats["counts"]
    # 3 long pieces x 5 stretches x 7 transpositions; the short one is too short; the mixed one has 2 programs.
    assert counts["performance_extractor/performances_extracted"] == 3 * 5 * 7
    assert counts["performance_extractor/performances_discarded_too_short"] == 5 * 7
    assert counts["performance_extractor/performances_discarded_more_than_1_program"] == 5 * 7
    examples = [
        events_data.sequence_example_to_arrays(r.numpy())
        for r in tf.data.TFRecordDataset(str(out / "training_performances.tfrecord"))
    ]
    assert len(examples) == 105 and all(x.shape[1] == 408 and len(y) <= 511 for x, y in examples)
    # The unstretched, untransposed encoding of one piece equals note-seq's own, with Magenta's controls.
    cfg = config_lib.MODEL_PRESETS.get("multiconditioned_performance_with_dynamics")
    seq = note_seq.sequences_lib.apply_sustain_control_changes(dataset["seqs"][0])
    perf = note_seq.Performance(note_seq.quantize_note_sequence_absolute(seq, 100), num_velocity_bins=32)
    perf.truncate(512) if len(perf) > 512 else None
    ((inputs, labels),) = data.encode_performance(cfg.encoder_decoder(), cfg.control_signals(), False, perf)
    assert any(np.array_equal(np.asarray(inputs, np.float32), x) and list(labels) == list(y) for x, y in examples)


def test_optional_conditioning_writes_two_examples_per_performance():
    cfg = config_lib.MODEL_PRESETS.get("optional_multiconditioned_performance_with_dynamics")
    perf = note_seq.Performance(note_seq.quantize_note_sequence_absolute(piece("x", 5), 100), num_velocity_bins=32)
    (on, _), (off, _) = data.encode_performance(cfg.encoder_decoder(), cfg.control_signals(), True, perf)
    assert np.asarray(on)[:, 0].max() == 0 and np.asarray(off)[:, 0].min() == 1 and len(on[0]) == 409


def test_extract_performances_truncates():
    quantized = note_seq.quantize_note_sequence_absolute(piece("long", 60), 100)
    perfs, stats = data.extract_performances(
        quantized, min_events_discard=32, max_events_truncate=100, num_velocity_bins=32
    )
    assert len(perfs) == 1 and len(perfs[0]) == 100 and stats["performances_truncated"] == 1


@pytest.fixture(scope="module")
def trained(dataset):
    run_dir, mag = dataset["tmp"] / "run", dataset["tmp"] / "multi.mag"
    train = str(dataset["out"] / "training_performances.tfrecord")
    family_checks.train(train_cli, run_dir, train, 3, preset="tiny_conditioned", export_bundle=mag)
    return run_dir, mag, train


def test_train_exports_and_fine_tunes(trained):
    run_dir, mag, train = trained
    _, config, parsed = bundle_lib.load_bundle(str(mag))
    assert parsed.generator_id == "multiconditioned_performance_with_dynamics" and parsed.metagraph_size > 0
    assert config.hparams.rnn_layer_sizes == (16, 16)
    family_checks.train(train_cli, run_dir.parent / "ft", train, 1, preset="tiny_conditioned", bundle=mag)


def test_generate_cli_primers_and_controls(trained, tmp_path, capsys):
    _, mag, _ = trained
    out = tmp_path / "out"
    controls = flags(notes_per_second="[2, 8]", pitch_class_histogram="[1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]")
    argv = flags(bundle_file=mag, output_dir=out, num_outputs=2, num_steps=200, primer_pitches="[60, 64, 67]")
    assert generate_cli.main(argv + controls + flags(seed=1)) == 0
    files = sorted(os.listdir(out))
    assert len(files) == 2
    seq = note_seq.midi_file_to_note_sequence(str(out / files[0]))
    assert sorted(n.pitch for n in seq.notes if n.start_time < 0.01)[:3] == [60, 64, 67]
    assert seq.total_time <= 2.0 + 1e-6
    for more in (
        flags(primer_melody="[60, -2, 62, -2]"),
        flags(beam_size=2, branch_factor=2, temperature=0),
        [],
    ):
        argv = flags(bundle_file=mag, output_dir=tmp_path / "o2", num_outputs=1, num_steps=120, seed=0)
        assert generate_cli.main(argv + more) == 0
    assert "starting from silence" in capsys.readouterr().err
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o3", num_steps=120, num_outputs=1, disable_conditioning="True")
    assert generate_cli.main(argv) == 0
    assert "--disable_conditioning ignored" in capsys.readouterr().err
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o3", pitch_class_histogram="[1, 2]")
    assert generate_cli.main(argv) == 1
    assert "--pitch_class_histogram '[1, 2]': not a valid value" in capsys.readouterr().err
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o3", num_steps=10, primer_pitches="[60]")
    assert generate_cli.main(argv) == 1
    assert "not shorter than the 10 steps" in capsys.readouterr().err


def test_generator_controls_follow_time_and_fill_the_request():
    cfg = config_lib.MODEL_PRESETS.get("tiny_conditioned")
    model = build_model(cfg, dropout_keep_prob=1.0)
    cond = generate.Conditioning({"notes_per_second": [1.0, 64.0]})
    gen = generate.PerformanceGenerator(model, cfg, cond)
    seen = []
    original = gen.events.generate_events

    def spy(primer, options, **kw):
        events, score = original(primer, options, **kw)
        seen.append(kw["control_events"])
        return events, score

    gen.events.generate_events = spy
    seq, score = gen.generate(generate.primer_from_pitches([60]), generate.options(num_steps=300, seed=2))
    assert np.isfinite(score) and seq.total_time <= 3.0 + 1e-6
    # Round one starts from the first density value and the default pitch histogram, at step 0;
    # a second round (if any) starts where the first one's time reached.
    assert seen[0] == [(1.0, [1.0] * 12)]
    assert [generate.step_to_value(s, 10, ["a", "b"]) for s in (0, 4, 5, 9, 12)] == ["a", "a", "b", "b", "b"]
