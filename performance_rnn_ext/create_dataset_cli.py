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

import argparse
import sys
from typing import Optional, Sequence

from events_rnn.create_dataset_cli import build_family_parser, family_main
from performance_rnn_ext import CONFIG_IDS
from tfmusic import cli_support

PROG = "performance_rnn_create_dataset"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``performance_rnn_create_dataset``."""
    return build_family_parser(PROG, __doc__, None, CONFIG_IDS, "performance")


def load():
    """(pipeline config class, dataset format) of the family: its data module (note-seq)."""
    from performance_rnn_ext import data

    return data.PerformancePipelineConfig, data.FORMAT


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``performance_rnn_create_dataset``; 0, 1 when the input is missing, 2 for bad arguments."""
    cli_support.start(argv)
    return family_main(build_parser(), argv=argv, load=load)


if __name__ == "__main__":
    sys.exit(main())
