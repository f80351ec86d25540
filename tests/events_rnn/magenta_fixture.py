"""Magenta ``<model>_train`` run folders (any events-RNN family) in the exact on-disk format, made by TF1 itself.

:func:`make_magenta_run` builds a graph-mode (``tf.compat.v1``) training graph with Magenta's
variable names and shapes (``tf1_reference.tf1_shapes`` for the family's widths, e.g.
:func:`family_widths`), the events-RNN cell (``events_rnn_graph``, the same for every family) run over a few
steps, softmax cross-entropy, per-tensor gradient clipping (tf-slim's ``create_train_op(
clip_gradient_norm=...)``: ``clip_by_norm`` on each gradient), ``tf.train.AdamOptimizer`` with
``apply_gradients(global_step=...)``, and saves with a default ``tf.train.Saver`` (V2,
``model.ckpt-N.{index,data-00000-of-00001,meta}`` and the ``checkpoint`` state file with
absolute paths) into ``RUN/train/``, as Magenta's ``MonitoredTrainingSession`` does.

It can also apply one more TF1 Adam update with given gradients after saving (``next_grads``),
so tests compare a resumed Keras update with TF1's own; :func:`tf1_adam_reference` is TF1's update in NumPy.
"""

from __future__ import annotations

import os
from typing import Dict, Optional

import numpy as np

from tests.events_rnn import tf1_reference as ref


def family_widths(family, config_id: str) -> dict:
    """``{"input_size", "num_classes"}`` of ``config_id`` in ``family`` (an ``events_rnn.bundle.ModelFamily``)."""
    input_size, num_classes = family.widths(config_id)
    return {"input_size": int(input_size), "num_classes": int(num_classes)}


def tf1_adam_reference(var, g, m, v, b1p, b2p, lr, clip_norm, eps=1e-8, b1=0.9, b2=0.999):
    """TF1's AdamOptimizer update in float64 after tf-slim's per-tensor clip_by_norm; returns (var, m, v)."""
    var, g, m, v = (np.asarray(a, np.float64) for a in (var, g, m, v))
    norm = np.sqrt((g * g).sum())
    g = g * clip_norm / max(norm, clip_norm)
    lr_t = lr * np.sqrt(1 - np.float64(b2p)) / (1 - np.float64(b1p))
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return var - lr_t * m / (np.sqrt(v) + eps), m, v


def tf1_adam_from(saved: Dict[str, np.ndarray], name: str, grad, learning_rate: float, clip_norm: float):
    """:func:`tf1_adam_reference` of variable ``name`` with gradient ``grad``, from a Magenta checkpoint's ``saved``
    variables (the weight, its ``/Adam`` and ``/Adam_1`` slots, ``beta1_power``, ``beta2_power``): (var, m, v)."""
    slots = (saved[name + "/Adam"], saved[name + "/Adam_1"], saved["beta1_power"], saved["beta2_power"])
    return tf1_adam_reference(saved[name], grad, *slots, learning_rate, clip_norm)


def one_batch_settings(batch_size: int) -> list:
    """``--set`` values of a ``<model>_train`` run whose every step is one known batch: ``batch_size`` examples,
    no XLA, one device, no progress bar."""
    return [
        f"trainer.global_batch_size={batch_size}",
        "runtime.jit_compile=false",
        "runtime.distribution=one_device",
        "trainer.progress=false",
    ]


def first_step_gradients(model, examples: str, input_size: int, batch_size: int) -> Dict[str, object]:
    """``{TF1 name: gradient}`` of ``model``'s mean cross-entropy over the valid steps (no dropout) of the one batch
    of all ``batch_size`` SequenceExamples in ``examples``: what a training step on them applies."""
    import tensorflow as tf

    from events_rnn import data as data_lib
    from events_rnn import task as task_lib

    ((inputs, labels, lengths),) = list(
        data_lib.make_sequence_example_dataset(examples, input_size, batch_size, shuffle=False)
    )
    names = model.tf1_variables()
    with tf.GradientTape() as tape:
        s = task_lib.step_statistics(model(inputs, training=False), labels, lengths, 0)
        loss = s["cross_entropy"] / s["steps"]
    return dict(zip(names, tape.gradient(loss, list(names.values()))))


def worst_adam_step_error(saved: Dict[str, np.ndarray], grads, after, learning_rate: float, clip_norm: float) -> float:
    """Max over the variables of max |``after`` - TF1 Adam's update| / max |TF1 Adam's update|, where TF1 Adam
    (:func:`tf1_adam_reference`) starts from a Magenta checkpoint's ``saved`` variables (weights, ``<var>/Adam``,
    ``<var>/Adam_1``, ``beta1_power``, ``beta2_power``) and applies ``grads``; ``after``: ``{name: value}``."""
    worst = 0.0
    for name, value in after.items():
        want, _, _ = tf1_adam_from(saved, name, np.asarray(grads[name]), learning_rate, clip_norm)
        worst = max(worst, np.abs(np.asarray(value) - want).max() / np.abs(want - saved[name]).max())
    return worst


