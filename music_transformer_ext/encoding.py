"""score2perf's event encodings: piano performances (310 ids) and absolute-timed melodies (92 ids).

Both are the vocabularies that Magenta's released Music Transformer checkpoints were trained on
(``magenta/models/score2perf/music_encoders.py`` with the constants of ``score2perf.py``), built
on note-seq's own ``Performance`` / ``PerformanceOneHotEncoding`` / ``MelodyOneHotEncoding`` so
that an id means exactly what it meant to the checkpoint.

Performance ids (``PerformanceEncoder()``: 100 steps/s, 32 velocity bins, pitches 21..108)::

    0            PAD (t2t's padding id)
    1            EOS (t2t's end of sequence)
    2   ..  89   NOTE_ON  pitch 21..108
    90  .. 177   NOTE_OFF pitch 21..108
    178 .. 277   TIME_SHIFT 1..100 steps (10 ms .. 1 s; longer gaps use several shifts)
    278 .. 309   VELOCITY bin 1..32 (bin b holds MIDI velocities 4b-3 .. 4b; decoded to 4b-3)

Melody ids (``MelodyEncoder()``: score2perf's ``TextMelodyEncoderAbsolute``, 10 steps/s,
pitches 21..108), one id per 100 ms step::

    0 PAD, 1 EOS, 2 NO_EVENT (the previous note holds, or silence goes on),
    3 NOTE_OFF, 4 .. 91 NOTE_ON pitch 21..108

What a round trip keeps: performance times are rounded to 10 ms (melody: 100 ms), velocities
to the lowest velocity of their bin, and notes outside the pitch range are dropped. Notes of
one pitch that overlap are matched first-on-first-off when decoding, so a same-pitch note
nested inside a longer one comes back as two overlapping notes with swapped ends. Instruments,
programs, control changes and drums are not represented: everything decodes as instrument 0,
program 0. A melody is monophonic: a note that starts while another sounds ends it.
"""

from __future__ import annotations

import io
import os
from typing import Iterable, Sequence, Union

PAD_ID = 0
EOS_ID = 1
NUM_RESERVED_IDS = 2

# score2perf.py's constants.
STEPS_PER_SECOND = 100
NUM_VELOCITY_BINS = 32
MIN_PITCH = 21
MAX_PITCH = 108
MELODY_STEPS_PER_SECOND = 10

PERFORMANCE_VOCAB_SIZE = 310
MELODY_VOCAB_SIZE = 92


class EncodingError(ValueError):
    """Ids or a NoteSequence that an encoder cannot handle; the message says which and why."""


def _note_seq():
    import note_seq  # noqa: WPS433  (heavy import, done lazily)

    return note_seq


def _filter_pitch_range(ns, min_pitch: int, max_pitch: int):
    """A copy of ``ns`` without notes outside ``[min_pitch, max_pitch]`` (the input is untouched)."""
    kept = [n for n in ns.notes if min_pitch <= n.pitch <= max_pitch]
    if len(kept) == len(ns.notes):
        return ns
    out = type(ns)()
    out.CopyFrom(ns)
    del out.notes[:]
    out.notes.extend(kept)
    return out


def _strip_reserved(ids: Sequence[int]) -> list[int]:
    """``ids`` cut at the first EOS, with PAD ids removed (t2t's ``strip_ids`` at the end, and
    what a padded batch row needs)."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        if i != PAD_ID:
            out.append(i)
    return out


class _IdEncoder:
    """What both encoders share: a frame rate, an inclusive pitch range (both checked) and
    note-seq's one-hot encoding ``_encoding``, whose classes follow the reserved PAD and EOS ids."""

    def __init__(self, steps_per_second: int, min_pitch: int, max_pitch: int):
        if steps_per_second < 1:
            raise ValueError(f"steps_per_second must be >= 1, got {steps_per_second}")
        if not 0 <= min_pitch <= max_pitch <= 127:
            raise ValueError(f"need 0 <= min_pitch <= max_pitch <= 127, got {min_pitch}, {max_pitch}")
        self.steps_per_second = int(steps_per_second)
        self.min_pitch = int(min_pitch)
        self.max_pitch = int(max_pitch)

    @property
    def num_reserved_ids(self) -> int:
        """2: PAD (0) and EOS (1)."""
        return NUM_RESERVED_IDS

    @property
    def vocab_size(self) -> int:
        """Number of ids, reserved ones included (score2perf's settings: 310 for performances,
        92 for melodies)."""
        return self._encoding.num_classes + NUM_RESERVED_IDS


