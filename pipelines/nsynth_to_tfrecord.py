"""``nsynth_to_tfrecord``: an NSynth jsonwav folder to sharded tf.Example TFRecords.

Records follow the official NSynth schema (see ``pipelines.nsynth.to_tf_example``) and
go to ``OUTPUT_DIR/<name>-IIIII-of-NNNNN.tfrecord``, each record in the shard chosen by a
hash of its note_str, written atomically (``pipelines.tfrecord_io``). A note whose wav is
missing or corrupt, or whose examples.json entry is bad (missing key, wrong type, wrong
rate or length...), is skipped, counted and named; the run goes on. The summary is
printed and written to ``OUTPUT_DIR/<name>-summary.json``. ``--resample`` converts wavs at
another sample rate to 16 kHz with soxr (they must last 4 s), ``--mono`` averages the channels
of stereo wavs; without them such notes are skipped, and the command says which flag would
convert them.

``--runner local`` (default) converts in this process; ``--runner beam`` runs the same
conversion as an Apache Beam pipeline on the DirectRunner (multi-processing), and any
other value (``DataflowRunner``, ``FlinkRunner``, ...) is handed to Beam together with
every option this command does not know and every argument after ``--`` (``--project``,
``--temp_location``, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from pipelines.errors import InputError
from pipelines.nsynth import (
    GANSYNTH_MAX_PITCH,
    GANSYNTH_MIN_PITCH,
    keep_note,
    load_audio_for,
    load_examples_json,
    serialize_example,
    validate_metadata,
)
from pipelines.tfrecord_io import Counters, ShardedTFRecordWriter, atomic_write_json, clean_stale_temp_files
from tfmusic.audio import AudioFileError
from tfmusic import cli_support
from tfmusic.workers import exit_on_interrupt

WRITTEN, FILTERED, SKIPPED = "written", "filtered_out", "skipped"


def convert_note(
    input_dir: str,
    note_str: str,
    entry,
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    resample: bool = False,
    mono: bool = False,
) -> tuple[str, str, object]:
    """Converts one examples.json entry; shared by the local and the Beam pipelines.

    Args:
      input_dir: the jsonwav folder.
      note_str: the entry's key; entry: its value.
      acoustic_only, min_pitch, max_pitch: filters (pitch bounds inclusive).
      resample: resample wavs at other rates to 16 kHz (any ``sample_rate`` in the entry is accepted;
        the record says 16000). mono: average the channels of multi-channel wavs.

    Returns:
      ``("written", note_str, serialized_example_bytes)``,
      ``("filtered_out", note_str, None)`` or ``("skipped", note_str, reason)``.
    """
    try:
        meta = validate_metadata(note_str, entry, any_sample_rate=resample)
        if not keep_note(meta, acoustic_only, min_pitch, max_pitch):
            return FILTERED, note_str, None
        return WRITTEN, note_str, serialize_example(load_audio_for(input_dir, meta, resample, mono))
    except (InputError, AudioFileError) as e:
        return SKIPPED, note_str, e.problem


#: Skip reasons that a flag would have avoided: (fragment of the reason, flag, what the flag does).
FLAG_HINTS = (
    ("sample rate is", "--resample", "resamples them to 16 kHz"),
    ("sample_rate is", "--resample", "resamples them to 16 kHz"),
    ("channels, expected 1", "--mono", "averages their channels"),
)


def flag_hints(counters: Counters, resample: bool = False, mono: bool = False) -> list[str]:
    """One line per flag that would have converted skipped notes, e.g. ``"3 notes skipped for their
    sample rate: --resample resamples them to 16 kHz"`` (none for a flag already given)."""
    given = {"--resample": resample, "--mono": mono}
    counts: dict = {}
    for skipped in counters.skipped:
        for fragment, flag, _ in FLAG_HINTS:
            if fragment in skipped.reason and not given[flag]:
                counts[flag] = counts.get(flag, 0) + 1
                break
    lines = []
    for flag, what in (("--resample", "sample rate"), ("--mono", "channel count")):
        if counts.get(flag):
            action = next(a for _, f, a in FLAG_HINTS if f == flag)
            lines.append(f"{counts[flag]} note(s) skipped for their {what}: {flag} {action}")
    return lines


def summary_path(output_dir: str, name: str = "nsynth") -> str:
    """Where the JSON summary of a conversion goes: ``OUTPUT_DIR/<name>-summary.json``."""
    return os.path.join(output_dir, f"{name}-summary.json")


def write_summary(output_dir: str, name: str, counters: Counters, shards: Sequence[str]) -> str:
    """Writes ``counters.to_dict()`` plus the shard file names as JSON; returns the path."""
    data = counters.to_dict()
    data["shards"] = [os.path.basename(s) for s in shards]
    path = summary_path(output_dir, name)
    clean_stale_temp_files(path)  # left by a run that was killed while writing its summary
    atomic_write_json(path, data)
    return path


