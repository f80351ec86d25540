"""``convert_dir_to_note_sequences``: a folder of MIDI / MusicXML / ABC files to NoteSequence TFRecords.

Behaves like Magenta's script of the same name:

- files are found by extension, case-insensitively: ``.mid``/``.midi`` (MIDI), ``.xml``/``.mxl``/
  ``.musicxml`` (MusicXML), ``.abc`` (ABC); other files are counted as ignored. Subfolders are
  walked unless ``--norecursive``.
- every NoteSequence gets ``collection_name`` = the input folder's basename, ``filename`` = the
  file's path relative to the input folder (``/``-separated) and
  ``id = "/id/<midi|musicxml|abc>/<collection_name>/<sha1 hex of the id source>"``, the id source
  being the relative path (MIDI, MusicXML) or ``"<relative path>_<X number>"`` (one sequence per ABC
  tune). Ids depend on the relative path only, so they are stable across runs and machines.

Unlike Magenta's script, records may go to ``num_shards`` shards, all written atomically by
``pipelines.tfrecord_io.ShardedTFRecordWriter`` (shard chosen by a hash of the id), and a file
(or an ABC tune) that cannot be parsed is skipped, counted and named with its reason; the run
goes on. The counters are printed and written to ``<prefix>.counters.json``.

Output naming: with one shard (the default) ``--output_file`` is written under exactly that name, as
Magenta's script does: ``--output_file out/notesequences.tfrecord`` writes
``out/notesequences.tfrecord`` and ``out/notesequences.counters.json``. With several, a trailing
``.tfrecord`` is dropped to make the prefix: ``--num_shards 2`` writes
``out/notesequences-00000-of-00002.tfrecord`` and ``out/notesequences-00001-of-00002.tfrecord``. Either
way the next command reads the output under the name given here (``melody_rnn_create_dataset --input
out/notesequences.tfrecord``; :func:`pipelines.tfrecord_io.list_files`), and a run deletes the files an
earlier run with another shard count left under the same name once its own are in place.

MIDI files are read by ``pipelines.midi_fast`` (symusic; ``--parser symusic``, the default): the
NoteSequences note_seq's ``midi_to_note_sequence`` gives, bit for bit, many times faster, with
note_seq's own reader for the files where that cannot be proved. ``--parser note_seq`` uses
note_seq's reader for every file. Records are identical either way.

The command line is :mod:`pipelines.convert_dir_to_note_sequences_cli`; the same conversion as an Apache
Beam pipeline is :func:`pipelines.beam.convert_dir_to_note_sequences`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from typing import Optional, Sequence

from pipelines import tfrecord_io
from pipelines.errors import InputError
from pipelines.tfrecord_io import (  # noqa: F401  (counters_document: re-exported)
    Counters,
    ShardedTFRecordWriter,
    atomic_write_json,
    clean_stale_temp_files,
    counters_document,
)

# Extension (lower case) -> source type used in ids and counters.
MUSIC_EXTENSIONS = {
    ".mid": "midi",
    ".midi": "midi",
    ".xml": "musicxml",
    ".mxl": "musicxml",
    ".musicxml": "musicxml",
    ".abc": "abc",
}
SOURCE_TYPES = ("midi", "musicxml", "abc")

# Counter names.
FILES_FOUND = "files_found"
FILES_IGNORED = "files_ignored"
FILES_CONVERTED = "files_converted"
FILES_SKIPPED = "files_skipped"
ABC_TUNES_SKIPPED = "abc_tunes_skipped"
SKIPPED = "skipped"  # incremented by Counters.skip: skipped files + skipped ABC tunes
WRITTEN = "sequences_written"
WITHOUT_NOTES = "sequences_without_notes"
COUNTER_NAMES = (
    FILES_FOUND,
    FILES_IGNORED,
    FILES_CONVERTED,
    FILES_SKIPPED,
    ABC_TUNES_SKIPPED,
    SKIPPED,
    WRITTEN,
    WITHOUT_NOTES,
) + tuple(f"{WRITTEN}_{t}" for t in SOURCE_TYPES)


class MusicFileError(InputError):
    """A music file (or one ABC tune in it) that cannot be converted to a NoteSequence."""


# --------------------------------------------------------------------------- naming


def source_type(path: str) -> Optional[str]:
    """``"midi"``, ``"musicxml"`` or ``"abc"`` from the file's extension (any case); None otherwise."""
    return MUSIC_EXTENSIONS.get(os.path.splitext(path)[1].lower())


def collection_name_for(input_dir: str) -> str:
    """The collection name of a folder: its basename, trailing separators ignored."""
    return os.path.basename(os.path.normpath(os.path.abspath(input_dir)))


