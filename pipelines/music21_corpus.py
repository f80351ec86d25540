"""Pieces of music21's pip-installed corpus as NoteSequences: the zoo's symbolic training data.

music21 ships (BSD) Bach's chorales as MusicXML and several folk collections as ABC: Essen
(``essenFolksong``), Ryan's Mammoth (``ryansMammoth``) and O'Neill's 1850 (``oneills1850``).
note-seq's own ABC reader reads no rests or grace notes (only about a third of O'Neill's tunes
convert), so each piece is parsed by music21 and handed to note-seq as MIDI bytes, which is what
a user's folder of MIDI files would hold. A piece music21 cannot read is skipped and counted.

Ids are stable (``<collection>/<file>#<tune index>``; chorales keep music21's corpus file name
with ``:soprano``), so the melody pipeline's hashed train/eval split is the same on every machine.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Callable, Iterator, List, Tuple

# collection name -> music21 corpus folder of its ABC files
FOLK_COLLECTIONS = {"essen": "essenFolksong", "ryans_mammoth": "ryansMammoth", "oneills": "oneills1850"}
COLLECTIONS = ("bach_soprano", *FOLK_COLLECTIONS)


@dataclasses.dataclass
class CorpusRead:
    """What one collection gave: NoteSequences and the pieces skipped as ``(id, reason)``."""

    sequences: list
    skipped: List[Tuple[str, str]]


def stream_to_sequence(stream, sequence_id: str):
    """A music21 stream -> ``note_seq.NoteSequence`` through MIDI bytes; id and filename set to ``sequence_id``."""
    import note_seq
    from music21 import midi as m21midi

    midi_file = m21midi.translate.streamToMidiFile(stream)
    sequence = note_seq.midi_to_note_sequence(midi_file.writestr())
    sequence.id = sequence.filename = sequence_id
    return sequence


def _bach_soprano(limit: int) -> Iterator[Tuple[str, Callable]]:
    import music21

    names = list(music21.corpus.chorales.Iterator(returnType="filename"))
    for name in names[: limit or None]:
        yield f"{name}:soprano", lambda name=name: [music21.corpus.parse(name).parts[0]]


def _folk(folder: str) -> Iterator[Tuple[str, Callable]]:
    import music21

    paths = sorted(
        str(p)
        for p in music21.corpus.getPaths(fileExtensions=("abc",))
        if os.path.basename(os.path.dirname(str(p))) == folder
    )
    for path in paths:

        def scores(path=path):
            opus = music21.converter.parse(path)
            return list(opus.scores) if hasattr(opus, "scores") and len(opus.scores) else [opus]

        yield f"{folder}/{os.path.basename(path)}", scores


def read_collection(name: str, limit: int = 0, progress: bool = True, only=None) -> CorpusRead:
    """NoteSequences of one collection of :data:`COLLECTIONS` (at most ``limit`` pieces; 0 = all).

    ``only``: a set of source ids (a chorale's piece id, or ``<folder>/<file>.abc`` for a folk file);
    other sources are not parsed.

    ``bach_soprano`` gives part 0 (the soprano line) of every chorale of
    ``music21.corpus.chorales.Iterator``; the folk collections give every tune of every ABC file.
    """
    from tfmusic.progress import progress_bar

    if name == "bach_soprano":
        sources = _bach_soprano(limit)
    elif name in FOLK_COLLECTIONS:
        sources = _folk(FOLK_COLLECTIONS[name])
    else:
        raise ValueError(f"unknown music21 collection {name!r} (known: {', '.join(COLLECTIONS)})")
    out, skipped = [], []
    bar = progress_bar(desc=name, unit="piece", disable=not progress, total=limit or None)
    for source_id, parse in sources:
        if only is not None and source_id not in only:
            continue
        try:
            streams = parse()
        except Exception as e:  # noqa: BLE001 - a corpus file music21 cannot read is skipped and named
            skipped.append((source_id, f"{type(e).__name__}: {e}"))
            continue
        for index, stream in enumerate(streams):
            piece_id = source_id if name == "bach_soprano" else f"{name}/{os.path.basename(source_id)}#{index}"
            try:
                out.append(stream_to_sequence(stream, piece_id))
                bar.update(1)
            except Exception as e:  # noqa: BLE001
                skipped.append((piece_id, f"{type(e).__name__}: {e}"))
            if limit and len(out) >= limit:
                bar.close()
                return CorpusRead(out, skipped)
    bar.close()
    return CorpusRead(out, skipped)


if __name__ == "__main__":  # pragma: no cover - a quick look: python -m pipelines.music21_corpus essen 5
    got = read_collection(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    print(len(got.sequences), "pieces;", len(got.skipped), "skipped")
