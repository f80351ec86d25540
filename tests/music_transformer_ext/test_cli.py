"""music_transformer_train / music_transformer_generate: fine-tune a t2t-named checkpoint on real
tf.Example shards, export in t2t's names and port it back, generate MIDI (continuation and
melody accompaniment), and refuse bad input with exit code 2."""

import math
import re

import note_seq
import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from music_transformer_ext import checkpoints
from music_transformer_ext import config as C
from music_transformer_ext import data as data_lib
from music_transformer_ext import encoding
from music_transformer_ext import generate_cli, train_cli

COMMON = [
    "--set",
    "trainer.global_batch_size=4",
    "--set",
    "data.sequence_length=32",
    "--set",
    "runtime.distribution=one_device",
    "--set",
    "trainer.progress=false",
    "--set",
    "trainer.checkpoint_every=2",
]


def _scale(offset: int, length: int = 16):
    ns = note_seq.NoteSequence()
    for i in range(length):
        ns.notes.add(pitch=60 + (offset + 2 * i) % 12, start_time=0.25 * i, end_time=0.25 * i + 0.2, velocity=80)
    ns.total_time = 0.25 * length
    return ns


def _write_shards(path, conditioned=False):
    perf, mel = encoding.PerformanceEncoder(), encoding.MelodyEncoder()
    with tf.io.TFRecordWriter(str(path)) as w:
        for k in range(12):
            ns = _scale(k)
            w.write(
                data_lib.make_example(
                    perf.encode_note_sequence(ns), mel.encode_note_sequence(ns) if conditioned else None
                )
            )


