"""Performance generation, as Magenta's ``PerformanceRnnSequenceGenerator`` and ``performance_rnn_generate`` do it.

From a primer NoteSequence and a total length of ``num_steps`` steps of 10 ms (primer included):

1. generation starts at the primer's ``total_time`` (no note may end after it) and ends at
   ``num_steps / 100`` seconds (rounded down to a step); a primer reaching past that is a
   :class:`GenerationError`;
2. the primer is quantized at 100 steps per second and its performance read with
   :func:`performance_rnn_ext.data.extract_performances` (none when it mixes programs); without one,
   an empty performance starting at the generation start, given up to 1 s of silence;
3. the performance is padded to the generation start and extended by rounds of
   ``ceil(4 * density * steps_left / 100)`` RNN events (``density``: the mean of the requested notes per
   second, at least 1; 15 by default) until it covers the requested steps, each round by sampling at
   ``temperature`` or by beam search (:mod:`events_rnn.generate`), then cut to the requested length;
4. conditioned configs: each control value (and the "disable conditioning" flag) is a single value or a
   list of values spread evenly over the performance's steps (Magenta's ``_step_to_value``); the controls
   of each new event are computed from the time reached so far;
5. the output is the performance as a NoteSequence, notes cut at 5 s (Magenta's ``max_note_duration``).

Primers: :func:`primer_from_pitches` (``--primer_pitches``: a chord of one quarter at 120 qpm, velocity
100), :func:`primer_from_melody` (``--primer_melody``, note-seq ``Melody`` events at 120 qpm, 4 steps per
quarter), :func:`primer_from_midi`, or :func:`empty_primer`.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import math
from typing import Dict, List, Optional, Sequence

import note_seq
import numpy as np

from events_rnn.generate import EventSequenceGenerator, GenerationError, GenerationOptions  # noqa: F401
from events_rnn.generate import FamilyGenerator
from performance_rnn_ext.data import extract_performances

#: Magenta's ``MAX_NOTE_DURATION_SECONDS``: notes still on after this long are ended.
MAX_NOTE_DURATION_SECONDS = 5.0
#: Notes per second assumed when sizing RNN rounds (note-seq's ``DEFAULT_NOTE_DENSITY``).
DEFAULT_NOTE_DENSITY = 15.0
DEFAULT_QPM = 120.0


def primer_from_pitches(pitches: Sequence[int]):
    """Magenta's ``--primer_pitches`` primer: the pitches as one chord, 0 to 0.5 s (a quarter at 120 qpm), velocity 100."""
    ns = note_seq.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    for pitch in pitches:
        if not 0 <= int(pitch) <= 127:
            raise GenerationError(f"--primer_pitches: pitch {pitch} is outside MIDI 0..127")
        ns.notes.add(pitch=int(pitch), velocity=100, start_time=0.0, end_time=60.0 / DEFAULT_QPM)
        ns.total_time = 60.0 / DEFAULT_QPM
    return ns


def primer_from_melody(events: Sequence[int], qpm: float = DEFAULT_QPM):
    """Magenta's ``--primer_melody`` primer: note-seq ``Melody`` events (pitch, -1 off, -2 hold) at 4 steps per
    quarter, ``qpm`` (Magenta: 120)."""
    try:
        return note_seq.Melody(list(events)).to_sequence(qpm=qpm)
    except Exception as e:  # noqa: BLE001 - note-seq raises ValueError / its own errors for bad events
        raise GenerationError(f"--primer_melody {list(events)}: not a note-seq melody ({e})") from None


def primer_from_midi(path: str):
    """The NoteSequence of a MIDI file; :class:`GenerationError` naming an unreadable file."""
    try:
        return note_seq.midi_file_to_note_sequence(path)
    except Exception as e:  # noqa: BLE001 - pretty_midi / mido raise many types for a bad file
        raise GenerationError(f"--primer_midi {path}: cannot read MIDI ({e})") from e


def empty_primer():
    """Magenta's primer when none is given: an empty NoteSequence (generation starts with silence)."""
    return note_seq.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)