def convert(
    input_dir: str,
    output_dir: str,
    name: str = "nsynth",
    num_shards: int = 4,
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    progress: bool = True,
    resample: bool = False,
    mono: bool = False,
) -> Counters:
    """Converts a jsonwav folder into sharded TFRecords in this process.

    Args:
      input_dir: folder with examples.json and audio/.
      output_dir: folder for the shards and the summary (created).
      name: shard prefix inside output_dir.
      num_shards: number of shards.
      acoustic_only, min_pitch, max_pitch: GANSynth-style filters.
      progress: tqdm bar.
      resample, mono: convert wavs at other rates / with several channels (see :func:`convert_note`).

    Returns:
      Counters: ``notes``, ``written``, ``filtered_out``, ``skipped`` (+ names/reasons).

    Raises:
      InputError: examples.json itself is missing or unreadable.
    """
    from tfmusic.progress import progress_bar

    examples = load_examples_json(os.path.join(input_dir, "examples.json"))
    os.makedirs(output_dir, exist_ok=True)
    counters = Counters()
    counters.increment("notes", len(examples))
    for key in (WRITTEN, FILTERED, SKIPPED):
        counters.increment(key, 0)
    with ShardedTFRecordWriter(os.path.join(output_dir, name), num_shards) as writer:
        for note_str in progress_bar(sorted(examples), desc="nsynth_to_tfrecord", unit="note", disable=not progress):
            status, key, payload = convert_note(
                input_dir, note_str, examples[note_str], acoustic_only, min_pitch, max_pitch, resample, mono
            )
            if status == WRITTEN:
                writer.write(key, payload)
                counters.increment(WRITTEN)
            elif status == FILTERED:
                counters.increment(FILTERED)
            else:
                counters.skip(key, payload)
    write_summary(output_dir, name, counters, writer.paths)
    return counters


def build_parser() -> argparse.ArgumentParser:
    """The ``nsynth_to_tfrecord`` argument parser (unknown options go to Beam)."""
    parser = cli_support.make_parser(
        "nsynth_to_tfrecord",
        raw=False,
        description="Convert an NSynth jsonwav folder into sharded tf.Example TFRecords (official schema). "
        "Options this command does not know are passed to Beam's PipelineOptions.",
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
    parser.add_argument(
        "--runner",
        default="local",
        help="local (default), beam (Beam DirectRunner), or a Beam runner name such as DataflowRunner",
    )
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return parser


@exit_on_interrupt("nsynth_to_tfrecord")
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``nsynth_to_tfrecord``; returns 0, 1 when no note was written, 2 for bad arguments."""
    cli_support.start(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough = []
    if "--" in argv:  # everything after "--" goes to Beam unchanged
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1 :]
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    beam_args = unknown + passthrough
    if args.gansynth_subset:
        args.acoustic_only = True
        args.min_pitch = GANSYNTH_MIN_PITCH if args.min_pitch is None else args.min_pitch
        args.max_pitch = GANSYNTH_MAX_PITCH if args.max_pitch is None else args.max_pitch
    if args.num_shards < 1:
        parser.error("--num_shards must be >= 1")
    if not os.path.isfile(os.path.join(args.input_dir, "examples.json")):
        parser.error(f"--input_dir {args.input_dir}: no examples.json there")
    if args.runner == "local":
        if beam_args:
            parser.error(f"unrecognized arguments: {' '.join(beam_args)} (Beam options need --runner beam)")
        counters = convert(
            args.input_dir,
            args.output_dir,
            args.name,
            args.num_shards,
            args.acoustic_only,
            args.min_pitch,
            args.max_pitch,
            progress=not args.no_progress,
            resample=args.resample,
            mono=args.mono,
        )
    else:
        from pipelines import beam

        if args.runner != "beam" or not any(a == "--runner" or a.startswith("--runner=") for a in beam_args):
            beam_args = ["--runner", "DirectRunner" if args.runner == "beam" else args.runner] + beam_args
        counters = beam.nsynth_to_tfrecord(
            args.input_dir,
            args.output_dir,
            args.name,
            args.num_shards,
            args.acoustic_only,
            args.min_pitch,
            args.max_pitch,
            pipeline_args=beam_args,
            resample=args.resample,
            mono=args.mono,
        )
    print(counters.summary())
    print(f"summary: {summary_path(args.output_dir, args.name)}")
    for line in flag_hints(counters, args.resample, args.mono):
        print(f"nsynth_to_tfrecord: {line}", file=sys.stderr)
    if counters.get(WRITTEN) == 0:
        print(
            f"nsynth_to_tfrecord: error: no note written from {args.input_dir} ({counters.get('notes')} notes: "
            f"{counters.get(SKIPPED)} unreadable, {counters.get(FILTERED)} filtered out; reasons in the summary)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
