"""`drums_rnn_create_dataset`: NoteSequence TFRecords -> Drums RNN training and eval SequenceExamples.

    drums_rnn_create_dataset --config drum_kit --input notesequences.tfrecord --output_dir data/drums \\
        [--eval_ratio 0.1] [--seed 0] [--set min_bars=4] [--num_workers 2] [--runner beam]

Writes Magenta's ``OUTPUT_DIR/training_drum_tracks.tfrecord`` and ``OUTPUT_DIR/eval_drum_tracks.tfrecord``
and ``OUTPUT_DIR/drums_rnn_create_dataset_stats.json``. Magenta's flags are ``--config``, ``--input``,
``--output_dir`` and ``--eval_ratio``; the extractor's settings are Magenta's fixed values (tracks of at least 7
bars, truncated at 512 steps, ended by 1 bar without drums; see :mod:`drums_rnn_ext.data`),
changeable with ``--set``. Runners as
:mod:`events_rnn.create_dataset_cli`.
"""

from __future__ import annotations

import sys

from events_rnn.create_dataset_cli import FamilyDatasetCli
from drums_rnn_ext import CONFIG_IDS

PROG = "drums_rnn_create_dataset"
#: The command: ``build_parser()``, ``load()`` ((pipeline config class, dataset format) of the family, from its data
#: module: note-seq) and ``main(argv=None)`` (0, 1 when the input is missing, 2 for bad arguments).
CLI = FamilyDatasetCli(PROG, __doc__, "drums_rnn_ext.data", CONFIG_IDS, "drum_kit")
build_parser, load, main = CLI.build_parser, CLI.load, CLI.main

if __name__ == "__main__":
    sys.exit(main())
