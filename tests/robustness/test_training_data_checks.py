"""Every training command refuses data it cannot use before it touches the run folder (issue 16).

Each command gets each case of unusable data: a glob that matches nothing, a folder with zero
examples, an empty TFRecord file, and a text file given as data. It must answer with one line on
stderr that names the file and the problem, exit non-zero, and leave the run folder as it was:
not created when it did not exist, byte-identical when it held a run.
"""

import importlib
import json
import pathlib

import pytest

from pipelines import tfrecord_io
from tfmusic import config as config_lib

RNN_COMMANDS = ("melody_rnn", "performance_rnn", "polyphony_rnn", "drums_rnn", "improv_rnn")
COMMANDS = (
    ("gansynth_train",)
    + tuple(f"{m}_train" for m in RNN_COMMANDS)
    + ("music_transformer_train", "music_eval_train_classifier")
)
CASES = ("no_match", "zero_examples", "empty_tfrecord", "text_file")


def _entry_point(command: str):
    if command == "gansynth_train":
        return importlib.import_module("gansynth_tf.train_cli").main
    if command == "music_transformer_train":
        return importlib.import_module("music_transformer_ext.train_cli").main
    if command == "music_eval_train_classifier":
        return importlib.import_module("music_eval.cli").train_classifier_main
    return importlib.import_module(f"{command[: -len('_train')]}_ext.train_cli").main


def _data(case: str, command: str, tmp: pathlib.Path):
    """(the data argument, the file its error must name, a fragment of the problem)."""
    if case == "no_match":
        pattern = str(tmp / "nothing-*.tfrecord")
        if command == "music_eval_train_classifier":
            return str(tmp / "no_such_folder"), str(tmp / "no_such_folder"), "no such folder"
        return pattern, pattern, "matches no file"
    if case == "zero_examples":
        if command in ("gansynth_train", "music_eval_train_classifier"):  # an NSynth folder listing no notes
            folder = tmp / "nsynth_empty"
            (folder / "audio").mkdir(parents=True)
            (folder / "examples.json").write_text("{}")
            return str(folder), str(folder / "examples.json"), "lists no notes"
        paths = tfrecord_io.write_sharded(str(tmp / "shards" / "train"), [], 3)  # 3 empty shards
        pattern = str(tmp / "shards" / "*.tfrecord")
        assert len(paths) == 3
        return pattern, pattern, "the 3 files it matches hold no records"
    if case == "empty_tfrecord":
        path = tmp / "empty.tfrecord"
        path.write_bytes(b"")
        if command == "music_eval_train_classifier":
            return str(path), str(path), "is a file, not an NSynth jsonwav folder"
        return str(path), str(path), "holds no records"
    assert case == "text_file"
    path = tmp / "notes.txt"
    path.write_text("These are my notes, not a dataset.\n" * 20)
    if command == "music_eval_train_classifier":
        return str(path), str(path), "is a file, not an NSynth jsonwav folder"
    return str(path), str(path), "not a TFRecord file (a text file"


def _argv(command: str, run_dir: pathlib.Path, data: str) -> list:
    if command == "gansynth_train":
        return ["--model_dir", str(run_dir), "--train_data", data, "--preset", "tiny"]
    if command == "music_transformer_train":
        return ["--model_dir", str(run_dir), "--train_data", data, "--preset", "tiny"]
    if command == "music_eval_train_classifier":
        return [str(run_dir), "--train_dir", data, "--preset", "tiny"]
    return ["--run_dir", str(run_dir), "--sequence_example_file", data, "--preset", "tiny"]


def _run(command: str, argv: list) -> int:
    try:
        return _entry_point(command)(argv)
    except SystemExit as e:  # argparse's parser.exit
        return e.code


