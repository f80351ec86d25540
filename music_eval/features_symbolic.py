"""MIR statistics of symbolic music (``pretty_midi.PrettyMIDI``; NoteSequences via
:func:`music_eval.io.from_note_sequence`). Drum tracks are ignored everywhere.

Nothing here reads a time or key signature: tempo and meter are estimated from note onsets
(so they can be validated against the declared ones), and the declared tempo is reported
beside the estimate.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional

import numpy as np

from music_eval import theory

ENVELOPE_FPS = 100  # frames per second of the synthetic onset envelope
# Inter-onset intervals are measured in beats (tempo-free; tempo is compared on its own):
# half-octave bins centred on 2^(k/2) beats, k = -8..6 (a 64th-note triplet .. two whole notes).
IOI_BIN_EDGES = 2.0 ** ((np.arange(-8, 8) - 0.5) / 2.0)


def note_array(midi) -> np.ndarray:
    """All pitched notes as float64 ``[num_notes, 4]``: start (s), end (s), MIDI pitch, velocity;
    sorted by start then pitch."""
    rows = [
        (n.start, n.end, n.pitch, n.velocity)
        for inst in midi.instruments
        if not inst.is_drum
        for n in inst.notes
        if n.end > n.start
    ]
    if not rows:
        return np.zeros((0, 4))
    arr = np.asarray(rows, dtype=np.float64)
    return arr[np.lexsort((arr[:, 2], arr[:, 0]))]


def pitch_class_histogram(midi, weight: str = "duration") -> np.ndarray:
    """Pitch-class histogram ``[12]`` (C first), summing note durations (s) or note counts.

    Args:
      midi: PrettyMIDI. weight: ``"duration"`` or ``"count"``.
    """
    notes = note_array(midi)
    w = (notes[:, 1] - notes[:, 0]) if weight == "duration" else np.ones(len(notes))
    return np.bincount(notes[:, 2].astype(int) % 12, weights=w, minlength=12).astype(np.float64)


def onset_times(midi, merge_within: float = 0.02) -> np.ndarray:
    """Distinct note-onset times in seconds (onsets closer than ``merge_within`` s are one)."""
    starts = np.sort(note_array(midi)[:, 0])
    if starts.size == 0:
        return starts
    keep = np.concatenate([[True], np.diff(starts) > merge_within])
    return starts[keep]


def ioi_histogram(onsets: np.ndarray, beat_period: float, bin_edges: np.ndarray = IOI_BIN_EDGES) -> np.ndarray:
    """Histogram of inter-onset intervals in beats.

    Args:
      onsets: onset times (s). beat_period: seconds per beat (e.g. ``60 / tempo_bpm``).
      bin_edges: edges in beats (default: half-octave bins, ``IOI_BIN_EDGES``).

    Returns:
      counts ``[len(bin_edges) - 1]`` (IOIs outside the edges are not counted).
    """
    iois = np.diff(np.sort(np.asarray(onsets, dtype=np.float64)))
    if not beat_period or beat_period <= 0:
        return np.zeros(len(bin_edges) - 1)
    return np.histogram(iois / beat_period, bins=bin_edges)[0].astype(np.float64)


def onset_envelope(midi, fps: int = ENVELOPE_FPS) -> np.ndarray:
    """A synthetic onset-strength envelope ``[num_frames]`` at ``fps``: each note adds its velocity
    (/127) times ``1 + log2(1 + duration/0.25 s)`` (long notes accent more) at its onset frame, then
    the envelope is smoothed with a 30 ms Gaussian."""
    from scipy.ndimage import gaussian_filter1d

    notes = note_array(midi)
    if len(notes) == 0:
        return np.zeros(1)
    n = int(np.ceil(notes[:, 1].max() * fps)) + fps
    env = np.zeros(n)
    dur = notes[:, 1] - notes[:, 0]
    np.add.at(env, np.round(notes[:, 0] * fps).astype(int), notes[:, 3] / 127.0 * (1 + np.log2(1 + dur / 0.25)))
    return gaussian_filter1d(env, sigma=0.03 * fps)


def estimate_beats(midi, fps: int = ENVELOPE_FPS, start_bpm: float = 120.0):
    """Tempo and beat times from note onsets (librosa's dynamic-programming beat tracker run on
    :func:`onset_envelope`).

    Returns:
      ``(bpm, beat_times)``: float BPM (0 if none) and float ``[num_beats]`` seconds.
    """
    import librosa

    env = onset_envelope(midi, fps)
    # librosa's hop/sr only set the frame rate: sr = fps * hop.
    hop = 512
    tempo, beats = librosa.beat.beat_track(
        onset_envelope=env, sr=fps * hop, hop_length=hop, start_bpm=start_bpm, units="time", trim=False
    )
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=np.float64)


def beat_accents(midi, beat_times: np.ndarray, window: Optional[float] = None) -> np.ndarray:
    """Accent of each beat ``[num_beats]``: for notes starting within ``window`` s of the beat
    (default 1/4 of the median beat period), the sum of duration-in-beats (capped at 4) times
    velocity/127, plus 1 if the lowest sounding pitch changes there (a bass/harmony change)."""
    notes = note_array(midi)
    beats = np.asarray(beat_times, dtype=np.float64)
    if len(beats) < 2 or len(notes) == 0:
        return np.zeros(len(beats))
    period = float(np.median(np.diff(beats)))
    window = window if window is not None else period / 4
    acc = np.zeros(len(beats))
    prev_bass = None
    for i, t in enumerate(beats):
        near = np.abs(notes[:, 0] - t) <= window
        if near.any():
            dur_beats = np.minimum((notes[near, 1] - notes[near, 0]) / period, 4.0)
            acc[i] += float(np.sum(dur_beats * notes[near, 3] / 127.0))
        sounding = (notes[:, 0] <= t + window) & (notes[:, 1] > t + window)
        bass = notes[sounding, 2].min() if sounding.any() else None
        if bass is not None and prev_bass is not None and bass != prev_bass:
            acc[i] += 1.0
        prev_bass = bass if bass is not None else prev_bass
    return acc


def polyphony(midi, fps: int = 100) -> Dict[str, float]:
    """Sounding-note counts: ``mean`` over the frames where at least one note sounds, and ``max``."""
    notes = note_array(midi)
    if len(notes) == 0:
        return {"mean": 0.0, "max": 0.0}
    n = int(np.ceil(notes[:, 1].max() * fps)) + 1
    diff = np.zeros(n + 1)
    np.add.at(diff, np.round(notes[:, 0] * fps).astype(int), 1)
    np.add.at(
        diff, np.maximum(np.round(notes[:, 1] * fps).astype(int), np.round(notes[:, 0] * fps).astype(int) + 1), -1
    )
    count = np.cumsum(diff)[:n]
    active = count[count > 0]
    return {"mean": float(active.mean()) if active.size else 0.0, "max": float(count.max())}


@dataclasses.dataclass
class SymbolicFeatures:
    """What :func:`symbolic_features` measures.

    Attributes:
      num_notes, duration_s: note count and time from first onset to last offset (s).
      declared_bpm: the file's first tempo event (pretty_midi reports 120 when there is none).
      tempo_bpm: tempo estimated from onsets. beat_times: the estimated beats (s).
      meter: beats per bar estimated from beat accents (:class:`theory.MeterEstimate`).
      key: Krumhansl–Schmuckler key of the duration-weighted pitch-class histogram.
      in_scale_share: share of note duration inside the key's harmonic field.
      pitch_min, pitch_max, pitch_mean: MIDI pitches. note_density: notes per second.
      polyphony_mean, polyphony_max: sounding notes (mean while something sounds, max).
      pitch_class_hist: ``[12]`` duration-weighted. ioi_hist: ``[15]`` counts of inter-onset
        intervals in beats of the estimated tempo (``IOI_BIN_EDGES``).
    """

    num_notes: int
    duration_s: float
    declared_bpm: float
    tempo_bpm: float
    beat_times: np.ndarray
    meter: theory.MeterEstimate
    key: theory.KeyEstimate
    in_scale_share: float
    pitch_min: int
    pitch_max: int
    pitch_mean: float
    note_density: float
    polyphony_mean: float
    polyphony_max: float
    pitch_class_hist: np.ndarray
    ioi_hist: np.ndarray

    def summary(self) -> dict:
        """Scalar fields as a JSON-friendly dict."""
        return {
            "num_notes": self.num_notes,
            "duration_s": self.duration_s,
            "declared_bpm": self.declared_bpm,
            "tempo_bpm": self.tempo_bpm,
            **theory.meter_key_summary(self.meter, self.key, self.in_scale_share),
            "pitch_min": self.pitch_min,
            "pitch_max": self.pitch_max,
            "pitch_range": self.pitch_max - self.pitch_min,
            "pitch_mean": self.pitch_mean,
            "note_density": self.note_density,
            "polyphony_mean": self.polyphony_mean,
            "polyphony_max": self.polyphony_max,
            "pitch_class_hist": [float(v) for v in self.pitch_class_hist],
            "ioi_hist": [float(v) for v in self.ioi_hist],
        }


def symbolic_features(midi) -> SymbolicFeatures:
    """All symbolic statistics of a PrettyMIDI (see :class:`SymbolicFeatures`).

    Raises:
      ValueError: the MIDI holds no pitched notes.
    """
    notes = note_array(midi)
    if len(notes) == 0:
        raise ValueError("the MIDI holds no pitched notes")
    pch = pitch_class_histogram(midi)
    key = theory.estimate_key(pch)
    bpm, beats = estimate_beats(midi)
    meter = theory.estimate_meter(beat_accents(midi, beats))
    start, end = float(notes[:, 0].min()), float(notes[:, 1].max())
    duration = max(end - start, 1e-9)
    tempi = midi.get_tempo_changes()[1]
    poly = polyphony(midi)
    return SymbolicFeatures(
        num_notes=int(len(notes)),
        duration_s=duration,
        declared_bpm=float(tempi[0]) if len(tempi) else 120.0,
        tempo_bpm=bpm,
        beat_times=beats,
        meter=meter,
        key=key,
        in_scale_share=theory.in_scale_share(pch, key),
        pitch_min=int(notes[:, 2].min()),
        pitch_max=int(notes[:, 2].max()),
        pitch_mean=float(notes[:, 2].mean()),
        note_density=float(len(notes) / duration),
        polyphony_mean=poly["mean"],
        polyphony_max=poly["max"],
        pitch_class_hist=pch,
        ioi_hist=ioi_histogram(onset_times(midi), 60.0 / bpm if bpm > 0 else 0.0),
    )


def score_to_midi(score, bpm: float = 100.0, program: int = 0):
    """A music21 score -> PrettyMIDI at a fixed tempo, **without** time or key signatures.

    Ties are merged (``stripTies``); every part becomes one instrument with ``program``; notes and
    chords are kept, grace notes dropped. Used to validate tempo/meter/key estimation on scores
    whose declared signatures are then compared with the estimates.

    Args:
      score: ``music21.stream.Score`` (or any stream). bpm: quarter notes per minute.
      program: General MIDI program for rendering.

    Returns:
      ``pretty_midi.PrettyMIDI`` with one tempo event at ``bpm``.
    """
    import pretty_midi

    sec_per_quarter = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    parts = list(getattr(score, "parts", [])) or [score]
    for part in parts:
        inst = pretty_midi.Instrument(program=program, name=str(getattr(part, "partName", "") or "part"))
        for el in part.stripTies().flatten().notes:
            ql = float(el.duration.quarterLength)
            if ql <= 0:
                continue  # grace notes
            start = float(el.offset) * sec_per_quarter  # offsets in the flattened part are absolute
            end = start + ql * sec_per_quarter
            for p in getattr(el, "pitches", ()):
                inst.notes.append(pretty_midi.Note(velocity=80, pitch=int(p.midi), start=start, end=end))
        if inst.notes:
            midi.instruments.append(inst)
    return midi