class PerformanceEncoder(_IdEncoder):
    """NoteSequence <-> performance event ids, as score2perf's ``MidiPerformanceEncoder``.

    Args:
      steps_per_second: time resolution; also the longest single time shift (1 s).
      num_velocity_bins: velocity resolution (0 drops velocity events).
      min_pitch, max_pitch: inclusive pitch range; other notes are dropped when encoding.
      add_eos: append EOS (id 1) to every encoded sequence.
    """

    def __init__(
        self,
        steps_per_second: int = STEPS_PER_SECOND,
        num_velocity_bins: int = NUM_VELOCITY_BINS,
        min_pitch: int = MIN_PITCH,
        max_pitch: int = MAX_PITCH,
        add_eos: bool = False,
    ):
        super().__init__(steps_per_second, min_pitch, max_pitch)
        if num_velocity_bins < 0 or num_velocity_bins > 127:
            raise ValueError(f"num_velocity_bins must be in 0..127, got {num_velocity_bins}")
        self.num_velocity_bins = int(num_velocity_bins)
        self.add_eos = bool(add_eos)
        self._encoding = _note_seq().PerformanceOneHotEncoding(
            num_velocity_bins=self.num_velocity_bins,
            max_shift_steps=self.steps_per_second,
            min_pitch=self.min_pitch,
            max_pitch=self.max_pitch,
        )

    def get_config(self) -> dict:
        """Constructor arguments; ``PerformanceEncoder(**enc.get_config())`` rebuilds it."""
        return dict(
            steps_per_second=self.steps_per_second,
            num_velocity_bins=self.num_velocity_bins,
            min_pitch=self.min_pitch,
            max_pitch=self.max_pitch,
            add_eos=self.add_eos,
        )

    # ------------------------------------------------------------------ id layout

    def event_ranges(self) -> dict:
        """``{event type: (first id, last id)}`` for note_on, note_off, time_shift, velocity."""
        nsp = self.max_pitch - self.min_pitch + 1
        start = NUM_RESERVED_IDS
        out = {"note_on": (start, start + nsp - 1), "note_off": (start + nsp, start + 2 * nsp - 1)}
        start += 2 * nsp
        out["time_shift"] = (start, start + self.steps_per_second - 1)
        start += self.steps_per_second
        if self.num_velocity_bins:
            out["velocity"] = (start, start + self.num_velocity_bins - 1)
        return out

    def describe(self, ids: Iterable[int]) -> list[str]:
        """Readable names of ids, e.g. ``["VELOCITY 20", "NOTE_ON 60", "TIME_SHIFT 50", "EOS"]``."""
        names = []
        for i in ids:
            i = int(i)
            if i == PAD_ID:
                names.append("PAD")
            elif i == EOS_ID:
                names.append("EOS")
            else:
                ev = self._decode_id(i)
                kind = {1: "NOTE_ON", 2: "NOTE_OFF", 3: "TIME_SHIFT", 4: "VELOCITY"}[ev.event_type]
                names.append(f"{kind} {ev.event_value}")
        return names

    def _decode_id(self, i: int):
        if not NUM_RESERVED_IDS <= i < self.vocab_size:
            raise EncodingError(
                f"id {i} is outside the performance vocabulary {NUM_RESERVED_IDS}..{self.vocab_size - 1}"
            )
        return self._encoding.decode_event(i - NUM_RESERVED_IDS)

    # ------------------------------------------------------------------ NoteSequence <-> ids

    def encode_note_sequence(self, ns) -> list[int]:
        """A NoteSequence (times in seconds, unquantized) -> list of ids in ``[2, vocab_size)``
        (plus a final EOS when ``add_eos``). Notes outside the pitch range are dropped;
        sustain pedal is not applied here (the dataset pipeline applies it first).

        Raises:
          EncodingError: the sequence is already quantized or has negative times.
        """
        note_seq = _note_seq()
        from note_seq import sequences_lib

        if sequences_lib.is_quantized_sequence(ns):
            raise EncodingError(
                f"NoteSequence {ns.id or ns.filename or '<unnamed>'} is already quantized; "
                "pass the unquantized sequence"
            )
        ns = _filter_pitch_range(ns, self.min_pitch, self.max_pitch)
        try:
            qns = note_seq.quantize_note_sequence_absolute(ns, self.steps_per_second)
        except sequences_lib.QuantizationStatisticsError as e:  # pragma: no cover - defensive
            raise EncodingError(f"NoteSequence {ns.id or '<unnamed>'}: {e}") from e
        except sequences_lib.NegativeTimeError as e:
            raise EncodingError(f"NoteSequence {ns.id or ns.filename or '<unnamed>'}: {e}") from e
        performance = note_seq.Performance(
            qns, num_velocity_bins=self.num_velocity_bins, max_shift_steps=self.steps_per_second
        )
        ids = [self._encoding.encode_event(ev) + NUM_RESERVED_IDS for ev in performance]
        if self.add_eos:
            ids.append(EOS_ID)
        return ids

    def decode_to_note_sequence(self, ids: Iterable[int], strip_extraneous: bool = True, default_velocity: int = 100):
        """Ids -> NoteSequence (seconds; instrument 0, program 0).

        Args:
          ids: event ids; with ``strip_extraneous`` everything from the first EOS on is cut and
            PAD ids are dropped (a sampled row or a padded batch row can be passed as is).
          strip_extraneous: if False, a reserved id raises EncodingError.
          default_velocity: velocity of notes before the first VELOCITY event.

        Returns:
          ``note_seq.NoteSequence``; notes still on at the end end at the last time step, notes
          of zero length are dropped (note-seq's ``Performance.to_sequence``).
        """
        note_seq = _note_seq()
        ids = _strip_reserved(ids) if strip_extraneous else [int(i) for i in ids]
        performance = note_seq.Performance(
            steps_per_second=self.steps_per_second,
            num_velocity_bins=self.num_velocity_bins,
            max_shift_steps=self.steps_per_second,
        )
        for i in ids:
            performance.append(self._decode_id(i))
        ns = performance.to_sequence(velocity=default_velocity)
        ns.ticks_per_quarter = note_seq.STANDARD_PPQ
        return ns

    # ------------------------------------------------------------------ MIDI

    def encode_midi(self, midi: Union[str, os.PathLike, bytes]) -> list[int]:
        """A MIDI file (path or its bytes) -> ids (see ``encode_note_sequence``).

        Raises:
          EncodingError: the file cannot be parsed as MIDI (the message names it).
        """
        note_seq = _note_seq()
        name = "<bytes>" if isinstance(midi, bytes) else os.fspath(midi)
        try:
            data = midi if isinstance(midi, bytes) else open(midi, "rb").read()
            ns = note_seq.midi_to_note_sequence(data)
        except (OSError, note_seq.MIDIConversionError) as e:
            raise EncodingError(f"{name}: not a readable MIDI file ({e})") from e
        return self.encode_note_sequence(ns)

    def decode_to_midi(
        self, ids: Iterable[int], path: Union[str, os.PathLike, None] = None, strip_extraneous: bool = True
    ) -> bytes:
        """Ids -> standard MIDI file bytes; also written (atomically) to ``path`` if given."""
        note_seq = _note_seq()
        ns = self.decode_to_note_sequence(ids, strip_extraneous=strip_extraneous)
        buf = io.BytesIO()
        note_seq.note_sequence_to_pretty_midi(ns).write(buf)
        data = buf.getvalue()
        if path is not None:
            from tfmusic.files import atomic_write_bytes

            atomic_write_bytes(path, data)
        return data


