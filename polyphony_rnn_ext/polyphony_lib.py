"""Polyphonic event sequences and their one-hot encoding, as Magenta's Polyphony RNN defines them.

note-seq (0.0.5) does not ship these: Magenta keeps them in ``magenta/models/polyphony_rnn``
(``polyphony_lib.py``, ``polyphony_encoder_decoder.py``). This module re-implements the same format,
since the class indices must be Magenta's for its bundles to mean the same thing:

* a :class:`PolyphonicSequence` is a stream of :class:`PolyphonicEvent`: ``START``; then per
  quantized step, the step's notes highest pitch first (``CONTINUED_NOTE`` for each pitch sounding
  since an earlier step, ``NEW_NOTE`` for each pitch starting now), closed by ``STEP_END``; finally
  ``END``. A sounding pitch that is not continued in a step has ended.
* :class:`PolyphonyOneHotEncoding` (259 classes): ``START`` 0, ``END`` 1, ``STEP_END`` 2,
  ``NEW_NOTE`` p = 3 + p, ``CONTINUED_NOTE`` p = 131 + p (p in 0..127); the default event (the
  "no event" class of Magenta's metrics) is ``STEP_END``. Wrapped in note-seq's
  ``OneHotEventSequenceEncoderDecoder``, inputs and classes are both 259 wide.
"""

from __future__ import annotations

import collections
import copy
from typing import Iterator, List, Optional, Sequence, Tuple

from note_seq import constants, sequences_lib
from note_seq import encoder_decoder as _ed
from note_seq import events_lib
from note_seq.protobuf import music_pb2

MIN_MIDI_PITCH = constants.MIN_MIDI_PITCH
MAX_MIDI_PITCH = constants.MAX_MIDI_PITCH
STEPS_PER_QUARTER = 4


class PolyphonicEvent:
    """One event of a polyphonic sequence: ``event_type`` (START 0, END 1, STEP_END 2, NEW_NOTE 3,
    CONTINUED_NOTE 4) and ``pitch`` (MIDI pitch for the note events; None or 0 otherwise)."""

    START = 0
    END = 1
    STEP_END = 2
    NEW_NOTE = 3
    CONTINUED_NOTE = 4

    def __init__(self, event_type: int, pitch: Optional[int]):
        if not self.START <= event_type <= self.CONTINUED_NOTE:
            raise ValueError(f"invalid polyphonic event type {event_type}")
        if pitch is not None and not MIN_MIDI_PITCH <= pitch <= MAX_MIDI_PITCH:
            raise ValueError(f"invalid pitch {pitch}")
        self.event_type = event_type
        self.pitch = pitch

    def __eq__(self, other):
        return isinstance(other, PolyphonicEvent) and self.event_type == other.event_type and self.pitch == other.pitch

    def __repr__(self):
        return f"PolyphonicEvent({self.event_type!r}, {self.pitch!r})"


def _marker(event_type: int) -> PolyphonicEvent:
    return PolyphonicEvent(event_type, None)


