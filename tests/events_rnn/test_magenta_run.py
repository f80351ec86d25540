"""Magenta's own run folders of every family (RUN/train/model.ckpt-N, written by TF1 itself): continuing them
with ``<model>_train`` (weights, Adam slots, step; first update = TF1 Adam's) and generating / bundling from them
with ``<model>_generate``. The Melody RNN's own tests are in tests/melody_rnn_ext/test_magenta_run.py."""

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

from drums_rnn_ext import bundle as drums_bundle
from drums_rnn_ext import config as drums_config
from drums_rnn_ext import task as drums_task
from events_rnn import data as data_lib
from events_rnn import magenta_run
from events_rnn import task as task_lib
from events_rnn.generate_cli import load_model
from polyphony_rnn_ext import bundle as poly_bundle
from polyphony_rnn_ext import config as poly_config
from polyphony_rnn_ext import generate_cli as poly_generate_cli
from polyphony_rnn_ext import task as poly_task
from polyphony_rnn_ext import train_cli as poly_train_cli
from tests.events_rnn import tf1_reference as ref
from tests.events_rnn.family_checks import flags
from tests.events_rnn.magenta_fixture import (
    family_widths,
    first_step_gradients,
    first_update_errors,
    make_magenta_run,
    one_batch_settings,
    worst_adam_step_error,
)
from tfmusic.tf1_checkpoints import PortingError

LR, CLIP = 0.01, 0.05  # a clip small enough that real gradients get clipped
FAMILIES = {
    "polyphony": (
        poly_bundle.FAMILY,
        poly_config.PRESETS,
        poly_task.PolyphonyRnnTask,
        "polyphony_rnn_train",
        dict(layout="none"),
    ),
    # Magenta's drum_kit has attention around the first layer.
    "drum_kit": (
        drums_bundle.FAMILY,
        drums_config.PRESETS,
        drums_task.DrumsRnnTask,
        "drums_rnn_train",
        dict(layout="first_layer", attn_length=3),
    ),
}


def model_names(variables):
    return {k for k in variables if k != "global_step" and "Adam" not in k and "_power" not in k}


def digest(folder):
    return {
        os.path.basename(p): hashlib.sha256(open(p, "rb").read()).hexdigest()
        for p in sorted(glob.glob(os.path.join(folder, "*")))
    }


def write_examples(path, input_size, num_classes, count=6, seed=0):
    """``count`` random one-hot SequenceExamples (Magenta's layout) of lengths 5..10; returns ``path``."""
    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(path) as w:
        for _ in range(count):
            labels = rng.integers(0, num_classes, int(rng.integers(5, 11)))
            inputs = np.eye(input_size, dtype=np.float32)[rng.integers(0, input_size, len(labels))]
            w.write(data_lib.make_sequence_example(inputs.tolist(), labels.tolist()).SerializeToString())
    return path


@pytest.mark.parametrize("config_id", sorted(FAMILIES))
def test_first_update_after_resume_equals_tf1_adam(tmp_path, config_id):
    """Restore a family's Magenta checkpoint into its training task, apply one gradient through its Keras Adam,
    and compare with a NumPy TF1-Adam reference and with TF1's AdamOptimizer in the graph that wrote it."""
    family, presets, task_class, prog, layout = FAMILIES[config_id]
    widths = family_widths(family, config_id)
    shapes = ref.tf1_shapes(widths["input_size"], widths["num_classes"], (8, 6), layout["layout"])
    rng = np.random.default_rng(5)
    grads = {
        k: (rng.standard_normal(s) * (0.5 if i % 2 else 0.001)).astype(np.float32)  # half get clipped
        for i, (k, s) in enumerate(sorted(shapes.items()))
    }
    made = make_magenta_run(
        str(tmp_path / "run"), steps=4, learning_rate=LR, clip_norm=CLIP, next_grads=grads, **widths, **layout
    )
    runs = magenta_run.FamilyRuns(family, prog)
    assert runs.run_folder_kind(str(tmp_path / "run")) == "magenta"
    ckpt = runs.read_magenta_checkpoint(str(tmp_path / "run"))
    assert ckpt.global_step == 4 and ckpt.spec.rnn_layer_sizes == (8, 6)
    model_cfg = runs.magenta_run_config(ckpt, config_id, layout.get("attn_length"))
    hp = dataclasses.replace(model_cfg.hparams, learning_rate=LR, clip_norm=CLIP)
    cfg = dataclasses.replace(presets.get(config_id), model=dataclasses.replace(model_cfg, hparams=hp))
    task = task_class(cfg)
    task.build()
    step = tf.Variable(0, dtype=tf.int64)
    restored = runs.restore_training_state(task.model, task.optimizer, ckpt, step_variable=step)
    assert (restored.step, int(step.numpy()), int(task.optimizer.iterations.numpy())) == (4, 4, 4)
    assert restored.slots == 2 * len(shapes) and restored.bias_correction_rel_diff < 1e-6
    worst_ref, worst_tf1 = first_update_errors(task, made, grads, LR, CLIP)
    print(
        f"{config_id}: first update vs NumPy TF1 Adam: max |diff| / max |update| = {worst_ref:.2e}; "
        f"vs TF1's AdamOptimizer: {worst_tf1:.2e}"
    )
    assert worst_ref < 1e-4 and worst_tf1 < 1e-4
    # A config of the family that contradicts the variables is refused by name.
    if config_id == "drum_kit":
        with pytest.raises(magenta_run.RunFolderError, match="one_drum"):
            runs.magenta_run_config(ckpt, "one_drum")
    # Strict: a missing slot is named.
    broken = dict(ckpt.variables)
    del broken["fully_connected/biases/Adam_1"]
    with pytest.raises(PortingError, match="fully_connected/biases/Adam_1 is missing"):
        runs.restore_training_state(task.model, task.optimizer, dataclasses.replace(ckpt, variables=broken))