def first_update_errors(
    task,
    made: dict,
    grads: Dict[str, np.ndarray],
    learning_rate: float,
    clip_norm: float,
    check_tf1_slots: bool = False,
):
    """Apply ``grads`` once through a task restored from the Magenta run ``made`` (by :func:`make_magenta_run`
    with ``next_grads=grads``) and measure the update against TF1 Adam.

    Asserts the Keras Adam slots equal the NumPy reference's (and TF1's own, if ``check_tf1_slots``).
    Returns ``(worst_ref, worst_tf1)``: max |diff| / max |update| over the variables, against the NumPy
    reference and against TF1's own ``AdamOptimizer`` step.
    """
    import tensorflow as tf

    from events_rnn import magenta_run

    names = task.model.tf1_variables()
    by_var = {id(v): k for k, v in names.items()}
    task.optimizer.apply_gradients([(tf.constant(grads[by_var[id(v)]]), v) for v in task.model.trainable_variables])
    saved, tf1_next = made["variables"], made["tf1_next"]
    worst_ref = worst_tf1 = 0.0
    for name, var in names.items():
        want, m, v = tf1_adam_from(saved, name, grads[name], learning_rate, clip_norm)
        got = var.numpy().astype(np.float64)
        delta = np.abs(want - saved[name]).max()
        worst_ref = max(worst_ref, np.abs(got - want).max() / delta)
        worst_tf1 = max(worst_tf1, np.abs(got - tf1_next[name]).max() / delta)
        km, kv = magenta_run.adam_slots(task.optimizer, var)
        np.testing.assert_allclose(km.numpy(), m, rtol=1e-5, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(kv.numpy(), v, rtol=1e-5, atol=1e-12, err_msg=name)
        if check_tf1_slots:
            np.testing.assert_allclose(km.numpy(), tf1_next[name + "/Adam"], rtol=1e-5, atol=1e-9, err_msg=name)
    return worst_ref, worst_tf1


def make_magenta_run(
    run_dir: str,
    input_size: int,
    num_classes: int,
    sizes=(8, 6),
    layout: str = "none",
    attn_length: int = 0,
    steps: int = 3,
    learning_rate: float = 0.001,
    clip_norm: float = 5.0,
    naming: str = "kernel",
    seed: int = 0,
    save_every: int = 2,
    next_grads: Optional[Dict[str, np.ndarray]] = None,
    init_overrides: Optional[Dict[str, np.ndarray]] = None,
) -> dict:
    """Train a tiny Magenta graph ``steps`` Adam steps and save it into ``run_dir/train`` (see module doc).

    Returns ``{"variables": {name: array} as saved at the last step, "prefix": its checkpoint prefix,
    "shapes": model variable shapes, "tf1_next": {name: array} after one more TF1 update with
    next_grads (clipped as slim does), or None}``. Checkpoints are saved every ``save_every`` steps
    and at the last one. ``init_overrides`` replaces initial values (e.g. an output bias that makes a
    class likely, so that generation from the run terminates its steps).
    """
    import tensorflow as tf

    from events_rnn import bundle as bundle_lib

    v1 = tf.compat.v1
    shapes = ref.tf1_shapes(input_size, num_classes, sizes, layout, naming)
    init = ref.random_weights(shapes, seed=seed)
    init.update({k: np.asarray(v, np.float32) for k, v in (init_overrides or {}).items()})
    spec = bundle_lib.ModelSpec(input_size, num_classes, tuple(sizes), layout, naming)
    rng = np.random.default_rng(seed + 1)
    batch, time_steps = 3, 5
    x = rng.standard_normal((batch, time_steps, input_size)).astype(np.float32)
    y = rng.integers(0, num_classes, (batch, time_steps))
    train_dir = os.path.join(os.fspath(run_dir), "train")
    os.makedirs(train_dir, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        tf_vars = {}
        for name, value in init.items():
            scope, leaf = name.rsplit("/", 1)
            with v1.variable_scope(scope):
                tf_vars[name] = v1.get_variable(leaf, initializer=value)
        assert all(v.op.name == k for k, v in tf_vars.items())
        step_fn = bundle_lib.tf1_step_fn(spec, attn_length, lambda n: tf_vars[n].value())
        state = tuple(tf.zeros([batch, n]) for n in bundle_lib.state_sizes(spec, attn_length))
        outs = []
        for t in range(time_steps):
            out, state = step_fn(tf.constant(x[:, t]), state)
            outs.append(out)
        w, b = tf_vars["fully_connected/weights"], tf_vars["fully_connected/biases"]
        logits = tf.matmul(tf.concat(outs, 0), w) + b
        labels = tf.constant(y.T.reshape(-1))
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        global_step = v1.train.get_or_create_global_step()
        optimizer = v1.train.AdamOptimizer(learning_rate=learning_rate)
        variables = list(tf_vars.values())
        grads = tf.gradients(loss, variables)
        clipped = [tf.clip_by_norm(g, clip_norm) for g in grads]
        train_op = optimizer.apply_gradients(zip(clipped, variables), global_step=global_step)
        placeholders = [v1.placeholder(tf.float32, v.shape) for v in variables]
        next_op = optimizer.apply_gradients(zip([tf.clip_by_norm(p, clip_norm) for p in placeholders], variables))
        saver = v1.train.Saver(max_to_keep=10)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for i in range(1, steps + 1):
                sess.run(train_op)
                if i % save_every == 0 or i == steps:
                    prefix = saver.save(sess, os.path.join(train_dir, "model.ckpt"), global_step=global_step)
            saved = {v.op.name: value for v, value in zip(v1.global_variables(), sess.run(v1.global_variables()))}
            tf1_next = None
            if next_grads is not None:
                sess.run(next_op, {p: next_grads[v.op.name] for p, v in zip(placeholders, variables)})
                tf1_next = {
                    v.op.name: value for v, value in zip(v1.global_variables(), sess.run(v1.global_variables()))
                }
    return {"variables": saved, "prefix": prefix, "shapes": shapes, "tf1_next": tf1_next}
