"""Melody-over-chords generation, as Magenta's ``ImprovRnnSequenceGenerator`` and ``improv_rnn_generate`` do it.

From a primer NoteSequence, a backing chord progression (``--backing_chords "C G Am F"``, each chord held
``--steps_per_chord`` steps of a sixteenth note) and a tempo:

1. the output is as long as the chords; generation starts one step after the primer's last note ends
   (a primer reaching past the chords is a :class:`GenerationError`);
2. the primer is quantized at 4 steps per quarter and its melody read as Magenta's ``extract_melodies``
   with ``min_bars=0, min_unique_pitches=1, gap_bars=inf, ignore_polyphonic_notes=True`` (the top note of
   chords); with no melody, an empty one starting one step before the generation start;
3. the chords are cut to start where the melody starts; the melody is squashed into MIDI 48..83 by whole
   octaves (Magenta's ``Melody.squash`` with no key: its returned transposition, 0, is what the chords
   are shifted by and what is undone afterwards, so a primer outside the range stays octave-shifted, as in
   Magenta), and extended event by event conditioned on the chord of each step (sampling at
   ``temperature`` or beam search, :mod:`events_rnn.generate`);
4. the output is note-seq's ``LeadSheet(melody, chords).to_sequence(qpm)``: the melody's notes plus chord
   symbol annotations; ``render_chords`` adds the chords as notes (note-seq's ``BasicChordRenderer``,
   velocity 50, as Magenta's ``--render_chords``).

Primers: :func:`primer_from_melody` (``--primer_melody``), a MIDI file (:func:`primer_from_midi`), or
Magenta's default: a single middle C.
"""

from __future__ import annotations

import copy
import functools
from typing import Optional, Sequence, Tuple

import note_seq

from events_rnn.generate import EventSequenceGenerator, GenerationError, GenerationOptions  # noqa: F401
from events_rnn.generate import FamilyGenerator
from events_rnn.generate import primer_from_midi, quantize_primer  # noqa: F401
from improv_rnn_ext import DEFAULT_BACKING_CHORDS  # noqa: F401  (Magenta's --backing_chords default)

DEFAULT_QPM = 120.0
#: Velocity of chords rendered as notes (Magenta's ``CHORD_VELOCITY``).
CHORD_VELOCITY = 50


def backing_chords(text: str, steps_per_chord: int = 16) -> note_seq.ChordProgression:
    """``"C G Am F"`` -> a ChordProgression holding each chord symbol ``steps_per_chord`` steps.

    Raises :class:`GenerationError` naming a chord symbol note-seq cannot read.
    """
    from note_seq import chord_symbols_lib

    symbols = text.split()
    if not symbols:
        raise GenerationError("--backing_chords: no chord symbols given")
    if steps_per_chord < 1:
        raise GenerationError(f"--steps_per_chord must be >= 1, got {steps_per_chord}")
    for symbol in symbols:
        if symbol != note_seq.NO_CHORD:
            try:
                chord_symbols_lib.chord_symbol_pitches(symbol)
            except chord_symbols_lib.ChordSymbolError as e:
                raise GenerationError(f"--backing_chords: cannot read chord symbol {symbol!r} ({e})") from None
    return note_seq.ChordProgression([s for s in symbols for _ in range(steps_per_chord)])


def primer_from_melody(events: Sequence[int], qpm: float = DEFAULT_QPM):
    """A NoteSequence of note-seq ``Melody`` events (pitch, -1 off, -2 hold) at 4 steps per quarter and ``qpm``."""
    try:
        return note_seq.Melody(list(events)).to_sequence(qpm=qpm)
    except Exception as e:  # noqa: BLE001 - note-seq raises several types for bad events
        raise GenerationError(f"--primer_melody {list(events)}: not a note-seq melody ({e})") from None


def default_primer(qpm: float = DEFAULT_QPM):
    """Magenta's primer when none is given: a single middle C (one sixteenth)."""
    return primer_from_melody([60], qpm)


def read_primer_melody(quantized, start_step: int, steps_per_quarter: int) -> note_seq.Melody:
    """The primer's melody (Magenta's ``extract_melodies`` for primers), or an empty melody starting one step
    before ``start_step``."""
    from note_seq import sequences_lib

    melody = note_seq.Melody()
    melody.from_quantized_sequence(quantized, search_start_step=0, gap_bars=float("inf"), ignore_polyphonic_notes=True)
    if melody and len({e for e in melody if e >= 0}) >= 1:
        return melody
    steps_per_bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized))
    return note_seq.Melody(
        [], start_step=max(0, start_step - 1), steps_per_bar=steps_per_bar, steps_per_quarter=steps_per_quarter
    )


