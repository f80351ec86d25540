"""Music-theory estimators shared by the symbolic and the audio features.

* Key: Krumhansl–Schmuckler — correlate a 12-bin pitch-class distribution (note durations, or
  mean chroma) with the 24 rotations of a major/minor key profile. The profile values are
  music21's (``music21.analysis.discrete``); the default, Aarden–Essen, is the one music21's own
  ``analyze('key')`` uses (Krumhansl–Kessler's original profile is available and does worse on
  Bach, confusing keys a fifth apart). music21's analyser needs a score, so the 24 correlations are
  done here on any vector, which also serves audio chroma.
* Harmonic field: the share of pitch-class weight inside the key's scale (major: the major
  scale; minor: natural minor plus the raised 6th and 7th, i.e. the union of natural, harmonic and
  melodic minor).
* Meter: beats per bar (2, 3 or 4) from the accents of consecutive beats, see
  :func:`estimate_meter`.
* Histogram distances and tempo accuracy (MIREX-style ACC1 / ACC2).
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Sequence

import numpy as np

PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_FIELD = (0, 2, 3, 5, 7, 8, 9, 10, 11)  # natural minor + raised 6th and 7th


KEY_PROFILES = {
    "aarden_essen": "AardenEssen",
    "krumhansl_kessler": "KrumhanslKessler",
    "temperley": "TemperleyKostkaPayne",
    "bellman_budge": "BellmanBudge",
    "simple": "SimpleWeights",
}
DEFAULT_KEY_PROFILE = "aarden_essen"  # music21's default for ``Stream.analyze('key')``


def key_profiles(profile: str = DEFAULT_KEY_PROFILE) -> Dict[str, np.ndarray]:
    """Major and minor key profiles ``{"major": [12], "minor": [12]}`` (tonic first), from music21.

    Args:
      profile: one of ``KEY_PROFILES`` (Aarden–Essen is music21's default; Krumhansl–Kessler is the
        original KS profile).
    """
    from music21.analysis import discrete

    if profile not in KEY_PROFILES:
        raise ValueError(f"unknown key profile {profile!r}; choose from {', '.join(KEY_PROFILES)}")
    weights = getattr(discrete, KEY_PROFILES[profile])()
    return {mode: np.asarray(weights.getWeights(mode), dtype=np.float64) for mode in ("major", "minor")}


@dataclasses.dataclass(frozen=True)
class KeyEstimate:
    """A key.

    Attributes:
      tonic: pitch class 0-11 (0 = C).
      mode: ``"major"`` or ``"minor"``.
      correlation: Pearson correlation of the input with the key's profile (-1..1; NaN when the
        key was not estimated).
      runner_up_correlation: the best correlation among the other 23 keys.
    """

    tonic: int
    mode: str
    correlation: float = float("nan")
    runner_up_correlation: float = float("nan")

    @property
    def name(self) -> str:
        """``"C major"``, ``"F# minor"``: the spelling mir_eval's key metrics accept."""
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}"

    @property
    def fifths(self) -> int:
        """Number of sharps (>0) or flats (<0) of the key signature, in -6..5 (F# major = Gb = -6)."""
        major_tonic = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        f = (major_tonic * 7) % 12
        return f if f <= 5 else f - 12

    def scale(self) -> tuple:
        """Pitch classes of the key's harmonic field (see the module docstring)."""
        field = MAJOR_SCALE if self.mode == "major" else MINOR_FIELD
        return tuple(sorted((self.tonic + i) % 12 for i in field))


