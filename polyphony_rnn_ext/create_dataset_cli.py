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

from events_rnn.create_dataset_cli import add_common_arguments, parse_args, run

PROG = "polyphony_rnn_create_dataset"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``polyphony_rnn_create_dataset``."""
    from polyphony_rnn_ext.data import PolyphonyPipelineConfig

    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(p, PolyphonyPipelineConfig())
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``polyphony_rnn_create_dataset``; 0, 1 when the input is missing, 2 for bad arguments."""
    from polyphony_rnn_ext import data
    from tfmusic.config import ConfigError, apply_overrides

    parser = build_parser()
    args, beam_args = parse_args(parser, argv)
    try:
        config = apply_overrides(data.PolyphonyPipelineConfig(eval_ratio=args.eval_ratio, seed=args.seed),
                                 args.overrides)
    except (ConfigError, ValueError) as err:
        parser.error(str(err))
    return run(data.FORMAT, config, args, beam_args, parser)


if __name__ == "__main__":
    sys.exit(main())