class ImprovGenerator(FamilyGenerator):
    """Generates melodies over chords from an Improv RNN model and its :class:`improv_rnn_ext.config.ImprovRnnConfig`
    (see :class:`events_rnn.generate.FamilyGenerator`)."""

    bundle_module = "improv_rnn_ext.bundle"

    def __init__(self, model, config, chords: note_seq.ChordProgression, render_chords: bool = False):
        super().__init__(model, config)
        self.chords = chords
        self.render_chords = render_chords

    def generate_melody(
        self, melody: note_seq.Melody, chords: note_seq.ChordProgression, options: GenerationOptions
    ) -> Tuple[note_seq.Melody, float]:
        """Magenta's ``ImprovRnnModel.generate_melody``: ``melody`` extended to ``len(chords)`` events over
        ``chords`` (both starting at the same step); returns (melody, score)."""
        melody, chords = copy.deepcopy(melody), copy.deepcopy(chords)
        low, high = self.config.note_range
        amount = melody.squash(low, high, None)
        chords.transpose(amount)
        opts = GenerationOptions(
            len(chords),
            options.temperature,
            options.beam_size,
            options.branch_factor,
            options.steps_per_iteration,
            options.seed,
        )
        out, score = self.events.generate_events(melody, opts, control_events=chords)
        out.transpose(-amount)
        return out, score

    def generate(self, primer_sequence, options: GenerationOptions = GenerationOptions()):
        """The primer's melody continued over the backing chords; returns (NoteSequence, score).

        ``options.num_steps`` is ignored: the chords set the length. ``score`` is the summed
        log-probability of the generated events.
        """
        from note_seq import sequences_lib

        spq = self.config.steps_per_quarter
        qpm = primer_sequence.tempos[0].qpm if primer_sequence.tempos and primer_sequence.tempos[0].qpm else DEFAULT_QPM
        end = len(self.chords)
        last_end = max((n.end_time for n in primer_sequence.notes), default=0.0)
        seconds_per_step = 60.0 / qpm / spq
        start_time = last_end + seconds_per_step if primer_sequence.notes else 0.0
        steps_per_second = sequences_lib.steps_per_quarter_to_steps_per_second(spq, qpm)
        start = sequences_lib.quantize_to_step(start_time, steps_per_second, quantize_cutoff=0.0)
        if start >= end:
            raise GenerationError(
                f"the primer ({start_time:.3f} s with the step after it) is not shorter than the "
                f"backing chords ({end} steps, {end * seconds_per_step:.3f} s)"
            )
        quantized = quantize_primer(primer_sequence, qpm, spq)
        melody = read_primer_melody(quantized, start, spq)
        if melody.start_step >= start:
            melody = note_seq.Melody(
                [], start_step=max(0, start - 1), steps_per_bar=melody.steps_per_bar, steps_per_quarter=spq
            )
        chords = note_seq.ChordProgression(list(self.chords)[melody.start_step : end], start_step=melody.start_step)
        melody.set_length(start - melody.start_step)
        generated, score = self.generate_melody(melody, chords, options)
        sequence = note_seq.LeadSheet(generated, chords).to_sequence(qpm=qpm)
        if self.render_chords:
            note_seq.BasicChordRenderer(velocity=CHORD_VELOCITY).render(sequence)
        return sequence, score


#: ``options(temperature=1.0, beam_size=1, branch_factor=1, steps_per_iteration=1, seed=None)``:
#: :class:`events_rnn.generate.GenerationOptions` with Magenta's ``improv_rnn_generate`` defaults (the length comes
#: from the chords; ``num_steps`` is a placeholder).
options = functools.partial(GenerationOptions, 2)


def load(
    run_dir: str, config_id: Optional[str] = None, chords: str = DEFAULT_BACKING_CHORDS, steps_per_chord: int = 16
) -> "ImprovGenerator":
    """The trained Improv RNN of an ``improv_rnn_train`` run folder, of a run folder of Magenta's own
    ``improv_rnn_train`` or of a ``.mag``, as an :class:`ImprovGenerator` over ``chords`` with ``steps_per_chord``
    steps each (:func:`backing_chords`; default Magenta's ``--backing_chords``; see
    :meth:`events_rnn.generate.FamilyGenerator.load`)."""
    return ImprovGenerator.load(run_dir, config_id, backing_chords(chords, steps_per_chord))
