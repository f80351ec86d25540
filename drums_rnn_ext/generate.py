"""Drum-track generation, as Magenta's ``DrumsRnnSequenceGenerator`` and ``drums_rnn_generate`` do it.

From a primer NoteSequence and a total length of ``num_steps`` steps (at the config's steps per
quarter: ``drum_kit`` 4, ``one_drum`` 2):

1. generation starts one step after the primer's last note ends (Magenta's ``run_with_flags``) and
   ends at ``num_steps`` steps; a primer reaching past that is a :class:`GenerationError`;
2. the primer is quantized and its drum track read with :func:`drums_rnn_ext.data.extract_drum_tracks`
   (``min_bars=0``, ``gap_bars=inf``, ``ignore_is_drum=True``: every note counts as a drum); with no
   drum track, an empty one starting one step before the generation start (one step of silence);
3. the track is padded to the generation start and extended event by event (one event per step)
   by sampling at ``temperature`` or by beam search (:mod:`events_rnn.generate`);
4. the output is the whole track as a NoteSequence at the primer's tempo.

Primers: :func:`primer_from_drums` (``--primer_drums "[(36, 42), (), (42,)]"``), a MIDI file
(:func:`primer_from_midi`), or, with none, Magenta's default: a single bass drum hit (36).
"""

from __future__ import annotations

import ast
from typing import Optional, Sequence, Tuple

import note_seq

from drums_rnn_ext.data import extract_drum_tracks
from events_rnn.generate import EventSequenceGenerator, GenerationError, GenerationOptions  # noqa: F401
from events_rnn.generate import FamilyGenerator
from events_rnn.generate import primer_from_midi, quantize_primer  # noqa: F401

DEFAULT_QPM = 120.0
#: Magenta's primer when none is given: one bass drum hit.
DEFAULT_PRIMER_DRUMS = ((36,),)


def parse_primer_drums(text: str) -> Tuple[Tuple[int, ...], ...]:
    """``"[(36, 42), (), (42,)]"`` -> one tuple of drum pitches per step (Magenta's ``ast.literal_eval``)."""
    try:
        value = ast.literal_eval(text)
        steps = tuple(tuple(int(p) for p in step) for step in value)
    except (ValueError, SyntaxError, TypeError) as e:
        raise GenerationError(
            f"--primer_drums {text!r}: expected a list of tuples of MIDI drum pitches, "
            f'e.g. "[(36, 42), (), (42,)]" ({e})'
        ) from None
    for step in steps:
        for p in step:
            if not 0 <= p <= 127:
                raise GenerationError(f"--primer_drums: pitch {p} is outside MIDI 0..127")
    return steps


def primer_from_drums(steps: Sequence[Sequence[int]], qpm: float = DEFAULT_QPM, steps_per_quarter: int = 4):
    """A NoteSequence of a drum track: step ``i`` holds the drum pitches ``steps[i]`` (each one step long)."""
    track = note_seq.DrumTrack([frozenset(s) for s in steps], steps_per_quarter=steps_per_quarter)
    return track.to_sequence(qpm=qpm)


class DrumsGenerator(FamilyGenerator):
    """Generates drum tracks from a Drums RNN model and its :class:`drums_rnn_ext.config.DrumsRnnConfig`
    (:meth:`from_bundle`: over a Drums RNN ``.mag``; see :class:`events_rnn.generate.FamilyGenerator`)."""

    bundle_module = "drums_rnn_ext.bundle"

    def generate(self, primer_sequence, options: GenerationOptions = GenerationOptions()):
        """The primer's drum track continued to ``options.num_steps`` steps; returns (NoteSequence, score).

        ``score`` is the summed log-probability of the generated events.
        """
        from note_seq import sequences_lib

        spq = self.config.steps_per_quarter
        qpm = primer_sequence.tempos[0].qpm if primer_sequence.tempos and primer_sequence.tempos[0].qpm else DEFAULT_QPM
        seconds_per_step = 60.0 / qpm / spq
        steps_per_second = sequences_lib.steps_per_quarter_to_steps_per_second(spq, qpm)
        last_end = max((n.end_time for n in primer_sequence.notes), default=0.0)
        start_time = last_end + seconds_per_step if primer_sequence.notes else 0.0
        end_time = options.num_steps * seconds_per_step
        if start_time >= end_time:
            raise GenerationError(
                f"the primer ({start_time:.3f} s with the step after it) is not shorter than the "
                f"{options.num_steps} steps requested ({end_time:.3f} s)"
            )
        quantized = quantize_primer(primer_sequence, qpm, spq)
        tracks, _ = extract_drum_tracks(
            quantized, search_start_step=0, min_bars=0, gap_bars=float("inf"), ignore_is_drum=True
        )
        start = sequences_lib.quantize_to_step(start_time, steps_per_second, quantize_cutoff=0.0)
        end = sequences_lib.quantize_to_step(end_time, steps_per_second, quantize_cutoff=1.0)
        if tracks and tracks[0]:
            drums = tracks[0]
        else:
            steps_per_bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized))
            drums = note_seq.DrumTrack(
                [], start_step=max(0, start - 1), steps_per_bar=steps_per_bar, steps_per_quarter=spq
            )
        drums.set_length(start - drums.start_step)
        gen = GenerationOptions(
            end - drums.start_step,
            options.temperature,
            options.beam_size,
            options.branch_factor,
            options.steps_per_iteration,
            options.seed,
        )
        track, score = self.events.generate_events(drums, gen)
        return track.to_sequence(qpm=qpm), score


def default_primer(qpm: float = DEFAULT_QPM, steps_per_quarter: int = 4):
    """Magenta's primer when none is given: a single bass drum hit."""
    return primer_from_drums(DEFAULT_PRIMER_DRUMS, qpm, steps_per_quarter)


#: ``options(num_steps=128, temperature=1.0, beam_size=1, branch_factor=1, steps_per_iteration=1, seed=None)``:
#: :class:`events_rnn.generate.GenerationOptions`, whose defaults are Magenta's ``drums_rnn_generate`` ones.
options = GenerationOptions


def load(run_dir: str, config_id: Optional[str] = None) -> "DrumsGenerator":
    """The trained Drums RNN of a ``drums_rnn_train`` run folder, of a run folder of Magenta's own
    ``drums_rnn_train`` or of a ``.mag``, as a :class:`DrumsGenerator` (see
    :meth:`events_rnn.generate.FamilyGenerator.load`)."""
    return DrumsGenerator.load(run_dir, config_id)
