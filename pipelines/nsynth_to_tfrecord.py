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

The command line is :mod:`pipelines.nsynth_to_tfrecord_cli`; the same conversion as an Apache Beam
pipeline is :func:`pipelines.beam.nsynth_to_tfrecord`.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from pipelines.errors import InputError
from pipelines.nsynth import (
    keep_note,
    load_audio_for,
    load_examples_json,
    serialize_example,
    validate_metadata,
)
from pipelines.tfrecord_io import (
    Counters,
    ShardedTFRecordWriter,
    atomic_write_json,
    clean_stale_temp_files,
    counters_document,
)
from tfmusic.audio import AudioFileError

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
    """Writes ``counters.to_dict()`` plus the shard file names (sorted) as JSON; returns the path."""
    path = summary_path(output_dir, name)
    clean_stale_temp_files(path)  # left by a run that was killed while writing its summary
    atomic_write_json(path, counters_document(counters, shards))
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The ``nsynth_to_tfrecord`` command; it lives in :mod:`pipelines.nsynth_to_tfrecord_cli` (kept here for
    console scripts installed before the move)."""
    from pipelines.nsynth_to_tfrecord_cli import main as cli_main

    return cli_main(argv)