def note_sequence_id(id_source: str, collection_name: str, source: str) -> str:
    """Magenta's NoteSequence id: ``/id/<source>/<collection_name>/<sha1 hex of id_source>``.

    Args:
      id_source: the file's relative path (for an ABC tune: ``"<relative path>_<X number>"``).
      collection_name: the input folder's basename.
      source: ``"midi"``, ``"musicxml"`` or ``"abc"``.
    """
    digest = hashlib.sha1(id_source.encode("utf-8")).hexdigest()
    return f"/id/{source.lower()}/{collection_name}/{digest}"


def output_prefix(output_file: str) -> str:
    """The shard prefix for ``--output_file``: the path without a trailing ``.tfrecord``."""
    return tfrecord_io.output_prefix(output_file)


def output_paths(output_file: str, num_shards: int) -> list[str]:
    """The TFRecord files a conversion to ``output_file`` writes: exactly ``output_file`` with one
    shard, ``<prefix>-IIIII-of-NNNNN.tfrecord`` with more."""
    return tfrecord_io.output_file_paths(output_file, num_shards)


def shard_pattern(output_file: str) -> str:
    """What to give a reader for the records written to ``output_file``, whatever the shard count:
    the name itself, which :func:`pipelines.tfrecord_io.list_files` resolves to the one file or to
    the complete set of shards."""
    return os.fspath(output_file)


def counters_path(output_file: str) -> str:
    """Where the counters JSON of a conversion goes: ``<prefix>.counters.json``."""
    return output_prefix(output_file) + ".counters.json"


def list_music_files(input_dir: str, recursive: bool = True) -> tuple[list[str], int]:
    """Finds the music files under ``input_dir``.

    Args:
      input_dir: the folder to walk (symlinked folders are not followed).
      recursive: walk subfolders too.

    Returns:
      (sorted relative paths with ``/`` separators of the files with a music extension,
       number of other files).

    Raises:
      NotADirectoryError: ``input_dir`` is not a folder.
    """
    if not os.path.isdir(input_dir):
        raise NotADirectoryError(f"{input_dir}: not a folder")
    found, ignored = [], 0
    for root, dirs, files in os.walk(input_dir):
        dirs.sort()
        if not recursive:
            dirs.clear()
        rel_root = os.path.relpath(root, input_dir)
        for name in files:
            rel = name if rel_root == "." else os.path.join(rel_root, name)
            if source_type(name) is None:
                ignored += 1
            else:
                found.append(rel.replace(os.sep, "/"))
    return sorted(found), ignored


# --------------------------------------------------------------------------- parsing


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise MusicFileError(path, f"cannot read file ({e.strerror or e})") from e
    if not data:
        raise MusicFileError(path, "empty file")
    return data


def _cause(e: BaseException) -> str:
    """``Type: message`` of the exception a third-party wrapper error was raised from."""
    inner = e.__cause__ or e.__context__ or e
    message = str(inner).strip()
    if isinstance(inner, EOFError) and not message:
        message = "data ends early (truncated file?)"
    return f"{type(inner).__name__}: {message}" if message else type(inner).__name__


def parse_midi(path: str, parser: str = "symusic"):
    """A MIDI file -> ``NoteSequence`` (note_seq's pretty_midi-based reading, times in seconds).

    Args:
      parser: ``"symusic"`` (default): ``pipelines.midi_fast``, the same NoteSequence many times
        faster, note_seq where it cannot prove that; ``"note_seq"``: note_seq's reader only.

    Raises:
      MusicFileError: empty, unreadable or not a valid MIDI file.
    """
    from pipelines import midi_fast

    data = _read_bytes(path)
    try:
        return midi_fast.midi_to_note_sequence(data, parser)
    except Exception as e:  # noqa: BLE001  (pretty_midi / mido raise many exception types)
        raise MusicFileError(path, f"not a readable MIDI file ({_cause(e)})") from e


def parse_musicxml(path: str):
    """A MusicXML file (``.xml``/``.musicxml`` text or ``.mxl`` zip) -> ``NoteSequence``.

    Raises:
      MusicFileError: empty, unreadable or not a valid MusicXML file.
    """
    from note_seq import musicxml_reader

    _read_bytes(path)  # empty / unreadable files get a plain reason
    try:
        return musicxml_reader.musicxml_file_to_sequence_proto(path)
    except Exception as e:  # noqa: BLE001  (the XML and zip layers raise many exception types)
        raise MusicFileError(path, f"not a readable MusicXML file ({_cause(e)})") from e


_X_FIELD = re.compile(r"^\s*X:\s*(\d+)", re.MULTILINE)


