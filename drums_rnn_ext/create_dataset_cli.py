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

from events_rnn.create_dataset_cli import build_family_parser, family_main

PROG = "drums_rnn_create_dataset"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``drums_rnn_create_dataset``."""
    from drums_rnn_ext.config import CONFIG_IDS
    from drums_rnn_ext.data import DrumsPipelineConfig

    return build_family_parser(PROG, __doc__, DrumsPipelineConfig, CONFIG_IDS, "drum_kit")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``drums_rnn_create_dataset``; 0, 1 when the input is missing, 2 for bad arguments."""
    from drums_rnn_ext import data

    return family_main(build_parser(), data.DrumsPipelineConfig, data.FORMAT, argv)


if __name__ == "__main__":
    sys.exit(main())
