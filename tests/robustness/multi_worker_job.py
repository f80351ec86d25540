"""One worker of the multi-worker drill (run by ``test_multi_worker.py``, one process per worker).

``python -m tests.robustness.multi_worker_job FAMILY MODEL_DIR WEIGHTS_OUT [--steps N]`` with
``TF_CONFIG`` set: builds the family's tiny preset under ``MultiWorkerMirroredStrategy`` (the
strategy is made first, before any other TensorFlow op, as TensorFlow requires), trains through
the shared runner (resuming from MODEL_DIR), prints ``START <step>`` / ``END <step>``, and writes
the trained weights to WEIGHTS_OUT (``.npz``; one array per variable in model order).
"""

import argparse
import sys

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


def _melody_rnn(steps: int, ckpt_every: int):
    from melody_rnn_ext import multi_worker_support  # noqa: F401  (added when the family lands)

    return multi_worker_support.tiny_job(steps, ckpt_every)


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
