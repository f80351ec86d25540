"""tf.data plumbing from NSynth elements to GANSynth training pairs.

Input elements are the dicts the NSynth readers (``pipelines.nsynth``) yield; only
``'audio'`` (float32 [time], in [-1, 1)) and ``'pitch'`` (int64 []) are needed, plus
``'instrument_source'`` (int64 []) when filtering by source. Output pairs are
``(specgram, one_hot_pitch)``: the normalised model specgram float32
[frames, freq, 2] (mel IF if the spectral config says mel) and float32 [num_pitches].
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterable, Sequence

import numpy as np

import tensorflow as tf

from gansynth_tf.normalizer import SpecgramNormalizer
from gansynth_tf.specgrams import SpecgramsHelper


@dataclasses.dataclass(frozen=True)
class PitchRange:
    """The MIDI pitches the model is conditioned on, inclusive (GANSynth: 24..84, 61 classes)."""

    min_pitch: int = 24
    max_pitch: int = 84

    def __post_init__(self):
        if not 0 <= self.min_pitch <= self.max_pitch <= 127:
            raise ValueError(f"bad pitch range {self.min_pitch}..{self.max_pitch}")

    @property
    def num_classes(self) -> int:
        """Number of pitch classes (one-hot depth)."""
        return self.max_pitch - self.min_pitch + 1

    def one_hot(self, pitch: tf.Tensor) -> tf.Tensor:
        """int pitches [...] -> float32 one-hot [..., num_classes] (all zeros outside the range)."""
        pitch = tf.cast(pitch, tf.int32)
        return tf.one_hot(pitch - self.min_pitch, self.num_classes, dtype=tf.float32)

    def contains(self, pitch: tf.Tensor) -> tf.Tensor:
        """int pitches [...] -> bool [...]: inside the range."""
        pitch = tf.cast(pitch, tf.int32)
        return (pitch >= self.min_pitch) & (pitch <= self.max_pitch)


GANSYNTH_PITCHES = PitchRange(24, 84)


def crop_or_pad(audio: tf.Tensor, length: int) -> tf.Tensor:
    """float32 audio [time] -> [length]: zero-padded evenly on both sides (extra sample on
    the left) when short, cropped from the start when long."""
    audio = tf.convert_to_tensor(audio, tf.float32)
    missing = tf.maximum(0, length - tf.shape(audio)[0])
    right = missing // 2
    audio = tf.pad(audio, [[missing - right, right]])[:length]
    return tf.ensure_shape(audio, [length])


def element_filter(
    pitch_range: PitchRange | None = GANSYNTH_PITCHES, instrument_sources: Sequence[int] | None = None
) -> Callable[[dict], tf.Tensor]:
    """A ``Dataset.filter`` predicate on NSynth element dicts.

    Keeps elements whose ``'pitch'`` lies in ``pitch_range`` (None: any) and, when
    ``instrument_sources`` is given, whose ``'instrument_source'`` is one of them
    (NSynth: 0 acoustic, 1 electronic, 2 synthetic; the GANSynth paper trains on
    acoustic notes, while Magenta's released input code keeps source 1).
    """
    sources = None if instrument_sources is None else tf.constant(list(instrument_sources), tf.int64)

    def keep(element: dict) -> tf.Tensor:
        ok = tf.constant(True)
        if pitch_range is not None:
            ok = ok & pitch_range.contains(element["pitch"])
        if sources is not None:
            ok = ok & tf.reduce_any(tf.equal(tf.cast(element["instrument_source"], tf.int64), sources))
        return ok

    return keep


def make_batch_fn(
    helper: SpecgramsHelper,
    normalizer: SpecgramNormalizer | None,
    pitch_range: PitchRange = GANSYNTH_PITCHES,
    jit_compile: bool = True,
) -> Callable[[dict], tuple[tf.Tensor, tf.Tensor]]:
    """A map function for *batched* elements.

    In: dict with ``'audio'`` float32 [batch, audio_length] and ``'pitch'`` int [batch].
    Out: (specgrams float32 [batch, frames, freq, 2], normalised unless ``normalizer``
    is None; one-hot pitches float32 [batch, num_classes]). The spectral part is one
    XLA-compiled function when ``jit_compile``.
    """

    def transform(audio: tf.Tensor) -> tf.Tensor:
        specgrams = helper.encode(audio[:, :, tf.newaxis])
        return specgrams if normalizer is None else normalizer.normalize(specgrams)

    transform = tf.function(transform, jit_compile=jit_compile, autograph=False)

    def batch_fn(batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
        audio = tf.ensure_shape(tf.cast(batch["audio"], tf.float32), [None, helper.config.audio_length])
        return transform(audio), pitch_range.one_hot(batch["pitch"])

    return batch_fn


def make_example_fn(
    helper: SpecgramsHelper,
    normalizer: SpecgramNormalizer | None,
    pitch_range: PitchRange = GANSYNTH_PITCHES,
) -> Callable[[dict], tuple[tf.Tensor, tf.Tensor]]:
    """A map function for *single* NSynth elements.

    In: dict with ``'audio'`` float32 [time] (cropped or padded to the config's length)
    and ``'pitch'`` int []. Out: (specgram float32 [frames, freq, 2], one-hot float32
    [num_classes]). Prefer :func:`make_specgram_dataset` (batched) for throughput.
    """

    def example_fn(element: dict) -> tuple[tf.Tensor, tf.Tensor]:
        audio = crop_or_pad(element["audio"], helper.config.audio_length)
        specgram = helper.encode(audio[tf.newaxis, :, tf.newaxis])[0]
        if normalizer is not None:
            specgram = normalizer.normalize(specgram)
        return specgram, pitch_range.one_hot(element["pitch"])

    return example_fn


def _select_audio_and_pitch(audio_length: int) -> Callable[[dict], dict]:
    def select(element: dict) -> dict:
        return {"audio": crop_or_pad(element["audio"], audio_length), "pitch": tf.cast(element["pitch"], tf.int64)}

    return select


def acceptance_for_balance(pitch_counts: Sequence[int]) -> np.ndarray:
    """Notes per pitch class [num_classes] -> the probability [num_classes] of keeping a note of each
    class so that every class present is equally common (the rarest present class is always kept;
    absent classes get 0). Raises ValueError when no class has a note."""
    counts = np.asarray(pitch_counts, np.float64)
    present = counts > 0
    if not present.any():
        raise ValueError("balance_pitches: no notes in the pitch range")
    accept = np.zeros_like(counts)
    accept[present] = counts[present].min() / counts[present]
    return accept.astype(np.float32)


def balance_by_pitch(
    ds: tf.data.Dataset, pitch_counts: Sequence[int], pitch_range: PitchRange, seed: int | None = None
) -> tf.data.Dataset:
    """Dicts with ``'pitch'`` int64 [] (inside ``pitch_range``) -> the same dicts, thinned so that every
    pitch present is equally common: a note of class c is kept with probability
    :func:`acceptance_for_balance` ``(pitch_counts)[c]`` (``pitch_counts``: the notes per class of one
    pass of ``ds``, [num_classes]). Seeded by ``seed`` (a ``tf.data.Dataset.random`` stream)."""
    accept = tf.constant(acceptance_for_balance(pitch_counts))
    if accept.shape[0] != pitch_range.num_classes:
        raise ValueError(f"pitch_counts has {accept.shape[0]} classes, the pitch range {pitch_range.num_classes}")
    draws = tf.data.Dataset.random(seed=seed).map(lambda r: tf.cast(r % (1 << 24), tf.float32) / float(1 << 24))
    kept = tf.data.Dataset.zip((ds, draws)).filter(
        lambda e, u: u < tf.gather(accept, tf.cast(e["pitch"], tf.int32) - pitch_range.min_pitch)
    )
    return kept.map(lambda e, _u: e)


def count_pitches(pitches: Iterable[int], pitch_range: PitchRange) -> np.ndarray:
    """MIDI pitches -> int64 [num_classes] notes per class of ``pitch_range`` (others are not counted)."""
    p = np.asarray(list(pitches), np.int64) - pitch_range.min_pitch
    p = p[(p >= 0) & (p < pitch_range.num_classes)]
    return np.bincount(p, minlength=pitch_range.num_classes)


def make_specgram_dataset(
    ds: tf.data.Dataset,
    helper: SpecgramsHelper,
    normalizer: SpecgramNormalizer | None,
    batch_size: int,
    *,
    pitch_range: PitchRange | None = GANSYNTH_PITCHES,
    instrument_sources: Sequence[int] | None = None,
    shuffle_buffer: int = 0,
    seed: int | None = None,
    repeat: bool = False,
    pitch_counts: Sequence[int] | None = None,
    drop_remainder: bool = True,
    jit_compile: bool = True,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    deterministic: bool | None = None,
) -> tf.data.Dataset:
    """NSynth element dicts -> batches of (normalised specgrams, one-hot pitches).

    Filters (pitch range, optional instrument sources), keeps only audio and pitch,
    optionally shuffles and repeats, batches, *then* maps the batched spectral
    transform in parallel (vectorised over the batch, XLA-compiled), and prefetches.

    Args:
      ds: dataset of dicts with ``'audio'`` float32 [time] and ``'pitch'`` int64 [].
      helper: the spectral front end (its config picks mel or linear, the shape).
      normalizer: applied to the specgrams; None leaves them raw.
      batch_size: examples per batch.
      pitch_range: filter and one-hot range; None keeps every pitch and one-hots over
        GANSynth's 24..84.
      instrument_sources: keep only these NSynth sources (None: all).
      shuffle_buffer: shuffle buffer in examples (0: no shuffling).
      seed: shuffle seed.
      repeat: repeat forever (after shuffling, before batching).
      pitch_counts: notes per class of ``pitch_range`` in ``ds`` after the filters ([num_classes]):
        given, the notes are thinned so that every pitch present is equally common
        (:func:`balance_by_pitch`); None keeps the data's own counts.
      drop_remainder: drop a final short batch (static batch dimension).
      jit_compile: XLA-compile the spectral transform.
      num_parallel_calls, deterministic: passed to ``Dataset.map``.

    Returns:
      Dataset of (float32 [batch, frames, freq, 2], float32 [batch, num_classes]).
    """
    if pitch_range is not None or instrument_sources is not None:
        ds = ds.filter(element_filter(pitch_range, instrument_sources))
    ds = ds.map(_select_audio_and_pitch(helper.config.audio_length), num_parallel_calls=num_parallel_calls)
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    if repeat:
        ds = ds.repeat()
    if pitch_counts is not None:
        ds = balance_by_pitch(ds, pitch_counts, pitch_range or GANSYNTH_PITCHES, seed=seed)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    batch_fn = make_batch_fn(helper, normalizer, pitch_range or GANSYNTH_PITCHES, jit_compile=jit_compile)
    ds = ds.map(batch_fn, num_parallel_calls=num_parallel_calls, deterministic=deterministic)
    return ds.prefetch(tf.data.AUTOTUNE)


def fit_normalizer(
    ds: tf.data.Dataset,
    helper: SpecgramsHelper,
    num_examples: int = 1000,
    margin: float = 0.8,
    batch_size: int = 16,
    pitch_range: PitchRange | None = GANSYNTH_PITCHES,
    instrument_sources: Sequence[int] | None = None,
) -> SpecgramNormalizer:
    """Fit a :class:`SpecgramNormalizer` on the model specgrams of up to ``num_examples``
    NSynth elements from ``ds`` (same filtering as :func:`make_specgram_dataset`)."""
    if pitch_range is not None or instrument_sources is not None:
        ds = ds.filter(element_filter(pitch_range, instrument_sources))
    if num_examples is not None:
        ds = ds.take(num_examples)
    specs = make_specgram_dataset(ds, helper, None, batch_size, pitch_range=None, drop_remainder=False)
    return SpecgramNormalizer.fit((s for s, _ in specs), margin=margin, num_examples=None)
