"""Generation with the Music Transformer: key/value-cached decoding, XLA-compiled end to end.

:class:`Sampler` runs the whole loop (primer prefill, sampling, EOS handling) as one
``tf.function(jit_compile=True)`` over a ``tf.while_loop`` that calls
:meth:`MusicTransformer.decode_step`, so each new event costs one position of the network
(``O(T)`` attention over the cache) instead of a pass over the whole prefix.

Sampling of one step (:func:`sample_logits`): logits / temperature, then top-k (keep the k
largest), then top-p / nucleus (of what is left, renormalised, keep the smallest set of most
likely ids whose probability mass reaches p), then a draw from
``tf.random.stateless_categorical`` seeded by ``(seed, position)``: the same seed gives the same
output, every row of a batch draws independently. ``temperature == 0`` is greedy (argmax).

Ids: the model's vocabulary; 0 is PAD (never sampled), 1 is EOS. With ``stop_at_eos`` a row
ends at its first sampled EOS; what follows is PAD, and the loop stops once every row ended.

:func:`generate_uncached` is the reference that recomputes the whole prefix at each step (same
sampling, same seeds): tests check that both give the same tokens, the benchmark times both.

MIDI: :func:`ids_to_note_sequence` / :func:`ids_to_midi` through score2perf's
:class:`~music_transformer_ext.encoding.PerformanceEncoder`; melodies for the conditioned
model go in through :class:`~music_transformer_ext.encoding.MelodyEncoder` (:func:`melody_inputs`).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from music_transformer_ext import encoding as encoding_lib
from music_transformer_ext.model import MusicTransformer

PAD_ID = encoding_lib.PAD_ID
EOS_ID = encoding_lib.EOS_ID

Primer = Union[None, Sequence[int], np.ndarray]


@dataclasses.dataclass(frozen=True)
class SamplingConfig:
    """How each event is drawn.

    Attributes:
      temperature: logits are divided by it; 0 means greedy (argmax).
      top_k: keep only the k most likely ids (0 = all).
      top_p: nucleus sampling: keep the smallest set of most likely ids whose probability (after
        temperature and top-k) reaches ``top_p``; 1.0 keeps all.
      seed: seeds the stateless draws (same seed, same output).
      stop_at_eos: end a row at its first sampled EOS (the rest is PAD).
    """

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    stop_at_eos: bool = True

    def __post_init__(self):
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


# --------------------------------------------------------------------------- one step


def filter_logits(logits: tf.Tensor, top_k, top_p) -> tf.Tensor:
    """Top-k then top-p filtering of ``logits [B, V]`` (float): removed ids get ``-inf``.

    ``top_k`` (int, 0 = off) and ``top_p`` (float in (0, 1], 1 = off) may be scalar tensors, so one
    compiled loop serves every setting. Of the ids top-k keeps, top-p keeps the most likely ones
    until their renormalised mass reaches ``top_p`` (at least one id). Ids whose logit ties the
    last kept one are kept too. PAD (id 0) is always removed. Returns ``[B, V]`` float32.
    """
    logits = tf.cast(logits, tf.float32)
    vocab = logits.shape[-1] if logits.shape[-1] is not None else tf.shape(logits)[-1]
    logits = tf.where(tf.equal(tf.range(vocab), PAD_ID)[None, :], -np.inf, logits)
    top_k = tf.cast(top_k, tf.int32)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")
    rank = tf.range(vocab)[None, :]
    in_k = rank < k
    masked = tf.where(in_k, sorted_logits, -np.inf)
    probs = tf.nn.softmax(masked, axis=-1)
    mass_before = tf.math.cumsum(probs, axis=-1, exclusive=True)
    keep = tf.logical_and(in_k, mass_before < tf.cast(top_p, tf.float32))
    keep = tf.logical_or(keep, tf.equal(rank, 0))
    count = tf.reduce_sum(tf.cast(keep, tf.int32), axis=-1)
    threshold = tf.gather(sorted_logits, count - 1, batch_dims=1)
    return tf.where(logits >= threshold[:, None], logits, -np.inf)


def sample_logits(logits: tf.Tensor, temperature, top_k, top_p, seed: tf.Tensor) -> tf.Tensor:
    """One id per row of ``logits [B, V]``: greedy when ``temperature == 0``, else a draw from the
    filtered (:func:`filter_logits`), temperature-scaled distribution. ``seed``: int32 ``[2]`` for
    ``tf.random.stateless_categorical``. Returns int32 ``[B]``."""
    logits = tf.cast(logits, tf.float32)
    temperature = tf.cast(temperature, tf.float32)
    scaled = logits / tf.maximum(temperature, 1e-6)
    filtered = filter_logits(scaled, top_k, top_p)
    drawn = tf.random.stateless_categorical(filtered, 1, seed=seed, dtype=tf.int32)[:, 0]
    greedy = tf.argmax(filter_logits(logits, 1, 1.0), axis=-1, output_type=tf.int32)
    return tf.where(temperature > 0, drawn, greedy)


def step_seed(seed, position) -> tf.Tensor:
    """The stateless seed of the draw at ``position``: int32 ``[seed, position]``."""
    return tf.stack([tf.cast(seed, tf.int32), tf.cast(position, tf.int32)])


def _next_tokens(tokens, sampled, position, primer_length, finished, stop_at_eos: bool):
    """Write column ``position`` of ``tokens [B, T]``: the primer there, else ``sampled`` (PAD for
    ended rows); returns ``(tokens, finished)``."""
    length = tokens.shape[1] if tokens.shape[1] is not None else tf.shape(tokens)[1]
    current = tf.gather(tokens, position, axis=1)
    in_primer = position < primer_length
    new = tf.where(in_primer, current, tf.where(finished, PAD_ID, sampled))
    if stop_at_eos:
        finished = tf.logical_or(finished, tf.logical_and(tf.logical_not(in_primer), tf.equal(new, EOS_ID)))
    column = tf.equal(tf.range(length), position)[None, :]
    return tf.where(column, new[:, None], tokens), finished


# --------------------------------------------------------------------------- inputs


def primer_buffer(primer: Primer, batch_size: int, decode_length: int) -> tuple[np.ndarray, int]:
    """``(tokens [B, P + decode_length] int32, P)``: the primer (a list of ids shared by the batch,
    or ``[B, P]``) followed by zeros. Raises ValueError for PAD / negative ids in the primer."""
    if primer is None:
        primer = np.zeros([batch_size, 0], np.int32)
    primer = np.asarray(primer, np.int64)
    if primer.ndim == 1:
        primer = np.tile(primer[None], [batch_size, 1])
    if primer.ndim != 2 or primer.shape[0] != batch_size:
        raise ValueError(f"primer must be [P] or [{batch_size}, P] ids, got shape {primer.shape}")
    if primer.size and primer.min() <= PAD_ID:
        raise ValueError("primer ids must be > 0 (0 is PAD)")
    if decode_length < 0:
        raise ValueError(f"decode_length must be >= 0, got {decode_length}")
    buffer = np.zeros([batch_size, primer.shape[1] + decode_length], np.int32)
    buffer[:, : primer.shape[1]] = primer
    return buffer, int(primer.shape[1])


def _check(model: MusicTransformer, buffer: np.ndarray, inputs) -> None:
    cfg = model.config
    if buffer.shape[1] == 0:
        raise ValueError("nothing to generate: empty primer and decode_length 0")
    if buffer.shape[1] > cfg.max_length:
        raise ValueError(f"primer + decode_length = {buffer.shape[1]} exceeds the model's max_length {cfg.max_length}")
    if buffer.max() >= cfg.vocab_size:
        raise ValueError(f"primer id {int(buffer.max())} is outside the model vocabulary of {cfg.vocab_size}")
    if cfg.conditioned and inputs is None:
        raise ValueError("a melody-conditioned model needs inputs (a melody); see accompany()")
    if not cfg.conditioned and inputs is not None:
        raise ValueError("this model has no encoder: it cannot take inputs")


def _prepare(model: MusicTransformer, primer: Primer, decode_length: int, num_outputs: int, inputs):
    """What a generation call starts from: ``(tokens, primer length, inputs)`` as :func:`primer_buffer`
    and int32 ``[num_outputs, S]`` inputs (a ``[S]`` melody repeated per output; None stays None),
    checked against ``model``."""
    buffer, primer_length = primer_buffer(primer, num_outputs, decode_length)
    if inputs is not None:
        inputs = np.asarray(inputs, np.int32)
        if inputs.ndim == 1:
            inputs = np.tile(inputs[None], [num_outputs, 1])
    _check(model, buffer, inputs)
    return buffer, primer_length, inputs


# --------------------------------------------------------------------------- the sampler


class Sampler:
    """Cached, XLA-compiled generation with one :class:`MusicTransformer`.

    Args:
      model: an unconditioned or melody-conditioned model.
      jit_compile: compile the whole loop with XLA (one compilation per batch size, total
        length and inputs length).
    """

    def __init__(self, model: MusicTransformer, jit_compile: bool = True):
        self.model = model
        self.jit_compile = jit_compile
        self._loops = {}

    def _loop(self, stop_at_eos: bool):
        if stop_at_eos not in self._loops:

            def run(tokens, primer_length, inputs, temperature, top_k, top_p, seed):
                return self._run(tokens, primer_length, inputs, temperature, top_k, top_p, seed, stop_at_eos)

            self._loops[stop_at_eos] = tf.function(run, jit_compile=self.jit_compile)
        return self._loops[stop_at_eos]

    def _run(self, tokens, primer_length, inputs, temperature, top_k, top_p, seed, stop_at_eos):
        batch, length = tokens.shape
        cache = self.model.init_cache(batch, inputs=inputs, max_length=length)
        finished = tf.zeros([batch], tf.bool)

        def cond(i, tokens, cache, finished):
            return tf.logical_and(i < length, tf.logical_not(tf.reduce_all(finished)))

        def body(i, tokens, cache, finished):
            previous = tf.where(i > 0, tf.gather(tokens, tf.maximum(i - 1, 0), axis=1), PAD_ID)
            logits, cache = self.model.decode_step(previous, cache, i)
            sampled = sample_logits(logits, temperature, top_k, top_p, step_seed(seed, i))
            tokens, finished = _next_tokens(tokens, sampled, i, primer_length, finished, stop_at_eos)
            return i + 1, tokens, cache, finished

        _, tokens, _, _ = tf.while_loop(
            cond, body, (tf.constant(0), tokens, cache, finished), maximum_iterations=length
        )
        return tokens

    def generate(
        self,
        primer: Primer = None,
        decode_length: int = 256,
        num_outputs: int = 1,
        config: SamplingConfig = SamplingConfig(),
        inputs: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """Continue ``primer`` by ``decode_length`` events, ``num_outputs`` times.

        Args:
          primer: ids ``[P]`` (shared by all outputs) or ``[num_outputs, P]``; None starts from nothing.
          decode_length: events to add after the primer.
          num_outputs: batch size B.
          config: temperature, top-k, top-p, seed, EOS handling.
          inputs: ``[S]`` or ``[B, S]`` melody ids for a conditioned model (see :func:`accompany`).

        Returns:
          int32 ``[B, P + decode_length]``: the primer then the generated ids (PAD after an EOS).
        """
        buffer, primer_length, inputs = _prepare(self.model, primer, decode_length, num_outputs, inputs)
        out = self._loop(bool(config.stop_at_eos))(
            tf.constant(buffer),
            tf.constant(primer_length, tf.int32),
            None if inputs is None else tf.constant(inputs),
            tf.constant(config.temperature, tf.float32),
            tf.constant(config.top_k, tf.int32),
            tf.constant(config.top_p, tf.float32),
            tf.constant(config.seed, tf.int32),
        )
        return out.numpy()


def generate(
    model: MusicTransformer,
    primer: Primer = None,
    decode_length: int = 256,
    num_outputs: int = 1,
    config: SamplingConfig = SamplingConfig(),
    inputs: Optional[np.ndarray] = None,
    jit_compile: bool = True,
) -> np.ndarray:
    """One-shot :meth:`Sampler.generate` (compiles each call; keep a :class:`Sampler` to reuse)."""
    return Sampler(model, jit_compile).generate(primer, decode_length, num_outputs, config, inputs)


def generate_uncached(
    model: MusicTransformer,
    primer: Primer = None,
    decode_length: int = 256,
    num_outputs: int = 1,
    config: SamplingConfig = SamplingConfig(),
    inputs: Optional[np.ndarray] = None,
) -> np.ndarray:
    """The reference without a cache: each step runs the model over the whole prefix (a graph
    with a dynamic length, not XLA) and samples like :class:`Sampler` (same seeds, the sampling
    step XLA-compiled as there, so the random draws match). Same arguments and result as
    :meth:`Sampler.generate`."""
    buffer, primer_length, inputs = _prepare(model, primer, decode_length, num_outputs, inputs)
    signature = [tf.TensorSpec([num_outputs, None], tf.int32)]
    if inputs is None:
        forward = tf.function(lambda prefix: model(prefix, training=False)[:, -1], input_signature=signature)
    else:
        memory = tf.constant(inputs)
        forward = tf.function(
            lambda prefix: model({"targets": prefix, "inputs": memory}, training=False)[:, -1],
            input_signature=signature,
        )
    stop_at_eos = bool(config.stop_at_eos)

    @tf.function(jit_compile=True)
    def choose(logits, tokens, position, finished):
        sampled = sample_logits(
            logits, config.temperature, config.top_k, config.top_p, step_seed(config.seed, position)
        )
        return _next_tokens(tokens, sampled, position, primer_length, finished, stop_at_eos)

    tokens = tf.constant(buffer)
    finished = tf.zeros([num_outputs], tf.bool)
    for i in range(buffer.shape[1]):
        if bool(tf.reduce_all(finished)):
            break
        logits = forward(tokens[:, : i + 1])
        tokens, finished = choose(logits, tokens, tf.constant(i), finished)
    return tokens.numpy()


# --------------------------------------------------------------------------- music in and out


def melody_inputs(melody, encoder: Optional[encoding_lib.MelodyEncoder] = None) -> np.ndarray:
    """A melody as the conditioned model's inputs: a NoteSequence, MIDI path/bytes, or score2perf
    text (``"60 -2 62 -1"``) -> int32 ``[S]`` ids of :class:`MelodyEncoder` (10 steps/s, 92 ids).
    A polyphonic NoteSequence / MIDI is reduced to its melody first (:func:`encoding.extract_melody`).

    Raises:
      encoding.EncodingError: unreadable MIDI, or a melody with no notes.
    """
    import note_seq

    encoder = encoder or encoding_lib.MelodyEncoder()
    if isinstance(melody, str) and not os.path.exists(melody):
        ids = encoder.encode_text(melody)
    else:
        if isinstance(melody, (str, bytes, os.PathLike)):
            name = "<bytes>" if isinstance(melody, bytes) else os.fspath(melody)
            try:
                data = melody if isinstance(melody, bytes) else open(melody, "rb").read()
                melody = note_seq.midi_to_note_sequence(data)
            except (OSError, note_seq.MIDIConversionError) as e:
                raise encoding_lib.EncodingError(f"{name}: not a readable MIDI file ({e})") from e
        if not melody.notes:
            raise encoding_lib.EncodingError("the melody has no notes")
        if _is_polyphonic(melody):
            melody, _ = encoding_lib.extract_melody(melody)
        ids = encoder.encode_note_sequence(melody)
    if not ids:
        raise encoding_lib.EncodingError("the melody encodes to no steps")
    return np.asarray(ids, np.int32)


def _is_polyphonic(ns) -> bool:
    notes = sorted(ns.notes, key=lambda n: n.start_time)
    return any(b.start_time < a.end_time - 1e-6 for a, b in zip(notes, notes[1:]))


def accompany(
    sampler: Sampler,
    melody,
    decode_length: Optional[int] = None,
    num_outputs: int = 1,
    config: SamplingConfig = SamplingConfig(),
    primer: Primer = None,
) -> np.ndarray:
    """Accompany ``melody`` (see :func:`melody_inputs`) with a melody-conditioned model: the encoder
    runs once over the melody ids, the decoder samples performance events.

    ``decode_length`` defaults to 40 events per second of melody (capped at the model's
    ``max_length``). Returns int32 ``[B, P + decode_length]`` performance ids.
    """
    if not sampler.model.config.conditioned:
        raise ValueError("accompaniment needs a melody-conditioned model (config.encoder_layers > 0)")
    inputs = melody_inputs(melody)
    if decode_length is None:
        seconds = len(inputs) / encoding_lib.MELODY_STEPS_PER_SECOND
        used = 0 if primer is None else np.asarray(primer).shape[-1]
        decode_length = min(int(40 * seconds), sampler.model.config.max_length - used)
    return sampler.generate(primer, decode_length, num_outputs, config, inputs=inputs)


def ids_to_note_sequence(ids: Sequence[int], encoder: Optional[encoding_lib.PerformanceEncoder] = None):
    """Performance ids (a sampled row; PAD dropped, cut at EOS) -> NoteSequence (seconds)."""
    encoder = encoder or encoding_lib.PerformanceEncoder()
    return encoder.decode_to_note_sequence([int(i) for i in ids])


def ids_to_midi(
    ids: Sequence[int],
    path: Union[str, os.PathLike, None] = None,
    encoder: Optional[encoding_lib.PerformanceEncoder] = None,
) -> bytes:
    """Performance ids -> standard MIDI file bytes (written atomically to ``path`` if given)."""
    encoder = encoder or encoding_lib.PerformanceEncoder()
    return encoder.decode_to_midi([int(i) for i in ids], path)


def primer_from_midi(
    path: Union[str, os.PathLike, bytes], max_events: int = 0, encoder: Optional[encoding_lib.PerformanceEncoder] = None
) -> np.ndarray:
    """A MIDI file -> performance ids ``[P]`` to continue (the last ``max_events`` if > 0).

    Raises:
      encoding.EncodingError: unreadable file, or no notes in the pitch range.
    """
    encoder = encoder or encoding_lib.PerformanceEncoder()
    ids = encoder.encode_midi(path)
    if not ids:
        raise encoding_lib.EncodingError(
            f"{path if not isinstance(path, bytes) else '<bytes>'}: no notes to prime with"
        )
    if max_events > 0:
        ids = ids[-max_events:]
    return np.asarray(ids, np.int32)


__all__ = [
    "SamplingConfig",
    "filter_logits",
    "sample_logits",
    "step_seed",
    "primer_buffer",
    "Sampler",
    "generate",
    "generate_uncached",
    "melody_inputs",
    "accompany",
    "ids_to_note_sequence",
    "ids_to_midi",
    "primer_from_midi",
]
