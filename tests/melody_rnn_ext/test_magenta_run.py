"""Magenta's own melody_rnn_train run folders (RUN/train/model.ckpt-N, made by TF1 itself in the exact format):
detection, generation, continued training (first update = TF1 Adam's from the restored state), bundles."""

import contextlib
import dataclasses
import glob
import hashlib
import io
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from melody_rnn_ext import bundle as bundle_lib
from melody_rnn_ext import config as config_lib
from melody_rnn_ext import generate, generate_cli, magenta_run, train_cli
from melody_rnn_ext import task as task_lib
from tests.events_rnn import tf1_reference as ref
from tests.events_rnn.family_checks import flags
from tests.events_rnn.magenta_fixture import (
    first_step_gradients,
    first_update_errors,
    one_batch_settings,
    worst_adam_step_error,
)
from tests.melody_rnn_ext.magenta_fixture import make_magenta_run
from tests.melody_rnn_ext.test_model import melody_like_inputs
from tests.melody_rnn_ext.test_task import write_melodies
from tfmusic.tf1_checkpoints import PortingError

LR, CLIP = 0.01, 0.05  # a clip small enough that real gradients get clipped
BASIC = dict(input_size=38, num_classes=38, sizes=(8, 6), layout="none")
ATTENTION = dict(input_size=74, num_classes=40, sizes=(8, 6), layout="first_layer", attn_length=3)


def model_names(variables):
    return {k for k in variables if k != "global_step" and "Adam" not in k and "_power" not in k}


@pytest.fixture(scope="module")
def magenta_run_dir(tmp_path_factory):
    """A basic_rnn Magenta run trained 3 steps (checkpoints 2 and 3), then moved: its state file names
    absolute paths of the old place, as in a folder copied from another machine."""
    tmp = tmp_path_factory.mktemp("magenta")
    made = make_magenta_run(str(tmp / "elsewhere" / "run1"), steps=3, learning_rate=LR, clip_norm=CLIP, **BASIC)
    shutil.move(str(tmp / "elsewhere" / "run1"), str(tmp / "run1"))
    return tmp / "run1", made


def digest(folder):
    return {
        os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
        for p in sorted(glob.glob(os.path.join(folder, "*")))
    }


def test_detects_magenta_folder_and_reads_newest_checkpoint(magenta_run_dir, tmp_path):
    run, made = magenta_run_dir
    assert sorted(os.listdir(run / "train")) == [
        "checkpoint",
        "model.ckpt-2.data-00000-of-00001",
        "model.ckpt-2.index",
        "model.ckpt-2.meta",
        "model.ckpt-3.data-00000-of-00001",
        "model.ckpt-3.index",
        "model.ckpt-3.meta",
    ]
    assert "elsewhere" in (run / "train" / "checkpoint").read_text()  # absolute paths of the old place
    assert magenta_run.run_folder_kind(str(run)) == "magenta"
    ckpt = magenta_run.read_magenta_checkpoint(str(run))
    assert ckpt.path == str(run / "train" / "model.ckpt-3") and ckpt.global_step == 3
    assert ckpt.spec == bundle_lib.ModelSpec(38, 38, (8, 6), "none", "kernel")
    assert {
        "beta1_power",
        "beta2_power",
        "fully_connected/weights/Adam",
        "fully_connected/weights/Adam_1",
        "rnn/multi_rnn_cell/cell_1/basic_lstm_cell/kernel/Adam_1",
    } <= set(ckpt.variables)
    np.testing.assert_allclose(ckpt.variables["beta1_power"], 0.9**4, rtol=1e-6)
    # Neither kind: the message says what was expected.
    (tmp_path / "empty").mkdir()
    with pytest.raises(magenta_run.RunFolderError, match="expected either config.json .* or train/checkpoint"):
        magenta_run.run_folder_kind(str(tmp_path / "empty"))
    with pytest.raises(magenta_run.RunFolderError, match="pass --config .* fit basic_rnn"):
        magenta_run.magenta_run_config(ckpt, None)
    with pytest.raises(magenta_run.RunFolderError, match="lookback_rnn.*121 inputs"):
        magenta_run.magenta_run_config(ckpt, "lookback_rnn")


