"""Per-channel affine normalisation of specgrams into [-1, 1], as GANSynth does it.

``normalize(x) = clip(a * x + b, -1, 1)`` with one (a, b) pair per channel (log
magnitude, IF). Fitted from data, a and b map each channel's [min, max] onto
[-margin, margin] (GANSynth: margin 0.8, ~1,000 examples); or given directly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

from tfmusic import files

FORMAT = "tfmusic.gansynth.specgram_normalizer/1"


def range_to_affine(min_x: float, max_x: float, margin: float) -> tuple[float, float]:
    """(a, b) such that ``a * min_x + b = -margin`` and ``a * max_x + b = margin``.

    Raises ValueError when ``max_x <= min_x`` (a constant channel cannot be scaled).
    """
    if not max_x > min_x:
        raise ValueError(f"cannot fit a range normaliser to a constant or empty channel: min {min_x}, max {max_x}")
    a = 2.0 * margin / (max_x - min_x)
    b = -margin * (max_x + min_x) / (max_x - min_x)
    return float(a), float(b)


@dataclasses.dataclass(frozen=True)
class SpecgramNormalizer:
    """Affine map per channel, ``y = clip(a * x + b, -1, 1)``, and its inverse.

    Fields:
      a, b: tuples of floats, one per channel (channel 0 log magnitude, 1 IF).
      margin: the margin it was fitted with (None if prespecified); informational.
      data_min, data_max: per-channel ranges it was fitted on (None if prespecified).
      num_examples: examples it was fitted on (0 if prespecified).
    """

    a: tuple[float, ...]
    b: tuple[float, ...]
    margin: float | None = None
    data_min: tuple[float, ...] | None = None
    data_max: tuple[float, ...] | None = None
    num_examples: int = 0

    def __post_init__(self):
        object.__setattr__(self, "a", tuple(float(v) for v in self.a))
        object.__setattr__(self, "b", tuple(float(v) for v in self.b))
        for name in ("data_min", "data_max"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(float(v) for v in value))
        if len(self.a) != len(self.b) or not self.a:
            raise ValueError(f"a and b need one value per channel, got a={self.a}, b={self.b}")
        if any(v == 0.0 or not np.isfinite(v) for v in self.a):
            raise ValueError(f"every scale a must be finite and non-zero, got {self.a}")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def prespecified(cls, mag_a: float, mag_b: float, p_a: float, p_b: float) -> "SpecgramNormalizer":
        """Fixed values for the two channels (Magenta's ``mag_normalizer_a`` ... ``p_normalizer_b``)."""
        return cls(a=(mag_a, p_a), b=(mag_b, p_b))

    @classmethod
    def from_range(
        cls, data_min: Sequence[float], data_max: Sequence[float], margin: float = 0.8, num_examples: int = 0
    ) -> "SpecgramNormalizer":
        """From per-channel minima and maxima [channels] and a margin in (0, 1]."""
        pairs = [range_to_affine(lo, hi, margin) for lo, hi in zip(data_min, data_max)]
        return cls(
            a=tuple(p[0] for p in pairs),
            b=tuple(p[1] for p in pairs),
            margin=margin,
            data_min=tuple(data_min),
            data_max=tuple(data_max),
            num_examples=num_examples,
        )

    @classmethod
    def fit(cls, batches: Iterable, margin: float = 0.8, num_examples: int | None = 1000) -> "SpecgramNormalizer":
        """Fit to specgrams.

        Args:
          batches: an iterable (list, generator, ``tf.data.Dataset``) of float arrays or
            tensors [batch, frames, freq, channels]; only running minima and maxima are
            kept, so any number of examples fits in memory.
          margin: fitted ranges map onto [-margin, margin].
          num_examples: stop after at least this many examples (whole batches are
            used); None reads everything.

        Returns:
          The fitted normaliser. Raises ValueError when no data came in.
        """
        lo = hi = None
        seen = 0
        for batch in batches:
            x = np.asarray(batch.numpy() if hasattr(batch, "numpy") else batch, dtype=np.float64)
            if x.ndim < 2:
                raise ValueError(f"specgram batches must be [batch, ..., channels], got shape {x.shape}")
            flat = x.reshape(-1, x.shape[-1])
            if flat.shape[0] == 0:
                continue
            b_lo, b_hi = flat.min(axis=0), flat.max(axis=0)
            lo = b_lo if lo is None else np.minimum(lo, b_lo)
            hi = b_hi if hi is None else np.maximum(hi, b_hi)
            seen += x.shape[0]
            if num_examples is not None and seen >= num_examples:
                break
        if lo is None:
            raise ValueError("no data to fit the normaliser on")
        return cls.from_range(lo.tolist(), hi.tolist(), margin=margin, num_examples=seen)

    # ------------------------------------------------------------------ ops
    @property
    def num_channels(self) -> int:
        """Number of channels it normalises (2 for specgrams)."""
        return len(self.a)

    def normalize(self, x: tf.Tensor) -> tf.Tensor:
        """float32 [..., channels] specgrams -> ``clip(a * x + b, -1, 1)``, same shape."""
        x = tf.convert_to_tensor(x)
        a = tf.constant(self.a, dtype=x.dtype)
        b = tf.constant(self.b, dtype=x.dtype)
        return tf.clip_by_value(a * x + b, -1.0, 1.0)

    def denormalize(self, y: tf.Tensor) -> tf.Tensor:
        """Normalised [..., channels] -> specgram values ``(y - b) / a``, same shape."""
        y = tf.convert_to_tensor(y)
        a = tf.constant(self.a, dtype=y.dtype)
        b = tf.constant(self.b, dtype=y.dtype)
        return (y - b) / a

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """A JSON-ready dict (with a format tag)."""
        d = dataclasses.asdict(self)
        d = {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
        return {"format": FORMAT, **d}

    @classmethod
    def from_dict(cls, d: dict) -> "SpecgramNormalizer":
        """Inverse of :meth:`to_dict`; raises ValueError on a foreign format tag."""
        d = dict(d)
        fmt = d.pop("format", FORMAT)
        if fmt != FORMAT:
            raise ValueError(f"not a specgram normaliser file: format {fmt!r}")
        return cls(**d)

    def save(self, path: str | os.PathLike) -> pathlib.Path:
        """Write JSON (``.json``) or an ``.npz`` (no pickles); atomically. Returns the path."""
        path = pathlib.Path(path)
        if path.suffix == ".npz":
            arrays = {
                "a": np.asarray(self.a),
                "b": np.asarray(self.b),
                "margin": np.asarray(np.nan if self.margin is None else self.margin),
                "num_examples": np.asarray(self.num_examples),
            }
            if self.data_min is not None:
                arrays["data_min"] = np.asarray(self.data_min)
                arrays["data_max"] = np.asarray(self.data_max)
            with files.atomic_open(path, "wb") as f:
                np.savez(f, **arrays)
        else:
            files.atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "SpecgramNormalizer":
        """Read a file written by :meth:`save` (``.npz`` loaded with ``allow_pickle=False``)."""
        path = pathlib.Path(path)
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                margin = float(z["margin"])
                return cls(
                    a=tuple(z["a"].tolist()),
                    b=tuple(z["b"].tolist()),
                    margin=None if np.isnan(margin) else margin,
                    data_min=tuple(z["data_min"].tolist()) if "data_min" in z else None,
                    data_max=tuple(z["data_max"].tolist()) if "data_max" in z else None,
                    num_examples=int(z["num_examples"]),
                )
        return cls.from_dict(json.loads(path.read_text()))
