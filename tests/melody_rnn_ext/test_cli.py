"""melody_rnn_train and melody_rnn_generate end to end: train from scratch, export a .mag, fine-tune it with
a frozen layer, resume, evaluate, and generate MIDI from the bundle and from the run folder."""

import contextlib
import glob
import io
import json

import note_seq
import numpy as np
import pytest
import tensorflow as tf

from melody_rnn_ext import bundle as bundle_lib
from melody_rnn_ext import generate_cli, train_cli
from tests.events_rnn import family_checks
from tests.events_rnn.family_checks import FAST
from tests.melody_rnn_ext.test_task import write_melodies


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    return {
        "tmp": tmp,
        "train": write_melodies(str(tmp / "training_melodies.tfrecord"), count=40),
        "eval": write_melodies(str(tmp / "eval_melodies.tfrecord"), count=12, seed=7),
    }


@pytest.fixture(scope="module")
def scratch_run(files):
    run_dir = files["tmp"] / "scratch"
    bundle = files["tmp"] / "scratch.mag"
    hparams = "rnn_layer_sizes=[16,12],learning_rate=0.02"
    family_checks.train(
        train_cli, run_dir, files["train"], 30, eval_file=files["eval"], export_bundle=bundle, hparams=hparams
    )
    return run_dir, bundle


def test_parse_hparams_magenta_syntax():
    assert train_cli.parse_hparams("batch_size=64,rnn_layer_sizes=[64, 64], dropout_keep_prob=0.8") == [
        "model.hparams.batch_size=64",
        "trainer.global_batch_size=64",
        "model.hparams.rnn_layer_sizes=[64, 64]",
        "model.hparams.dropout_keep_prob=0.8",
    ]
    assert train_cli.parse_hparams("") == []
    with pytest.raises(ValueError):
        train_cli.parse_hparams("batch_size")


