"""Monophonic melody extraction shared by the Melody RNN and the Improv RNN (Magenta's ``extract_melodies``,
``magenta/pipelines/melody_pipelines.py``; note-seq 0.0.5 lacks it) as an :class:`events_rnn.data.Stage`.
"""

from __future__ import annotations

import collections

import note_seq
import numpy as np
from note_seq import events_lib, sequences_lib

from events_rnn.data import Stage


class MelodyExtractor(Stage):
    """Quantized NoteSequence -> monophonic ``note_seq.Melody`` objects, per instrument, with Magenta's filters.

    Per instrument, melodies are read one after another (each starting on a bar line at or after the end of
    the previous one) until the track is exhausted. Counts: melodies extracted, discarded as too short or
    with too few pitch classes, truncated, polyphonic tracks discarded or reduced to their top note; lengths
    (in bars) of the kept melodies go to ``lengths_in_bars``.
    """

    name = "melody_extractor"
    input_type = note_seq.NoteSequence
    output_type = note_seq.Melody

    def __init__(
        self,
        min_bars=7,
        max_steps=512,
        min_unique_pitches=5,
        gap_bars=1.0,
        ignore_polyphonic_notes=True,
        filter_drums=True,
    ):
        self.min_bars = min_bars
        self.max_steps = max_steps
        self.min_unique_pitches = min_unique_pitches
        self.gap_bars = gap_bars
        self.ignore_polyphonic_notes = ignore_polyphonic_notes
        self.filter_drums = filter_drums
        self.lengths_in_bars: collections.Counter = collections.Counter()

    @property
    def lengths(self) -> collections.Counter:
        """The kept melodies' lengths in bars (what :class:`events_rnn.data.EventsPipeline` reports)."""
        return self.lengths_in_bars

    @lengths.setter
    def lengths(self, value) -> None:
        self.lengths_in_bars = value

    @staticmethod
    def _has_simultaneous_onsets(quantized, instrument, filter_drums) -> bool:
        starts = [
            n.quantized_start_step
            for n in quantized.notes
            if n.instrument == instrument and n.velocity and not (filter_drums and n.is_drum)
        ]
        return len(starts) != len(set(starts))

    def transform(self, quantized, counters):
        self._count(counters, "sequences_in")
        steps_per_bar = sequences_lib.steps_per_bar_in_quantized_sequence(quantized)
        if steps_per_bar % 1 != 0:
            self._count(counters, "discarded_non_integer_steps_per_bar")
            return []
        steps_per_bar = int(steps_per_bar)
        melodies = []
        for instrument in sorted({n.instrument for n in quantized.notes}):
            if self.ignore_polyphonic_notes and self._has_simultaneous_onsets(quantized, instrument, self.filter_drums):
                self._count(counters, "polyphonic_tracks_reduced_to_top_note")
            search_start = 0
            while True:
                melody = note_seq.Melody()
                try:
                    melody.from_quantized_sequence(
                        quantized,
                        search_start_step=search_start,
                        instrument=instrument,
                        gap_bars=self.gap_bars,
                        ignore_polyphonic_notes=self.ignore_polyphonic_notes,
                        filter_drums=self.filter_drums,
                    )
                except note_seq.PolyphonicMelodyError:
                    self._count(counters, "polyphonic_tracks_discarded")
                    break
                except events_lib.NonIntegerStepsPerBarError:
                    self._count(counters, "discarded_non_integer_steps_per_bar")
                    return melodies
                if not melody:
                    break
                # The next search starts on the first bar line at or after this melody's end.
                search_start = melody.end_step + (-melody.end_step) % steps_per_bar
                if len(melody) < self.min_bars * melody.steps_per_bar:
                    self._count(counters, "melodies_discarded_too_short")
                    continue
                if self.max_steps is not None and len(melody) > self.max_steps:
                    melody.set_length(self.max_steps)
                    self._count(counters, "melodies_truncated")
                if np.count_nonzero(melody.get_note_histogram()) < self.min_unique_pitches:
                    self._count(counters, "melodies_discarded_too_few_pitches")
                    continue
                self.lengths_in_bars[len(melody) // melody.steps_per_bar] += 1
                self._count(counters, "melodies_extracted")
                melodies.append(melody)
        return melodies
