"""`improv_rnn_create_dataset`: NoteSequence TFRecords with chord symbols -> Improv RNN training and eval
SequenceExamples.

    improv_rnn_create_dataset --config attention_improv --input notesequences.tfrecord --output_dir data/improv \\
        [--eval_ratio 0.1] [--seed 0] [--set min_bars=4] [--num_workers 2] [--runner beam]

Writes Magenta's ``OUTPUT_DIR/training_lead_sheets.tfrecord`` and ``OUTPUT_DIR/eval_lead_sheets.tfrecord``
and ``OUTPUT_DIR/improv_rnn_create_dataset_stats.json``. Chords are read from the NoteSequences'
``CHORD_SYMBOL`` text annotations (what ``convert_dir_to_note_sequences`` makes of MusicXML ``<harmony>``
elements); pieces without chords give no lead sheet. Magenta's flags are ``--config``, ``--input``,
``--output_dir`` and ``--eval_ratio``; the extractor's settings are Magenta's fixed values (melodies of at
least 7 bars with 3 pitch classes, truncated at 512 steps, ended by 1 bar of silence, every lead sheet in
all 12 keys; see :mod:`improv_rnn_ext.data`), changeable with ``--set``. Runners as
:mod:`events_rnn.create_dataset_cli`.
"""

from __future__ import annotations

import sys

from events_rnn.create_dataset_cli import FamilyDatasetCli
from improv_rnn_ext import CONFIG_IDS

PROG = "improv_rnn_create_dataset"
#: The command: ``build_parser()``, ``load()`` ((pipeline config class, dataset format) of the family, from its data
#: module: note-seq) and ``main(argv=None)`` (0, 1 when the input is missing, 2 for bad arguments).
CLI = FamilyDatasetCli(PROG, __doc__, "improv_rnn_ext.data", CONFIG_IDS, "basic_improv")
build_parser, load, main = CLI.build_parser, CLI.load, CLI.main

if __name__ == "__main__":
    sys.exit(main())
