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
"""

from __future__ import annotations

import sys

from events_rnn import train_cli as _core
from improv_rnn_ext import CONFIG_IDS, TRAIN_PRESETS

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.family_line(
    "improv_rnn",
    CONFIG_IDS,
    TRAIN_PRESETS,
    "basic_improv",
    "training_lead_sheets.tfrecord",
    "Magenta's improv_rnn_create_dataset",
)
#: The command: ``command()`` (its :class:`events_rnn.train_cli.TrainCommand`, imports TensorFlow),
#: ``build_parser()`` (without TensorFlow; ``--help`` ends with :data:`events_rnn.train_cli.MAGENTA_RUN_HELP`: a run
#: folder of Magenta's own ``improv_rnn_train`` is continued) and ``main(argv=None)`` (0, or 2 for bad arguments /
#: missing data / a misfit bundle).
CLI = _core.FamilyTrainCli(LINE, __doc__, "improv_rnn_ext", "ImprovRnnExperiment", "ImprovRnnTask")
command, build_parser, main = CLI.command, CLI.build_parser, CLI.main

if __name__ == "__main__":
    sys.exit(main())
