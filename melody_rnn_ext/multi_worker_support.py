"""The Melody RNN's part of the multi-worker drill (``tests/robustness/multi_worker_job.py``).

:func:`tiny_job` gives the tiny experiment under ``MultiWorkerMirroredStrategy`` and a task on
deterministic synthetic melodies (no files), so that two worker processes train in step,
checkpoint, get killed and resume.
"""

from __future__ import annotations

from typing import Callable, List, Tuple

import numpy as np

from melody_rnn_ext import encodings

SYNTHETIC_EXAMPLES = 64
SYNTHETIC_STEPS = 32


def synthetic_melodies(
    config_id: str = "basic_rnn", count: int = SYNTHETIC_EXAMPLES, steps: int = SYNTHETIC_STEPS, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoded arpeggio melodies with holds and note-offs (the real encoder, fixed seed).

    Returns (inputs [count, steps - 1, input_size] float32, labels [count, steps - 1] int64,
    lengths [count] int32), zero-padded after each melody's length (between steps // 2 and steps - 1).
    """
    import note_seq

    rng = np.random.default_rng(seed)
    enc = encodings.make_encoder_decoder(config_id)
    n_in = encodings.input_size(config_id)
    inputs = np.zeros((count, steps - 1, n_in), np.float32)
    labels = np.zeros((count, steps - 1), np.int64)
    lengths = np.zeros(count, np.int32)
    for i in range(count):
        base = int(rng.integers(55, 70))
        pattern = [base, -2, base + 4, -2, base + 7, -1, base + 12, -2]
        length = int(rng.integers(steps // 2 + 1, steps + 1))
        x, y = encodings.squash_and_encode(config_id, note_seq.Melody((pattern * steps)[:length]), enc)
        inputs[i, : len(y)] = x
        labels[i, : len(y)] = y
        lengths[i] = len(y)
    return inputs, labels, lengths


def synthetic_dataset_fn(config_id: str = "basic_rnn", seed: int = 0):
    """A ``DatasetFn`` (see :data:`melody_rnn_ext.task.DatasetFn`) of endless batches of
    :func:`synthetic_melodies`, sharded by input pipeline, in a fixed order."""
    arrays = synthetic_melodies(config_id, seed=seed)

    def dataset_fn(ctx, batch_size):
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices(arrays)
        if ctx is not None and ctx.num_input_pipelines > 1:
            ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        return ds.repeat().batch(batch_size, drop_remainder=True)

    return dataset_fn


def tiny_job(steps: int, ckpt_every: int) -> Tuple[object, Callable[[], object], Callable[[object], List]]:
    """(cfg, build_task, weights) for the drill.

    ``cfg``: the ``tiny`` Melody RNN experiment with ``runtime.distribution=multi_worker``, XLA off,
    ``trainer.train_steps=steps``, ``trainer.checkpoint_every=ckpt_every``. ``build_task()``: the
    training task (checkpoints hold every model variable, see
    :func:`melody_rnn_ext.train_cli.make_task`) on :func:`synthetic_dataset_fn`.
    ``weights(task)``: the model's variables in model order.
    """
    from melody_rnn_ext import config as config_lib
    from melody_rnn_ext import train_cli

    # XLA off: on the loaded 2-core test machine, compiling in each of the drill's three two-process
    # phases pushed the resumed phase past the drill's 300 s limit (the XLA clean phase passed).
    cfg = config_lib.get_preset(
        "tiny",
        [
            "runtime.distribution=multi_worker",
            "runtime.jit_compile=false",
            f"trainer.train_steps={steps}",
            f"trainer.checkpoint_every={ckpt_every}",
            "trainer.max_checkpoints=3",
            "trainer.progress=false",
        ],
    )

    def build_task():
        return train_cli.make_task(cfg, synthetic_dataset_fn(cfg.model.config_id, seed=cfg.seed))

    def weights(task):
        return list(task.model.weights)

    return cfg, build_task, weights
