"""Polyphonic generation, as Magenta's ``PolyphonyRnnSequenceGenerator`` does it, on the shared core.

From a primer NoteSequence and a total length in 16th-note steps:

1. the primer is quantized (4 steps per quarter) and its polyphonic track extracted
   (:func:`polyphony_rnn_ext.polyphony_lib.extract_polyphonic_sequences`; a primer of several
   programs gives an empty track, as in Magenta); generation starts at the primer's end
   (``total_time``), i.e. at step ``generate_start``, and ends at step ``num_steps``;
2. ``condition_on_primer`` (Magenta's default False): the RNN first reads the primer's events;
   otherwise it starts from an empty sequence at ``generate_start``;
3. ``inject_primer_during_generation`` (default True): the primer's events are forced into the
   generated track step by step (from its first generated step without conditioning, after the
   primer with it), so the model harmonizes around them;
4. events are generated (sampling or beam search, :mod:`events_rnn.generate`) in rounds of
   5 RNN events per missing step until the track has enough steps; it is then cut to length;
5. the output NoteSequence is the track (with conditioning) or the primer plus the generated track.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
from typing import Optional, Sequence

from events_rnn.generate import EventSequenceGenerator, GenerationError, GenerationOptions  # noqa: F401
from events_rnn.generate import FamilyGenerator
from events_rnn.generate import with_tempo
from polyphony_rnn_ext import polyphony_lib
from polyphony_rnn_ext.polyphony_lib import PolyphonicEvent, PolyphonicSequence

DEFAULT_QPM = 120.0
#: Magenta's guess of RNN events per quantized step, used to size each generation round.
EVENTS_PER_STEP_GUESS = 5
#: Rounds without a single new step before giving up (Magenta loops forever on a model that never
#: closes a step, e.g. argmax over a model that never ranks STEP_END first).
MAX_STALLED_ROUNDS = 3


@dataclasses.dataclass(frozen=True)
class PolyphonyOptions(GenerationOptions):
    """How to generate a polyphonic continuation: :class:`events_rnn.generate.GenerationOptions` (validated as
    those) and two more fields.

    Attributes:
      num_steps: total length in 16th-note steps, primer included (Magenta's default 128).
      temperature, beam_size, branch_factor, steps_per_iteration, seed: as
        :class:`events_rnn.generate.GenerationOptions` (beam steps count RNN events).
      condition_on_primer: the RNN reads the primer before generating (Magenta's default False).
      inject_primer_during_generation: force the primer's notes into the generated track
        (Magenta's default True).
    """

    condition_on_primer: bool = False
    inject_primer_during_generation: bool = True


def primer_from_pitches(pitches: Sequence[int], qpm: float = DEFAULT_QPM):
    """Magenta's ``--primer_pitches``: one chord of ``pitches`` lasting a quarter note at ``qpm``."""
    from note_seq import constants
    from note_seq.protobuf import music_pb2

    bad = [p for p in pitches if not 0 <= p <= 127]
    if bad:
        raise GenerationError(f"--primer_pitches: pitches {bad} are outside 0..127")
    sequence = music_pb2.NoteSequence()
    sequence.tempos.add().qpm = qpm
    sequence.ticks_per_quarter = constants.STANDARD_PPQ
    for pitch in pitches:
        sequence.notes.add(pitch=int(pitch), velocity=100, start_time=0.0, end_time=60.0 / qpm)
    sequence.total_time = 60.0 / qpm
    return sequence


def primer_from_melody(events: Sequence[int], qpm: float = DEFAULT_QPM):
    """Magenta's ``--primer_melody``: a ``note_seq.Melody`` event list as a NoteSequence at ``qpm``."""
    import note_seq

    bad = [e for e in events if not note_seq.MIN_MELODY_EVENT <= e <= note_seq.MAX_MELODY_EVENT]
    if bad:
        raise GenerationError(f"--primer_melody: events {bad} are outside -2..127")
    return note_seq.Melody(list(events)).to_sequence(qpm=qpm)


def primer_from_midi(path: str):
    """(NoteSequence, qpm or None) of a MIDI primer; :class:`GenerationError` naming the file."""
    import note_seq

    try:
        sequence = note_seq.midi_file_to_note_sequence(path)
    except Exception as e:  # noqa: BLE001 - any parse failure is the file's fault
        raise GenerationError(f"{path}: cannot read MIDI ({e})") from e
    qpm = sequence.tempos[0].qpm if sequence.tempos and sequence.tempos[0].qpm else None
    return sequence, qpm


def empty_primer(qpm: float = DEFAULT_QPM):
    """Magenta's default without a primer: an empty NoteSequence at ``qpm``."""
    from note_seq import constants
    from note_seq.protobuf import music_pb2

    sequence = music_pb2.NoteSequence()
    sequence.tempos.add().qpm = qpm
    sequence.ticks_per_quarter = constants.STANDARD_PPQ
    return sequence


def inject_primer(primer: PolyphonicSequence, start_step: int, encoder_decoder, event_sequences, inputs) -> None:
    """Magenta's ``_inject_melody`` (a ``modify_events_callback``): whenever a sequence has just closed a
    step (or holds only ``START``), append the primer's events of that step (the primer's step
    ``k - start_step`` for the sequence's step ``k``) and their input vectors."""
    for events, pending in zip(event_sequences, inputs):
        last = events[-1].event_type
        if not (last == PolyphonicEvent.STEP_END or (last == PolyphonicEvent.START and len(events) == 1)):
            continue
        step = sum(1 for e in events if e.event_type == PolyphonicEvent.STEP_END)
        primer_step = start_step
        for j, event in enumerate(primer):
            if event.event_type == PolyphonicEvent.STEP_END:
                primer_step += 1
            if primer_step == step:
                k = j + 1
                while k < len(primer) and primer[k].event_type != PolyphonicEvent.STEP_END:
                    events.append(primer[k])
                    pending.extend(encoder_decoder.get_inputs_batch([events])[0])
                    k += 1
                break


def _quantize(sequence, steps_per_quarter: int):
    from note_seq import sequences_lib

    try:
        return sequences_lib.quantize_note_sequence(sequence, steps_per_quarter)
    except Exception as e:  # noqa: BLE001 - note-seq's quantization errors are the primer's fault
        raise GenerationError(f"primer: cannot quantize ({e})") from e


class PolyphonyGenerator(FamilyGenerator):
    """Generates polyphonic NoteSequences from a Polyphony RNN model and its config (:meth:`from_bundle`: over a
    ``polyphony`` ``.mag``; see :class:`events_rnn.generate.FamilyGenerator`).

    Args:
      model: an :class:`events_rnn.model.EventSequenceRnnModel` (no dropout applied).
      config: its :class:`polyphony_rnn_ext.config.PolyphonyRnnConfig`.
    """

    bundle_module = "polyphony_rnn_ext.bundle"

    def generate(self, primer_sequence, options: PolyphonyOptions = PolyphonyOptions()):
        """The primer continued to ``options.num_steps`` 16th-note steps; returns (NoteSequence, score).

        ``score`` is the summed log-probability of the sampled RNN events (injected ones excluded).
        """
        from note_seq import sequences_lib

        spq = self.config.steps_per_quarter
        qpm = primer_sequence.tempos[0].qpm if primer_sequence.tempos and primer_sequence.tempos[0].qpm else DEFAULT_QPM
        steps_per_second = sequences_lib.steps_per_quarter_to_steps_per_second(spq, qpm)
        start_time, end_time = primer_sequence.total_time, options.num_steps * 60.0 / qpm / spq
        if start_time >= end_time:
            raise GenerationError(
                f"the primer ({start_time:.3f} s) is not shorter than the {options.num_steps} steps "
                f"requested ({end_time:.3f} s)"
            )
        quantized = _quantize(primer_sequence, spq)
        tracks, _ = polyphony_lib.extract_polyphonic_sequences(quantized, start_step=0)
        start = sequences_lib.quantize_to_step(start_time, steps_per_second, quantize_cutoff=0.0)
        end = sequences_lib.quantize_to_step(end_time, steps_per_second, quantize_cutoff=1.0)
        track = tracks[0] if tracks and len(tracks[0]) else PolyphonicSequence(steps_per_quarter=spq, start_step=start)
        track.set_length(start - track.start_step)
        track.trim_trailing_end_events()
        callback = None
        if options.inject_primer_during_generation:
            inject_at = track.num_steps if options.condition_on_primer else 0
            callback = functools.partial(inject_primer, copy.deepcopy(track), inject_at)
        if not options.condition_on_primer:
            track = PolyphonicSequence(steps_per_quarter=spq, start_step=start)
        total = track.num_steps + (end - start)
        score, round_, stalled = 0.0, 0, 0
        while track.num_steps < total:
            before = track.num_steps
            missing = total - track.num_steps
            seed = None if options.seed is None else options.seed + 7919 * round_
            gen = GenerationOptions(
                len(track) + EVENTS_PER_STEP_GUESS * missing,
                options.temperature,
                options.beam_size,
                options.branch_factor,
                options.steps_per_iteration,
                seed,
            )
            track, round_score = self.events.generate_events(track, gen, modify_events_callback=callback)
            score += round_score
            round_ += 1
            stalled = stalled + 1 if track.num_steps == before else 0
            if stalled >= MAX_STALLED_ROUNDS:
                raise GenerationError(
                    f"the model closed no step (STEP_END) in {stalled} rounds of generation; "
                    f"stopped at {track.num_steps} of {total} steps"
                )
        track.set_length(total)
        if options.condition_on_primer:
            return track.to_sequence(qpm=qpm), score
        return track.to_sequence(qpm=qpm, base_note_sequence=with_tempo(primer_sequence, qpm)), score


def load(run_dir: str, config_id: Optional[str] = None) -> "PolyphonyGenerator":
    """The trained Polyphony RNN of a ``polyphony_rnn_train`` run folder, of a run folder of Magenta's own
    ``polyphony_rnn_train`` or of a ``.mag``, as a :class:`PolyphonyGenerator` (see
    :meth:`events_rnn.generate.FamilyGenerator.load`)."""
    return PolyphonyGenerator.load(run_dir, config_id)