def estimate_key(pitch_class_weights: Sequence[float], profile: str = DEFAULT_KEY_PROFILE) -> KeyEstimate:
    """Krumhansl–Schmuckler key of a 12-bin pitch-class distribution.

    Args:
      pitch_class_weights: float ``[12]`` (C first), e.g. summed note durations or mean chroma.
      profile: key profiles to correlate with (see :func:`key_profiles`).

    Returns:
      the best of the 24 keys (:class:`KeyEstimate`); C major with NaN correlation when the
      input is all zeros.
    """
    x = np.asarray(pitch_class_weights, dtype=np.float64).reshape(-1)
    if x.shape != (12,):
        raise ValueError(f"need 12 pitch-class weights, got shape {x.shape}")
    if not np.any(x > 0) or np.allclose(x, x[0]):
        return KeyEstimate(0, "major")
    scores = []
    for mode, weights in key_profiles(profile).items():
        for tonic in range(12):
            scores.append((float(np.corrcoef(x, np.roll(weights, tonic))[0, 1]), tonic, mode))
    scores.sort(key=lambda s: -s[0])
    best, second = scores[0], scores[1]
    return KeyEstimate(best[1], best[2], best[0], second[0])


def key_from_name(name: str) -> KeyEstimate:
    """``"A minor"`` / ``"Bb major"`` / ``"a"`` (music21 style, lower case = minor) -> KeyEstimate."""
    text = name.strip()
    parts = text.split()
    if len(parts) == 2:
        tonic_name, mode = parts[0], parts[1].lower()
    else:
        tonic_name, mode = text, ("minor" if text[:1].islower() else "major")
    t = tonic_name[:1].upper() + tonic_name[1:].replace("-", "b")
    base = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
    if not t or t[0] not in base or mode not in ("major", "minor"):
        raise ValueError(f"not a key name: {name!r}")
    pc = base[t[0]] + t[1:].count("#") - t[1:].count("b")
    return KeyEstimate(pc % 12, mode)


def in_scale_share(pitch_class_weights: Sequence[float], key: KeyEstimate) -> float:
    """Share (0..1) of the pitch-class weight ``[12]`` that lies in ``key``'s harmonic field."""
    x = np.asarray(pitch_class_weights, dtype=np.float64)
    total = x.sum()
    if total <= 0:
        return float("nan")
    return float(x[list(key.scale())].sum() / total)


def key_weighted_score(reference: KeyEstimate, estimate: KeyEstimate) -> float:
    """MIREX key score via mir_eval: 1 same, 0.5 fifth, 0.3 relative, 0.2 parallel, else 0."""
    import mir_eval

    return float(mir_eval.key.weighted_score(reference.name, estimate.name))


# --------------------------------------------------------------------------- meter


@dataclasses.dataclass(frozen=True)
class MeterEstimate:
    """Beats per bar estimated from beat accents.

    Attributes:
      beats_per_bar: 2, 3 or 4 (0 when there were too few beats).
      downbeat_phase: index of the first downbeat among the beats given.
      scores: the score of each candidate (beats per bar -> score).
    """

    beats_per_bar: int
    downbeat_phase: int
    scores: Dict[int, float]

    @property
    def meter_class(self) -> str:
        """``"duple"`` (2 or 4 beats), ``"triple"`` (3) or ``"unknown"``."""
        return {2: "duple", 4: "duple", 3: "triple"}.get(self.beats_per_bar, "unknown")

    @property
    def label(self) -> str:
        """E.g. ``"4/x"`` (beats per bar; the beat unit is not estimated)."""
        return f"{self.beats_per_bar}/x" if self.beats_per_bar else "?"


