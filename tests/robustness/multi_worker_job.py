"""One worker of the multi-worker drill (run by ``test_multi_worker.py``, one process per worker).

``python -m tests.robustness.multi_worker_job FAMILY MODEL_DIR WEIGHTS_OUT [--steps N]`` with
``TF_CONFIG`` set: builds the family's tiny preset under ``MultiWorkerMirroredStrategy`` (the
strategy is made first, before any other TensorFlow op, as TensorFlow requires), trains through
the shared runner (resuming from MODEL_DIR), prints ``START <step>`` / ``END <step>``, and writes
the trained weights to WEIGHTS_OUT (``.npz``; one array per variable in model order).
"""

import argparse
import sys
from typing import Callable, List, Tuple

import numpy as np


def _gansynth(steps: int, ckpt_every: int):
    from gansynth_tf import config as gconfig
    from gansynth_tf import gan
    from tfmusic import config as config_lib

    # XLA off: with TF 2.21 the XLA-compiled two-phase GAN step never completes under
    # MultiWorkerMirroredStrategy on CPU collectives (seen in this drill; one-phase tasks are fine).
    cfg = config_lib.apply_overrides(
        gconfig.get_preset("tiny"),
        [
            "runtime.distribution=multi_worker",
            "runtime.jit_compile=false",
            f"trainer.train_steps={steps}",
            f"trainer.checkpoint_every={ckpt_every}",
            "trainer.max_checkpoints=3",
        ],
    )

    def build_task():
        fn = gan.synthetic_dataset_fn(32, cfg.data.spectral.spec_shape, cfg.data.num_pitches, seed=0)
        return gan.GANSynthTask(cfg, fn)

    def weights(task):
        return list(task.generator.weights) + list(task.discriminator.weights)

    return cfg, build_task, weights


SYNTHETIC_EXAMPLES = 64
SYNTHETIC_STEPS = 32


def _synthetic_melodies(
    config_id: str = "basic_rnn", count: int = SYNTHETIC_EXAMPLES, steps: int = SYNTHETIC_STEPS, seed: int = 0
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encoded arpeggio melodies with holds and note-offs (the real encoder, fixed seed).

    Returns (inputs [count, steps - 1, input_size] float32, labels [count, steps - 1] int64,
    lengths [count] int32), zero-padded after each melody's length (between steps // 2 and steps - 1).
    """
    import note_seq

    from melody_rnn_ext import encodings

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


def _synthetic_melody_dataset_fn(config_id: str = "basic_rnn", seed: int = 0):
    """A ``DatasetFn`` (see :data:`melody_rnn_ext.task.DatasetFn`) of endless batches of
    :func:`_synthetic_melodies`, sharded by input pipeline, in a fixed order."""
    arrays = _synthetic_melodies(config_id, seed=seed)

    def dataset_fn(ctx, batch_size):
        import tensorflow as tf

        ds = tf.data.Dataset.from_tensor_slices(arrays)
        if ctx is not None and ctx.num_input_pipelines > 1:
            ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        return ds.repeat().batch(batch_size, drop_remainder=True)

    return dataset_fn


def _melody_rnn(steps: int, ckpt_every: int) -> Tuple[object, Callable[[], object], Callable[[object], List]]:
    """(cfg, build_task, weights) for the Melody RNN's drill.

    ``cfg``: the ``tiny`` Melody RNN experiment with ``runtime.distribution=multi_worker``, XLA off,
    ``trainer.train_steps=steps``, ``trainer.checkpoint_every=ckpt_every``. ``build_task()``: the
    training task (checkpoints hold every model variable, see
    :func:`melody_rnn_ext.train_cli.make_task`) on :func:`_synthetic_melody_dataset_fn`.
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
        return train_cli.make_task(cfg, _synthetic_melody_dataset_fn(cfg.model.config_id, seed=cfg.seed))

    def weights(task):
        return list(task.model.weights)

    return cfg, build_task, weights


FAMILIES = {"gansynth": _gansynth, "melody_rnn": _melody_rnn}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("family", choices=sorted(FAMILIES))
    parser.add_argument("model_dir")
    parser.add_argument("weights_out")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--checkpoint_every", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args(argv)

    from tfmusic import runtime as runtime_lib

    cfg, build_task, weights = FAMILIES[args.family](args.steps, args.checkpoint_every)
    from tfmusic import config as config_lib

    cfg = config_lib.apply_overrides(cfg, args.overrides)
    strategy = runtime_lib.make_strategy(cfg.runtime)
    from tfmusic import training

    runner = training.Runner(build_task(), cfg, args.model_dir, strategy=strategy)
    print("START", runner.restore(), strategy.num_replicas_in_sync, flush=True)
    result = runner.train()
    print("END", result.final_step, flush=True)
    arrays = {f"w{i:04d}": np.asarray(v.numpy()) for i, v in enumerate(weights(runner.task))}
    np.savez(args.weights_out, **arrays)
    return 0


if __name__ == "__main__":
    sys.exit(main())
