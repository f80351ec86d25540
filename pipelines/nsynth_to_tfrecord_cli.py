"""``nsynth_to_tfrecord``: an NSynth jsonwav folder to sharded tf.Example TFRecords (the command line).

    nsynth_to_tfrecord --input_dir nsynth-test --output_dir out [--gansynth_subset] [--num_shards 4]
    nsynth_to_tfrecord --input_dir nsynth-test --output_dir out --runner beam -- --direct_num_workers=4

The conversion is :func:`pipelines.nsynth_to_tfrecord.convert` (what it writes, what it skips and why).
The runner words and the ``--`` split are every conversion's (:mod:`pipelines.cli`): ``--runner direct``
(default) converts in this process; ``--runner beam`` runs :func:`pipelines.beam.nsynth_to_tfrecord` (the
same records) on Beam's DirectRunner (multi-processing), and any other word (``DataflowRunner``,
``FlinkRunner``, ...) is that Beam runner, with every option this command does not know and every argument
after ``--`` (``--project``, ``--temp_location``, ...). ``--runner local``, this command's old default, still
means ``direct``; ``--runner direct`` used to mean Beam's DirectRunner here, so it prints a one-line notice.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from pipelines import cli as pipeline_cli
from pipelines.nsynth import GANSYNTH_MAX_PITCH, GANSYNTH_MIN_PITCH
from pipelines.nsynth_to_tfrecord import FILTERED, SKIPPED, WRITTEN, convert, flag_hints, summary_path
from tfmusic import cli_support
from tfmusic.workers import exit_on_interrupt

#: ``--runner direct`` meant Beam's DirectRunner in this command before the runner words were made one.
DIRECT_NOTICE = (
    "--runner direct converts in this process, as in every conversion command "
    "(it used to mean Beam's DirectRunner here: that is --runner beam)"
)


def build_parser() -> argparse.ArgumentParser:
    """The ``nsynth_to_tfrecord`` argument parser (unknown options go to Beam)."""
    parser = pipeline_cli.make_parser(
        "nsynth_to_tfrecord", "Convert an NSynth jsonwav folder into sharded tf.Example TFRecords (official schema)."
    )
    parser.add_argument("--input_dir", required=True, help="folder with examples.json and audio/")
    parser.add_argument("--output_dir", required=True, help="folder for the shards and the summary")
    parser.add_argument("--name", default="nsynth", help="shard prefix (default nsynth)")
    parser.add_argument("--num_shards", type=int, default=4)
    parser.add_argument("--acoustic_only", action="store_true", help="keep acoustic instruments only")
    parser.add_argument("--min_pitch", type=int, default=None, help="lowest pitch kept (GANSynth: 24)")
    parser.add_argument("--max_pitch", type=int, default=None, help="highest pitch kept (GANSynth: 84)")
    parser.add_argument(
        "--gansynth_subset",
        action="store_true",
        help=f"same as --acoustic_only --min_pitch {GANSYNTH_MIN_PITCH} --max_pitch {GANSYNTH_MAX_PITCH}",
    )
    parser.add_argument(
        "--resample",
        action="store_true",
        help="resample wavs at other sample rates to 16 kHz with soxr (they must last 4 s)",
    )
    parser.add_argument("--mono", action="store_true", help="average the channels of stereo (multi-channel) wavs")
    pipeline_cli.add_runner_arg(parser, notices={pipeline_cli.DIRECT: DIRECT_NOTICE})
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return parser


@exit_on_interrupt("nsynth_to_tfrecord")
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``nsynth_to_tfrecord``; returns 0, 1 when no note was written, 2 for bad arguments."""
    cli_support.start(argv)
    parser = build_parser()
    args, beam_args = pipeline_cli.parse_args(parser, argv)
    if args.gansynth_subset:
        args.acoustic_only = True
        args.min_pitch = GANSYNTH_MIN_PITCH if args.min_pitch is None else args.min_pitch
        args.max_pitch = GANSYNTH_MAX_PITCH if args.max_pitch is None else args.max_pitch
    if args.num_shards < 1:
        parser.error("--num_shards must be >= 1")
    if not os.path.isfile(os.path.join(args.input_dir, "examples.json")):
        parser.error(f"--input_dir {args.input_dir}: no examples.json there")
    pipeline_cli.refuse_beam_args(parser, args, beam_args)
    counters = pipeline_cli.run_conversion(
        args,
        beam_args,
        convert,
        "pipelines.beam:nsynth_to_tfrecord",
        args.input_dir,
        args.output_dir,
        args.name,
        args.num_shards,
        args.acoustic_only,
        args.min_pitch,
        args.max_pitch,
        resample=args.resample,
        mono=args.mono,
    )
    print(counters.summary())
    print(f"summary: {summary_path(args.output_dir, args.name)}")
    for line in flag_hints(counters, args.resample, args.mono):
        print(f"nsynth_to_tfrecord: {line}", file=sys.stderr)
    return pipeline_cli.exit_status(
        "nsynth_to_tfrecord",
        counters.get(WRITTEN),
        f"no note written from {args.input_dir} ({counters.get('notes')} notes: {counters.get(SKIPPED)} unreadable, "
        f"{counters.get(FILTERED)} filtered out; reasons in the summary)",
    )


if __name__ == "__main__":
    sys.exit(main())
