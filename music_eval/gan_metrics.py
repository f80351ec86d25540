"""GANSynth's sample-quality metrics, computed from classifier outputs and spectrogram features.

Definitions (Engel et al., "GANSynth", ICLR 2019, section 4.2, and Magenta's evaluation code):

* **Inception Score** ``IS = exp(E_x[KL(p(y|x) || p(y))])`` where ``p(y|x)`` is the pitch
  classifier's softmax for one sample and ``p(y)`` is its mean over the set (the marginal).
  It lies in ``[1, num_classes]``; high when each sample is classified confidently and the
  set covers many pitches.
* **Pitch Accuracy** (PA): the share of samples whose arg-max pitch equals the pitch they were
  generated for. Magenta's code counts ``|predicted - wanted| <= threshold`` with threshold 1;
  ``tolerance`` below defaults to 0 (exact), pass 1 to reproduce Magenta's count.
* **Pitch Entropy** (PE): the mean over samples of the entropy (nats) of ``p(y|x)``, as Magenta's
  code computes it (``mean_pitch_entropy``). We also report the entropy of the histogram of
  arg-max pitches over the set (:func:`predicted_pitch_histogram_entropy`), which is exactly 0
  for a set that the classifier hears as one pitch.
* **FID**: the Fréchet distance between Gaussians fitted to two sets of embeddings (here the
  pitch classifier's penultimate layer): ``|mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``.
* **NDB** (Richardson & Weiss 2018, "On GANs and GMMs"): k-means with k = 50 on the real
  samples' log spectrograms; generated samples are assigned to the nearest real centroid, and
  each cell's real and generated proportions are compared with a two-sample (pooled) test of
  proportions at significance ``alpha`` = 0.05. NDB is the number of cells that differ; NDB/k
  is reported as well. Two independent draws from one distribution give about ``alpha * k``
  (the paper's real-data row is 2.2); a set against itself gives exactly 0.

Everything here is numpy / scipy / scikit-learn on arrays; the classifier lives in
:mod:`music_eval.classifier`.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

EPS = 1e-12


def _check_probs(probs: np.ndarray, name: str = "probs") -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"{name} must be [num_samples > 0, num_classes], got shape {probs.shape}")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    sums = probs.sum(axis=1, keepdims=True)
    if np.any(np.abs(sums - 1.0) > 1e-3):
        raise ValueError(
            f"{name} rows must sum to 1 (softmax outputs); got sums in [{sums.min():.4f}, {sums.max():.4f}]"
        )
    return probs / sums


def _entropy_rows(probs: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(probs > 0, probs * np.log(np.maximum(probs, EPS)), 0.0), axis=1)


def inception_score(probs: np.ndarray) -> float:
    """Inception Score of a set of classifier outputs.

    Args:
      probs: float ``[num_samples, num_classes]``, each row a softmax distribution ``p(y|x)``.

    Returns:
      ``exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)`` the row mean; in ``[1, num_classes]``.
    """
    probs = _check_probs(probs)
    marginal = probs.mean(axis=0, keepdims=True)
    kl = np.sum(
        np.where(probs > 0, probs * (np.log(np.maximum(probs, EPS)) - np.log(np.maximum(marginal, EPS))), 0.0), axis=1
    )
    return float(np.exp(np.mean(kl)))


def pitch_accuracy(
    probs_or_predictions: np.ndarray, pitches: np.ndarray, tolerance: int = 0, class_offset: int = 0
) -> float:
    """Pitch Accuracy: share of samples whose predicted pitch is within ``tolerance`` semitones.

    Args:
      probs_or_predictions: ``[num_samples, num_classes]`` softmax outputs (arg-max is taken), or
        ``[num_samples]`` predicted MIDI pitches.
      pitches: int ``[num_samples]``, the MIDI pitch each sample was meant to have.
      tolerance: semitones of slack (0: exact; Magenta's evaluation code used 1).
      class_offset: the MIDI pitch of class 0 when ``probs`` are given (24 for GANSynth's 24-84).

    Returns:
      a fraction in [0, 1].
    """
    pred = np.asarray(probs_or_predictions)
    pitches = np.asarray(pitches).reshape(-1)
    if pred.ndim == 2:
        pred = _check_probs(pred).argmax(axis=1) + class_offset
    if pred.shape[0] != pitches.shape[0] or pred.shape[0] == 0:
        raise ValueError(f"need as many predictions as pitches (> 0), got {pred.shape[0]} and {pitches.shape[0]}")
    return float(np.mean(np.abs(pred.astype(np.int64) - pitches.astype(np.int64)) <= tolerance))


def pitch_entropy(probs: np.ndarray) -> float:
    """Pitch Entropy as GANSynth's evaluation computes it: mean per-sample entropy of ``p(y|x)``.

    Args:
      probs: ``[num_samples, num_classes]`` softmax outputs.

    Returns:
      the mean entropy in nats (0 when every sample gets a one-hot prediction).
    """
    return float(np.mean(_entropy_rows(_check_probs(probs))))


def predicted_pitch_histogram_entropy(probs: np.ndarray) -> float:
    """Entropy (nats) of the histogram of arg-max pitches over the set; 0 for a one-pitch set.

    Args:
      probs: ``[num_samples, num_classes]`` softmax outputs.
    """
    probs = _check_probs(probs)
    counts = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]).astype(np.float64)
    return float(_entropy_rows((counts / counts.sum())[None])[0])


def frechet_distance(embeddings_a: np.ndarray, embeddings_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings (FID's formula).

    Args:
      embeddings_a, embeddings_b: float ``[num_samples, dim]`` each (sample counts may differ;
        each needs at least 2 samples).

    Returns:
      ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 sqrtm(S_a S_b))``, >= 0; exactly 0 (up to rounding)
      for identical sets.
    """
    import scipy.linalg

    a = np.asarray(embeddings_a, dtype=np.float64)
    b = np.asarray(embeddings_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two [n >= 2, dim] arrays with the same dim, got {a.shape} and {b.shape}")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)

    def sqrtm(m):
        import warnings

        with warnings.catch_warnings():  # singular products are handled below
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            out = scipy.linalg.sqrtm(m)
        return out[0] if isinstance(out, tuple) else out

    covmean = sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(covmean)):
        # Singular product: regularize both covariances slightly (as common FID code does).
        offset = np.eye(cov_a.shape[0]) * 1e-6
        covmean = sqrtm((cov_a + offset) @ (cov_b + offset))
    covmean = np.real(covmean)
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))
    return max(value, 0.0)


