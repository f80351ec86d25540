"""How near generated notes are to their requested pitch: a pYIN f0 estimate per note and the
error statistics the GANSynth learning test (``test_learning.py``) compares.

A note's pitch is the median, in MIDI semitones, of librosa's ``pyin`` f0 over its voiced
frames (short frames, so that clips of a few thousand samples still hold a dozen frames).
A note with too few voiced frames has no pitch; its error counts as :data:`UNVOICED_ERROR`
semitones, the same as an octave mistake, and every error is capped there, so noise, silence
and wrong octaves all score alike.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence, Tuple

import numpy as np

#: Error (semitones) given to a note without a pitch estimate; also the cap on every error.
UNVOICED_ERROR = 12.0


def estimate_pitch(
    audio: np.ndarray,
    sample_rate: int,
    fmin_midi: float,
    fmax_midi: float,
    frame_length: int = 512,
    min_voiced: float = 0.5,
) -> Tuple[float, float]:
    """The f0 of one note in MIDI semitones, and the fraction of its frames pYIN calls voiced.

    Args:
      audio: float [time] mono samples.
      sample_rate: Hz.
      fmin_midi, fmax_midi: the f0 search range (MIDI numbers, fractional allowed).
      frame_length: pYIN frame in samples (hop = a quarter of it; no centring padding).
      min_voiced: fewer voiced frames than this fraction gives no estimate.
    Returns (midi, voiced_fraction); midi is NaN without an estimate (silence, noise, too
    few voiced frames, or a clip shorter than one frame).
    """
    import librosa

    audio = np.asarray(audio, np.float64).reshape(-1)
    if audio.size < frame_length or not np.all(np.isfinite(audio)) or np.max(np.abs(audio)) < 1e-6:
        return float("nan"), 0.0
    audio = audio / np.max(np.abs(audio))  # pYIN's thresholds are level-dependent
    f0, voiced, _ = librosa.pyin(
        audio,
        fmin=float(librosa.midi_to_hz(fmin_midi)),
        fmax=float(librosa.midi_to_hz(fmax_midi)),
        sr=sample_rate,
        frame_length=frame_length,
        hop_length=frame_length // 4,
        center=False,
    )
    voiced = np.asarray(voiced, bool) & np.isfinite(f0)
    fraction = float(voiced.mean()) if voiced.size else 0.0
    if fraction < min_voiced:
        return float("nan"), fraction
    return float(np.median(librosa.hz_to_midi(f0[voiced]))), fraction


@dataclasses.dataclass(frozen=True)
class PitchReport:
    """Pitch accuracy of a set of notes.

    Fields: ``n`` notes; ``median_error`` and ``mean_error`` in semitones (unvoiced notes
    and errors above it count :data:`UNVOICED_ERROR`); ``within_1`` the fraction within one
    semitone of the request (pitch-class accuracy, octave included); ``voiced`` the fraction
    with an estimate; ``spearman`` the rank correlation between requested and estimated
    pitch over the voiced notes (NaN with fewer than 3 or no spread); ``errors`` float [n].
    """

    n: int
    median_error: float
    mean_error: float
    within_1: float
    voiced: float
    spearman: float
    errors: np.ndarray = dataclasses.field(repr=False)

    def summary(self) -> str:
        return (
            f"median |error| {self.median_error:.2f} st, mean {self.mean_error:.2f} st, "
            f"within 1 st {100 * self.within_1:.0f} %, voiced {100 * self.voiced:.0f} %, "
            f"Spearman {self.spearman:.2f} (n={self.n})"
        )


def pitch_report(
    audio: np.ndarray,
    pitches: Sequence[int],
    sample_rate: int,
    search_margin: float = 12.0,
    frame_length: int = 512,
    min_voiced: float = 0.5,
) -> PitchReport:
    """Compare the estimated pitch of each note of ``audio`` [n, time] with ``pitches`` [n] (MIDI).

    The f0 search spans the requested pitches widened by ``search_margin`` semitones on each
    side (an octave, so that octave mistakes are found and counted as such).
    """
    from scipy import stats

    audio = np.asarray(audio)
    pitches = np.asarray(pitches, np.float64).reshape(-1)
    if audio.ndim != 2 or len(audio) != len(pitches) or len(pitches) == 0:
        raise ValueError(f"need audio [n, time] and n pitches, got {audio.shape} and {pitches.shape}")
    fmin, fmax = pitches.min() - search_margin, pitches.max() + search_margin
    est = np.array([estimate_pitch(a, sample_rate, fmin, fmax, frame_length, min_voiced)[0] for a in audio])
    voiced = np.isfinite(est)
    errors = np.full(len(pitches), UNVOICED_ERROR)
    errors[voiced] = np.minimum(np.abs(est[voiced] - pitches[voiced]), UNVOICED_ERROR)
    rho = float("nan")
    if voiced.sum() >= 3 and np.ptp(pitches[voiced]) > 0 and np.ptp(est[voiced]) > 0:
        rho = float(stats.spearmanr(pitches[voiced], est[voiced]).statistic)
    return PitchReport(
        n=len(pitches),
        median_error=float(np.median(errors)),
        mean_error=float(errors.mean()),
        within_1=float(np.mean(errors < 1.0)),
        voiced=float(voiced.mean()),
        spearman=rho,
        errors=errors,
    )
