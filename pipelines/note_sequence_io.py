"""NoteSequence TFRecord files: the one reader, the record parser every pipeline shares, and a writer.

Everything that reads NoteSequences from TFRecords goes through here:

* :func:`read_note_sequences` yields the NoteSequences of a file, glob, sharded file name or list
  of them (what :func:`pipelines.tfrecord_io.list_files` takes), files in sorted order, records in
  file order; it raises an :class:`~pipelines.errors.InputError` naming the file on a file that is
  no readable TFRecord file or a record that is no NoteSequence;
* the dataset pipelines (``events_rnn.data``, ``music_transformer_ext.data`` and their Beam
  forms) hand raw records to their workers and parse them there with :func:`parse_note_sequence`,
  so that a bad record is skipped and named in their counters instead; :func:`iter_file_records`
  gives one file's raw records.

:func:`write_note_sequences` writes NoteSequences into one TFRecord file, atomically
(:class:`tfmusic.files.AtomicFile`). note-seq and TensorFlow are imported only where needed.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Iterator, Union

from pipelines.errors import InputError
from pipelines.tfrecord_io import list_files
from tfmusic import files


class NoteSequenceRecordError(InputError):
    """A TFRecord record that does not parse as a ``note_seq.NoteSequence``."""


def parse_note_sequence(record: bytes, name: str):
    """A ``note_seq.NoteSequence`` from serialized bytes.

    Args:
      record: one serialized record.
      name: how to call the record in the error (e.g. ``"record 6"``, or a file and a digest).

    Raises:
      NoteSequenceRecordError: naming ``name``: the bytes are not a serialized NoteSequence.
    """
    from note_seq.protobuf import music_pb2

    try:
        return music_pb2.NoteSequence.FromString(record)
    except Exception as err:  # protobuf's DecodeError and friends
        raise NoteSequenceRecordError(name, f"not a serialized NoteSequence ({type(err).__name__}: {err})") from err


def _op_error_text(error) -> str:
    """The human part of a TensorFlow op error message (no function-node or op decorations)."""
    text = error.message.splitlines()[0] if error.message else type(error).__name__
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text)
    return re.sub(r"\s*\[Op:.*$", "", text).strip()


def iter_file_records(path: str) -> Iterator[bytes]:
    """The serialized records of one TFRecord file, in order.

    Raises:
      InputError: naming ``path``: the file is not a readable TFRecord file (raised when the
        reader gets there, after the records before the damage).
    """
    import tensorflow as tf

    try:
        for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
            yield bytes(record)
    except tf.errors.OpError as e:
        raise InputError(path, f"not a readable TFRecord file ({_op_error_text(e)})") from e


def read_note_sequences(file_pattern) -> Iterator:
    """Yields the ``NoteSequence`` protos stored in TFRecord files, files in sorted order,
    records in file order.

    Args:
      file_pattern: a file, glob, sharded file name (``ns.tfrecord`` for ``ns-?????-of-?????.tfrecord``)
        or a list of them; see :func:`pipelines.tfrecord_io.list_files`.

    Raises:
      FileNotFoundError: nothing matches.
      InputError: naming the file: it is not a readable TFRecord file; or
        (:class:`NoteSequenceRecordError`) naming the file and the record's number in it: a
        record is not a NoteSequence.
    """
    for path in list_files(file_pattern):
        for index, record in enumerate(iter_file_records(path)):
            yield parse_note_sequence(record, f"{path} record {index}")


def write_note_sequences(
    path: Union[str, os.PathLike], sequences: Iterable, extra_records: Iterable[bytes] = ()
) -> str:
    """Writes NoteSequences into one TFRecord file at ``path``, atomically; returns ``path``.

    Args:
      path: the file; its folder is created if missing.
      sequences: ``note_seq.NoteSequence`` protos, written serialized, in order.
      extra_records: serialized records written as they are after the sequences (e.g. records
        read from elsewhere).
    """
    import tensorflow as tf

    with files.AtomicFile(path) as target:
        with tf.io.TFRecordWriter(target.temp_path) as writer:
            for sequence in sequences:
                writer.write(sequence.SerializeToString())
            for record in extra_records:
                writer.write(record)
    return target.path