class PolyphonicSequence(events_lib.EventSequence):
    """A polyphonic track as a list of :class:`PolyphonicEvent` (see the module docstring).

    Args:
      quantized_sequence: a relative-quantized NoteSequence to read (notes starting before
        ``start_step`` are skipped), or None for an empty sequence (just ``START``).
      steps_per_quarter: required without ``quantized_sequence``.
      start_step: the sequence's first step in its source.
    """

    def __init__(self, quantized_sequence=None, steps_per_quarter: Optional[int] = None, start_step: int = 0):
        if (quantized_sequence is None) == (steps_per_quarter is None):
            raise ValueError("give exactly one of quantized_sequence and steps_per_quarter")
        if quantized_sequence is not None:
            sequences_lib.assert_is_relative_quantized_sequence(quantized_sequence)
            self._events = self._events_of(quantized_sequence, start_step)
            self._steps_per_quarter = quantized_sequence.quantization_info.steps_per_quarter
        else:
            self._events = [_marker(PolyphonicEvent.START)]
            self._steps_per_quarter = steps_per_quarter
        self._start_step = start_step

    # ------------------------------------------------------------------ EventSequence

    @property
    def start_step(self) -> int:
        return self._start_step

    @property
    def end_step(self) -> int:
        return self.start_step + self.num_steps

    @property
    def steps_per_quarter(self) -> int:
        return self._steps_per_quarter

    @property
    def num_steps(self) -> int:
        """Completed steps (``STEP_END`` events)."""
        return sum(1 for e in self._events if e.event_type == PolyphonicEvent.STEP_END)

    @property
    def steps(self) -> List[int]:
        """The step of each event."""
        out, step = [], self.start_step
        for e in self._events:
            out.append(step)
            if e.event_type == PolyphonicEvent.STEP_END:
                step += 1
        return out

    def append(self, event: PolyphonicEvent) -> None:
        """Append ``event`` (ValueError for anything but a :class:`PolyphonicEvent`)."""
        if not isinstance(event, PolyphonicEvent):
            raise ValueError(f"not a polyphonic event: {event!r}")
        self._events.append(event)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, i):
        return self._events[i]

    def __iter__(self) -> Iterator[PolyphonicEvent]:
        return iter(self._events)

    def trim_trailing_end_events(self) -> None:
        """Drop trailing ``END`` events (before priming generation)."""
        while self._events and self._events[-1].event_type == PolyphonicEvent.END:
            self._events.pop()

    def set_length(self, steps: int, from_left: bool = False) -> None:
        """Make the sequence exactly ``steps`` steps: close an open step, pad with silent steps or
        cut whole steps from the end, then end with ``END``."""
        if from_left:
            raise NotImplementedError("from_left is not supported")
        self.trim_trailing_end_events()
        self._events.append(_marker(PolyphonicEvent.STEP_END))
        have = self.num_steps
        if have < steps:
            self._events.extend(_marker(PolyphonicEvent.STEP_END) for _ in range(steps - have))
        elif have > steps:
            self._cut_steps(have - steps)
        self._events.append(_marker(PolyphonicEvent.END))
        assert self.num_steps == steps

    def _cut_steps(self, count: int) -> None:
        """Remove the last ``count`` completed steps (and anything after the kept last STEP_END)."""
        seen = 0
        for i in range(len(self._events) - 1, -1, -1):
            if self._events[i].event_type == PolyphonicEvent.STEP_END:
                if seen == count:
                    del self._events[i + 1 :]
                    return
                seen += 1
            elif i == 0:
                self._events = [_marker(PolyphonicEvent.START)]
                return

    # ------------------------------------------------------------------ conversions

    @staticmethod
    def _events_of(quantized, start_step: int) -> List[PolyphonicEvent]:
        starts, ends = collections.defaultdict(list), collections.defaultdict(list)
        for note in quantized.notes:
            if note.quantized_start_step < start_step:
                continue
            starts[note.quantized_start_step].append(note.pitch)
            ends[note.quantized_end_step].append(note.pitch)
        events = [_marker(PolyphonicEvent.START)]
        active: List[int] = []  # a list: one pitch may sound more than once
        for step in range(start_step, quantized.total_quantized_steps):
            for pitch in ends[step]:
                active.remove(pitch)
            step_events = [PolyphonicEvent(PolyphonicEvent.CONTINUED_NOTE, p) for p in active]
            for pitch in starts[step]:
                active.append(pitch)
                step_events.append(PolyphonicEvent(PolyphonicEvent.NEW_NOTE, pitch))
            events.extend(sorted(step_events, key=lambda e: e.pitch, reverse=True))
            events.append(_marker(PolyphonicEvent.STEP_END))
        events.append(_marker(PolyphonicEvent.END))
        return events

    def to_sequence(
        self,
        velocity: int = 100,
        instrument: int = 0,
        program: int = 0,
        qpm: float = constants.DEFAULT_QUARTERS_PER_MINUTE,
        base_note_sequence=None,
    ):
        """A NoteSequence of the track at ``qpm`` (notes added to a copy of ``base_note_sequence`` if
        given, whose first tempo must be ``qpm``). Call :meth:`set_length` first so the last step is
        closed; a note still sounding at the end raises ValueError."""
        seconds_per_step = 60.0 / qpm / self._steps_per_quarter
        offset = self.start_step * seconds_per_step
        if base_note_sequence is not None:
            sequence = copy.deepcopy(base_note_sequence)
            if sequence.tempos[0].qpm != qpm:
                raise ValueError(f"qpm {qpm} differs from base_note_sequence's {sequence.tempos[0].qpm}")
        else:
            sequence = music_pb2.NoteSequence()
            sequence.tempos.add().qpm = qpm
            sequence.ticks_per_quarter = constants.STANDARD_PPQ
        step = 0
        sounding: List[Tuple[int, int]] = []  # (pitch, start step)
        to_end: List[int] = []
        last = len(self._events) - 1
        for i, event in enumerate(self._events):
            kind = event.event_type
            if kind == PolyphonicEvent.START or (kind == PolyphonicEvent.END and i < last):
                continue  # misplaced markers are ignored, as Magenta does
            if kind == PolyphonicEvent.NEW_NOTE:
                sounding.append((event.pitch, step))
            elif kind == PolyphonicEvent.CONTINUED_NOTE:
                if event.pitch in to_end:
                    to_end.remove(event.pitch)
            else:  # STEP_END or the final END
                for pitch_start in list(sounding):
                    if pitch_start[0] in to_end:
                        to_end.remove(pitch_start[0])
                        sounding.remove(pitch_start)
                        note = sequence.notes.add(
                            pitch=pitch_start[0], velocity=velocity, instrument=instrument, program=program
                        )
                        note.start_time = pitch_start[1] * seconds_per_step + offset
                        note.end_time = step * seconds_per_step + offset
                step += 1
                to_end = [p for p, _ in sounding]
        if sounding:
            raise ValueError("the sequence ended with notes still sounding (call set_length first)")
        sequence.total_time = seconds_per_step * (step - 1) + offset
        return sequence