@dataclasses.dataclass
class NDBResult:
    """Outcome of :func:`number_of_different_bins`.

    Attributes:
      num_different: NDB, the number of cells whose proportions differ significantly.
      k: number of cells.
      different: bool ``[k]``, which cells differ.
      real_proportions, generated_proportions: float ``[k]``, share of each set in each cell.
      p_values: float ``[k]``, two-sided p-values of the per-cell tests.
    """

    num_different: int
    k: int
    different: np.ndarray
    real_proportions: np.ndarray
    generated_proportions: np.ndarray
    p_values: np.ndarray

    @property
    def ndb_over_k(self) -> float:
        """NDB / k, in [0, 1]."""
        return self.num_different / self.k


def two_proportion_z_test(count_a: np.ndarray, n_a: int, count_b: np.ndarray, n_b: int) -> np.ndarray:
    """Two-sided p-values of the pooled two-sample z-test of proportions, element-wise.

    Args:
      count_a, count_b: int arrays of successes (same shape); n_a, n_b: the sample sizes.

    Returns:
      float array of p-values (1.0 where both proportions are 0 or both are 1).
    """
    from scipy.stats import norm

    count_a = np.asarray(count_a, dtype=np.float64)
    count_b = np.asarray(count_b, dtype=np.float64)
    p_a, p_b = count_a / n_a, count_b / n_b
    pooled = (count_a + count_b) / (n_a + n_b)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p_a - p_b) / np.where(se > 0, se, 1.0), 0.0)
    return 2.0 * norm.sf(np.abs(z))


