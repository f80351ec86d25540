"""A tiny regression task that drives tfmusic.training in tests (importable and runnable).

Run as ``python -m tests.tfmusic.toy_task MODEL_DIR [--set a.b=v ...]``: trains, printing
``START <step>`` and ``END <step>`` lines so a parent process can watch it.
"""

import argparse
import dataclasses
import os
import pathlib
import sys

import keras
import numpy as np
import tensorflow as tf

from tfmusic import config as config_lib
from tfmusic import runtime as runtime_lib
from tfmusic import training


@dataclasses.dataclass(frozen=True)
class ToyModelConfig:
    hidden: int = 16
    learning_rate: float = 0.05
    clip_norm: float = 1.0
    seed: int = 3


@dataclasses.dataclass(frozen=True)
class ToyExperiment:
    model: ToyModelConfig = ToyModelConfig()
    trainer: training.TrainerConfig = training.TrainerConfig(
        train_steps=4, global_batch_size=8, checkpoint_every=2, summary_every=1, progress=False
    )
    runtime: runtime_lib.RuntimeConfig = runtime_lib.RuntimeConfig(distribution="one_device")


def child_command(model_dir, *overrides: str) -> tuple:
    """``(argv, env)`` that run this task in a child process on the CPU, from the repository root:
    ``python -m tests.tfmusic.toy_task MODEL_DIR --set OVERRIDE ...`` (``argv[:4]`` is the command without
    overrides)."""
    repo = pathlib.Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(repo), TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    argv = [sys.executable, "-m", "tests.tfmusic.toy_task", str(model_dir)]
    for override in overrides:
        argv += ["--set", override]
    return argv, env


def toy_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype(np.float32)
    y = (x @ rng.normal(size=(5, 1)) + 0.1 * np.sin(3 * x[:, :1])).astype(np.float32)
    return x, y


class ToyTask(training.Task):
    def __init__(self, config: ToyExperiment):
        self.config = config

    def build(self):
        keras.utils.set_random_seed(self.config.model.seed)
        self.model = keras.Sequential(
            [
                keras.Input((5,)),
                keras.layers.Dense(self.config.model.hidden, activation="tanh", name="hidden"),
                keras.layers.Dense(1, name="out"),
            ]
        )
        self.optimizer = keras.optimizers.Adam(self.config.model.learning_rate)
        self.optimizer.build(self.model.trainable_variables)

    def checkpoint_items(self):
        return {"model": self.model, "optimizer": self.optimizer}

    def build_inputs(self, ctx):
        x, y = toy_data()
        bs = ctx.get_per_replica_batch_size(self.config.trainer.global_batch_size)
        return tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(bs, drop_remainder=True)

    def phases(self):
        gbs = self.config.trainer.global_batch_size

        def loss_fn(batch):
            x, y = batch
            pred = self.model(x, training=True)
            per_example = tf.square(pred - y)
            loss = training.global_batch_mean(per_example, gbs)
            return loss, {"mae": training.global_batch_mean(tf.abs(pred - y), gbs)}

        return [
            training.GradientPhase(
                "fit",
                loss_fn,
                lambda: self.model.trainable_variables,
                self.optimizer,
                clip_norm=self.config.model.clip_norm,
            )
        ]


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    args = parser.parse_args(argv)
    cfg, resumed = config_lib.resolve_run_config(args.model_dir, ToyExperiment(), args.overrides)
    runner = training.Runner(ToyTask(cfg), cfg, args.model_dir)
    print("START", runner.restore(), "resumed" if resumed else "new", flush=True)
    result = runner.train()
    print("END", result.final_step, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
