"""MIR statistics of audio (float32 mono at :data:`music_eval.io.ANALYSIS_RATE`), with librosa.

* tempo and beats: librosa's beat tracker; the tempo curve is librosa's local (per-frame) tempo;
* meter: beats per bar from the onset strength at each beat (:func:`music_eval.theory.estimate_meter`);
* key: Krumhansl–Schmuckler on the mean CQT chroma; harmonic field: the chroma share in the key's
  scale;
* energy: RMS (mean of librosa's frame RMS, linear and dBFS);
* loudness: A-weighted mean power in dB relative to full scale (uncalibrated "dBA FS"): the power
  spectrogram weighted by ``librosa.A_weighting``, summed over frequency, averaged over time;
* note density: onsets per second (librosa's onset detector); IOI histogram from those onsets,
  in beats of the estimated tempo;
* pitch range: 5th-95th percentile of pYIN's voiced f0 (MIDI numbers), on at most
  ``max_pitch_seconds`` of audio because pYIN is slow. pYIN follows one f0, so on polyphonic audio
  this is the range of the dominant (often the bass) line, not of all notes; MIDI pieces use
  their notes instead.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from music_eval import theory
from music_eval.features_symbolic import IOI_BIN_EDGES, ioi_histogram

HOP = 512


def rms_energy(audio: np.ndarray) -> np.ndarray:
    """Frame RMS ``[num_frames]`` (librosa, 2048-sample frames, hop 512)."""
    import librosa

    return librosa.feature.rms(y=np.asarray(audio, np.float32), frame_length=2048, hop_length=HOP)[0]


def a_weighted_loudness_db(audio: np.ndarray, sample_rate: int) -> float:
    """Mean A-weighted power in dB re full scale (a full-scale 1 kHz sine is about -3 dB)."""
    import librosa

    audio = np.asarray(audio, np.float32)
    n_fft = 2048
    spec = np.abs(librosa.stft(audio, n_fft=n_fft, hop_length=HOP, window="hann")) ** 2
    # Parseval: summing the one-sided power spectrum and scaling by 2 / (n_fft * sum(w^2)) gives the
    # frame's mean square, so a sine of amplitude A at 1 kHz (0 dB A-weighting) reads A^2 / 2.
    window = np.hanning(n_fft + 1)[:-1]  # librosa's periodic Hann
    spec = spec * 2.0 / (n_fft * np.sum(window**2))
    with np.errstate(divide="ignore"):  # A-weighting is -inf dB at 0 Hz
        weights = 10.0 ** (librosa.A_weighting(librosa.fft_frequencies(sr=sample_rate, n_fft=n_fft)) / 10.0)
    power = (spec * weights[:, None]).sum(axis=0)
    return float(10.0 * np.log10(np.mean(power) + 1e-12))


def onset_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """librosa's onset strength ``[num_frames]`` at hop 512."""
    import librosa

    return librosa.onset.onset_strength(y=np.asarray(audio, np.float32), sr=sample_rate, hop_length=HOP)


def beats_and_tempo(audio: np.ndarray, sample_rate: int, envelope: Optional[np.ndarray] = None):
    """``(bpm, beat_times [num_beats] s)`` from librosa's dynamic-programming beat tracker."""
    import librosa

    env = onset_envelope(audio, sample_rate) if envelope is None else envelope
    tempo, beats = librosa.beat.beat_track(onset_envelope=env, sr=sample_rate, hop_length=HOP, units="time")
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats, dtype=np.float64)


def tempo_curve(audio: np.ndarray, sample_rate: int, envelope: Optional[np.ndarray] = None):
    """Local tempo over time: ``(times [n] s, bpm [n])`` (librosa.feature.tempo, aggregate=None,
    8 s autocorrelation window)."""
    import librosa

    env = onset_envelope(audio, sample_rate) if envelope is None else envelope
    bpm = librosa.feature.tempo(onset_envelope=env, sr=sample_rate, hop_length=HOP, aggregate=None)
    times = librosa.times_like(bpm, sr=sample_rate, hop_length=HOP)
    return times, np.asarray(bpm, dtype=np.float64)


