"""What the events-RNN family tests (Drums, Improv, Performance, Polyphony RNN) share: command lines built from
keywords, ``<model>_train`` runs on tiny presets, Magenta's dataset files, Magenta run folders written by TF1
itself, and the bundle check every family runs (strict port, NumPy TF1 parity, round trip)."""

from __future__ import annotations

import json
import os

import numpy as np

from tests.events_rnn import tf1_reference as ref

#: No XLA: compiling would cost more than the few steps the tests train.
FAST = ["--set", "runtime.jit_compile=false"]


def flags(**values) -> list:
    """``["--name", "value", ...]`` of the keywords in their order (values as ``str``; ``True``: only
    ``--name``; a list: ``--name`` once per item)."""
    out = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            out += [f"--{name}"] if item is True else [f"--{name}", str(item)]
    return out


def magenta_hparams(hparams) -> tuple:
    """(batch_size, rnn_layer_sizes, dropout_keep_prob, clip_norm, attn_length, learning_rate) of ``hparams`` (an
    :class:`events_rnn.config.EventsRnnHParams`): what Magenta's configs fix."""
    hp = hparams
    return hp.batch_size, hp.rnn_layer_sizes, hp.dropout_keep_prob, hp.clip_norm, hp.attn_length, hp.learning_rate


def train(train_cli, run_dir, data, steps: int, preset: str = "tiny", **more) -> None:
    """``<model>_train --preset PRESET --run_dir RUN_DIR --sequence_example_file DATA --num_training_steps STEPS``
    plus ``more`` (:func:`flags`), without XLA; asserts it exits 0."""
    argv = flags(preset=preset, run_dir=run_dir, sequence_example_file=data, num_training_steps=steps, **more)
    assert train_cli.main(argv + FAST) == 0


def create_dataset(create_dataset_cli, tmp, sequences, config: str, eval_ratio: float, out_name: str) -> tuple:
    """Writes ``sequences`` to ``tmp/ns.tfrecord`` and runs ``<model>_create_dataset --config CONFIG`` on it into
    ``tmp/OUT_NAME``; asserts it exits 0. Returns (the input file, the output folder)."""
    from pipelines.note_sequence_io import write_note_sequences

    path = write_note_sequences(str(tmp / "ns.tfrecord"), sequences)
    out = tmp / out_name
    argv = flags(config=config, input=path, output_dir=out, eval_ratio=eval_ratio, no_progress=True)
    assert create_dataset_cli.main(argv) == 0
    return path, out


def dataset_files(out, command: str, kind: str) -> dict:
    """Asserts that ``out`` holds exactly Magenta's files of ``command``: ``training_<kind>.tfrecord``,
    ``eval_<kind>.tfrecord`` and ``<command>_stats.json``; returns the stats JSON."""
    stats = f"{command}_stats.json"
    assert sorted(os.listdir(out)) == sorted([stats, f"eval_{kind}.tfrecord", f"training_{kind}.tfrecord"])
    return json.loads((out / stats).read_text())


def save_magenta_run(model, run_dir, step: int) -> None:
    """``RUN_DIR/train/model.ckpt-STEP``: ``model``'s weights under their TF1 names and ``global_step``, saved by
    TF1's own ``Saver`` (a run folder of Magenta's ``<model>_train``)."""
    import tensorflow as tf

    train = run_dir / "train"
    train.mkdir(parents=True)
    variables = {name: v.numpy() for name, v in model.tf1_variables().items()}
    with tf.Graph().as_default():
        tf_vars = [tf.compat.v1.Variable(v, name=n) for n, v in variables.items()]
        global_step = tf.compat.v1.Variable(np.int64(step), name="global_step")
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver(tf_vars + [global_step]).save(sess, str(train / "model.ckpt"), global_step=step)


def assert_same_weights(a, b) -> None:
    """Every weight of Keras model ``a`` equals ``b``'s, bit for bit."""
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(x.numpy(), y.numpy())


def check_magenta_bundle(
    bundle_lib, tmp_path, config_id, sizes=(16, 12), layout="none", attn=0, seed=0, steps=9, global_step=1, rewrite=None
) -> None:
    """A Magenta-layout ``.mag`` of ``config_id`` (random weights ``seed``, ``sizes``, attention ``layout``) loads
    through ``bundle_lib`` (a family's bundle module) with the id, layer sizes and ``attn_length`` ``attn``; its
    logits on ``steps`` random input steps match the NumPy TF1 reference; written back by ``bundle_lib.write_bundle``
    (keywords ``rewrite``), it loads back with the same id, every variable bit-exact, and a metagraph unless
    ``rewrite`` says ``include_metagraph=False``."""
    width, classes = bundle_lib._widths(config_id)
    weights = ref.random_weights(ref.tf1_shapes(width, classes, sizes, layout), seed=seed)
    extra = {"global_step": np.int64(global_step)}
    path = ref.write_mag(str(tmp_path / f"{config_id}.mag"), weights, config_id, extra=extra)
    model, config, _ = bundle_lib.load_bundle(path)
    assert config.config_id == config_id and config.hparams.attn_length == attn
    assert config.hparams.rnn_layer_sizes == tuple(sizes)
    x = np.random.default_rng(0).integers(0, 2, (2, steps, width)).astype(np.float32)
    want, _ = ref.reference_logits(weights, x, layout, attn)
    assert np.abs(np.asarray(model(x), np.float64) - want).max() < 1e-5
    rewrite = rewrite or {}
    back = bundle_lib.load_bundle(bundle_lib.write_bundle(model, config, str(tmp_path / "ours.mag"), **rewrite))[2]
    assert back.generator_id == config_id and (back.metagraph_size > 0) == rewrite.get("include_metagraph", True)
    for name, value in weights.items():
        np.testing.assert_array_equal(back.variables[name], value)
