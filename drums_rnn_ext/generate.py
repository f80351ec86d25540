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


class DrumsGenerator:
    """Generates drum tracks from a Drums RNN model and its :class:`drums_rnn_ext.config.DrumsRnnConfig`."""

    def __init__(self, model, config):
        self.model = model
        self.config = config
        self.events = EventSequenceGenerator(model, config.encoder_decoder())

    @classmethod
    def from_bundle(cls, path: str) -> "DrumsGenerator":
        """A generator over a Drums RNN ``.mag`` (architecture inferred, every variable ported)."""
        from drums_rnn_ext import bundle as bundle_lib

        model, config, _ = bundle_lib.load_bundle(path)
        return cls(model, config)

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


def options(
    num_steps: int = 128,
    temperature: float = 1.0,
    beam_size: int = 1,
    branch_factor: int = 1,
    steps_per_iteration: int = 1,
    seed: Optional[int] = None,
) -> GenerationOptions:
    """:class:`events_rnn.generate.GenerationOptions` with Magenta's ``drums_rnn_generate`` defaults."""
    return GenerationOptions(num_steps, temperature, beam_size, branch_factor, steps_per_iteration, seed)


def load(run_dir: str, config_id: Optional[str] = None) -> "DrumsGenerator":
    """The trained Drums RNN of a training run, as a :class:`DrumsGenerator`.

    Args:
      run_dir: a ``drums_rnn_train`` run folder (``config.json`` + ``ckpt-N``: its newest checkpoint), a run
        folder of Magenta's own ``drums_rnn_train`` (``train/model.ckpt-N``), or a ``.mag`` bundle file.
      config_id: Magenta's ``--config`` of a Magenta run folder; checked against the run's otherwise.
    Raises ``ValueError`` subclasses naming the file (see :func:`events_rnn.generate.load`).
    """
    from events_rnn import generate as core
    from drums_rnn_ext import bundle as bundle_lib

    loaded = core.load(bundle_lib.FAMILY, run_dir, config_id)
    return DrumsGenerator(loaded.model, loaded.config)