@pytest.fixture(scope="module")
def poly_run(tmp_path_factory):
    """A polyphony Magenta run trained 3 steps, then moved (its state file names the old absolute paths)."""
    tmp = tmp_path_factory.mktemp("poly")
    widths = family_widths(poly_bundle.FAMILY, "polyphony")
    bias = np.zeros(259, np.float32)
    bias[2] = 6.0  # STEP_END likely: random weights then still close steps when generating
    made = make_magenta_run(
        str(tmp / "elsewhere" / "run1"),
        steps=3,
        learning_rate=LR,
        clip_norm=CLIP,
        **widths,
        init_overrides={"fully_connected/biases": bias},
    )
    shutil.move(str(tmp / "elsewhere" / "run1"), str(tmp / "run1"))
    return tmp / "run1", made


def test_polyphony_generate_and_bundle_from_magenta_folder(poly_run, tmp_path, capsys):
    run, made = poly_run
    assert "elsewhere" in (run / "train" / "checkpoint").read_text()
    argv = flags(
        run_dir=run, output_dir=tmp_path / "out", num_outputs=1, num_steps=8, primer_pitches="[60, 64]", seed=0
    )
    rc = poly_generate_cli.main(argv)
    assert rc == 0, capsys.readouterr().err
    assert len(glob.glob(str(tmp_path / "out" / "*.mid"))) == 1
    loaded = poly_generate_cli.load_model(run_dir=str(run))
    assert loaded.global_step == 3 and loaded.source == str(run / "train" / "model.ckpt-3")
    x = np.eye(259, dtype=np.float32)[np.random.default_rng(0).integers(0, 259, (2, 7))]
    want, _ = ref.reference_logits({k: made["variables"][k] for k in model_names(made["variables"])}, x, "none")
    np.testing.assert_allclose(np.asarray(loaded.model(x)), want, atol=2e-6)
    out = tmp_path / "poly.mag"
    assert poly_generate_cli.main(["--run_dir", str(run), "--save_generator_bundle", "--bundle_file", str(out)]) == 0
    model, config, bundle = poly_bundle.load_bundle(str(out))
    assert bundle.generator_id == "polyphony" and int(bundle.variables["global_step"]) == 3
    for name, var in model.tf1_variables().items():
        np.testing.assert_array_equal(var.numpy(), made["variables"][name], err_msg=name)


def test_polyphony_train_continues_magenta_folder(poly_run, tmp_path, capsys):
    """`polyphony_rnn_train --run_dir COPY` one step past Magenta's step 3 (one full batch, no dropout): the
    step is TF1 Adam's from the restored slots; a second call resumes from the run's own checkpoint; the
    continued folder generates from its own checkpoint; Magenta's files are untouched."""
    run = tmp_path / "run1"
    shutil.copytree(poly_run[0], run)
    before = digest(run / "train")
    examples = write_examples(str(tmp_path / "training_poly_tracks.tfrecord"), 259, 259)
    hparams = f"dropout_keep_prob=1.0,learning_rate={LR},clip_norm={CLIP}"
    argv = flags(run_dir=run, sequence_example_file=examples, hparams=hparams, set=one_batch_settings(6))
    outs = []
    for total in ("4", "5"):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert poly_train_cli.main(argv + ["--num_training_steps", total]) == 0, capsys.readouterr().err
        outs.append(buf.getvalue())
    assert "restored from Magenta's" in outs[0] and "step 3" in outs[0] and "steps 3 -> 4" in outs[0]
    assert "restored from Magenta's" not in outs[1] and "steps 4 -> 5" in outs[1]
    assert magenta_run.run_folder_kind(str(run)) == "ours"
    assert {k: v for k, v in digest(run / "train").items() if k in before} == before
    # The first step's gradient from Magenta's weights on the one batch of all examples.
    model, _, ckpt = magenta_run.load_magenta_model(poly_bundle.FAMILY, str(poly_run[0]), "polyphony")
    grads = first_step_gradients(model, examples, 259, 6)
    tuned = load_model(poly_bundle.FAMILY, run_dir=str(run), prog="polyphony_rnn_generate")
    assert tuned.global_step == 5 and tuned.source.endswith("ckpt-5")
    after_step_4, _, _ = magenta_run.load_magenta_model(poly_bundle.FAMILY, str(poly_run[0]), "polyphony")
    task_lib.restore_model(after_step_4, str(run / "ckpt-4"))  # the run's own checkpoint after one step
    step_4 = after_step_4.tf1_variables()
    worst = worst_adam_step_error(ckpt.variables, grads, {name: step_4[name].numpy() for name in grads}, LR, CLIP)
    with capsys.disabled():
        print(
            f"polyphony_rnn_train first step after resuming vs NumPy TF1 Adam: max |diff| / max |update| = {worst:.2e}"
        )
    assert worst < 1e-4
    assert tuned.config.config_id == "polyphony"
    # The continued folder (now ours) generates from its own newest checkpoint.
    rc = poly_generate_cli.main(flags(run_dir=run, output_dir=tmp_path / "out", num_outputs=1, num_steps=8, seed=0))
    assert rc == 0 and "ckpt" not in capsys.readouterr().err


def test_errors_name_the_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(magenta_run.RunFolderError, match="expected either config.json .* polyphony_rnn_train"):
        magenta_run.run_folder_kind(str(tmp_path / "empty"), "polyphony_rnn_train")
    assert poly_generate_cli.main(["--run_dir", str(tmp_path / "empty"), "--output_dir", str(tmp_path / "o")]) == 1
    assert "expected either config.json" in capsys.readouterr().err