def decode_abc(data: bytes) -> str:
    """ABC bytes -> text: UTF-8, or Latin-1 (common in older tune books) when not valid UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_abc(path: str) -> tuple[dict, list[tuple[str, str]]]:
    """An ABC tune book -> one ``NoteSequence`` per tune that note_seq can parse.

    Returns:
      ({X reference number: NoteSequence}, [(tune label, reason)] for the tunes that failed). A
      failed tune's label is ``"X:<n>"`` when its number can be told (the tune book's X numbers
      that did not parse, in file order), else ``"tune <k>"``.

    Raises:
      MusicFileError: empty or unreadable file, duplicate X numbers, or no tune at all.
    """
    from note_seq import abc_parser

    text = decode_abc(_read_bytes(path))
    try:
        tunes, errors = abc_parser.parse_abc_tunebook(text)
    except Exception as e:  # noqa: BLE001  (DuplicateReferenceNumberError and parser bugs)
        raise MusicFileError(path, f"not a readable ABC tune book ({type(e).__name__}: {e})") from e
    if not tunes and not errors:
        raise MusicFileError(path, "no ABC tunes found")
    missing = [n for n in dict.fromkeys(int(x) for x in _X_FIELD.findall(text)) if n not in tunes]
    labels = (
        [f"X:{n}" for n in missing] if len(missing) == len(errors) else [f"tune {k + 1}" for k in range(len(errors))]
    )
    failed = [(label, f"ABC tune not parsed ({type(e).__name__}: {e})") for label, e in zip(labels, errors)]
    return dict(tunes), failed


# --------------------------------------------------------------------------- one file


@dataclasses.dataclass
class FileResult:
    """What one input file gave: records to write and the counters it adds.

    Attributes:
      relpath: the file's relative path.
      records: ``[(id, serialized NoteSequence)]`` in file order (ABC tunes by X number).
      counters: this file's counts and skipped inputs (merge them for a run's total).
    """

    relpath: str
    records: list
    counters: Counters


def _label(sequence, relpath: str, collection_name: str, source: str, id_source: str) -> None:
    sequence.collection_name = collection_name
    sequence.filename = relpath
    sequence.id = note_sequence_id(id_source, collection_name, source)


def file_to_note_sequences(
    input_dir: str, relpath: str, collection_name: Optional[str] = None, parser: str = "symusic"
) -> list:
    """Parses one file of the collection and labels its sequences as Magenta does.

    Args:
      input_dir: the collection's folder.
      relpath: the file's path relative to ``input_dir`` (``/``-separated).
      collection_name: defaults to ``collection_name_for(input_dir)``.
      parser: the MIDI parser, ``"symusic"`` or ``"note_seq"`` (see ``parse_midi``).

    Returns:
      list of ``NoteSequence`` (one for MIDI/MusicXML, one per parsed tune for ABC).

    Raises:
      MusicFileError: the file cannot be parsed (for ABC: no tune parsed at all; the reasons of
        the failed tunes are in the message). Its ``name`` is ``relpath``.
    """
    sequences, failed = _parse_and_label(input_dir, relpath, collection_name, parser)
    if not sequences and failed:
        raise MusicFileError(relpath, "; ".join(f"{label}: {reason}" for label, reason in failed))
    return sequences


def _parse_and_label(input_dir: str, relpath: str, collection_name: Optional[str], parser: str = "symusic"):
    collection_name = collection_name if collection_name is not None else collection_name_for(input_dir)
    source = source_type(relpath)
    if source is None:
        raise MusicFileError(relpath, "not a MIDI, MusicXML or ABC file name")
    try:
        relpath.encode("utf-8")
    except UnicodeEncodeError as e:  # undecodable bytes in the name (os.walk's surrogate escapes)
        raise MusicFileError(relpath, "file name is not valid UTF-8, so it cannot be a NoteSequence filename") from e
    path = os.path.join(input_dir, *relpath.split("/"))
    try:
        if source == "abc":
            tunes, failed = parse_abc(path)
            sequences = []
            for number in sorted(tunes):
                sequence = tunes[number]
                _label(sequence, relpath, collection_name, source, f"{relpath}_{number}")
                sequences.append(sequence)
            return sequences, failed
        sequence = parse_midi(path, parser) if source == "midi" else parse_musicxml(path)
    except MusicFileError as e:
        raise MusicFileError(relpath, e.problem) from e
    _label(sequence, relpath, collection_name, source, relpath)
    return [sequence], []


def convert_file(
    input_dir: str, relpath: str, collection_name: Optional[str] = None, parser: str = "symusic"
) -> FileResult:
    """Converts one file, never raising for bad input; shared by the direct and Beam pipelines.

    Returns:
      FileResult: serialized sequences keyed by id, and counters with ``files_converted`` or
      ``files_skipped`` (+ a named skip), ``abc_tunes_skipped`` (+ one named skip per tune,
      ``"<relpath> X:<n>"``), ``sequences_written[_<source>]`` and ``sequences_without_notes``.
    """
    counters = Counters()
    records = []
    try:
        sequences, failed = _parse_and_label(input_dir, relpath, collection_name, parser)
    except MusicFileError as e:
        counters.increment(FILES_SKIPPED)
        counters.skip(relpath, e.problem)
        return FileResult(relpath, records, counters)
    for label, reason in failed:
        counters.increment(ABC_TUNES_SKIPPED)
        counters.skip(f"{relpath} {label}", reason)
    counters.increment(FILES_CONVERTED if sequences else FILES_SKIPPED)
    source = source_type(relpath)
    for sequence in sequences:
        records.append((sequence.id, sequence.SerializeToString(deterministic=True)))
        counters.increment(WRITTEN)
        counters.increment(f"{WRITTEN}_{source}")
        if not sequence.notes:
            counters.increment(WITHOUT_NOTES)
    return FileResult(relpath, records, counters)


def new_counters(files_found: int = 0, files_ignored: int = 0) -> Counters:
    """Counters with every counter name present (zeros), plus the listing's two counts."""
    counters = Counters()
    for name in COUNTER_NAMES:
        counters.increment(name, 0)
    counters.increment(FILES_FOUND, files_found)
    counters.increment(FILES_IGNORED, files_ignored)
    return counters


