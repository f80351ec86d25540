"""`melody_rnn_train`: train a Melody RNN from scratch or fine-tune a Magenta ``.mag`` bundle.

    # from scratch, Magenta's config and hparams (flag names as Magenta's melody_rnn_train)
    melody_rnn_train --config attention_rnn --run_dir runs/attn \\
        --sequence_example_file data/training_melodies.tfrecord [--eval_file data/eval_melodies.tfrecord] \\
        [--num_training_steps 20000] [--hparams "batch_size=64,rnn_layer_sizes=[64,64]"] [--set a.b=v]

    # fine-tune a bundle: every model variable restored from it, fresh optimizer (Magenta's warm start)
    melody_rnn_train --bundle attention_rnn.mag --run_dir runs/ft --sequence_example_file ... \\
        [--freeze cell_0] [--export_bundle runs/ft/attention_rnn_ft.mag]

    # continue a run of Magenta's own melody_rnn_train (RUN/train/model.ckpt-N, no config.json)
    melody_rnn_train --config attention_rnn --run_dir logdir/run1 --sequence_example_file ... \\
        [--num_training_steps 30000]

``--preset`` picks a named experiment (``tiny`` etc., see :mod:`melody_rnn_ext.config`) instead of
``--config``'s Magenta preset. With ``--bundle`` the model's sizes and attention layout come from
the bundle (its ``generator_details.id`` must agree with ``--config`` when both are given) and the
other hyperparameters from the preset. A run folder that already holds ``config.json`` resumes
(its saved config is reloaded; ``--set`` / ``--num_training_steps`` still apply on top) and the
bundle is then not read again: the run's own checkpoint wins.

Training goes through :class:`tfmusic.training.Runner` (strategy from ``runtime.distribution``,
XLA, TensorBoard logs in ``RUN_DIR/train``, checkpoints ``RUN_DIR/ckpt-N``). With ``--eval_file``
the final model is evaluated on it (Magenta's eval metrics; also every ``trainer.eval_every`` steps with
``--set trainer.eval_every=N``) and the numbers are written to ``RUN_DIR/eval_metrics.json`` and as ``eval/*``
TensorBoard scalars; ``--eval`` only evaluates the newest checkpoint.
``--export_bundle OUT.mag`` writes the trained model as a Magenta bundle.

A ``--run_dir`` that holds Magenta's training folder (``train/checkpoint``) and no ``config.json`` is
*continued* (:mod:`melody_rnn_ext.magenta_run`): the architecture comes from its newest checkpoint's
variables, ``--config`` (required) must fit them, the other hyperparameters are the config's preset
(``--hparams`` on top), and before the first step every weight, Adam's slots (``<var>/Adam``,
``<var>/Adam_1``) and the step (``global_step``) are restored from it by name, so the first update
is TF1 Adam's from the restored state. The run itself is ours (``config.json``, ``ckpt-N`` at the
top of ``--run_dir``; Magenta's files in ``train/`` are never modified, our TensorBoard events are
added beside Magenta's); ``--num_training_steps`` counts from Magenta's step 0, as Magenta's does.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from events_rnn import train_cli as _core
from events_rnn.train_cli import (
    EVAL_METRICS_FILENAME,
    TrainCommand,  # noqa: F401
    parse_hparams,
    run_overrides,
)
from melody_rnn_ext import CONFIG_IDS, TRAIN_PRESETS

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.TrainCommandLine(
    prog="melody_rnn_train",
    config_ids=CONFIG_IDS,
    preset_names=TRAIN_PRESETS,
    default_config="basic_rnn",
    data_help="training SequenceExample TFRecord file or glob (melody_rnn_create_dataset's output)",
)
#: The command: ``command()`` (its :class:`events_rnn.train_cli.TrainCommand`, which continues Magenta's run
#: folders with :mod:`melody_rnn_ext.magenta_run`; imports TensorFlow), ``build_parser()`` (without TensorFlow;
#: ``--help`` is this module's docstring, which says it all) and ``main(argv=None)`` (0, or 2 for bad arguments /
#: missing data).
CLI = _core.FamilyTrainCli(
    LINE, __doc__, "melody_rnn_ext", "MelodyRnnExperiment", "MelodyRnnTask", magenta_run="magenta_run", run_help=""
)
command, build_parser, main = CLI.command, CLI.build_parser, CLI.main


def make_task(cfg, dataset_fn=None):
    """A :class:`melody_rnn_ext.task.MelodyRnnTask` (see :func:`events_rnn.train_cli.make_task`); what
    ``melody_rnn_train`` trains."""
    from melody_rnn_ext import task

    return _core.make_task(task.MelodyRnnTask, cfg, dataset_fn)


def initial_config(args, parser: argparse.ArgumentParser):
    """The experiment a new run starts from (see :func:`events_rnn.train_cli.initial_config`)."""
    return _core.initial_config(command(), args, parser)


def evaluate_run(task, cfg, eval_pattern: str, max_batches: Optional[int] = None) -> dict:
    """Magenta's eval metrics of ``task.model`` over every example of ``eval_pattern`` (no dropout)."""
    return _core.evaluate_run(task, cfg, eval_pattern, max_batches)


__all__: List[str] = [
    "EVAL_METRICS_FILENAME",
    "build_parser",
    "command",
    "evaluate_run",
    "initial_config",
    "main",
    "make_task",
    "parse_hparams",
    "run_overrides",
]

if __name__ == "__main__":
    sys.exit(main())
