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
"""

from __future__ import annotations

import sys

from events_rnn import train_cli as _core
from polyphony_rnn_ext import CONFIG_IDS, TRAIN_PRESETS

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.family_line("polyphony_rnn", CONFIG_IDS, TRAIN_PRESETS, "polyphony", "training_poly_tracks.tfrecord")
#: The command: ``command()`` (its :class:`events_rnn.train_cli.TrainCommand`, imports TensorFlow),
#: ``build_parser()`` (without TensorFlow; ``--help`` ends with :data:`events_rnn.train_cli.MAGENTA_RUN_HELP`: a run
#: folder of Magenta's own ``polyphony_rnn_train`` is continued) and ``main(argv=None)`` (0, or 2 for bad arguments /
#: missing data / a misfit bundle).
CLI = _core.FamilyTrainCli(LINE, __doc__, "polyphony_rnn_ext", "PolyphonyRnnExperiment", "PolyphonyRnnTask")
command, build_parser, main = CLI.command, CLI.build_parser, CLI.main

if __name__ == "__main__":
    sys.exit(main())