def extract_polyphonic_sequences(
    quantized_sequence,
    start_step: int = 0,
    min_steps_discard: Optional[int] = None,
    max_steps_discard: Optional[int] = None,
) -> Tuple[List[PolyphonicSequence], dict]:
    """Magenta's ``extract_polyphonic_sequences``: the one polyphonic track of a quantized NoteSequence.

    Returns ([] or [sequence], counters): a sequence with notes of more than one program is
    discarded (``polyphonic_tracks_discarded_more_than_1_program``), as are tracks shorter than
    ``min_steps_discard`` or longer than ``max_steps_discard`` steps (``..._too_short`` / ``..._too_long``).
    """
    sequences_lib.assert_is_relative_quantized_sequence(quantized_sequence)
    counters = collections.Counter()
    if len({n.program for n in quantized_sequence.notes}) > 1:
        counters["polyphonic_tracks_discarded_more_than_1_program"] += 1
        return [], dict(counters)
    track = PolyphonicSequence(quantized_sequence, start_step=start_step)
    if min_steps_discard is not None and track.num_steps < min_steps_discard:
        counters["polyphonic_tracks_discarded_too_short"] += 1
        return [], dict(counters)
    if max_steps_discard is not None and track.num_steps > max_steps_discard:
        counters["polyphonic_tracks_discarded_too_long"] += 1
        return [], dict(counters)
    return [track], dict(counters)


# --------------------------------------------------------------------------- encoding

EVENT_CLASSES_WITHOUT_PITCH = (PolyphonicEvent.START, PolyphonicEvent.END, PolyphonicEvent.STEP_END)
EVENT_CLASSES_WITH_PITCH = (PolyphonicEvent.NEW_NOTE, PolyphonicEvent.CONTINUED_NOTE)
PITCH_CLASSES = MAX_MIDI_PITCH + 1


class PolyphonyOneHotEncoding(_ed.OneHotEncoding):
    """Magenta's ``PolyphonyOneHotEncoding``: 3 + 2 * 128 = 259 classes (see the module docstring)."""

    @property
    def num_classes(self) -> int:
        return len(EVENT_CLASSES_WITHOUT_PITCH) + len(EVENT_CLASSES_WITH_PITCH) * PITCH_CLASSES

    @property
    def default_event(self) -> PolyphonicEvent:
        return PolyphonicEvent(PolyphonicEvent.STEP_END, 0)

    def encode_event(self, event: PolyphonicEvent) -> int:
        """Class index of ``event``."""
        if event.event_type in EVENT_CLASSES_WITHOUT_PITCH:
            return EVENT_CLASSES_WITHOUT_PITCH.index(event.event_type)
        if event.event_type in EVENT_CLASSES_WITH_PITCH:
            return (
                len(EVENT_CLASSES_WITHOUT_PITCH)
                + EVENT_CLASSES_WITH_PITCH.index(event.event_type) * PITCH_CLASSES
                + event.pitch
            )
        raise ValueError(f"unknown event type {event.event_type}")

    def decode_event(self, index: int) -> PolyphonicEvent:
        """The event of class ``index`` (pitchless events get pitch 0, as Magenta's decoder gives them)."""
        if index < len(EVENT_CLASSES_WITHOUT_PITCH):
            return PolyphonicEvent(EVENT_CLASSES_WITHOUT_PITCH[index], 0)
        pitched = index - len(EVENT_CLASSES_WITHOUT_PITCH)
        if pitched < len(EVENT_CLASSES_WITH_PITCH) * PITCH_CLASSES:
            return PolyphonicEvent(EVENT_CLASSES_WITH_PITCH[pitched // PITCH_CLASSES], pitched % PITCH_CLASSES)
        raise ValueError(f"unknown event index {index}")

    def event_to_num_steps(self, event: PolyphonicEvent) -> int:
        """1 for ``STEP_END`` (a quantized step ends), else 0."""
        return 1 if event.event_type == PolyphonicEvent.STEP_END else 0


def make_encoder_decoder() -> _ed.OneHotEventSequenceEncoderDecoder:
    """note-seq's ``OneHotEventSequenceEncoderDecoder(PolyphonyOneHotEncoding())``, as Magenta's ``polyphony`` config."""
    return _ed.OneHotEventSequenceEncoderDecoder(PolyphonyOneHotEncoding())


def events_of(sequence: Sequence[PolyphonicEvent]) -> List[Tuple[int, Optional[int]]]:
    """``[(event_type, pitch)]`` of a sequence (for comparisons and printing)."""
    return [(e.event_type, e.pitch) for e in sequence]
