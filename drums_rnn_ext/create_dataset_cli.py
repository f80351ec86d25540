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

import argparse
import sys
from typing import Optional, Sequence

from drums_rnn_ext import CONFIG_IDS
from events_rnn.create_dataset_cli import build_family_parser, family_main
from tfmusic import cli_support

PROG = "drums_rnn_create_dataset"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``drums_rnn_create_dataset``."""
    return build_family_parser(PROG, __doc__, None, CONFIG_IDS, "drum_kit")


def load():
    """(pipeline config class, dataset format) of the family: its data module (note-seq)."""
    from drums_rnn_ext import data

    return data.DrumsPipelineConfig, data.FORMAT


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``drums_rnn_create_dataset``; 0, 1 when the input is missing, 2 for bad arguments."""
    cli_support.start(argv)
    return family_main(build_parser(), argv=argv, load=load)


if __name__ == "__main__":
    sys.exit(main())
