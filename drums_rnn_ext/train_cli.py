"""`drums_rnn_train`: train a Drums RNN (``one_drum`` / ``drum_kit``) from scratch or fine-tune a Magenta ``.mag``.

    drums_rnn_train --config drum_kit --run_dir runs/drums \\
        --sequence_example_file data/training_drum_tracks.tfrecord [--eval_file data/eval_drum_tracks.tfrecord] \\
        [--num_training_steps 20000] [--hparams "batch_size=64,rnn_layer_sizes=[128,128]"] [--set a.b=v]
    drums_rnn_train --bundle drum_kit_rnn.mag --run_dir runs/ft --sequence_example_file ... [--freeze cell_0] \\
        [--export_bundle runs/ft/drum_kit_ft.mag]

The shared training command (:mod:`events_rnn.train_cli`) with the Drums RNN's family, presets
(``one_drum``, ``drum_kit``, ``tiny``, ``tiny_kit``) and task.
"""

from __future__ import annotations

import sys

from events_rnn import train_cli as _core
from drums_rnn_ext import CONFIG_IDS, TRAIN_PRESETS

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.family_line("drums_rnn", CONFIG_IDS, TRAIN_PRESETS, "drum_kit", "training_drum_tracks.tfrecord")
#: The command: ``command()`` (its :class:`events_rnn.train_cli.TrainCommand`, imports TensorFlow),
#: ``build_parser()`` (without TensorFlow; ``--help`` ends with :data:`events_rnn.train_cli.MAGENTA_RUN_HELP`: a run
#: folder of Magenta's own ``drums_rnn_train`` is continued) and ``main(argv=None)`` (0, or 2 for bad arguments /
#: missing data / a misfit bundle).
CLI = _core.FamilyTrainCli(LINE, __doc__, "drums_rnn_ext", "DrumsRnnExperiment", "DrumsRnnTask")
command, build_parser, main = CLI.command, CLI.build_parser, CLI.main

if __name__ == "__main__":
    sys.exit(main())