def parse_control_values(signal, text: str, flag: Optional[str] = None) -> list:
    """A control flag (``--notes_per_second 8`` or ``"[2, 8, 16]"``; ``--pitch_class_histogram "[1, 0, ...]"``)
    -> the list of values spread over the performance (a single value gives a one-item list).

    Raises :class:`GenerationError` naming the flag when the text is neither one valid value nor a list of them.
    """
    flag = flag or f"--{signal.name}"
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as e:
        raise GenerationError(f"{flag} {text!r}: not a Python literal ({e})") from None
    if signal.validate(value):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(signal.validate(v) for v in value):
        return list(value)
    raise GenerationError(f"{flag} {text!r}: not a valid value ({signal.description}) nor a list of them")


def parse_disable_conditioning(text: str) -> List[bool]:
    """``--disable_conditioning True`` or ``"[False, True]"`` -> list of booleans spread over the performance."""
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as e:
        raise GenerationError(f"--disable_conditioning {text!r}: not a Python literal ({e})") from None
    if isinstance(value, bool):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, bool) for v in value):
        return list(value)
    raise GenerationError(f"--disable_conditioning {text!r}: expected True, False or a list of them")


def step_to_value(step: int, num_steps: int, values: Sequence):
    """Magenta's ``_step_to_value``: the value of ``values`` (spread evenly over ``num_steps``) at ``step``."""
    return values[min(step * len(values) // num_steps, len(values) - 1)]


@dataclasses.dataclass(frozen=True)
class Conditioning:
    """Control values of a conditioned config: ``values`` ``{signal name: [value, ...]}`` (missing: the
    signal's default) and ``disable`` (``[bool, ...]``, optional-conditioning configs only)."""

    values: Dict[str, list] = dataclasses.field(default_factory=dict)
    disable: Optional[List[bool]] = None


class PerformanceGenerator(FamilyGenerator):
    """Generates performances from a Performance RNN model and its
    :class:`performance_rnn_ext.config.PerformanceRnnConfig` (:meth:`from_bundle`: over a Performance RNN ``.mag``,
    with ``conditioning``; see :class:`events_rnn.generate.FamilyGenerator`)."""

    bundle_module = "performance_rnn_ext.bundle"

    def __init__(
        self,
        model,
        config,
        conditioning: Conditioning = Conditioning(),
        max_note_duration: float = MAX_NOTE_DURATION_SECONDS,
    ):
        super().__init__(model, config)
        self.conditioning = conditioning
        self.max_note_duration = max_note_duration
        self.signals = config.control_signals() or []

    def _control_functions(self, total_steps: int):
        if not self.signals:
            return None, None
        fns = []
        for signal in self.signals:
            values = self.conditioning.values.get(signal.name) or [signal.default_value]
            fns.append(lambda step, v=values: step_to_value(step, total_steps, v))
        disable_fn = None
        if self.config.optional_conditioning:
            disable = self.conditioning.disable or [False]
            disable_fn = lambda step: step_to_value(step, total_steps, disable)  # noqa: E731
        return fns, disable_fn

    def _controls(self, fns, disable_fn, step: int):
        control = tuple(f(step) for f in fns)
        return (disable_fn(step), control) if disable_fn is not None else control

    def _generate_round(self, performance, num_events: int, options: GenerationOptions, fns, disable_fn):
        if not fns:
            return self.events.generate_events(performance, dataclasses.replace(options, num_steps=num_events))

        def extend(controls, events, state):
            idx, step = state
            while idx < len(events):
                if events[idx].event_type == note_seq.PerformanceEvent.TIME_SHIFT:
                    step += events[idx].event_value
                idx += 1
                controls.append(self._controls(fns, disable_fn, step))
            return idx, step

        return self.events.generate_events(
            performance,
            dataclasses.replace(options, num_steps=num_events),
            control_events=[self._controls(fns, disable_fn, 0)],
            control_state=(0, 0),
            extend_control_events=extend,
        )

    def generate(self, primer_sequence, options: GenerationOptions = GenerationOptions(num_steps=3000)):
        """The primer continued to ``options.num_steps`` steps of 10 ms; returns (NoteSequence, score).

        ``score`` is the summed log-probability of the generated events (over all rounds).
        """
        from note_seq import sequences_lib

        sps = self.config.steps_per_second
        start_time = primer_sequence.total_time
        end_time = options.num_steps / sps
        if start_time >= end_time:
            raise GenerationError(
                f"the primer ({start_time:.3f} s) is not shorter than the {options.num_steps} "
                f"steps requested ({end_time:.3f} s)"
            )
        last_end = max((n.end_time for n in primer_sequence.notes), default=0.0)
        if last_end > start_time:
            raise GenerationError(f"primer: a note ends at {last_end:.3f} s, after its total_time {start_time:.3f} s")
        try:
            quantized = sequences_lib.quantize_note_sequence_absolute(copy.deepcopy(primer_sequence), sps)
        except Exception as e:  # noqa: BLE001 - note-seq's quantization errors are the primer's fault
            raise GenerationError(f"primer: cannot quantize ({e})") from e
        performances, _ = extract_performances(quantized, num_velocity_bins=self.config.num_velocity_bins)
        start = sequences_lib.quantize_to_step(start_time, sps, quantize_cutoff=0.0)
        end = sequences_lib.quantize_to_step(end_time, sps, quantize_cutoff=1.0)
        if performances and performances[0]:
            performance = performances[0]
        else:
            performance = note_seq.Performance(
                steps_per_second=sps, start_step=start, num_velocity_bins=self.config.num_velocity_bins
            )
        performance.set_length(start - performance.start_step)
        total_steps = performance.num_steps + (end - start)
        density_values = (
            self.conditioning.values.get("notes_per_second")
            if any(s.name == "notes_per_second" for s in self.signals)
            else None
        )
        if any(s.name == "notes_per_second" for s in self.signals) and not density_values:
            density_values = [DEFAULT_NOTE_DENSITY]
        mean_density = sum(density_values) / len(density_values) if density_values else DEFAULT_NOTE_DENSITY
        fns, disable_fn = self._control_functions(total_steps)
        if not performance:
            performance.set_length(min(performance.max_shift_steps, total_steps))
        score, round_index = 0.0, 0
        while performance.num_steps < total_steps:
            steps_left = total_steps - performance.num_steps
            rnn_steps = int(math.ceil(4.0 * max(1.0, mean_density) * steps_left / sps))
            seed = (
                None
                if options.seed is None
                else int(np.random.SeedSequence([options.seed, round_index]).generate_state(1)[0])
            )
            performance, round_score = self._generate_round(
                performance, len(performance) + rnn_steps, dataclasses.replace(options, seed=seed), fns, disable_fn
            )
            score += round_score
            round_index += 1
        performance.set_length(total_steps)
        return performance.to_sequence(max_note_duration=self.max_note_duration), score


def options(
    num_steps: int = 3000,
    temperature: float = 1.0,
    beam_size: int = 1,
    branch_factor: int = 1,
    steps_per_iteration: int = 1,
    seed: Optional[int] = None,
) -> GenerationOptions:
    """:class:`events_rnn.generate.GenerationOptions` with Magenta's ``performance_rnn_generate`` defaults
    (``num_steps`` counts 10 ms steps, primer included)."""
    return GenerationOptions(num_steps, temperature, beam_size, branch_factor, steps_per_iteration, seed)


def load(run_dir: str, config_id: Optional[str] = None) -> "PerformanceGenerator":
    """The trained Performance RNN of a ``performance_rnn_train`` run folder, of a run folder of Magenta's own
    ``performance_rnn_train`` or of a ``.mag``, as a :class:`PerformanceGenerator` (no control signals; pass
    ``conditioning`` to the class for those; see :meth:`events_rnn.generate.FamilyGenerator.load`)."""
    return PerformanceGenerator.load(run_dir, config_id)