class MelodyEncoder(_IdEncoder):
    """A monophonic melody <-> one id per time step, as score2perf's ``TextMelodyEncoderAbsolute``
    (the inputs of the melody-conditioned model: 10 steps/s, pitches 21..108, 92 ids).

    Args:
      steps_per_second: melody frame rate (score2perf: 10).
      min_pitch, max_pitch: inclusive pitch range; other notes are dropped when encoding.
    """

    def __init__(
        self, steps_per_second: int = MELODY_STEPS_PER_SECOND, min_pitch: int = MIN_PITCH, max_pitch: int = MAX_PITCH
    ):
        super().__init__(steps_per_second, min_pitch, max_pitch)
        self._encoding = _note_seq().MelodyOneHotEncoding(min_note=self.min_pitch, max_note=self.max_pitch + 1)

    def get_config(self) -> dict:
        """Constructor arguments; ``MelodyEncoder(**enc.get_config())`` rebuilds it."""
        return dict(steps_per_second=self.steps_per_second, min_pitch=self.min_pitch, max_pitch=self.max_pitch)

    @property
    def no_event_id(self) -> int:
        """Id of "nothing new at this step" (2)."""
        return self._encoding.encode_event(_note_seq().MELODY_NO_EVENT) + NUM_RESERVED_IDS

    @property
    def note_off_id(self) -> int:
        """Id of "the sounding note ends at this step" (3)."""
        return self._encoding.encode_event(_note_seq().MELODY_NOTE_OFF) + NUM_RESERVED_IDS

    def encode_events(self, events: Iterable[int]) -> list[int]:
        """Melody events (MIDI pitch, -1 note off, -2 no event) -> ids, one per step.

        Raises:
          EncodingError: a pitch outside the range or another negative value.
        """
        out = []
        for e in events:
            e = int(e)
            if not (e in (-1, -2) or self.min_pitch <= e <= self.max_pitch):
                raise EncodingError(
                    f"melody event {e} is neither -2, -1 nor a pitch in {self.min_pitch}..{self.max_pitch}"
                )
            out.append(self._encoding.encode_event(e) + NUM_RESERVED_IDS)
        return out

    def encode_text(self, text: str) -> list[int]:
        """score2perf's text form, e.g. ``"60 -2 60 -2 67 -1"`` (pitch, -1 off, -2 hold) -> ids."""
        try:
            events = [int(tok) for tok in text.split()]
        except ValueError as e:
            raise EncodingError(f"melody text {text[:40]!r}: {e}") from e
        return self.encode_events(events)

    def encode_note_sequence(self, ns) -> list[int]:
        """A melody NoteSequence (seconds) -> one id per step up to ``ns.total_time``.

        Each note writes its pitch at its start step and NOTE_OFF at its end step (unless the
        end is the last step); notes are written in start order, so a later note overwrites
        what an earlier one wrote at the same step. Notes outside the pitch range are dropped.
        """
        note_seq = _note_seq()
        from note_seq import sequences_lib

        ns = _filter_pitch_range(ns, self.min_pitch, self.max_pitch)
        try:
            qns = note_seq.quantize_note_sequence_absolute(ns, self.steps_per_second)
        except sequences_lib.NegativeTimeError as e:
            raise EncodingError(f"NoteSequence {ns.id or ns.filename or '<unnamed>'}: {e}") from e
        total = qns.total_quantized_steps
        melody = [note_seq.MELODY_NO_EVENT] * total
        for note in sorted(qns.notes, key=lambda n: n.start_time):
            melody[note.quantized_start_step] = note.pitch
            if note.quantized_end_step < total:
                melody[note.quantized_end_step] = note_seq.MELODY_NOTE_OFF
        return self.encode_events(melody)

    def decode_events(self, ids: Iterable[int], strip_extraneous: bool = True) -> list[int]:
        """Ids -> melody events (pitch, -1, -2); EOS/PAD handled as in ``decode_to_note_sequence``."""
        ids = _strip_reserved(ids) if strip_extraneous else [int(i) for i in ids]
        out = []
        for i in ids:
            if not NUM_RESERVED_IDS <= i < self.vocab_size:
                raise EncodingError(
                    f"id {i} is outside the melody vocabulary {NUM_RESERVED_IDS}..{self.vocab_size - 1}"
                )
            out.append(self._encoding.decode_event(i - NUM_RESERVED_IDS))
        return out

    def decode_to_note_sequence(self, ids: Iterable[int], velocity: int = 100, strip_extraneous: bool = True):
        """Ids -> melody NoteSequence: a note from each pitch id to the next NOTE_OFF or pitch id
        (or the end); ``total_time`` = number of steps / steps_per_second."""
        note_seq = _note_seq()
        events = self.decode_events(ids, strip_extraneous)
        ns = note_seq.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
        seconds = 1.0 / self.steps_per_second
        current, start = None, 0

        def close(end_step):
            if current is not None and end_step > start:
                ns.notes.add(
                    pitch=current,
                    velocity=velocity,
                    start_time=start * seconds,
                    end_time=end_step * seconds,
                    instrument=0,
                    program=0,
                )

        for step, e in enumerate(events):
            if e == note_seq.MELODY_NO_EVENT:
                continue
            close(step)
            current, start = (None, step) if e == note_seq.MELODY_NOTE_OFF else (e, step)
        close(len(events))
        ns.total_time = len(events) * seconds
        return ns


