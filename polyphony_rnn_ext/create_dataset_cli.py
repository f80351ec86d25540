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

import argparse
import sys
from typing import Optional, Sequence

from events_rnn.create_dataset_cli import build_family_parser, family_main
from tfmusic import cli_support

PROG = "polyphony_rnn_create_dataset"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``polyphony_rnn_create_dataset``."""
    return build_family_parser(PROG, __doc__)


def load():
    """(pipeline config class, dataset format) of the family: its data module (note-seq)."""
    from polyphony_rnn_ext import data

    return data.PolyphonyPipelineConfig, data.FORMAT


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``polyphony_rnn_create_dataset``; 0, 1 when the input is missing, 2 for bad arguments."""
    cli_support.start(argv)
    return family_main(build_parser(), argv=argv, load=load)


if __name__ == "__main__":
    sys.exit(main())
