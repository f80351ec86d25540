"""Lead-sheet extraction: Magenta's ``lead_sheets_lib.extract_lead_sheet_fragments`` and
``chords_lib.extract_chords_for_melodies`` (note-seq 0.0.5 ships ``LeadSheet`` and ``ChordProgression`` but
not these two functions).

A lead sheet is a monophonic melody and the chord progression under it (``CHORD_SYMBOL`` text annotations
of the quantized NoteSequence), step for step. Melodies are extracted exactly as for the Melody RNN
(:class:`events_rnn.melodies.MelodyExtractor`, Magenta's ``extract_melodies``); each gets the chords of its
span (``ChordProgression.from_quantized_sequence(seq, melody.start_step, melody.end_step)``); two chords
on one step make that melody's progression fail (``coincident_chords``); with ``require_chords`` a
progression of only ``NO_CHORD`` is dropped (``empty_chord_progressions``); with ``all_transpositions``
each lead sheet is emitted 12 times, transposed by -6..5 semitones (melody and chords).
"""

from __future__ import annotations

import copy
from typing import List, Optional, Tuple

import note_seq
from note_seq import chords_lib, sequences_lib

from events_rnn.melodies import MelodyExtractor
from pipelines.tfrecord_io import Counters

#: Magenta's transpositions for ``all_transpositions`` (``range(-6, 6)``).
ALL_TRANSPOSITIONS = tuple(range(-6, 6))


def extract_chords_for_melodies(
    quantized_sequence, melodies, counters: Optional[Counters] = None
) -> List[Optional[note_seq.ChordProgression]]:
    """The chord progression under each melody (same span), or None where two chords share a step
    (counted as ``discarded_coincident_chords`` in ``counters``). Magenta's ``extract_chords_for_melodies``."""
    out = []
    for melody in melodies:
        chords = note_seq.ChordProgression()
        try:
            chords.from_quantized_sequence(quantized_sequence, melody.start_step, melody.end_step)
        except chords_lib.CoincidentChordsError:
            if counters is not None:
                counters.increment("discarded_coincident_chords")
            chords = None
        out.append(chords)
    return out


def extract_lead_sheet_fragments(
    quantized_sequence,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: Optional[int] = None,
    gap_bars: float = 1.0,
    min_unique_pitches: int = 5,
    ignore_polyphonic_notes: bool = True,
    filter_drums: bool = True,
    require_chords: bool = False,
    all_transpositions: bool = False,
    counters: Optional[Counters] = None,
) -> Tuple[List[note_seq.LeadSheet], Counters]:
    """Lead sheets of a quantized NoteSequence (Magenta's function, same arguments and defaults; see the
    module docstring). ``search_start_step`` must be 0 (every Magenta caller passes 0).

    Returns (lead sheets, counters: the melody extractor's counts under ``melody_extractor/...`` plus
    ``discarded_coincident_chords`` and ``discarded_empty_chord_progressions``, Magenta's ``coincident_chords``
    and ``empty_chord_progressions``).

    Raises:
      note_seq.NonIntegerStepsPerBarError: the bar is not a whole number of steps.
      note_seq.ChordSymbolError: a chord figure that cannot be transposed.
    """
    if search_start_step:
        raise ValueError("search_start_step must be 0")
    sequences_lib.assert_is_relative_quantized_sequence(quantized_sequence)
    steps_per_bar = sequences_lib.steps_per_bar_in_quantized_sequence(quantized_sequence)
    if steps_per_bar % 1 != 0:
        raise note_seq.NonIntegerStepsPerBarError(
            f"there are {steps_per_bar:g} steps per bar (time signature "
            f"{quantized_sequence.time_signatures[0].numerator}/{quantized_sequence.time_signatures[0].denominator})"
        )
    counters = Counters() if counters is None else counters
    extractor = MelodyExtractor(
        min_bars=min_bars,
        max_steps=max_steps_truncate,
        min_unique_pitches=min_unique_pitches,
        gap_bars=gap_bars,
        ignore_polyphonic_notes=ignore_polyphonic_notes,
        filter_drums=filter_drums,
    )
    melodies = extractor.transform(quantized_sequence, counters)
    lead_sheets = []
    for melody, chords in zip(melodies, extract_chords_for_melodies(quantized_sequence, melodies, counters)):
        if chords is None:
            continue
        if require_chords and all(chord == note_seq.NO_CHORD for chord in chords):
            counters.increment("discarded_empty_chord_progressions")
            continue
        lead_sheet = note_seq.LeadSheet(melody, chords)
        if not all_transpositions:
            lead_sheets.append(lead_sheet)
            continue
        for amount in ALL_TRANSPOSITIONS:
            transposed = copy.deepcopy(lead_sheet)
            transposed.transpose(amount)
            lead_sheets.append(transposed)
    return lead_sheets, counters