def chroma(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """CQT chroma ``[12, num_frames]`` (librosa.feature.chroma_cqt, hop 512, C first)."""
    import librosa

    return librosa.feature.chroma_cqt(y=np.asarray(audio, np.float32), sr=sample_rate, hop_length=HOP)


def beat_accents(envelope: np.ndarray, beat_times: np.ndarray, sample_rate: int) -> np.ndarray:
    """Onset strength at each beat (max within +-2 frames) ``[num_beats]``."""
    frames = np.round(np.asarray(beat_times) * sample_rate / HOP).astype(int)
    out = np.zeros(len(frames))
    for i, f in enumerate(frames):
        lo, hi = max(f - 2, 0), min(f + 3, len(envelope))
        out[i] = envelope[lo:hi].max() if hi > lo else 0.0
    return out


PYIN_RATE = 11025  # pYIN at 11 kHz is 4x cheaper than at 44.1 and still covers C1-C7
PYIN_HOP = 512


def _pyin_midi(audio: np.ndarray, sample_rate: int, max_seconds: float):
    """pYIN's f0 of the first ``max_seconds`` of ``audio`` as MIDI numbers per frame (NaN where
    unvoiced) and the frames' centre times (s); ``(None, None)`` for audio shorter than one frame."""
    import librosa

    y = np.asarray(audio, np.float32)[: int(max_seconds * sample_rate)]
    if y.size < 4096:
        return None, None
    y = librosa.resample(y, orig_sr=sample_rate, target_sr=PYIN_RATE, res_type="soxr_hq")
    f0, voiced, _ = librosa.pyin(y, fmin=32.7, fmax=2093.0, sr=PYIN_RATE, frame_length=2048, hop_length=PYIN_HOP)
    midi = np.where(voiced & np.isfinite(f0), librosa.hz_to_midi(np.nan_to_num(f0, nan=1.0)), np.nan)
    return midi, librosa.times_like(midi, sr=PYIN_RATE, hop_length=PYIN_HOP)


def pitch_range(audio: np.ndarray, sample_rate: int, max_seconds: float = 20.0):
    """5th / 95th percentile of pYIN's voiced f0 as MIDI numbers (NaN when nothing is voiced).

    Returns:
      ``(low, high)`` floats.
    """
    midi, _ = _pyin_midi(audio, sample_rate, max_seconds)
    voiced = midi[np.isfinite(midi)] if midi is not None else np.zeros(0)
    if voiced.size < 3:
        return float("nan"), float("nan")
    return float(np.percentile(voiced, 5)), float(np.percentile(voiced, 95))


def note_pitches(audio: np.ndarray, sample_rate: int, notes, max_seconds: float = 60.0) -> np.ndarray:
    """The pitch a listener's tracker hears in each note of a rendering: the median pYIN f0 over the
    note's span (its first and last 50 ms left out, where the previous note rings and the release
    begins).

    Args:
      audio: float ``[samples]``, mono, the rendering of ``notes``.
      sample_rate: Hz.
      notes: ``(start_s, end_s, ...)`` per note (e.g. ``pretty_midi.Note``'s ``start``/``end``, or tuples).
      max_seconds: analyse at most this much audio.

    Returns:
      float ``[len(notes)]`` MIDI numbers; NaN for a note with no voiced frame.
    """
    spans = [(n.start, n.end) if hasattr(n, "start") else (n[0], n[1]) for n in notes]
    midi, times = _pyin_midi(audio, sample_rate, max_seconds)
    out = np.full(len(spans), np.nan)
    if midi is None:
        return out
    for i, (start, end) in enumerate(spans):
        lo, hi = start + 0.05, max(end - 0.05, start + 0.1)
        frames = midi[(times >= lo) & (times <= hi)]
        frames = frames[np.isfinite(frames)]
        if frames.size:
            out[i] = float(np.median(frames))
    return out


def pitch_agreement(estimated, expected) -> dict:
    """How per-note pitch estimates (:func:`note_pitches`, MIDI numbers) stand against the notes'
    MIDI pitches: counts of ``notes``, ``within_semitone`` (|error| <= 1), ``octave_low`` /
    ``octave_high`` (within a semitone of 12 below / above), ``other`` and ``unvoiced`` (NaN)."""
    est = np.asarray(estimated, np.float64)
    err = est - np.asarray(expected, np.float64)
    voiced = np.isfinite(err)
    near = lambda target: voiced & (np.abs(np.where(voiced, err, 0.0) - target) <= 1.0)  # noqa: E731
    within, low, high = near(0.0), near(-12.0), near(12.0)
    return {
        "notes": int(est.size),
        "within_semitone": int(within.sum()),
        "octave_low": int(low.sum()),
        "octave_high": int(high.sum()),
        "other": int((voiced & ~within & ~low & ~high).sum()),
        "unvoiced": int((~voiced).sum()),
    }


@dataclasses.dataclass
class AudioFeatures:
    """What :func:`audio_features` measures.

    Attributes:
      duration_s: length (s). tempo_bpm, beat_times: beat tracker output.
      tempo_times, tempo_bpm_curve: local tempo over time.
      meter: :class:`theory.MeterEstimate` from beat accents.
      key: KS key of the mean chroma. in_scale_share: chroma share in the key's field.
      rms_mean: mean frame RMS (linear). rms_db: 20 log10(rms_mean).
      loudness_dba: A-weighted mean power, dB re full scale.
      onset_density: onsets per second. ioi_hist: ``[15]`` counts of inter-onset intervals in
        beats of the estimated tempo (``IOI_BIN_EDGES``).
      pitch_low, pitch_high: pYIN f0 percentiles (MIDI; NaN if not computed).
      chroma: ``[12, frames]``. mean_chroma: ``[12]``.
    """

    duration_s: float
    tempo_bpm: float
    beat_times: np.ndarray
    tempo_times: np.ndarray
    tempo_bpm_curve: np.ndarray
    meter: theory.MeterEstimate
    key: theory.KeyEstimate
    in_scale_share: float
    rms_mean: float
    rms_db: float
    loudness_dba: float
    onset_density: float
    ioi_hist: np.ndarray
    pitch_low: float
    pitch_high: float
    chroma: np.ndarray
    mean_chroma: np.ndarray

    def summary(self) -> dict:
        """Scalar fields as a JSON-friendly dict."""
        return {
            "duration_s": self.duration_s,
            "tempo_bpm": self.tempo_bpm,
            **theory.meter_key_summary(self.meter, self.key, self.in_scale_share),
            "rms_mean": self.rms_mean,
            "rms_db": self.rms_db,
            "loudness_dba": self.loudness_dba,
            "onset_density": self.onset_density,
            "pitch_low": self.pitch_low,
            "pitch_high": self.pitch_high,
            "mean_chroma": [float(v) for v in self.mean_chroma],
            "ioi_hist": [float(v) for v in self.ioi_hist],
        }


def audio_features(
    audio: np.ndarray, sample_rate: int, with_pitch_range: bool = True, max_pitch_seconds: float = 20.0
) -> AudioFeatures:
    """All audio statistics (see :class:`AudioFeatures`).

    Args:
      audio: float mono ``[num_samples]``. sample_rate: Hz.
      with_pitch_range: run pYIN (the slowest part). max_pitch_seconds: audio it looks at.

    Raises:
      ValueError: empty or silent audio.
    """
    import librosa

    audio = np.asarray(audio, np.float32)
    if audio.ndim != 1 or audio.size == 0 or not np.any(audio):
        raise ValueError("audio must be non-silent mono [num_samples]")
    env = onset_envelope(audio, sample_rate)
    bpm, beats = beats_and_tempo(audio, sample_rate, env)
    times, curve = tempo_curve(audio, sample_rate, env)
    meter = theory.estimate_meter(beat_accents(env, beats, sample_rate))
    chr_ = chroma(audio, sample_rate)
    mean_chroma = chr_.mean(axis=1)
    key = theory.estimate_key(mean_chroma)
    rms = rms_energy(audio)
    onsets = librosa.onset.onset_detect(onset_envelope=env, sr=sample_rate, hop_length=HOP, units="time")
    duration = audio.size / float(sample_rate)
    low, high = pitch_range(audio, sample_rate, max_pitch_seconds) if with_pitch_range else (float("nan"),) * 2
    rms_mean = float(rms.mean())
    return AudioFeatures(
        duration_s=duration,
        tempo_bpm=bpm,
        beat_times=beats,
        tempo_times=times,
        tempo_bpm_curve=curve,
        meter=meter,
        key=key,
        in_scale_share=theory.in_scale_share(mean_chroma, key),
        rms_mean=rms_mean,
        rms_db=float(20 * np.log10(rms_mean + 1e-12)),
        loudness_dba=a_weighted_loudness_db(audio, sample_rate),
        onset_density=float(len(onsets) / duration),
        ioi_hist=ioi_histogram(onsets, 60.0 / bpm if bpm > 0 else 0.0, IOI_BIN_EDGES),
        pitch_low=low,
        pitch_high=high,
        chroma=chr_,
        mean_chroma=mean_chroma,
    )


def chroma_similarity(chroma_a: np.ndarray, chroma_b: np.ndarray, max_frames: int = 2000) -> dict:
    """How alike two chromagrams ``[12, n]`` and ``[12, m]`` are.

    Returns:
      ``{"mean_cosine": cosine of the mean chroma vectors (key/harmony profile, 0..1),
      "dtw_cosine": mean cosine similarity of frames along librosa's DTW alignment (0..1; the
      sequences are subsampled to at most ``max_frames`` frames first)}``.
    """
    import librosa

    a, b = np.asarray(chroma_a, np.float64), np.asarray(chroma_b, np.float64)
    out = {"mean_cosine": theory.cosine_similarity(a.mean(axis=1), b.mean(axis=1))}
    sa, sb = max(1, a.shape[1] // max_frames + 1), max(1, b.shape[1] // max_frames + 1)
    a, b = a[:, ::sa], b[:, ::sb]
    if a.shape[1] < 2 or b.shape[1] < 2:
        out["dtw_cosine"] = float("nan")
        return out
    d, wp = librosa.sequence.dtw(X=a, Y=b, metric="cosine")
    na = a / (np.linalg.norm(a, axis=0, keepdims=True) + 1e-12)
    nb = b / (np.linalg.norm(b, axis=0, keepdims=True) + 1e-12)
    out["dtw_cosine"] = float(np.mean(np.sum(na[:, wp[:, 0]] * nb[:, wp[:, 1]], axis=0)))
    return out
