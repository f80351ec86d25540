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
"""

from __future__ import annotations

import sys

from events_rnn import train_cli as _core
from performance_rnn_ext import CONFIG_IDS, TRAIN_PRESETS

#: What ``--help`` lists, known without importing TensorFlow.
LINE = _core.family_line("performance_rnn", CONFIG_IDS, TRAIN_PRESETS, "performance", "training_performances.tfrecord")
#: The command: ``command()`` (its :class:`events_rnn.train_cli.TrainCommand`, imports TensorFlow),
#: ``build_parser()`` (without TensorFlow; ``--help`` ends with :data:`events_rnn.train_cli.MAGENTA_RUN_HELP`: a run
#: folder of Magenta's own ``performance_rnn_train`` is continued) and ``main(argv=None)`` (0, or 2 for bad arguments /
#: missing data / a misfit bundle).
CLI = _core.FamilyTrainCli(LINE, __doc__, "performance_rnn_ext", "PerformanceRnnExperiment", "PerformanceRnnTask")
command, build_parser, main = CLI.command, CLI.build_parser, CLI.main

if __name__ == "__main__":
    sys.exit(main())