def test_train_from_scratch_writes_run_eval_and_bundle(scratch_run):
    run_dir, bundle = scratch_run
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["model"]["hparams"]["rnn_layer_sizes"] == [16, 12] and cfg["trainer"]["train_steps"] == 30
    assert tf.train.latest_checkpoint(str(run_dir)).endswith("ckpt-30")
    metrics = json.loads((run_dir / train_cli.EVAL_METRICS_FILENAME).read_text())
    assert metrics["global_step"] == 30 and metrics["steps"] > 0
    np.testing.assert_allclose(metrics["perplexity"], np.exp(metrics["loss"]), rtol=1e-6)
    # TensorBoard: the evaluation beside the training scalars, under eval/, at the final step; the config as text
    logged = {}
    for path in (run_dir / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                logged.setdefault(v.tag, []).append((event.step, tf.make_ndarray(v.tensor)))
    for name in ("loss", "perplexity", "accuracy", "event_accuracy"):
        [(step, value)] = logged[f"eval/{name}"]
        assert step == 30 and float(value) == pytest.approx(metrics[name], rel=1e-6), name
    assert "metrics/loss" in logged  # the training scalar the evaluation sits beside
    assert [step for step, _ in logged["config"]] == [0]
    # The bundle holds exactly the trained weights.
    model, config, parsed = bundle_lib.load_bundle(str(bundle))
    assert parsed.generator_id == "basic_rnn" and config.hparams.rnn_layer_sizes == (16, 12)
    from_run = generate_cli.load_generator(run_dir=str(run_dir)).model.tf1_variables()
    for name, var in model.tf1_variables().items():
        np.testing.assert_array_equal(var.numpy(), from_run[name].numpy(), err_msg=name)
    assert int(parsed.variables["global_step"]) == 30


def test_fine_tune_bundle_with_frozen_layer_then_resume(files, scratch_run):
    _, bundle = scratch_run
    source, _, _ = bundle_lib.load_bundle(str(bundle))
    run_dir = files["tmp"] / "finetune"
    argv = [
        "--bundle",
        str(bundle),
        "--preset",
        "tiny",
        "--freeze",
        "cell_0",
        "--run_dir",
        str(run_dir),
        "--sequence_example_file",
        files["train"],
        "--num_training_steps",
        "6",
    ] + FAST
    assert train_cli.main(argv) == 0
    cfg = json.loads((run_dir / "config.json").read_text())
    assert cfg["warm_start"]["bundle_path"] == str(bundle) and cfg["warm_start"]["frozen_layers"] == ["cell_0"]
    assert cfg["model"]["hparams"]["rnn_layer_sizes"] == [16, 12]  # from the bundle, not the preset's (16, 16)
    gen = generate_cli.load_generator(run_dir=str(run_dir))
    tuned = gen.model.tf1_variables()
    for name, var in source.tf1_variables().items():
        if "/cell_0/" in name:
            np.testing.assert_array_equal(tuned[name].numpy(), var.numpy(), err_msg=name)
        else:
            assert np.abs(tuned[name].numpy() - var.numpy()).max() > 0, name
    # Resuming continues from the run's own checkpoint, to a longer total.
    assert train_cli.main(argv[:-4] + ["--num_training_steps", "8"] + FAST) == 0
    assert tf.train.latest_checkpoint(str(run_dir)).endswith("ckpt-8")


def test_bundle_and_config_must_agree(files, scratch_run, capsys):
    _, bundle = scratch_run
    with pytest.raises(SystemExit) as e:
        train_cli.main(
            [
                "--bundle",
                str(bundle),
                "--config",
                "attention_rnn",
                "--run_dir",
                str(files["tmp"] / "x"),
                "--sequence_example_file",
                files["train"],
            ]
        )
    assert e.value.code == 2 and "basic_rnn" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        train_cli.main(
            [
                "--preset",
                "tiny",
                "--run_dir",
                str(files["tmp"] / "y"),
                "--sequence_example_file",
                str(files["tmp"] / "nothing*.tfrecord"),
            ]
        )
    assert e.value.code == 2 and "matches no file" in capsys.readouterr().err


def test_generate_from_bundle_and_run_dir(files, scratch_run, capsys):
    run_dir, bundle = scratch_run
    out = files["tmp"] / "midi"
    primer = [60, -2, 60, -2, 67, -2, 67, -2]
    rc = generate_cli.main(
        [
            "--bundle_file",
            str(bundle),
            "--output_dir",
            str(out),
            "--num_outputs",
            "3",
            "--num_steps",
            "32",
            "--primer_melody",
            str(primer),
            "--seed",
            "0",
            "--qpm",
            "100",
        ]
    )
    assert rc == 0
    paths = sorted(glob.glob(str(out / "*.mid")))
    assert len(paths) == 3 and paths[0].endswith("_1.mid")
    for path in paths:
        sequence = note_seq.midi_file_to_note_sequence(path)
        assert sequence.tempos[0].qpm == pytest.approx(100, rel=1e-3)
        pitches = [n.pitch for n in sorted(sequence.notes, key=lambda n: n.start_time)]
        assert pitches[:4] == [60, 60, 67, 67]
        assert sequence.total_time <= 32 * 60 / 100 / 4 + 1e-6
    assert "log-likelihood" in capsys.readouterr().out
    # Same model from the run folder with beam search; the primer MIDI's melody primes it.
    out2 = files["tmp"] / "midi2"
    rc = generate_cli.main(
        [
            "--run_dir",
            str(run_dir),
            "--config",
            "basic_rnn",
            "--output_dir",
            str(out2),
            "--num_outputs",
            "1",
            "--num_steps",
            "40",
            "--primer_midi",
            paths[0],
            "--beam_size",
            "2",
            "--branch_factor",
            "2",
            "--steps_per_iteration",
            "2",
            "--seed",
            "1",
        ]
    )
    assert rc == 0
    (path2,) = glob.glob(str(out2 / "*.mid"))
    first = note_seq.midi_file_to_note_sequence(paths[0])
    second = note_seq.midi_file_to_note_sequence(path2)
    assert second.total_time > first.total_time * 0.9  # 40 steps from a 32-step primer
    assert [n.pitch for n in second.notes][:6] == [n.pitch for n in first.notes][:6]
    # Errors: wrong config id, primer too long, unreadable bundle.
    assert generate_cli.main(["--bundle_file", str(bundle), "--config", "lookback_rnn", "--output_dir", str(out2)]) == 1
    assert (
        generate_cli.main(
            [
                "--bundle_file",
                str(bundle),
                "--output_dir",
                str(out2),
                "--num_steps",
                "4",
                "--primer_melody",
                str(primer),
            ]
        )
        == 1
    )
    bad = files["tmp"] / "bad.mag"
    bad.write_bytes(b"\x00garbage")
    assert generate_cli.main(["--bundle_file", str(bad), "--output_dir", str(out2)]) == 1
    assert "bad.mag" in capsys.readouterr().err


def test_a_failed_start_does_not_bind_the_next_one(tmp_path, capsys):
    """A mistyped data path fails before anything is written: no run folder, so the next start with --config X
    is a new run of X."""
    run = tmp_path / "run"
    for config_id in ("basic_rnn", "lookback_rnn"):
        with pytest.raises(SystemExit) as exit_info:
            train_cli.main(
                [
                    "--config",
                    config_id,
                    "--run_dir",
                    str(run),
                    "--sequence_example_file",
                    str(tmp_path / "typo*.tfrecord"),
                ]
            )
        assert exit_info.value.code == 2
        assert "matches no file" in capsys.readouterr().err
        assert not run.exists()


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_resume_that_contradicts_the_run_is_refused(files, scratch_run, capsys):
    """scratch_run is a `--preset tiny` run (config basic_rnn): --config attention_rnn or another --preset on it is
    an error naming both values, and the folder is left as it was."""
    run_dir, bundle = scratch_run
    before = _snapshot(run_dir)
    base = ["--run_dir", str(run_dir), "--sequence_example_file", files["train"]]
    for flags, saved, given in (
        (["--config", "attention_rnn"], "model.config_id basic_rnn", "--config attention_rnn"),
        (["--preset", "basic_rnn"], "--preset tiny", "--preset basic_rnn"),
        (["--bundle", str(bundle)], "warm_start.bundle_path none", f"--bundle {bundle}"),
    ):
        with pytest.raises(SystemExit) as info:
            train_cli.main(base + flags + ["--set", "trainer.train_steps=40"])
        err = capsys.readouterr().err
        assert info.value.code == 2, err
        assert saved in err and given in err and str(run_dir) in err, err
        assert len(err.strip().splitlines()) == 1, err
    assert _snapshot(run_dir) == before


@pytest.mark.slow
def test_resume_after_the_bundle_was_deleted_with_evaluations_every_two_steps(
    files, scratch_run, tmp_path, capsys, monkeypatch
):
    """A --bundle run resumes from its own checkpoint once the .mag is gone (the same command line), and
    --eval_file with trainer.eval_every=2 writes eval/* scalars every 2 steps and at each start's end."""
    import shutil

    import melody_rnn_ext
    from events_rnn import bundle as core_bundle

    _, bundle = scratch_run
    mag = tmp_path / "copy.mag"
    shutil.copy(bundle, mag)
    run_dir = tmp_path / "ft"
    argv = family_checks.flags(bundle=mag, preset="tiny", run_dir=run_dir, sequence_example_file=files["train"])
    argv += family_checks.flags(eval_file=files["eval"], set="trainer.eval_every=2") + FAST
    assert train_cli.main(argv + ["--num_training_steps", "3"]) == 0
    out = capsys.readouterr().out
    assert f"starting {run_dir} (basic_rnn [16, 12], fine-tuning {mag}" in out
    assert "steps 0 -> 3" in out and "eval at step 3: loss" in out

    mag.unlink()

    def unread(*args, **kwargs):
        raise AssertionError(f"a resumed run read its bundle {args}")

    monkeypatch.setattr(core_bundle, "read_bundle", unread)
    monkeypatch.setattr(core_bundle, "read_bundle_config", unread)
    assert train_cli.main(argv + ["--num_training_steps", "5"]) == 0
    captured = capsys.readouterr()
    assert f"resuming {run_dir}" in captured.out and "steps 3 -> 5" in captured.out, captured
    assert "eval at step 5: loss" in captured.out and not captured.err
    assert json.loads((run_dir / train_cli.EVAL_METRICS_FILENAME).read_text())["global_step"] == 5
    logged = {}
    for path in (run_dir / "train").glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                logged.setdefault(v.tag, []).append(event.step)
    assert sorted(logged["eval/loss"]) == [2, 3, 4, 5] and sorted(logged["eval/perplexity"]) == [2, 3, 4, 5]
    # the library's load: the run folder's model as a generator
    generator = melody_rnn_ext.load(str(run_dir))
    assert generator.config.hparams.rnn_layer_sizes == (16, 12)
    from_cli = generate_cli.load_generator(run_dir=str(run_dir)).model.tf1_variables()
    for name, var in generator.model.tf1_variables().items():
        np.testing.assert_array_equal(var.numpy(), from_cli[name].numpy(), err_msg=name)


def test_a_checkpoint_with_the_retired_model_variables_item_resumes_and_generates(files, tmp_path, monkeypatch):
    """Checkpoints of earlier melody_rnn_train versions also held ``model_variables`` (every model variable
    again, under its TF1 name): such a run still generates and resumes from its own checkpoint."""
    from events_rnn import train_cli as core_train_cli

    real_make_task = core_train_cli.make_task

    def old_make_task(*args, **kwargs):  # what make_task saved before: the task's items plus model_variables
        task = real_make_task(*args, **kwargs)
        items = task.checkpoint_items

        def with_model_variables():
            module = tf.Module(name="events_rnn_variables")
            for name, variable in task.model.tf1_variables().items():
                setattr(module, name.replace("/", "__"), variable)
            return {**items(), "model_variables": module}

        task.checkpoint_items = with_model_variables
        return task

    run_dir = tmp_path / "old"
    argv = ["--preset", "tiny", "--run_dir", str(run_dir), "--sequence_example_file", files["train"]] + FAST
    monkeypatch.setattr(core_train_cli, "make_task", old_make_task)
    assert train_cli.main(argv + ["--num_training_steps", "3"]) == 0
    monkeypatch.setattr(core_train_cli, "make_task", real_make_task)
    old = tf.train.latest_checkpoint(str(run_dir))
    stored = {name for name, _ in tf.train.list_variables(old)}
    assert old.endswith("ckpt-3") and any(n.startswith("model_variables/") for n in stored)

    # generation reads the model item, which holds the same values as the retired one
    model = generate_cli.load_generator(run_dir=str(run_dir)).model
    reader = tf.train.load_checkpoint(old)
    for name, var in model.tf1_variables().items():
        key = f"model_variables/{name.replace('/', '__')}/.ATTRIBUTES/VARIABLE_VALUE"
        np.testing.assert_array_equal(var.numpy(), reader.get_tensor(key), err_msg=name)

    # resuming: the run goes on from its step (the retired item is left unread)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert train_cli.main(argv + ["--num_training_steps", "5"]) == 0
    out = buf.getvalue()
    assert f"resuming {run_dir}" in out and "steps 3 -> 5" in out, out
    assert tf.train.latest_checkpoint(str(run_dir)).endswith("ckpt-5")
    assert not any(n.startswith("model_variables/") for n, _ in tf.train.list_variables(str(run_dir / "ckpt-5")))


def test_create_dataset_that_writes_nothing_exits_nonzero(tmp_path, capsys):
    from melody_rnn_ext import create_dataset_cli
    from pipelines import tfrecord_io

    tfrecord_io.write_sharded(str(tmp_path / "ns"), [(b"k", b"not a NoteSequence")], 1)
    rc = create_dataset_cli.main(
        [
            "--config",
            "basic_rnn",
            "--input",
            str(tmp_path / "ns.tfrecord"),
            "--output_dir",
            str(tmp_path / "out"),
            "--no_progress",
        ]
    )
    assert rc == 1 and "no example written" in capsys.readouterr().err