class NDBCells:
    """k-means cells fitted on real samples, reusable for several generated sets.

    Args:
      real_features: float ``[num_real, dim]`` (e.g. flattened log spectrograms).
      k: number of cells (GANSynth: 50).
      seed: k-means seed.
      whiten: standardize each feature by the real set's mean and std before clustering
        (the NDB paper clusters raw pixels; for log spectrograms this keeps loud bins from
        dominating; off by default to follow the paper).
    """

    def __init__(self, real_features: np.ndarray, k: int = 50, seed: int = 0, whiten: bool = False):
        from sklearn.cluster import KMeans

        real = np.asarray(real_features, dtype=np.float64)
        if real.ndim != 2 or real.shape[0] < k:
            raise ValueError(f"need [num_real >= k={k}, dim] real features, got {real.shape}")
        self.k = int(k)
        self._mean = real.mean(axis=0) if whiten else 0.0
        self._scale = real.std(axis=0) + 1e-8 if whiten else 1.0
        self.kmeans = KMeans(n_clusters=self.k, n_init=3, random_state=seed).fit(self._prep(real))
        self.real_counts = np.bincount(self.kmeans.labels_, minlength=self.k)
        self.num_real = real.shape[0]

    def _prep(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self._mean) / self._scale

    def assign(self, features: np.ndarray) -> np.ndarray:
        """Cell index (int ``[n]``) of each row of ``features`` ``[n, dim]`` (nearest centroid)."""
        return self.kmeans.predict(self._prep(features))

    def evaluate(self, generated_features: np.ndarray, alpha: float = 0.05) -> NDBResult:
        """NDB of a generated set ``[num_generated, dim]`` against the real cells."""
        gen = np.asarray(generated_features)
        if gen.ndim != 2 or gen.shape[0] == 0:
            raise ValueError(f"generated features must be [n > 0, dim], got {gen.shape}")
        gen_counts = np.bincount(self.assign(gen), minlength=self.k)
        p = two_proportion_z_test(self.real_counts, self.num_real, gen_counts, gen.shape[0])
        different = p < alpha
        return NDBResult(
            int(different.sum()), self.k, different, self.real_counts / self.num_real, gen_counts / gen.shape[0], p
        )


def number_of_different_bins(
    real_features: np.ndarray,
    generated_features: np.ndarray,
    k: int = 50,
    alpha: float = 0.05,
    seed: int = 0,
    whiten: bool = False,
) -> NDBResult:
    """NDB of generated against real samples (see the module docstring).

    Args:
      real_features: float ``[num_real, dim]``, e.g. flattened log spectrograms of real notes.
      generated_features: float ``[num_generated, dim]``, the same features of generated notes.
      k: k-means cells (50 in GANSynth). alpha: significance of each per-cell test.
      seed: k-means seed. whiten: see :class:`NDBCells`.

    Returns:
      an :class:`NDBResult`.
    """
    return NDBCells(real_features, k=k, seed=seed, whiten=whiten).evaluate(generated_features, alpha)


def language_model_metrics(
    logits: np.ndarray, labels: np.ndarray, mask: Optional[np.ndarray] = None, no_event_label: Optional[int] = None
) -> dict:
    """NLL, perplexity and accuracy of a sequence model on held-out data (Melody RNN's metrics).

    Args:
      logits: float ``[..., num_classes]`` unnormalized scores (log-softmax is taken here).
      labels: int ``[...]`` target classes, same leading shape.
      mask: optional ``[...]`` of 0/1 weights (padding = 0).
      no_event_label: if given, also report ``event_accuracy`` (targets other than this label)
        and ``no_event_accuracy`` (targets equal to it), as Melody RNN does.

    Returns:
      dict with ``nll`` (mean nats per token), ``perplexity`` (``exp(nll)``), ``accuracy``,
      ``num_tokens`` and, with ``no_event_label``, ``event_accuracy`` / ``no_event_accuracy``.
    """
    from scipy.special import log_softmax

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(np.int64)
    if logits.shape[:-1] != labels.shape:
        raise ValueError(f"logits {logits.shape} and labels {labels.shape} disagree")
    mask = np.ones(labels.shape) if mask is None else np.asarray(mask, dtype=np.float64)
    logp = log_softmax(logits, axis=-1)
    nll_tok = -np.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
    correct = (logits.argmax(axis=-1) == labels).astype(np.float64)
    total = mask.sum()
    if total <= 0:
        raise ValueError("mask selects no tokens")
    nll = float((nll_tok * mask).sum() / total)
    out = {
        "nll": nll,
        "perplexity": float(np.exp(nll)),
        "accuracy": float((correct * mask).sum() / total),
        "num_tokens": int(total),
    }
    if no_event_label is not None:
        ev = mask * (labels != no_event_label)
        ne = mask * (labels == no_event_label)
        out["event_accuracy"] = float((correct * ev).sum() / ev.sum()) if ev.sum() else float("nan")
        out["no_event_accuracy"] = float((correct * ne).sum() / ne.sum()) if ne.sum() else float("nan")
    return out
