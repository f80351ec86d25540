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
import dataclasses
import os
import sys
from typing import Optional, Sequence, Tuple

from melody_rnn_ext import encodings

DIRECT_RUNNERS = ("direct", "local")


def parse_transposition_range(text: str) -> Tuple[int, ...]:
    """``"0"`` -> (0,); ``"-3,0,3"`` -> (-3, 0, 3); ``"-5:6"`` -> -5..5 (a Python-style half-open range)."""
    text = text.strip()
    try:
        if ":" in text:
            low, high = (int(p) for p in text.split(":", 1))
            values = tuple(range(low, high))
        else:
            values = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: use LOW:HIGH or a comma-separated list") from None
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} gives no transposition (use 0 for none)")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``melody_rnn_create_dataset``."""
    defaults = _default_config()
    p = argparse.ArgumentParser(
        prog="melody_rnn_create_dataset",
        description="Extract melodies from NoteSequence TFRecords and write Melody RNN SequenceExamples "
                    "(training_melodies.tfrecord, eval_melodies.tfrecord), as Magenta's command does. "
                    "Options after '--' and options this command does not know are passed to Beam's "
                    "PipelineOptions (with --runner beam or a Beam runner name).")
    p.add_argument("--config", choices=encodings.CONFIG_IDS, default="basic_rnn",
                   help="which encoding to write (default basic_rnn)")
    p.add_argument("--input", required=True, help="TFRecord file (or glob) of serialized NoteSequences")
    p.add_argument("--output_dir", required=True, help="folder for the two TFRecords and the stats JSON")
    p.add_argument("--eval_ratio", type=float, default=defaults.eval_ratio,
                   help="fraction of input sequences set aside for eval (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the train/eval split")
    p.add_argument("--transposition_range", type=parse_transposition_range, default=defaults.transposition_range,
                   help="semitone shifts for augmentation: LOW:HIGH (half-open, write --transposition_range=-5:6) "
                        "or a list such as 0,2; default 0 (none, as Magenta's melody pipeline)")
    p.add_argument("--discard_polyphonic_tracks", action="store_true",
                   help="discard tracks where notes start together (Magenta melody_rnn's "
                        "ignore_polyphonic_notes=False) instead of keeping the top note")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a pipeline setting, e.g. min_bars=4, max_steps=256, gap_bars=2 "
                        f"(fields: {', '.join(f.name for f in dataclasses.fields(defaults))})")
    p.add_argument("--num_workers", type=int, default=None,
                   help="processes running the stages (default 1; with --runner beam: the DirectRunner's "
                        "--direct_num_workers, default one per core)")
    p.add_argument("--runner", default="direct",
                   help="direct (default: this process), beam (Beam DirectRunner, multi-processing), or a Beam "
                        "runner name such as DataflowRunner, FlinkRunner, SparkRunner")
    p.add_argument("--no_progress", action="store_true", help="no progress bar")
    return p


def beam_pipeline_args(args, beam_args: Sequence[str]) -> list:
    """The Beam options (a list of strings) for a parsed command line and its unknown/after-``--`` options.

    ``--runner``: ``beam`` -> DirectRunner (unless ``beam_args`` hold a ``--runner``), any other value is the
    Beam runner's name. ``--num_workers N`` becomes ``--direct_num_workers=N`` on the DirectRunner and
    Beam's ``--num_workers=N`` (e.g. Dataflow's initial workers) elsewhere, unless ``beam_args`` give it.
    ``beam_args`` follow unchanged.
    """
    beam_args = list(beam_args)
    out = []
    direct = args.runner in ("beam", "DirectRunner")
    if not direct or not any(a == "--runner" or a.startswith("--runner=") for a in beam_args):
        out += ["--runner", "DirectRunner" if direct else args.runner]
    if args.num_workers is not None:
        flag = "--direct_num_workers" if direct else "--num_workers"
        if not any(a == flag or a.startswith(flag + "=") for a in beam_args):
            out.append(f"{flag}={args.num_workers}")
    return out + beam_args


def _default_config():
    from melody_rnn_ext.data import MelodyPipelineConfig

    return MelodyPipelineConfig()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``melody_rnn_create_dataset``; returns 0, 1 when the input is missing, 2 for bad arguments."""
    from melody_rnn_ext import data
    from tfmusic.config import ConfigError, apply_overrides

    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    beam_args = unknown + passthrough
    if args.num_workers is not None and args.num_workers < 1:
        parser.error("--num_workers must be >= 1")
    try:
        config = data.MelodyPipelineConfig(
            config_id=args.config, eval_ratio=args.eval_ratio, seed=args.seed,
            transposition_range=args.transposition_range,
            ignore_polyphonic_notes=not args.discard_polyphonic_tracks)
        config = apply_overrides(config, args.overrides)
    except (ConfigError, ValueError) as err:
        parser.error(str(err))
    input_pattern, output_dir = os.path.expanduser(args.input), os.path.expanduser(args.output_dir)
    try:
        if args.runner in DIRECT_RUNNERS:
            if beam_args:
                parser.error(f"unrecognized arguments: {' '.join(beam_args)} (Beam options need --runner beam)")
            summary = data.create_dataset(input_pattern, output_dir, config, num_workers=args.num_workers or 1,
                                          progress=not args.no_progress)
        else:
            from melody_rnn_ext import beam_pipeline

            summary = beam_pipeline.create_dataset(input_pattern, output_dir, config,
                                                   pipeline_args=beam_pipeline_args(args, beam_args))
    except FileNotFoundError as err:
        print(f"melody_rnn_create_dataset: --input {args.input}: {err}", file=sys.stderr)
        return 1
    print(summary.summary())
    print(f"stats: {os.path.join(output_dir, data.STATS_FILENAME)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
