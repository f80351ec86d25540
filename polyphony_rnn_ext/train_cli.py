"""`polyphony_rnn_train`: train a Polyphony RNN from scratch or fine-tune a Magenta ``polyphony`` ``.mag``.

    # from scratch, Magenta's config and hparams (flag names as Magenta's polyphony_rnn_train)
    polyphony_rnn_train --config polyphony --run_dir runs/poly \\
        --sequence_example_file data/training_poly_tracks.tfrecord [--eval_file data/eval_poly_tracks.tfrecord] \\
        [--num_training_steps 20000] [--hparams "batch_size=32,rnn_layer_sizes=[128,128]"] [--set a.b=v]

    # fine-tune a bundle: every model variable restored from it, fresh optimizer (Magenta's warm start)
    polyphony_rnn_train --bundle polyphony_rnn.mag --run_dir runs/ft --sequence_example_file ... \\
        [--freeze cell_0] [--export_bundle runs/ft/polyphony_ft.mag]

The shared training command (:mod:`events_rnn.train_cli`) with the Polyphony RNN's family, presets
(``polyphony``, ``tiny``) and task; a bundle of another model (e.g. a Melody RNN's) is refused by
name. ``--export_bundle`` writes a ``polyphony`` bundle that ``polyphony_rnn_generate`` (ours or
Magenta's) loads.

A ``--run_dir`` holding a run of Magenta's own ``polyphony_rnn_train`` (``train/checkpoint``, ``train/model.ckpt-N``) is
continued: weights, Adam slots and ``global_step`` restored by name before the first step
(:mod:`events_rnn.magenta_run`, as for every family).
"""

from __future__ import annotations

import sys
from typing import Optional, Sequence

from events_rnn import train_cli as _core
from polyphony_rnn_ext import CONFIG_IDS, TRAIN_PRESETS
from tfmusic import cli_support

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.TrainCommandLine(
    prog="polyphony_rnn_train",
    config_ids=CONFIG_IDS,
    preset_names=TRAIN_PRESETS,
    default_config="polyphony",
    data_help="training SequenceExample TFRecord file or glob "
    "(polyphony_rnn_create_dataset's training_poly_tracks.tfrecord)",
)


def command() -> _core.TrainCommand:
    """``polyphony_rnn_train`` as a :class:`events_rnn.train_cli.TrainCommand`."""
    from polyphony_rnn_ext import bundle, config, task

    return _core.TrainCommand(
        prog=LINE.prog,
        family=bundle.FAMILY,
        presets=config.PRESETS,
        experiment_class=config.PolyphonyRnnExperiment,
        task_class=task.PolyphonyRnnTask,
        default_config=LINE.default_config,
        data_help=LINE.data_help,
    )


def build_parser():
    """The command line of ``polyphony_rnn_train`` (built without importing TensorFlow)."""
    return _core.build_parser(LINE, __doc__)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``polyphony_rnn_train``; 0, or 2 for bad arguments / missing data / a misfit bundle."""
    cli_support.start(argv)
    return _core.main(command, argv, __doc__, line=LINE)


if __name__ == "__main__":
    sys.exit(main())