# --------------------------------------------------------------------------- directory


def convert_directory(
    input_dir: str,
    output_file: str,
    num_shards: int = 1,
    recursive: bool = True,
    progress: bool = True,
    parser: str = "symusic",
) -> Counters:
    """Converts a folder of music files into sharded NoteSequence TFRecords, in this process.

    Args:
      input_dir: the collection's folder.
      output_file: output file name: with one shard the file written, exactly; with more, shards
        ``<prefix>-IIIII-of-NNNNN.tfrecord`` (prefix: the name without a trailing ``.tfrecord``),
        each record in shard ``sha256(id) mod num_shards``; records of a shard in the order of the
        sorted relative paths. Files an earlier run with another shard count left under this
        name are deleted once the new ones are in place.
      num_shards: number of shards (>= 1).
      recursive: walk subfolders.
      progress: show a tqdm bar.
      parser: the MIDI parser, ``"symusic"`` (default) or ``"note_seq"``; both give the same
        NoteSequences (see ``parse_midi``).

    Returns:
      Counters (see ``COUNTER_NAMES``; skipped files and tunes are named with their reasons),
      also written to ``counters_path(output_file)``. Nothing final is written if the run fails:
      shards and counters replace the previous ones only after every file was processed.

    Raises:
      NotADirectoryError: ``input_dir`` is not a folder.
      IsADirectoryError: one shard, and ``output_file`` is a folder.
    """
    from tfmusic.progress import progress_bar

    relpaths, ignored = list_music_files(input_dir, recursive)
    collection = collection_name_for(input_dir)
    counters = new_counters(len(relpaths), ignored)
    with ShardedTFRecordWriter.for_output_file(output_file, num_shards) as writer:
        bar = progress_bar(relpaths, desc="convert_dir_to_note_sequences", unit="file", disable=not progress)
        for relpath in bar:
            result = convert_file(input_dir, relpath, collection, parser)
            for key, record in result.records:
                writer.write(key, record)
            counters.merge(result.counters)
            bar.set_postfix(written=counters.get(WRITTEN), skipped=counters.get(SKIPPED), refresh=False)
    clean_stale_temp_files(counters_path(output_file))  # left by a run killed while writing its counters
    atomic_write_json(counters_path(output_file), counters_document(counters, writer.paths))
    return counters


# --------------------------------------------------------------------------- reading


def note_sequence_dataset(file_pattern, shuffle_files: bool = False, seed: Optional[int] = None):
    """A ``tf.data.Dataset`` of serialized NoteSequences (scalar ``tf.string``).

    Args:
      file_pattern: a file, glob or a conversion's ``output_file`` (or a list of them) of NoteSequence
        TFRecords (:func:`pipelines.tfrecord_io.list_files`).
      shuffle_files: shuffle the file order (deterministic given ``seed``); records stay in file order.

    Parse an element with ``pipelines.note_sequence_io.parse_note_sequence(x.numpy(), name)``; to read
    the NoteSequences in order, use ``pipelines.note_sequence_io.read_note_sequences``.
    """
    import tensorflow as tf

    from pipelines.tfrecord_io import list_files

    files = tf.data.Dataset.from_tensor_slices(list_files(file_pattern))
    if shuffle_files:
        files = files.shuffle(files.cardinality(), seed=seed, reshuffle_each_iteration=seed is None)
    return tf.data.TFRecordDataset(files)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The ``convert_dir_to_note_sequences`` command; it lives in
    :mod:`pipelines.convert_dir_to_note_sequences_cli` (kept here for console scripts installed before the move)."""
    from pipelines.convert_dir_to_note_sequences_cli import main as cli_main

    return cli_main(argv)