def _snapshot(folder: pathlib.Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def _saved_run(command: str, run_dir: pathlib.Path, data: str) -> None:
    """A run folder that looks resumable: the command's tiny config saved as it would save it, a
    ``checkpoint`` state file and a checkpoint's files."""
    if command == "gansynth_train":
        from gansynth_tf.config import get_preset

        config = get_preset("tiny")
    elif command == "music_transformer_train":
        from music_transformer_ext.train_cli import base_experiment

        config = base_experiment("tiny")
    elif command == "music_eval_train_classifier":
        from music_eval.classifier import PRESETS

        config = PRESETS.get("tiny")
    else:
        config = importlib.import_module(f"{command[: -len('_train')]}_ext.train_cli").command().presets.get("tiny")
    run_dir.mkdir()
    config_lib.save_json(config, str(run_dir / config_lib.CONFIG_FILENAME))
    (run_dir / config_lib.RUN_FLAGS_FILENAME).write_text(json.dumps({"--preset": "tiny"}))
    (run_dir / "checkpoint").write_text('model_checkpoint_path: "ckpt-4"\nall_model_checkpoint_paths: "ckpt-4"\n')
    (run_dir / "ckpt-4.index").write_bytes(b"\x00index")
    (run_dir / "ckpt-4.data-00000-of-00001").write_bytes(b"\x01weights")


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("command", COMMANDS)
def test_unusable_data_is_refused_before_the_run_folder_is_made(command, case, tmp_path, capsys):
    data, named, problem = _data(case, command, tmp_path)
    run_dir = tmp_path / "run"
    rc = _run(command, _argv(command, run_dir, data))
    err = capsys.readouterr().err
    assert rc not in (0, None), err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert named in lines[0] and problem in lines[0], lines[0]
    assert lines[0].startswith(command + ": "), lines[0]
    assert not run_dir.exists()


@pytest.mark.parametrize("case", ("no_match", "text_file"))
@pytest.mark.parametrize("command", COMMANDS)
def test_unusable_data_leaves_a_run_folder_byte_identical(command, case, tmp_path, capsys):
    data, named, problem = _data(case, command, tmp_path)
    run_dir = tmp_path / "run"
    _saved_run(command, run_dir, data)
    before = _snapshot(run_dir)
    rc = _run(command, _argv(command, run_dir, data))
    err = capsys.readouterr().err
    assert rc not in (0, None), err
    assert len(err.strip().splitlines()) == 1 and named in err and problem in err, err
    assert _snapshot(run_dir) == before


def test_note_sequences_given_to_an_rnn_trainer_are_named(tmp_path, capsys):
    """A common slip in Magenta's chain: the NoteSequences instead of the SequenceExamples made from them."""
    from note_seq.protobuf import music_pb2

    from melody_rnn_ext import train_cli

    ns = music_pb2.NoteSequence(id="x", total_time=1.0)
    ns.notes.add(pitch=60, start_time=0.0, end_time=1.0, velocity=80)
    path = tmp_path / "notesequences.tfrecord"
    tfrecord_io.write_sharded(str(tmp_path / "notesequences"), [(b"x", ns.SerializeToString())], 1)
    with pytest.raises(SystemExit) as info:
        train_cli.main(["--run_dir", str(tmp_path / "run"), "--sequence_example_file", str(path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "notesequences-00000-of-00001.tfrecord" in err
    assert "not a training SequenceExample" in err or "not a SequenceExample" in err
    assert "_create_dataset" in err and not (tmp_path / "run").exists()


def test_sequence_examples_of_another_encoding_are_named(tmp_path, capsys):
    """basic_rnn's 38-wide inputs given to attention_rnn (74 inputs per step)."""
    from melody_rnn_ext import train_cli
    from tests.melody_rnn_ext.test_task import write_melodies

    data = write_melodies(str(tmp_path / "training_melodies.tfrecord"), count=2)
    with pytest.raises(SystemExit) as info:
        train_cli.main(
            ["--config", "attention_rnn", "--run_dir", str(tmp_path / "run"), "--sequence_example_file", data]
        )
    err = capsys.readouterr().err
    assert info.value.code == 2 and "38 inputs per step" in err and "74" in err
    assert not (tmp_path / "run").exists()


def test_gansynth_notes_outside_the_pitch_range_are_named(nsynth_sample_dir, tmp_path, capsys):
    """Every real sample note is pitch 60: a run for pitches 61..63 has nothing to fit its normaliser on."""
    from gansynth_tf import train_cli

    run_dir = tmp_path / "run"
    rc = train_cli.main(
        [
            "--model_dir",
            str(run_dir),
            "--train_data",
            str(nsynth_sample_dir),
            "--preset",
            "tiny",
            "--set",
            "data.min_pitch=61",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1, err
    assert str(nsynth_sample_dir) in err and "none of its 12 notes passes the filters (pitches 61..63)" in err
    assert not run_dir.exists()
