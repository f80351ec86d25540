"""`improv_rnn_train`: train an Improv RNN from scratch or fine-tune a Magenta ``.mag``.

    improv_rnn_train --config attention_improv --run_dir runs/improv \\
        --sequence_example_file data/training_lead_sheets.tfrecord [--eval_file data/eval_lead_sheets.tfrecord] \\
        [--num_training_steps 20000] [--hparams "batch_size=64,rnn_layer_sizes=[128,128]"] [--set a.b=v]
    improv_rnn_train --bundle chord_pitches_improv.mag --run_dir runs/ft --sequence_example_file ... \\
        [--freeze cell_0] [--export_bundle runs/ft/improv_ft.mag]

The shared training command (:mod:`events_rnn.train_cli`) with the Improv RNN's family, presets
(``basic_improv``, ``attention_improv``, ``chord_pitches_improv``, ``tiny``, ``tiny_attention``) and task.
The SequenceExamples are those ``improv_rnn_create_dataset`` (ours or Magenta's) writes (chords and melody encoded
together per step).

A ``--run_dir`` holding a run of Magenta's own ``improv_rnn_train`` (``train/checkpoint``, ``train/model.ckpt-N``) is
continued: weights, Adam slots and ``global_step`` restored by name before the first step
(:mod:`events_rnn.magenta_run`, as for every family).
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from events_rnn import train_cli as _core
from improv_rnn_ext import CONFIG_IDS, TRAIN_PRESETS
from tfmusic import cli_support

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.TrainCommandLine(
    prog="improv_rnn_train",
    config_ids=CONFIG_IDS,
    preset_names=TRAIN_PRESETS,
    default_config="basic_improv",
    data_help="training SequenceExample TFRecord file or glob "
    "(Magenta's improv_rnn_create_dataset's training_lead_sheets.tfrecord)",
)


def command() -> _core.TrainCommand:
    """``improv_rnn_train`` as a :class:`events_rnn.train_cli.TrainCommand`."""
    from improv_rnn_ext import bundle, config, task

    return _core.TrainCommand(
        prog=LINE.prog,
        family=bundle.FAMILY,
        presets=config.PRESETS,
        experiment_class=config.ImprovRnnExperiment,
        task_class=task.ImprovRnnTask,
        default_config=LINE.default_config,
        data_help=LINE.data_help,
    )


def build_parser():
    """The command line of ``improv_rnn_train`` (built without importing TensorFlow)."""
    return _core.build_parser(LINE, __doc__)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``improv_rnn_train``; 0, or 2 for bad arguments / missing data / a misfit bundle."""
    cli_support.start(argv)
    return _core.main(command, argv, __doc__, line=LINE)


if __name__ == "__main__":
    sys.exit(main())
