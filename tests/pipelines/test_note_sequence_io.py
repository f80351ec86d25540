"""pipelines.note_sequence_io: the one NoteSequence TFRecord reader and its one-file writer."""

import os

import pytest
from note_seq.protobuf import music_pb2

from pipelines import note_sequence_io
from pipelines.errors import InputError


def _sequence(name, pitch):
    sequence = music_pb2.NoteSequence(id=name, filename=name)
    sequence.notes.add(pitch=pitch, start_time=0.0, end_time=0.5, velocity=80)
    sequence.total_time = 0.5
    return sequence


def test_written_sequences_read_back_in_file_then_record_order(tmp_path):
    a = [_sequence("a0", 60), _sequence("a1", 62)]
    b = [_sequence("b0", 64)]
    path_b = note_sequence_io.write_note_sequences(str(tmp_path / "b.tfrecord"), b)
    path_a = note_sequence_io.write_note_sequences(str(tmp_path / "new" / "a.tfrecord"), a)
    assert path_a == str(tmp_path / "new" / "a.tfrecord") and os.path.isfile(path_b)
    assert not [p for p in os.listdir(tmp_path / "new") if ".tmp-" in p]
    assert list(note_sequence_io.read_note_sequences(path_a)) == a
    assert list(note_sequence_io.read_note_sequences([path_a, path_b])) == b + a  # files in sorted order
    with pytest.raises(FileNotFoundError):
        next(note_sequence_io.read_note_sequences(str(tmp_path / "none-*.tfrecord")))


def test_a_record_that_is_no_note_sequence_is_named_by_file_and_number(tmp_path):
    path = note_sequence_io.write_note_sequences(
        str(tmp_path / "ns.tfrecord"), [_sequence("ok", 60)], extra_records=[b"\xff\xff\xff not a NoteSequence"]
    )
    reader = note_sequence_io.read_note_sequences(path)
    assert next(reader).id == "ok"
    with pytest.raises(note_sequence_io.NoteSequenceRecordError) as caught:
        next(reader)
    assert caught.value.name == f"{path} record 1"
    assert "not a serialized NoteSequence (DecodeError" in caught.value.problem


def test_a_file_that_is_no_tfrecord_is_named(tmp_path):
    path = tmp_path / "ns.tfrecord"
    path.write_text("this is text, not TFRecords\n")
    with pytest.raises(InputError) as caught:
        list(note_sequence_io.read_note_sequences(str(path)))
    assert caught.value.name == str(path) and "not a readable TFRecord file" in caught.value.problem
