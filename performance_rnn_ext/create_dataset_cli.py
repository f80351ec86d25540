"""`performance_rnn_create_dataset`: NoteSequence TFRecords -> Performance RNN training and eval SequenceExamples.

    performance_rnn_create_dataset --config performance_with_dynamics --input notesequences.tfrecord \\
        --output_dir data/perf [--eval_ratio 0.1] [--seed 0] [--set max_events=1024] [--num_workers 2] \\
        [--runner beam]

Writes Magenta's ``OUTPUT_DIR/training_performances.tfrecord`` and ``OUTPUT_DIR/eval_performances.tfrecord``
and ``OUTPUT_DIR/performance_rnn_create_dataset_stats.json``. Magenta's flags are ``--config`` (default
``performance``), ``--input``, ``--output_dir`` and ``--eval_ratio``; the pipeline's settings are Magenta's
fixed values (sustain applied, training stretched by 0.95..1.05 and transposed by -3..+3, 30 s pieces,
100 steps per second, 32 to 512 events; see :mod:`performance_rnn_ext.data`), changeable with ``--set``.
Runners as :mod:`events_rnn.create_dataset_cli`.
"""

from __future__ import annotations

import sys

from events_rnn.create_dataset_cli import FamilyDatasetCli
from performance_rnn_ext import CONFIG_IDS

PROG = "performance_rnn_create_dataset"
#: The command: ``build_parser()``, ``load()`` ((pipeline config class, dataset format) of the family, from its data
#: module: note-seq) and ``main(argv=None)`` (0, 1 when the input is missing, 2 for bad arguments).
CLI = FamilyDatasetCli(PROG, __doc__, "performance_rnn_ext.data", CONFIG_IDS, "performance")
build_parser, load, main = CLI.build_parser, CLI.load, CLI.main

if __name__ == "__main__":
    sys.exit(main())
