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

import argparse
import sys
from typing import Optional, Sequence

from events_rnn.create_dataset_cli import build_family_parser, family_main
from improv_rnn_ext import CONFIG_IDS
from tfmusic import cli_support

PROG = "improv_rnn_create_dataset"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``improv_rnn_create_dataset``."""
    return build_family_parser(PROG, __doc__, None, CONFIG_IDS, "basic_improv")


def load():
    """(pipeline config class, dataset format) of the family: its data module (note-seq)."""
    from improv_rnn_ext import data

    return data.ImprovPipelineConfig, data.FORMAT


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``improv_rnn_create_dataset``; 0, 1 when the input is missing, 2 for bad arguments."""
    cli_support.start(argv)
    return family_main(build_parser(), argv=argv, load=load)


if __name__ == "__main__":
    sys.exit(main())