def estimate_meter(
    beat_accents: Sequence[float], candidates: Sequence[int] = (2, 3, 4), min_beats: int = 8
) -> MeterEstimate:
    """Beats per bar from a sequence of beat accents (one value per beat, in order).

    For each candidate bar length ``m`` and phase ``p``, the accents of beats ``p, p+m, p+2m, ...``
    (the would-be downbeats) are compared with all beats by a z-score:
    ``(mean_downbeats - mean_all) / (std_all / sqrt(num_downbeats))``. A bar length's score is its
    best phase. Longer bars choose from more phases, so their maxima are inflated by chance; the
    score subtracts the expected maximum of ``m`` standard-normal z-scores (a cheap correction).
    4 is chosen over 2 only when its score is higher (a 4-beat bar makes beats 1 and 3 unequal).

    Args:
      beat_accents: float ``[num_beats]``, e.g. summed note durations starting at each beat, or
        the onset-strength envelope at each beat.
      candidates: bar lengths to consider.
      min_beats: fewer beats give ``beats_per_bar = 0``.

    Returns:
      :class:`MeterEstimate`.
    """
    a = np.asarray(beat_accents, dtype=np.float64)
    if a.size < min_beats or np.std(a) == 0:
        return MeterEstimate(0, 0, {})
    mean, std = a.mean(), a.std()
    expected_max = {1: 0.0, 2: 0.564, 3: 0.846, 4: 1.029, 6: 1.267}
    scores, phases = {}, {}
    for m in candidates:
        best, best_p = -np.inf, 0
        for p in range(m):
            sel = a[p::m]
            if sel.size < 2:
                continue
            z = (sel.mean() - mean) / (std / np.sqrt(sel.size))
            if z > best:
                best, best_p = z, p
        scores[m] = float(best - expected_max.get(m, 0.0) * 1.0)
        phases[m] = best_p
    m = max(scores, key=scores.get)
    return MeterEstimate(int(m), int(phases[m]), scores)


# --------------------------------------------------------------------------- distances


def meter_key_summary(meter: MeterEstimate, key: KeyEstimate, in_scale_share: float) -> dict:
    """A piece's meter and key estimates as the JSON-friendly fields of the feature summaries."""
    return {
        "beats_per_bar": meter.beats_per_bar,
        "meter_class": meter.meter_class,
        "key": key.name,
        "key_correlation": key.correlation,
        "in_scale_share": in_scale_share,
    }


def normalize_histogram(h: Sequence[float]) -> np.ndarray:
    """``h / sum(h)`` as float64 (all zeros stay zeros)."""
    h = np.asarray(h, dtype=np.float64)
    s = h.sum()
    return h / s if s > 0 else h


def histogram_distances(a: Sequence[float], b: Sequence[float]) -> Dict[str, float]:
    """Distances between two histograms over the same bins (normalized here).

    Returns:
      ``{"js": Jensen–Shannon distance (base 2, 0..1, scipy), "overlap": sum of bin-wise minima
      (0..1, 1 = identical), "l1": sum |a - b| (0..2)}``; NaN when either histogram is empty.
    """
    from scipy.spatial.distance import jensenshannon

    pa, pb = normalize_histogram(a), normalize_histogram(b)
    if pa.shape != pb.shape:
        raise ValueError(f"histograms have different bins: {pa.shape} vs {pb.shape}")
    if pa.sum() == 0 or pb.sum() == 0:
        return {"js": float("nan"), "overlap": float("nan"), "l1": float("nan")}
    return {
        "js": float(jensenshannon(pa, pb, base=2)),
        "overlap": float(np.minimum(pa, pb).sum()),
        "l1": float(np.abs(pa - pb).sum()),
    }


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of the angle between two vectors (NaN if either is zero)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def tempo_accuracy(estimated_bpm: float, reference_bpm: float, tolerance: float = 0.04) -> Dict[str, bool]:
    """MIREX-style tempo accuracy of one estimate.

    Returns:
      ``{"acc1": within tolerance (default 4 %) of the reference, "acc2": within tolerance of the
      reference times 1, 2, 3, 1/2 or 1/3 (octave errors allowed)}``.
    """
    if not (estimated_bpm > 0 and reference_bpm > 0):
        return {"acc1": False, "acc2": False}
    ok = lambda ref: abs(estimated_bpm - ref) <= tolerance * ref  # noqa: E731
    return {"acc1": ok(reference_bpm), "acc2": any(ok(reference_bpm * f) for f in (1.0, 2.0, 3.0, 0.5, 1.0 / 3.0))}
