"""`polyphony_rnn_create_dataset`: NoteSequence TFRecords -> Polyphony RNN training and eval SequenceExamples.

    polyphony_rnn_create_dataset --input notesequences.tfrecord --output_dir data/polyphony [--eval_ratio 0.1] \\
        [--seed 0] [--set min_steps=80] [--set transposition_range=[0]] [--num_workers 2]
    polyphony_rnn_create_dataset --input 'gs://b/ns/*.tfrecord' --output_dir gs://b/poly \\
        --runner DataflowRunner -- --project=P --region=europe-west1 --temp_location=gs://b/tmp

Writes Magenta's ``OUTPUT_DIR/training_poly_tracks.tfrecord`` and ``OUTPUT_DIR/eval_poly_tracks.tfrecord``
and ``OUTPUT_DIR/polyphony_rnn_create_dataset_stats.json`` (config, per-stage counts, inputs that gave
no track and why, track lengths in steps). Magenta's flags are ``--input``, ``--output_dir`` and
``--eval_ratio``; the pipeline's other settings are Magenta's fixed values (transpositions -4..4,
80 to 512 steps, see :mod:`polyphony_rnn_ext.data`), changeable with ``--set``. Runners as
:mod:`events_rnn.create_dataset_cli`.
"""

from __future__ import annotations

import sys

from events_rnn.create_dataset_cli import FamilyDatasetCli

PROG = "polyphony_rnn_create_dataset"
#: The command: ``build_parser()``, ``load()`` ((pipeline config class, dataset format) of the family, from its data
#: module: note-seq) and ``main(argv=None)`` (0, 1 when the input is missing, 2 for bad arguments).
CLI = FamilyDatasetCli(PROG, __doc__, "polyphony_rnn_ext.data")
build_parser, load, main = CLI.build_parser, CLI.load, CLI.main

if __name__ == "__main__":
    sys.exit(main())
