"""`performance_rnn_train`: train a Performance RNN from scratch or fine-tune a Magenta ``.mag``.

    performance_rnn_train --config performance_with_dynamics --run_dir runs/perf \\
        --sequence_example_file data/training_performances.tfrecord \\
        [--eval_file data/eval_performances.tfrecord] [--num_training_steps 20000] \\
        [--hparams "batch_size=32,rnn_layer_sizes=[256,256]"] [--set a.b=v]
    performance_rnn_train --bundle performance_with_dynamics.mag --run_dir runs/ft --sequence_example_file ... \\
        [--freeze cell_0] [--export_bundle runs/ft/perf_ft.mag]

The shared training command (:mod:`events_rnn.train_cli`) with the Performance RNN's family, presets
(Magenta's seven configs, ``tiny``, ``tiny_conditioned``) and task; Magenta's hparams (batch 64, 3×512,
keep 1.0, clip 3, lr 0.001).

A ``--run_dir`` holding a run of Magenta's own ``performance_rnn_train`` (``train/checkpoint``, ``train/model.ckpt-N``) is
continued: weights, Adam slots and ``global_step`` restored by name before the first step
(:mod:`events_rnn.magenta_run`, as for every family).
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from events_rnn import train_cli as _core
from performance_rnn_ext import CONFIG_IDS, TRAIN_PRESETS
from tfmusic import cli_support

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.TrainCommandLine(
    prog="performance_rnn_train",
    config_ids=CONFIG_IDS,
    preset_names=TRAIN_PRESETS,
    default_config="performance",
    data_help="training SequenceExample TFRecord file or glob "
    "(performance_rnn_create_dataset's training_performances.tfrecord)",
)


def command() -> _core.TrainCommand:
    """``performance_rnn_train`` as a :class:`events_rnn.train_cli.TrainCommand`."""
    from performance_rnn_ext import bundle, config, task

    return _core.TrainCommand(
        prog=LINE.prog,
        family=bundle.FAMILY,
        presets=config.PRESETS,
        experiment_class=config.PerformanceRnnExperiment,
        task_class=task.PerformanceRnnTask,
        default_config=LINE.default_config,
        data_help=LINE.data_help,
    )


def build_parser():
    """The command line of ``performance_rnn_train`` (built without importing TensorFlow)."""
    return _core.build_parser(LINE, __doc__)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``performance_rnn_train``; 0, or 2 for bad arguments / missing data / a misfit bundle."""
    cli_support.start(argv)
    return _core.main(command, argv, __doc__, line=LINE)


if __name__ == "__main__":
    sys.exit(main())
