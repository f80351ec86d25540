"""`melody_rnn_create_dataset`: NoteSequence TFRecords -> Melody RNN training and eval SequenceExamples.

    melody_rnn_create_dataset --config attention_rnn --input 'notesequences*.tfrecord' \\
        --output_dir data/attention_rnn [--eval_ratio 0.1] [--seed 0] \\
        [--transposition_range=-5:6] [--discard_polyphonic_tracks] [--set min_bars=4] [--num_workers 2]
    melody_rnn_create_dataset --input 'gs://b/ns/*.tfrecord' --output_dir gs://b/melodies \
        --runner DataflowRunner -- --project=P --region=europe-west1 --temp_location=gs://b/tmp

Writes ``OUTPUT_DIR/training_melodies.tfrecord`` and ``OUTPUT_DIR/eval_melodies.tfrecord`` (Magenta's
names and layout, each written atomically) and ``OUTPUT_DIR/melody_rnn_create_dataset_stats.json``
(the pipeline config, per-stage counts, inputs that gave no melody and why, melody lengths in bars).
The counts are printed too. See :mod:`melody_rnn_ext.data` for the stages and their defaults.

``--runner direct`` (default) runs in this process (``--num_workers`` processes); ``--runner beam`` runs
:mod:`melody_rnn_ext.beam_pipeline` (same records, same counts) on Beam's DirectRunner, and a Beam runner
name (``DataflowRunner``, ``FlinkRunner``, ``SparkRunner``...) runs it there. Options this command does
not know, and everything after ``--``, go to Beam's ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from events_rnn.create_dataset_cli import (
    DIRECT_RUNNERS,
    add_common_arguments,
    beam_pipeline_args,  # noqa: F401
    parse_args,
    parse_transposition_range,
    run,
)
from melody_rnn_ext import CONFIG_IDS
from tfmusic import cli_support


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``melody_rnn_create_dataset`` (built without importing note-seq: the pipeline's
    defaults apply where a flag is not given)."""
    p = cli_support.make_parser(
        "melody_rnn_create_dataset",
        raw=False,
        description="Extract melodies from NoteSequence TFRecords and write Melody RNN SequenceExamples "
        "(training_melodies.tfrecord, eval_melodies.tfrecord), as Magenta's command does. "
        "Options after '--' and options this command does not know are passed to Beam's "
        "PipelineOptions (with --runner beam or a Beam runner name).",
    )
    p.add_argument(
        "--config", choices=CONFIG_IDS, default="basic_rnn", help="which encoding to write (default basic_rnn)"
    )
    add_common_arguments(p)
    p.add_argument(
        "--transposition_range",
        type=parse_transposition_range,
        default=None,
        help="semitone shifts for augmentation: LOW:HIGH (half-open, write --transposition_range=-5:6) "
        "or a list such as 0,2; default 0 (none, as Magenta's melody pipeline)",
    )
    p.add_argument(
        "--discard_polyphonic_tracks",
        action="store_true",
        help="discard tracks where notes start together (Magenta melody_rnn's "
        "ignore_polyphonic_notes=False) instead of keeping the top note",
    )
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``melody_rnn_create_dataset``; returns 0, 1 when the input is missing, 2 for bad arguments."""
    cli_support.start(argv)
    parser = build_parser()
    args, beam_args = parse_args(parser, argv)
    from melody_rnn_ext import data
    from tfmusic.config import ConfigError, apply_overrides

    given = dict(eval_ratio=args.eval_ratio, seed=args.seed, transposition_range=args.transposition_range)
    try:
        config = data.MelodyPipelineConfig(
            config_id=args.config,
            ignore_polyphonic_notes=not args.discard_polyphonic_tracks,
            **{k: v for k, v in given.items() if v is not None},
        )
        config = apply_overrides(config, args.overrides)
    except (ConfigError, ValueError) as err:
        parser.error(str(err))
    return run(data.FORMAT, config, args, beam_args, parser)


if __name__ == "__main__":
    sys.exit(main())
