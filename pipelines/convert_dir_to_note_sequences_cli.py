"""``convert_dir_to_note_sequences``: a folder of MIDI / MusicXML / ABC files to NoteSequence TFRecords
(the command line).

    convert_dir_to_note_sequences --input_dir midi/ --output_file out/notesequences.tfrecord [--num_shards 4]
    convert_dir_to_note_sequences --input_dir /mnt/shared/midi --output_file /mnt/shared/ns.tfrecord \\
        --runner FlinkRunner -- --flink_master=localhost:8081 --environment_type=LOOPBACK

The conversion is :func:`pipelines.note_sequences.convert_directory` (ids, naming, what is skipped and why).
With one shard (the default) the output is written under exactly the ``--output_file`` name, as Magenta's
command does; with ``--num_shards N`` as ``<prefix>-IIIII-of-NNNNN.tfrecord``. The next command of the chain
takes the same name either way (``melody_rnn_create_dataset --input out/notesequences.tfrecord``).
The runner words and the ``--`` split are every conversion's (:mod:`pipelines.cli`): ``--runner direct``
(default) converts in this process; ``--runner beam`` runs
:func:`pipelines.beam.convert_dir_to_note_sequences` (same records) on Beam's DirectRunner, and a Beam
runner name (``DataflowRunner``, ``FlinkRunner``, ``SparkRunner``...) runs it there. Options after ``--``
and options this command does not know go to Beam's ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from pipelines import cli as pipeline_cli
from pipelines.note_sequences import (
    FILES_FOUND,
    WRITTEN,
    convert_directory,
    counters_path,
    output_paths,
    output_prefix,
)
from tfmusic import cli_support
from tfmusic.workers import exit_on_interrupt


def build_parser() -> argparse.ArgumentParser:
    """The ``convert_dir_to_note_sequences`` argument parser (unknown options go to Beam)."""
    parser = pipeline_cli.make_parser(
        "convert_dir_to_note_sequences",
        "Convert a folder of MIDI (.mid .midi), MusicXML (.xml .mxl .musicxml) and ABC (.abc) files into sharded "
        "NoteSequence TFRecords. Files that fail to parse are skipped and listed with their reason.",
    )
    parser.add_argument("--input_dir", required=True, help="folder of music files (its name is the collection name)")
    parser.add_argument(
        "--output_file",
        required=True,
        help="output file: with one shard (the default) written under exactly this name; with "
        "--num_shards N > 1, shards <prefix>-IIIII-of-NNNNN.tfrecord (prefix: the name without a "
        "trailing .tfrecord); counters go to <prefix>.counters.json. Readers take this name either way",
    )
    parser.add_argument("--num_shards", type=int, default=1, help="number of output shards (default 1)")
    parser.add_argument(
        "--recursive",
        dest="recursive",
        action="store_true",
        default=True,
        help="convert files in subfolders too (default)",
    )
    parser.add_argument(
        "--norecursive",
        "--no_recursive",
        "--no-recursive",
        dest="recursive",
        action="store_false",
        help="convert only the files directly in --input_dir",
    )
    pipeline_cli.add_runner_arg(parser)
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    parser.add_argument(
        "--parser",
        choices=("symusic", "note_seq"),
        default="symusic",
        help="MIDI parser: symusic (default; the same NoteSequences as note_seq, many times "
        "faster, note_seq's reading for files where that cannot be proved) or note_seq",
    )
    return parser


@exit_on_interrupt("convert_dir_to_note_sequences")
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``convert_dir_to_note_sequences``; returns 0, 1 when no NoteSequence was written
    (no music file, or every one skipped), 2 on bad arguments."""
    cli_support.start(argv)
    parser = build_parser()
    args, beam_args = pipeline_cli.parse_args(parser, argv)
    if args.num_shards < 1:
        parser.error("--num_shards must be >= 1")
    if not os.path.isdir(args.input_dir):
        parser.error(f"--input_dir {args.input_dir}: not a folder")
    if args.num_shards == 1 and os.path.isdir(args.output_file):
        parser.error(f"--output_file {args.output_file}: is a folder; give the output a file name")
    pipeline_cli.refuse_beam_args(parser, args, beam_args)
    counters = pipeline_cli.run_conversion(
        args,
        beam_args,
        convert_directory,
        "pipelines.beam:convert_dir_to_note_sequences",
        args.input_dir,
        args.output_file,
        args.num_shards,
        args.recursive,
        parser=args.parser,
    )
    print(counters.summary())
    if args.num_shards == 1:
        print(f"output: {output_paths(args.output_file, 1)[0]}")
    else:
        print(f"shards: {output_prefix(args.output_file)}-*-of-{args.num_shards:05d}.tfrecord")
    print(f"counters: {counters_path(args.output_file)}")
    found = counters.get(FILES_FOUND)
    why = (
        "no MIDI, MusicXML or ABC files"
        if found == 0
        else f"all {found} music files were skipped (reasons in the counters file)"
    )
    return pipeline_cli.exit_status(
        "convert_dir_to_note_sequences", counters.get(WRITTEN), f"nothing written from {args.input_dir}: {why}"
    )


if __name__ == "__main__":
    sys.exit(main())