def _midi(path, ns):
    note_seq.sequence_proto_to_midi_file(ns, str(path))
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny relative model fine-tuned for 3 steps from a t2t-named fixture, exported in t2t names."""
    root = tmp_path_factory.mktemp("mt_cli")
    fixture = checkpoints.write_t2t_fixture(C.get("tiny"), str(root / "t2t" / "model.ckpt-100000"), seed=1)
    _write_shards(root / "train-00000-of-00001.tfrecord")
    argv = [
        "--model_dir",
        str(root / "run"),
        "--checkpoint",
        str(root / "t2t"),
        "--train_data",
        str(root / "train-*.tfrecord"),
        "--num_steps",
        "3",
        "--export_t2t",
        str(root / "export"),
    ]
    return root, fixture, argv


def test_fine_tune_from_t2t_fixture_saves_both_formats(trained, capsys):
    root, fixture, argv = trained
    assert train_cli.main(argv + COMMON) == 0
    out = capsys.readouterr().out
    loss = float(re.search(r"lm/loss = (\S+)", out).group(1))
    assert math.isfinite(loss) and 0.0 < loss < 2 * math.log(310)
    assert "steps 0 -> 3" in out
    assert (root / "run" / "config.json").exists() and list((root / "run").glob("ckpt-3.index"))
    # the architecture was read from the checkpoint: the tiny preset's
    trained_model = generate_cli.load_model(model_dir=str(root / "run"))
    tiny = C.get("tiny")
    for field in ("num_layers", "hidden_size", "filter_size", "num_heads", "max_relative_position", "vocab_size"):
        assert getattr(trained_model.config, field) == getattr(tiny, field)
    # the t2t export ports back (strictly) to exactly the trained weights ...
    exported = checkpoints.port_t2t_checkpoint(str(root / "export"), tiny)
    assert (root / "export" / "model.ckpt-3.index").exists()
    ours = {v.path: v.numpy() for v in trained_model.trainable_weights}
    theirs = {v.path: v.numpy() for v in exported.trainable_weights}
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name])
    # ... which started from the fixture and moved a little
    start = tf.train.load_checkpoint(fixture)
    table = "transformer/symbol_modality_310_32/shared/weights_0"
    before = start.get_tensor(table)
    after = ours[table]
    assert not np.array_equal(before, after)
    assert np.corrcoef(before.ravel(), after.ravel())[0, 1] > 0.9


def test_generate_continues_a_primer_from_the_run(trained, tmp_path, capsys):
    root, _, _ = trained
    if not (root / "run" / "config.json").exists():
        pytest.skip("needs the fine-tuning test first")
    primer = _midi(tmp_path / "primer.mid", _scale(0, 4))
    argv = [
        "--model_dir",
        str(root / "run"),
        "--primer_midi",
        primer,
        "--num_outputs",
        "2",
        "--decode_length",
        "40",
        "--top_p",
        "0.9",
        "--seed",
        "5",
    ]
    assert generate_cli.main(argv + ["--output_dir", str(tmp_path / "a")]) == 0
    assert generate_cli.main(argv + ["--output_dir", str(tmp_path / "b")]) == 0
    files_a = sorted((tmp_path / "a").glob("*.mid"))
    files_b = sorted((tmp_path / "b").glob("*.mid"))
    assert len(files_a) == 2
    assert [f.read_bytes() for f in files_a] == [f.read_bytes() for f in files_b]  # same seed, same music
    primer_notes = [(n.pitch, round(n.start, 2)) for n in pretty_midi.PrettyMIDI(primer).instruments[0].notes]
    for f in files_a:
        notes = [(n.pitch, round(n.start, 2)) for i in pretty_midi.PrettyMIDI(str(f)).instruments for n in i.notes]
        assert set(primer_notes) <= set(notes)
        assert len(notes) >= len(primer_notes)


@pytest.mark.slow
def test_generate_accompanies_a_melody_with_a_conditioned_checkpoint(tmp_path, capsys):
    config = C.get("tiny_conditioned")
    checkpoints.write_t2t_fixture(config, str(tmp_path / "t2t" / "model.ckpt-5"), seed=2)
    melody = _midi(tmp_path / "melody.mid", _scale(3, 8))
    argv = [
        "--checkpoint",
        str(tmp_path / "t2t"),
        "--preset",
        "tiny_conditioned",
        "--melody_midi",
        melody,
        "--output_dir",
        str(tmp_path / "out"),
        "--num_outputs",
        "2",
        "--seed",
        "1",
    ]
    assert generate_cli.main(argv) == 0
    assert "accompanying 20 melody steps with 80 events" in capsys.readouterr().out
    files = sorted((tmp_path / "out").glob("*.mid"))
    assert len(files) == 2
    for f in files:
        pretty_midi.PrettyMIDI(str(f))  # a readable MIDI file
    # an unconditioned checkpoint refuses a melody
    checkpoints.write_t2t_fixture(C.get("tiny"), str(tmp_path / "u" / "model.ckpt-5"))
    assert (
        generate_cli.main(
            ["--checkpoint", str(tmp_path / "u"), "--melody_midi", melody, "--output_dir", str(tmp_path / "x")]
        )
        == 2
    )
    assert "melody-conditioned" in capsys.readouterr().err


def test_bad_input_exits_2_with_a_message(tmp_path, capsys):
    assert (
        train_cli.main(
            [
                "--model_dir",
                str(tmp_path / "r1"),
                "--preset",
                "tiny",
                "--train_data",
                str(tmp_path / "nothing-*.tfrecord"),
            ]
            + COMMON
        )
        == 2
    )
    assert "nothing-*" in capsys.readouterr().err
    assert train_cli.main(["--model_dir", str(tmp_path / "r2"), "--preset", "tiny", "--jsb"] + COMMON) == 2
    assert "vocab_size 49" in capsys.readouterr().err
    assert (
        train_cli.main(
            ["--model_dir", str(tmp_path / "r3"), "--checkpoint", str(tmp_path / "none"), "--train_data", "x"] + COMMON
        )
        == 2
    )
    assert "none" in capsys.readouterr().err
    # a preset that does not fit the checkpoint is named field by field
    checkpoints.write_t2t_fixture(C.get("tiny"), str(tmp_path / "t2t" / "model.ckpt-1"))
    assert (
        train_cli.main(
            [
                "--model_dir",
                str(tmp_path / "r4"),
                "--checkpoint",
                str(tmp_path / "t2t"),
                "--preset",
                "jsb_relative",
                "--train_data",
                "x",
            ]
            + COMMON
        )
        == 2
    )
    assert "hidden_size" in capsys.readouterr().err
    assert generate_cli.main(["--model_dir", str(tmp_path / "empty"), "--output_dir", str(tmp_path / "o")]) == 2
    with pytest.raises(SystemExit):
        train_cli.main(["--model_dir", str(tmp_path / "r5")])


@pytest.mark.slow
def test_resume_neither_reads_nor_needs_the_moved_t2t_checkpoint(tmp_path, capsys, monkeypatch):
    """A run fine-tuned from a t2t checkpoint resumes from its own checkpoint after that folder moved:
    with the same command line (its --checkpoint now names nothing) or without --checkpoint."""
    import shutil

    t2t = tmp_path / "t2t"
    prefix = checkpoints.write_t2t_fixture(C.get("tiny"), str(t2t / "model.ckpt-100000"), seed=1)
    _write_shards(tmp_path / "train-00000-of-00001.tfrecord")
    data = ["--train_data", str(tmp_path / "train-*.tfrecord")]
    run = ["--model_dir", str(tmp_path / "run")]
    assert train_cli.main(run + ["--checkpoint", str(t2t)] + data + ["--num_steps", "2"] + COMMON) == 0
    out = capsys.readouterr().out
    assert "music_transformer_train: starting" in out and f"fine-tuning {prefix}" in out and "steps 0 -> 2" in out
    first = {v.path: v.numpy() for v in generate_cli.load_model(model_dir=str(tmp_path / "run")).trainable_weights}

    shutil.move(str(t2t), str(tmp_path / "moved_away"))

    def unread(*args, **kwargs):
        raise AssertionError(f"a resumed run read its t2t checkpoint {args}")

    monkeypatch.setattr(checkpoints, "read_t2t_variables", unread)
    monkeypatch.setattr(checkpoints, "resolve_checkpoint", unread)
    assert train_cli.main(run + ["--checkpoint", str(t2t)] + data + ["--num_steps", "3"] + COMMON) == 0
    captured = capsys.readouterr()
    assert "music_transformer_train: resuming" in captured.out and "steps 2 -> 3" in captured.out, captured
    assert "fine-tuning" not in captured.out and not captured.err
    assert train_cli.main(run + data + ["--num_steps", "4"] + COMMON) == 0
    assert "steps 3 -> 4" in capsys.readouterr().out
    # it went on from its own weights (the library's load reads the run folder)
    import music_transformer_ext

    model = music_transformer_ext.load(str(tmp_path / "run"))
    assert model.config.hidden_size == C.get("tiny").hidden_size
    now = {v.path: v.numpy() for v in model.trainable_weights}
    assert now.keys() == first.keys() and any(np.abs(now[k] - first[k]).max() > 0 for k in now)
    # another checkpoint than the run's is still refused, naming both, without reading either
    other = tmp_path / "other" / "model.ckpt-5"
    assert train_cli.main(run + ["--checkpoint", str(other)] + data + COMMON) == 2
    err = capsys.readouterr().err
    assert f"init_checkpoint {prefix}" in err and f"--checkpoint {other}" in err, err


def test_create_dataset_with_no_example_exits_nonzero(tmp_path, capsys):
    from music_transformer_ext import create_dataset_cli
    from pipelines import tfrecord_io

    path = tmp_path / "ns-00000-of-00001.tfrecord"
    tfrecord_io.write_sharded(str(tmp_path / "ns"), [(b"k", b"not a NoteSequence")], 1)
    rc = create_dataset_cli.main(["--input", str(path), "--output_dir", str(tmp_path / "out"), "--no_progress"])
    assert rc == 1 and "no example written" in capsys.readouterr().err
