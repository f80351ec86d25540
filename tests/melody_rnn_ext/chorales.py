"""Real NoteSequence fixtures for the melody_rnn_ext tests: Bach chorales from music21's corpus (MusicXML),
parsed by note-seq's MusicXML reader (tests write them with ``pipelines.note_sequence_io.write_note_sequences``)."""

from __future__ import annotations

import functools
import os

import pytest


@functools.lru_cache(maxsize=None)
def chorale_paths() -> dict:
    """{file name (e.g. 'bwv10.7.mxl'): path} of music21's Bach corpus."""
    music21 = pytest.importorskip("music21")
    return {os.path.basename(str(p)): str(p) for p in music21.corpus.getComposer("bach")}


def chorale(name: str):
    """A fresh ``note_seq.NoteSequence`` of one chorale (id and filename set to its file name)."""
    paths = chorale_paths()
    if name not in paths:
        pytest.skip(f"music21 corpus has no {name}")
    sequence = _parse(paths[name])
    copy = type(sequence)()
    copy.CopyFrom(sequence)
    copy.id = copy.filename = name
    return copy


@functools.lru_cache(maxsize=None)
def _parse(path: str):
    from note_seq import musicxml_reader

    return musicxml_reader.musicxml_file_to_sequence_proto(path)


def seed_splitting_both_ways(eval_name: str, training_name: str, ratio: float = 0.5) -> int:
    """The first seed of ``melody_rnn_create_dataset``'s split (``--eval_ratio ratio``) that puts ``eval_name``
    in eval and ``training_name`` in training (so both files get melodies)."""
    from melody_rnn_ext import data

    return next(
        seed
        for seed in range(1000)
        if data.partition_of(eval_name, ratio, seed) == "eval"
        and data.partition_of(training_name, ratio, seed) == "training"
    )
