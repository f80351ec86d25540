"""``music_transformer_create_dataset``: NoteSequence TFRecords -> Music Transformer tf.Examples.

Usage::

    music_transformer_create_dataset --input 'notesequences-*.tfrecord' --output_dir data/ \\
        --problem unconditional --max_length 2048 --num_shards 8
    music_transformer_create_dataset --input train=maestro_train.tfrecord \\
        --input eval=maestro_validation.tfrecord --input test=maestro_test.tfrecord \\
        --output_dir data_mel/ --problem melody_conditioned --runner beam --direct_num_workers=2

Writes ``OUTPUT_DIR/{train,eval,test}-IIIII-of-NNNNN.tfrecord`` and ``OUTPUT_DIR/summary.json``
(per-stage counts, skipped inputs and reasons, the config). See ``music_transformer_ext.data``
for the stages. ``--runner direct`` (default) runs in this process; ``--runner beam`` runs the
Beam pipeline on the DirectRunner; any other value (``DataflowRunner``, ``FlinkRunner``, ...) is
a Beam runner, and every option this command does not know is passed to Beam.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Optional, Sequence

from music_transformer_ext import data
from pipelines import cli as pipeline_cli
from tfmusic import cli_support
from tfmusic.workers import exit_on_interrupt


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(t) for t in text.split(",") if t.strip())


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(t) for t in text.split(",") if t.strip())


def _fractions(text: str) -> tuple[tuple[str, float], ...]:
    out = []
    for item in text.split(","):
        name, _, value = item.partition("=")
        out.append((name.strip(), float(value)))
    return tuple(out)


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser (options it does not know go to Beam)."""
    p = pipeline_cli.make_parser(
        "music_transformer_create_dataset",
        "Turn NoteSequence TFRecords into Music Transformer training examples (score2perf's datagen: "
        "augmentation, melody extraction, cropping, splits).",
        beam_note="Options this command does not know are passed to Beam's PipelineOptions.",
    )
    p.add_argument(
        "--input",
        action="append",
        required=True,
        metavar="[SPLIT=]PATTERN",
        help="NoteSequence TFRecords: a file (convert_dir_to_note_sequences' --output_file, whatever "
        "its shard count) or a glob; repeat for several. PATTERN alone: splits chosen by "
        "a hash of each sequence id; train=/eval=/test=PATTERN: data already split",
    )
    p.add_argument("--output_dir", required=True)
    p.add_argument("--problem", choices=data.PROBLEMS, default=data.UNCONDITIONAL)
    p.add_argument(
        "--max_length",
        type=int,
        default=2048,
        help="events per example (train: random crop; eval/test: consecutive pieces; "
        "melody_conditioned: truncation); 0 keeps whole sequences",
    )
    p.add_argument("--num_shards", type=int, default=8, help="shards per split")
    pipeline_cli.add_runner_arg(p)
    p.add_argument(
        "--stretch_factors",
        type=_floats,
        default=None,
        help=f"train time stretches, comma-separated (default {','.join(map(str, data.STRETCH_FACTORS))})",
    )
    p.add_argument(
        "--transpose_amounts",
        type=_ints,
        default=None,
        help="train transpositions in semitones, comma-separated, written with '=' "
        "(--transpose_amounts=-3,0,3); default -3..3",
    )
    p.add_argument("--no_augmentation", action="store_true", help="same as --stretch_factors 1 --transpose_amounts 0")
    p.add_argument(
        "--num_replications",
        type=int,
        default=None,
        help="random segmentations per train sequence (melody_conditioned default 10)",
    )
    p.add_argument(
        "--split_fractions",
        type=_fractions,
        default=None,
        help="hash split for un-split input, e.g. train=0.8,eval=0.1,test=0.1 (the default)",
    )
    eos = p.add_mutually_exclusive_group()
    eos.add_argument(
        "--add_eos",
        dest="add_eos",
        action="store_true",
        default=None,
        help="append EOS to targets (default: melody_conditioned yes, unconditional no)",
    )
    eos.add_argument("--no_add_eos", dest="add_eos", action="store_false")
    p.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return p


def parse_inputs(values: Sequence[str]):
    """``--input`` values -> a pattern list (hash split) or a ``{split: pattern}`` dict.

    Raises:
      ValueError: split and plain patterns mixed, or a split given twice.
    """
    presplit, plain = {}, []
    for value in values:
        name, sep, pattern = value.partition("=")
        if sep and name in data.SPLITS:
            if name in presplit:
                raise ValueError(f"--input {name}= given twice")
            presplit[name] = pattern
        else:
            plain.append(value)
    if presplit and plain:
        raise ValueError("give either plain --input patterns (hash split) or train=/eval=/test= ones, not both")
    return presplit or plain


def config_from_args(args) -> data.DatasetConfig:
    """The DatasetConfig the parsed arguments ask for (problem defaults + overrides)."""
    overrides = {"max_length": args.max_length}
    if args.no_augmentation:
        overrides.update(stretch_factors=(1.0,), transpose_amounts=(0,))
    if args.stretch_factors is not None:
        overrides["stretch_factors"] = args.stretch_factors
    if args.transpose_amounts is not None:
        overrides["transpose_amounts"] = args.transpose_amounts
    if args.num_replications is not None:
        overrides["num_replications"] = args.num_replications
    if args.split_fractions is not None:
        overrides["split_fractions"] = args.split_fractions
    if args.add_eos is not None:
        overrides["add_eos"] = args.add_eos
    return data.config_for_problem(args.problem, **overrides)


@exit_on_interrupt("music_transformer_create_dataset")
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns 0 on success, 1 when no example was written, 2 on bad arguments."""
    cli_support.start(argv)
    parser = build_parser()
    args, beam_args = pipeline_cli.parse_args(parser, argv)
    if args.num_shards < 1:
        parser.error("--num_shards must be >= 1")
    try:
        inputs = parse_inputs(args.input)
        config = config_from_args(args)
        data.resolve_inputs(inputs)  # fail early on patterns that match nothing
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    pipeline_cli.refuse_beam_args(parser, args, beam_args)
    counters = pipeline_cli.run_conversion(
        args,
        beam_args,
        data.create_dataset,
        "music_transformer_ext.beam_pipeline:create_dataset",
        inputs,
        args.output_dir,
        config,
        args.num_shards,
    )
    print(counters.summary())
    print("config: " + ", ".join(f"{k}={v}" for k, v in dataclasses.asdict(config).items()))
    print(f"summary: {os.path.join(args.output_dir, data.SUMMARY_NAME)}")
    written = sum(v for k, v in counters.counts.items() if k.startswith("examples."))
    return pipeline_cli.exit_status(
        "music_transformer_create_dataset",
        written,
        f"no example written from {args.input} ({counters.get('read.records')} records read; reasons in the summary)",
    )


if __name__ == "__main__":
    sys.exit(main())