def extract_melody(ns):
    """The melody of a performance, inferred with note-seq's melody inference as score2perf's
    datagen does for the melody-conditioned problem (same HMM parameters).

    Args:
      ns: a NoteSequence (not modified).

    Returns:
      ``(melody_ns, performance_ns)``: a copy holding only the inferred melody (monophonic notes
      on a new instrument; they are copies, the performance keeps its own notes), and a copy of
      the whole performance without key signatures and text annotations. score2perf trains the
      melody-conditioned model with the melody as inputs and this whole performance as targets.

    Raises:
      note_seq.melody_inference.MelodyInferenceError: inference failed (e.g. no notes).
    """
    from note_seq import melody_inference

    work = type(ns)()
    work.CopyFrom(ns)
    instrument = melody_inference.infer_melody_for_sequence(
        work,
        melody_interval_scale=2.0,
        rest_prob=0.1,
        instantaneous_non_max_pitch_prob=1e-15,
        instantaneous_non_empty_rest_prob=0.0,
        instantaneous_missing_pitch_prob=1e-15,
    )
    melody = type(ns)()
    melody.CopyFrom(work)
    del melody.notes[:]
    melody.notes.extend(n for n in work.notes if n.instrument == instrument)
    performance = type(ns)()
    performance.CopyFrom(work)
    del performance.notes[:]
    performance.notes.extend(n for n in work.notes if n.instrument != instrument)
    del performance.key_signatures[:]
    del performance.text_annotations[:]
    return melody, performance


def performance_encoder(add_eos: bool = False) -> PerformanceEncoder:
    """score2perf's performance encoder (310 ids); ``add_eos`` as the problem says."""
    return PerformanceEncoder(add_eos=add_eos)


def melody_encoder() -> MelodyEncoder:
    """score2perf's absolute-timed melody encoder of the melody-conditioned model (92 ids)."""
    return MelodyEncoder()


__all__ = [
    "PAD_ID",
    "EOS_ID",
    "NUM_RESERVED_IDS",
    "PERFORMANCE_VOCAB_SIZE",
    "MELODY_VOCAB_SIZE",
    "STEPS_PER_SECOND",
    "NUM_VELOCITY_BINS",
    "MIN_PITCH",
    "MAX_PITCH",
    "MELODY_STEPS_PER_SECOND",
    "EncodingError",
    "PerformanceEncoder",
    "MelodyEncoder",
    "extract_melody",
    "performance_encoder",
    "melody_encoder",
]