def test_generate_from_magenta_folder_cli_and_parity(magenta_run_dir, tmp_path, capsys):
    run, made = magenta_run_dir
    rc = generate_cli.main(
        [
            "--config",
            "basic_rnn",
            "--run_dir",
            str(run),
            "--output_dir",
            str(tmp_path / "out"),
            "--num_outputs",
            "2",
            "--num_steps",
            "16",
            "--primer_melody",
            "[60, -2, 62]",
            "--seed",
            "0",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert len(glob.glob(str(tmp_path / "out" / "*.mid"))) == 2
    gen = generate_cli.load_generator(run_dir=str(run), config_id="basic_rnn")
    x = melody_like_inputs("basic_rnn", 2, 9)
    want, _ = ref.reference_logits({k: made["variables"][k] for k in model_names(made["variables"])}, x, "none")
    np.testing.assert_allclose(np.asarray(gen.model(x)), want, atol=2e-6)
    # Errors name the problem: no --config, a config the variables contradict, a folder of neither kind.
    for argv, needle in (
        (["--run_dir", str(run)], "pass --config"),
        (["--config", "attention_rnn", "--run_dir", str(run)], "74 inputs"),
        (["--run_dir", str(tmp_path)], "expected either config.json"),
    ):
        assert generate_cli.main(argv + ["--output_dir", str(tmp_path / "x")]) == 1
        assert needle in capsys.readouterr().err


def test_attention_folder_generates_with_hparams_attn_length(tmp_path):
    made = make_magenta_run(str(tmp_path / "run"), steps=1, **ATTENTION)
    loaded = generate_cli.load_model(run_dir=str(tmp_path / "run"), config_id="attention_rnn", hparams="attn_length=3")
    assert loaded.config.hparams.attn_length == 3 and loaded.global_step == 1
    x = melody_like_inputs("attention_rnn", 2, 7)
    weights = {k: made["variables"][k] for k in model_names(made["variables"])}
    want, _ = ref.reference_logits(weights, x, "first_layer", attn_length=3)
    np.testing.assert_allclose(np.asarray(loaded.model(x)), want, atol=2e-6)
    with pytest.raises(ValueError, match="rnn_layer_sizes"):
        generate_cli.load_model(
            run_dir=str(tmp_path / "run"), config_id="attention_rnn", hparams="attn_length=3,rnn_layer_sizes=[16,16]"
        )


@pytest.mark.parametrize("config_id,kw", [("basic_rnn", BASIC), ("attention_rnn", ATTENTION)])
def test_first_update_after_resume_equals_tf1_adam(tmp_path, config_id, kw):
    """Restore a Magenta checkpoint into the training task, apply one gradient through its Keras Adam, and
    compare with (a) a NumPy TF1-Adam reference from the restored slots and beta powers and (b) TF1's own
    AdamOptimizer applying the same gradient in the graph that wrote the checkpoint."""
    shapes = ref.tf1_shapes(kw["input_size"], kw["num_classes"], kw["sizes"], kw["layout"])
    rng = np.random.default_rng(5)
    grads = {
        k: (rng.standard_normal(s) * (0.5 if i % 2 else 0.001)).astype(np.float32)  # half get clipped
        for i, (k, s) in enumerate(sorted(shapes.items()))
    }
    made = make_magenta_run(str(tmp_path / "run"), steps=4, learning_rate=LR, clip_norm=CLIP, next_grads=grads, **kw)
    ckpt = magenta_run.read_magenta_checkpoint(str(tmp_path / "run"))
    model_cfg = magenta_run.magenta_run_config(ckpt, config_id, kw.get("attn_length"))
    hp = dataclasses.replace(model_cfg.hparams, learning_rate=LR, clip_norm=CLIP)
    cfg = config_lib.make_experiment(dataclasses.replace(model_cfg, hparams=hp))
    task = task_lib.MelodyRnnTask(cfg)
    task.build()
    step = tf.Variable(0, dtype=tf.int64)
    restored = magenta_run.restore_training_state(task.model, task.optimizer, ckpt, step_variable=step)
    assert (restored.step, int(step.numpy()), int(task.optimizer.iterations.numpy())) == (4, 4, 4)
    assert restored.slots == 2 * len(shapes) and restored.bias_correction_rel_diff < 1e-6
    worst_ref, worst_tf1 = first_update_errors(task, made, grads, LR, CLIP, check_tf1_slots=True)
    print(
        f"{config_id}: first update vs NumPy TF1 Adam: max |diff| / max |update| = {worst_ref:.2e}; "
        f"vs TF1's AdamOptimizer: {worst_tf1:.2e}"
    )
    assert worst_ref < 1e-4 and worst_tf1 < 1e-4


def test_restore_is_strict(magenta_run_dir):
    run, _ = magenta_run_dir
    ckpt = magenta_run.read_magenta_checkpoint(str(run))
    cfg = config_lib.make_experiment(magenta_run.magenta_run_config(ckpt, "basic_rnn"))
    task = task_lib.MelodyRnnTask(cfg)
    task.build()
    broken = dict(ckpt.variables)
    del broken["fully_connected/biases/Adam_1"]
    broken["beta1_power"] = np.float32(0.5)
    bad = dataclasses.replace(ckpt, variables=broken)
    with pytest.raises(PortingError, match="fully_connected/biases/Adam_1 is missing"):
        magenta_run.restore_training_state(task.model, task.optimizer, bad)
    broken["fully_connected/biases/Adam_1"] = ckpt.variables["fully_connected/biases/Adam_1"]
    with pytest.raises(PortingError, match="beta1_power 0.5 .* global_step 3"):
        magenta_run.restore_training_state(task.model, task.optimizer, bad)


@pytest.fixture(scope="module")
def continued_run(magenta_run_dir, tmp_path_factory):
    """`melody_rnn_train --config basic_rnn --run_dir COPY` (after a failed start) one step past Magenta's step 3
    (to 4), on 8 melodies in
    one full batch without dropout (so the step's gradient is known), then once more (to 5), which resumes
    from the run's own checkpoint. Returns the run folder, digests of train/ before, the data, and both stdouts."""
    tmp = tmp_path_factory.mktemp("continue")
    run = tmp / "run1"
    shutil.copytree(magenta_run_dir[0], run)
    before = digest(run / "train")
    melodies = write_melodies(str(tmp / "training_melodies.tfrecord"), count=8)
    hparams = f"dropout_keep_prob=1.0,learning_rate={LR},clip_norm={CLIP}"
    argv = flags(config="basic_rnn", run_dir=run, sequence_example_file=melodies, hparams=hparams)
    argv += flags(set=one_batch_settings(8))
    # A start that fails on its data (nothing matches) writes nothing: the folder is still Magenta's, untouched.
    with pytest.raises(SystemExit):
        train_cli.main(argv[:4] + ["--sequence_example_file", str(tmp / "none*.tfrecord")] + argv[6:])
    assert not (run / "config.json").exists() and magenta_run.run_folder_kind(str(run)) == "magenta"
    assert digest(run / "train") == before
    outs = []
    for total in ("4", "5"):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert train_cli.main(argv + ["--num_training_steps", total]) == 0
        outs.append(buf.getvalue())
    return run, before, melodies, outs


def test_continue_magenta_run_cli_first_update_is_tf1_adam(continued_run, magenta_run_dir, capsys):
    run, before, melodies, (first, second) = continued_run
    assert "restored from Magenta's" in first and "step 3" in first
    assert "steps 3 -> 4" in first
    # The second call resumed from the run's own checkpoint, not from Magenta's.
    assert "restored from Magenta's" not in second and "steps 4 -> 5" in second
    assert magenta_run.run_folder_kind(str(run)) == "ours"
    assert tf.train.latest_checkpoint(str(run)).endswith("ckpt-5")
    assert {k: v for k, v in digest(run / "train").items() if k in before} == before  # Magenta's files untouched
    # The first step's gradient, from Magenta's weights on the one batch of all 8 melodies (mean over valid steps).
    model, _, ckpt = magenta_run.load_magenta_model(str(magenta_run_dir[0]), "basic_rnn")
    grads = first_step_gradients(model, melodies, 38, 8)
    tuned, _, _ = generate.load_run_checkpoint(str(run), str(run / "ckpt-4"))
    after = {name: var.numpy() for name, var in tuned.tf1_variables().items()}
    worst = worst_adam_step_error(ckpt.variables, grads, after, LR, CLIP)
    with capsys.disabled():
        print(f"CLI first step after resuming vs NumPy TF1 Adam: max |diff| / max |update| = {worst:.2e}")
    assert worst < 1e-4


def test_save_generator_bundle_from_magenta_folder_and_ours(magenta_run_dir, continued_run, tmp_path, capsys):
    run, made = magenta_run_dir
    out = tmp_path / "basic_rnn.mag"
    assert (
        generate_cli.main(
            [
                "--config",
                "basic_rnn",
                "--run_dir",
                str(run),
                "--save_generator_bundle",
                "--bundle_file",
                str(out),
                "--bundle_description",
                "from Magenta",
            ]
        )
        == 0
    )
    assert "wrote bundle" in capsys.readouterr().out
    bundle = bundle_lib.read_bundle(str(out))
    assert bundle.generator_id == "basic_rnn" and bundle.bundle_description == "from Magenta"
    assert int(bundle.variables["global_step"]) == 3
    want = {k: made["variables"][k] for k in model_names(made["variables"])}
    assert set(bundle.variables) - {"global_step"} == set(want)
    for name, value in want.items():
        np.testing.assert_array_equal(bundle.variables[name], value, err_msg=name)  # bit for bit
    model, _, _ = bundle_lib.load_bundle(str(out))
    for name, var in model.tf1_variables().items():
        np.testing.assert_array_equal(var.numpy(), want[name], err_msg=name)
    # From one of our run folders (the continued run, once it has its own checkpoint).
    ours = continued_run[0]
    out2 = tmp_path / "ours.mag"
    assert generate_cli.main(["--run_dir", str(ours), "--save_generator_bundle", "--bundle_file", str(out2)]) == 0
    tuned, _, _ = generate.load_run_checkpoint(str(ours))
    b2 = bundle_lib.read_bundle(str(out2))
    assert b2.generator_id == "basic_rnn" and int(b2.variables["global_step"]) == 5
    for name, var in tuned.tf1_variables().items():
        np.testing.assert_array_equal(b2.variables[name], var.numpy(), err_msg=name)
    # Flag rules as Magenta's: both --run_dir and --bundle_file.
    with pytest.raises(SystemExit):
        generate_cli.main(["--run_dir", str(run), "--save_generator_bundle"])


def test_restore_under_two_replica_strategy(magenta_run_dir, two_cpu_strategy):
    """The runner builds the task under its strategy: mirrored weights, slots and step take the values on
    every replica."""
    run, made = magenta_run_dir
    ckpt = magenta_run.read_magenta_checkpoint(str(run))
    cfg = config_lib.make_experiment(magenta_run.magenta_run_config(ckpt, "basic_rnn"))
    with two_cpu_strategy.scope():
        task = task_lib.MelodyRnnTask(cfg)
        task.build()
        step = tf.Variable(0, dtype=tf.int64)
        magenta_run.restore_training_state(task.model, task.optimizer, ckpt, step_variable=step)
    for name, var in task.model.tf1_variables().items():
        m, v = magenta_run.adam_slots(task.optimizer, var)
        for value, want in (
            (var, made["variables"][name]),
            (m, made["variables"][name + "/Adam"]),
            (v, made["variables"][name + "/Adam_1"]),
        ):
            replicas = two_cpu_strategy.experimental_local_results(getattr(value, "value", value))
            assert len(replicas) == 2, name
            for r in replicas:
                np.testing.assert_array_equal(np.asarray(r), want, err_msg=name)
    assert int(task.optimizer.iterations.numpy()) == 3 and int(step.numpy()) == 3
