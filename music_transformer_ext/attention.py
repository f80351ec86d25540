"""Multi-head attention as tensor2tensor computes it, with relative positions by skewing.

Shapes: ``B`` batch, ``L`` query/memory length, ``H`` heads, ``dk`` / ``dv`` key / value depth
per head, ``M`` = ``max_relative_position``, ``T`` the incremental decoder's cache length.

tensor2tensor's ``multihead_attention`` (``layers/common_attention.py``): bias-free dense
projections ``q``, ``k``, ``v`` (total depths ``key_channels``, ``key_channels``,
``value_channels``), heads split from the last axis, ``q *= dk ** -0.5``, softmax over
``q k^T + bias``, attention dropout, ``weights @ v``, heads joined, bias-free
``output_transform`` back to the model width. Masks are additive biases of ``-1e9``.

Relative attention is t2t's ``dot_product_self_attention_relative_v2``:

* ``get_relative_embeddings_left``: the table ``[M, dk]`` (``heads_share_relative_embedding``)
  or ``[H, M, dk]`` (t2t's default) is zero-padded on the left to ``L`` rows when ``L > M``, or
  its last ``L`` rows are taken when ``L < M``; used row ``j`` stands for distance ``L-1-j``, so
  table row ``M-1-d`` holds distance ``d`` and distances ``>= M`` contribute nothing;
* ``rel = q @ E_used^T``: ``[B, H, L, L]`` indexed (query, distance), ``O(L*dk)`` memory per
  head for the embeddings instead of the ``O(L^2*dk)`` tensor of per-pair embeddings;
* the skew ``_relative_position_to_absolute_position_masked``: pad one zero column on the
  left, reshape ``[L+1, L]``, drop the first row. That puts (query i, distance i-m) at (i, m)
  for every ``m <= i``; entries above the diagonal are whatever the reshape leaves there and
  must be masked (the decoder's causal bias does it);
* ``add_relative_to_values``: the inverse skew of the attention weights times a second table.

:func:`relative_logits_naive` builds the per-pair embedding tensor directly (the paper's
``O(L^2 D)`` formulation) as a reference for tests and benchmarks.

:func:`blocked_causal_relative_attention` (``relative_method="blocked"``, the decoder's default)
computes the same causal attention in query row blocks: the block ``[a, b)`` needs keys ``[0, b)``
only, so with ``k`` blocks the logits, softmax and weight matmuls shrink to ``(k+1)/(2k)`` of the
square, and each block's relative logits are skewed by :func:`skew_block`, the rectangular form
of the same pad-and-reshape.

:class:`MultiHeadAttention` also has an incremental path, :meth:`MultiHeadAttention.step`: one
query at ``position`` attends to a fixed-size key/value cache ``[B, H, T, d]``; the new key and
value are written into the cache at ``position``, later slots are masked, and relative logits are
gathered by distance, so its outputs equal row ``position`` of the full computation.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Optional, Tuple

import keras
import tensorflow as tf

NEG_INF = -1e9
ATTENTION_TYPES = ("dot_product", "dot_product_relative_v2")
RELATIVE_METHODS = ("skew", "blocked", "naive")


# --------------------------------------------------------------------------- position helpers


def _static_or_dynamic(x: tf.Tensor, axis: int):
    static = x.shape[axis]
    return static if static is not None else tf.shape(x)[axis]


def timing_signal(
    length, channels: int, start=0, min_timescale: float = 1.0, max_timescale: float = 1.0e4
) -> tf.Tensor:
    """t2t's ``get_timing_signal_1d``: ``[1, length, channels]`` float32 sinusoids.

    Channel ``i < channels//2`` is ``sin(p * inv_i)``, channel ``channels//2 + i`` is
    ``cos(p * inv_i)`` with ``inv_i = min_timescale * exp(-i * log(max/min) / (channels//2 - 1))``
    and positions ``p = start, start+1, ...``; an odd channel count gets one zero channel.
    ``start`` may be a scalar tensor (the incremental decoder's position).
    """
    num_timescales = channels // 2
    log_increment = math.log(float(max_timescale) / float(min_timescale)) / max(num_timescales - 1, 1)
    inv_timescales = min_timescale * tf.exp(tf.range(num_timescales, dtype=tf.float32) * -log_increment)
    position = tf.cast(tf.range(length), tf.float32) + tf.cast(start, tf.float32)
    scaled_time = position[:, None] * inv_timescales[None, :]
    signal = tf.concat([tf.sin(scaled_time), tf.cos(scaled_time)], axis=1)
    if channels % 2:
        signal = tf.pad(signal, [[0, 0], [0, 1]])
    return signal[None]


def causal_bias(length) -> tf.Tensor:
    """t2t's ``attention_bias_lower_triangle``: ``[1, 1, L, L]``, 0 where memory <= query, -1e9 above."""
    ones = tf.ones([length, length], tf.float32)
    lower = tf.linalg.band_part(ones, -1, 0)
    return tf.reshape(NEG_INF * (1.0 - lower), [1, 1, length, length])


def padding_bias(ids: tf.Tensor, pad_id: int = 0) -> tf.Tensor:
    """t2t's ``attention_bias_ignore_padding``: ``[B, 1, 1, S]`` with -1e9 at PAD ids of ``ids [B, S]``."""
    padding = tf.cast(tf.equal(ids, pad_id), tf.float32)
    return (padding * NEG_INF)[:, None, None, :]


# --------------------------------------------------------------------------- relative positions


def relative_to_absolute_masked(x: tf.Tensor) -> tf.Tensor:
    """The skew: ``[B, H, L, L]`` (query, distance index) -> (query, memory position).

    Pads one zero column on the left, reshapes to ``[B, H, L+1, L]`` and drops the first row.
    Valid at and below the diagonal only (t2t's ``_relative_position_to_absolute_position_masked``).
    """
    b, h, length = (_static_or_dynamic(x, i) for i in range(3))
    x = tf.pad(x, [[0, 0], [0, 0], [0, 0], [1, 0]])
    x = tf.reshape(x, [b, h, length + 1, length])
    return x[:, :, 1:, :]


def absolute_to_relative_masked(x: tf.Tensor) -> tf.Tensor:
    """The inverse skew: ``[B, H, L, L]`` (query, memory) -> (query, distance index ``L-1-(i-m)``).

    Pads one zero row on top, reshapes to ``[B, H, L, L+1]`` and drops the first column
    (t2t's ``_absolute_position_to_relative_position_masked``); valid for causal weights.
    """
    b, h, length = (_static_or_dynamic(x, i) for i in range(3))
    x = tf.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])
    x = tf.reshape(x, [b, h, length, length + 1])
    return x[:, :, :, 1:]


def relative_embeddings_left(embeddings: tf.Tensor, length) -> tf.Tensor:
    """t2t's ``get_relative_embeddings_left``: the rows of ``embeddings`` a length-``L`` sequence uses.

    Args:
      embeddings: ``[M, d]`` (shared by heads) or ``[H, M, d]``.
      length: ``L`` (int or scalar tensor).

    Returns:
      ``[L, d]`` or ``[H, L, d]``; row ``j`` is the embedding of distance ``L-1-j`` (zeros for
      distances ``>= M``).
    """
    max_relative_position = embeddings.shape[-2]
    if isinstance(length, int):
        pad_length = max(length - max_relative_position, 0)
        start = max(max_relative_position - length, 0)
    else:
        pad_length = tf.maximum(length - max_relative_position, 0)
        start = tf.maximum(max_relative_position - length, 0)
    paddings = [[0, 0]] * (embeddings.shape.rank - 2) + [[pad_length, 0], [0, 0]]
    padded = tf.pad(embeddings, paddings)
    if embeddings.shape.rank == 2:
        return padded[start : start + length]
    return padded[:, start : start + length]


def _matmul_relative_keys(q: tf.Tensor, embeddings: tf.Tensor) -> tf.Tensor:
    """``[B, H, Lq, d] x [R, d] or [H, R, d] -> [B, H, Lq, R]``."""
    if embeddings.shape.rank == 2:
        return tf.einsum("bhld,rd->bhlr", q, embeddings)
    return tf.einsum("bhld,hrd->bhlr", q, embeddings)


def _matmul_relative_values(weights: tf.Tensor, embeddings: tf.Tensor) -> tf.Tensor:
    """``[B, H, Lq, R] x [R, d] or [H, R, d] -> [B, H, Lq, d]``."""
    if embeddings.shape.rank == 2:
        return tf.einsum("bhlr,rd->bhld", weights, embeddings)
    return tf.einsum("bhlr,hrd->bhld", weights, embeddings)


def relative_logits_skewed(q: tf.Tensor, embeddings: tf.Tensor) -> tf.Tensor:
    """Relative logits ``[B, H, L, L]`` by skewing (``O(L * d)`` embedding memory).

    ``q``: ``[B, H, L, dk]`` (already scaled); ``embeddings``: the raw table ``[M, dk]`` or
    ``[H, M, dk]``. Entry (i, m) is ``q_i . E[M-1-(i-m)]`` for ``0 <= i-m < M``, 0 for farther
    memory, unspecified above the diagonal.
    """
    length = _static_or_dynamic(q, 2)
    used = relative_embeddings_left(embeddings, length)
    return relative_to_absolute_masked(_matmul_relative_keys(q, used))


def _pairwise_embeddings(embeddings: tf.Tensor, length) -> tf.Tensor:
    """``[L, L, d]`` or ``[H, L, L, d]``: the embedding of distance ``i - m`` for each (i, m), zero
    where ``i - m`` is negative or ``>= M``."""
    max_relative_position = embeddings.shape[-2]
    pos = tf.range(length)
    distance = pos[:, None] - pos[None, :]
    row = max_relative_position - 1 - distance
    valid = tf.logical_and(distance >= 0, row >= 0)
    gathered = tf.gather(embeddings, tf.clip_by_value(row, 0, max_relative_position - 1), axis=-2)
    return gathered * tf.cast(valid, embeddings.dtype)[..., None]


def relative_logits_naive(q: tf.Tensor, embeddings: tf.Tensor) -> tf.Tensor:
    """Relative logits by materialising every pair's embedding (``O(L^2 * dk)`` memory).

    Same values as :func:`relative_logits_skewed` at and below the diagonal, zeros above it.
    """
    length = _static_or_dynamic(q, 2)
    pairs = _pairwise_embeddings(embeddings, length)
    if embeddings.shape.rank == 2:
        return tf.einsum("bhid,imd->bhim", q, pairs)
    return tf.einsum("bhid,himd->bhim", q, pairs)


def relative_values_naive(weights: tf.Tensor, embeddings: tf.Tensor) -> tf.Tensor:
    """``sum_m w[i, m] * Ev[distance i-m]`` with the per-pair tensor (reference for the skew)."""
    length = _static_or_dynamic(weights, 2)
    pairs = _pairwise_embeddings(embeddings, length)
    if embeddings.shape.rank == 2:
        return tf.einsum("bhim,imd->bhid", weights, pairs)
    return tf.einsum("bhim,himd->bhid", weights, pairs)


# --------------------------------------------------------------------------- row-blocked causal attention

#: ``relative_method="blocked"``: at most this many query row blocks ...
MAX_RELATIVE_BLOCKS = 8
#: ... and at least this many rows in each (shorter sequences use fewer blocks, or the full skew).
MIN_ROWS_PER_BLOCK = 128


def skew_block(rel: tf.Tensor, rows: int, keys: int) -> tf.Tensor:
    """The skew of one row block: ``[B, H, n, b]`` (query row, distance index) -> (query row, key).

    The block holds queries ``a .. a+n-1`` with ``a = b - n`` over keys ``0 .. b-1``; column ``j`` of
    ``rel`` is distance ``b-1-j``. Pads one zero column on the left, flattens, drops the first ``n``
    elements and reshapes to ``[n, b]``, which puts distance ``a+r-m`` at (row ``r``, key ``m``) for
    every ``m <= a+r``; entries above the causal diagonal are junk and must be masked. With
    ``n = b = L`` this is :func:`relative_to_absolute_masked`.
    """
    bsz, heads = _static_or_dynamic(rel, 0), _static_or_dynamic(rel, 1)
    x = tf.pad(rel, [[0, 0], [0, 0], [0, 0], [1, 0]])
    x = tf.reshape(x, [bsz, heads, rows * (keys + 1)])[:, :, rows:]
    return tf.reshape(x, [bsz, heads, rows, keys])


def unskew_block(weights: tf.Tensor, rows: int, keys: int) -> tf.Tensor:
    """The inverse of :func:`skew_block` for causal weights ``[B, H, n, b]``: (row, key) -> (row,
    distance index ``b-1-(a+r-m)``). Slots with no key receive exact zeros (masked weights or the
    pad), so the result times the used value table is the relative-value term."""
    bsz, heads = _static_or_dynamic(weights, 0), _static_or_dynamic(weights, 1)
    x = tf.pad(tf.reshape(weights, [bsz, heads, rows * keys]), [[0, 0], [0, 0], [rows, 0]])
    return tf.reshape(x, [bsz, heads, rows, keys + 1])[:, :, :, 1:]


def relative_row_blocks(
    length: int, max_blocks: int = MAX_RELATIVE_BLOCKS, min_rows: int = MIN_ROWS_PER_BLOCK, align: int = 8
) -> list:
    """Query row blocks ``[(a, b), ...]`` tiling ``[0, length)`` for :func:`blocked_causal_relative_attention`.

    ``min(max_blocks, length // min_rows)`` near-equal blocks (at least one); inner boundaries are
    rounded to multiples of ``align`` when every block stays non-empty. Equal blocks minimise the
    work ``sum n_i * b_i``, which is ``(k+1)/(2k)`` of the full square for ``k`` blocks.
    """
    count = max(1, min(max_blocks, length // max(min_rows, 1)))
    edges = [round(i * length / count) for i in range(count + 1)]
    aligned = [0] + [int(round(e / align)) * align for e in edges[1:-1]] + [length]
    if align > 1 and all(y > x for x, y in zip(aligned, aligned[1:])):
        edges = aligned
    return list(zip(edges[:-1], edges[1:]))


def _bias_block(bias: tf.Tensor, start: int, stop: int) -> tf.Tensor:
    """Rows ``start:stop`` and keys ``:stop`` of a bias broadcastable to ``[B, H, L, L]``."""
    bias = tf.convert_to_tensor(bias)
    while bias.shape.rank < 4:
        bias = bias[None]
    if bias.shape[-2] != 1:
        bias = bias[:, :, start:stop, :]
    if bias.shape[-1] != 1:
        bias = bias[:, :, :, :stop]
    return bias


def _causal_block_bias(start: int, stop: int) -> tf.Tensor:
    """``[1, 1, n, b]``: 0 where key ``m <= start + r``, ``NEG_INF`` above."""
    rows = tf.range(start, stop)[:, None]
    keys = tf.range(stop)[None, :]
    return tf.where(keys > rows, tf.constant(NEG_INF, tf.float32), tf.constant(0.0, tf.float32))[None, None]


def blocked_causal_relative_attention(
    q: tf.Tensor,
    k: tf.Tensor,
    v: tf.Tensor,
    key_table: tf.Tensor,
    value_table: Optional[tf.Tensor] = None,
    bias: Optional[tf.Tensor] = None,
    blocks: Optional[list] = None,
    weights_fn: Optional[Callable[[tf.Tensor], tf.Tensor]] = None,
) -> tf.Tensor:
    """Causal relative self-attention (t2t's ``dot_product_self_attention_relative_v2``) in query row blocks.

    A causal query never looks at later keys, so the block of queries ``[a, b)`` attends to keys
    ``[0, b)`` only: its logits ``Q[a:b] K[:b]^T + skew_block(Q[a:b] E[L-b:]^T)`` are ``[n, b]``
    instead of ``[n, L]``, and the softmax, the weights' matmul with ``V[:b]`` and the relative-value
    term shrink with them. Relative-embedding memory stays ``O(L * d)``.

    Args:
      q: ``[B, H, L, dk]`` queries, already scaled by ``dk ** -0.5``; ``L`` must be static.
      k: ``[B, H, L, dk]`` keys.
      v: ``[B, H, L, dv]`` values.
      key_table: the raw key table ``[M, dk]`` (shared by heads) or ``[H, M, dk]``.
      value_table: the raw value table (``add_relative_to_values``), or None.
      bias: additive logits bias broadcastable to ``[B, H, L, L]``, sliced to each block. The causal
        mask is applied here whatever ``bias`` holds.
      blocks: row blocks ``[(a, b), ...]`` tiling ``[0, L)`` (default :func:`relative_row_blocks`).
      weights_fn: applied to each block's softmax weights ``[B, H, n, b]`` (attention dropout).

    Returns:
      ``[B, H, L, dv]`` float, equal to the full masked skew's ``softmax(logits) V (+ relative
      values)`` up to float32 rounding. Rows whose every causal key ``bias`` masks differ (the full
      softmax spreads them over all ``L`` keys, this one over ``b``); a causal decoder has none.
    """
    length = q.shape[2]
    if length is None:
        raise ValueError("blocked relative attention needs a static sequence length")
    blocks = blocks or relative_row_blocks(length)
    used_keys = relative_embeddings_left(tf.cast(key_table, q.dtype), length)
    used_values = None if value_table is None else relative_embeddings_left(tf.cast(value_table, tf.float32), length)
    outs = []
    for start, stop in blocks:
        rows = stop - start
        q_block = q[:, :, start:stop]
        logits = tf.cast(tf.matmul(q_block, k[:, :, :stop], transpose_b=True), tf.float32)
        rel = _matmul_relative_keys(q_block, used_keys[..., length - stop :, :])
        logits += tf.cast(skew_block(rel, rows, stop), tf.float32)
        if bias is not None:
            logits += tf.cast(_bias_block(bias, start, stop), tf.float32)
        weights = tf.nn.softmax(logits + _causal_block_bias(start, stop))
        if weights_fn is not None:
            weights = weights_fn(weights)
        out = tf.matmul(tf.cast(weights, v.dtype), v[:, :, :stop])
        if used_values is not None:
            distances = unskew_block(weights, rows, stop)
            out += tf.cast(_matmul_relative_values(distances, used_values[..., length - stop :, :]), out.dtype)
        outs.append(out)
    return tf.concat(outs, axis=2)


def split_heads(x: tf.Tensor, num_heads: int) -> tf.Tensor:
    """``[B, L, C] -> [B, H, L, C/H]``."""
    b, length = _static_or_dynamic(x, 0), _static_or_dynamic(x, 1)
    x = tf.reshape(x, [b, length, num_heads, x.shape[-1] // num_heads])
    return tf.transpose(x, [0, 2, 1, 3])


def combine_heads(x: tf.Tensor) -> tf.Tensor:
    """``[B, H, L, d] -> [B, L, H*d]``."""
    b, h, length, d = (_static_or_dynamic(x, i) for i in range(4))
    x = tf.transpose(x, [0, 2, 1, 3])
    return tf.reshape(x, [b, length, x.shape[2] * x.shape[3]])


# --------------------------------------------------------------------------- layers


def t2t_dense_initializer():
    """t2t's ``uniform_unit_scaling`` with gain 1: variance scaling, fan_avg, uniform."""
    return keras.initializers.VarianceScaling(1.0, mode="fan_avg", distribution="uniform")


class ConfigurableLayer(keras.layers.Layer):
    """A layer that keeps its constructor's arguments as attributes of the same names, listed in
    ``config_attributes``: its Keras config is the base config plus those."""

    config_attributes: Tuple[str, ...] = ()

    def _keep_config_attributes(self, arguments: Mapping[str, Any]) -> None:
        """Sets attribute ``name`` to ``arguments[name]`` for every name in ``config_attributes``;
        ``arguments`` is the constructor's ``locals()``."""
        for name in self.config_attributes:
            setattr(self, name, arguments[name])

    def get_config(self):
        config = super().get_config()
        config.update({name: getattr(self, name) for name in self.config_attributes})
        return config


class RelativeEmbeddings(ConfigurableLayer):
    """The relative tables of one attention layer, in t2t's scope
    ``dot_product_self_attention_relative_v2``: ``key_relative_embeddings`` (and
    ``value_relative_embeddings`` when ``add_relative_to_values``), each ``[M, d]`` when heads share
    them, else ``[H, M, d]``; initialised N(0, d^-0.5) as t2t does."""

    config_attributes = (
        "num_heads",
        "max_relative_position",
        "key_depth",
        "value_depth",
        "heads_share",
        "add_to_values",
    )

    def __init__(
        self,
        num_heads: int,
        max_relative_position: int,
        key_depth: int,
        value_depth: int,
        heads_share: bool = False,
        add_to_values: bool = False,
        name: str = "dot_product_self_attention_relative_v2",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self._keep_config_attributes(locals())

    def _shape(self, depth):
        if self.heads_share:
            return (self.max_relative_position, depth)
        return (self.num_heads, self.max_relative_position, depth)

    def build(self, input_shape=None):
        self.key_relative_embeddings = self.add_weight(
            name="key_relative_embeddings",
            shape=self._shape(self.key_depth),
            initializer=keras.initializers.RandomNormal(stddev=self.key_depth**-0.5),
        )
        if self.add_to_values:
            self.value_relative_embeddings = self.add_weight(
                name="value_relative_embeddings",
                shape=self._shape(self.value_depth),
                initializer=keras.initializers.RandomNormal(stddev=self.value_depth**-0.5),
            )
        else:
            self.value_relative_embeddings = None
        self.built = True


class MultiHeadAttention(ConfigurableLayer):
    """t2t's ``multihead_attention`` (scope ``multihead_attention``): sublayers ``q``, ``k``, ``v``,
    ``output_transform`` (bias-free) and, for relative attention, ``dot_product_self_attention_relative_v2``.

    Args:
      output_depth: model width (``output_transform`` output).
      num_heads: heads.
      key_channels, value_channels: total q/k and v widths (0: ``output_depth``).
      attention_type: ``dot_product`` or ``dot_product_relative_v2`` (self-attention only).
      max_relative_position, heads_share_relative_embedding, add_relative_to_values: as t2t.
      dropout: attention-weight dropout rate.
      relative_method: ``skew`` (t2t's computation), ``blocked`` (the same values computed in query row
        blocks, each over its causal keys only: :func:`blocked_causal_relative_attention`, for a static
        ``L >= 2 * MIN_ROWS_PER_BLOCK``, else the skew; causal self-attention only) or ``naive``
        (per-pair tensor; causal use only).
    """

    config_attributes = (
        "output_depth",
        "num_heads",
        "key_channels",
        "value_channels",
        "attention_type",
        "max_relative_position",
        "heads_share_relative_embedding",
        "add_relative_to_values",
        "relative_method",
    )

    def __init__(
        self,
        output_depth: int,
        num_heads: int,
        key_channels: int = 0,
        value_channels: int = 0,
        attention_type: str = "dot_product",
        max_relative_position: int = 0,
        heads_share_relative_embedding: bool = False,
        add_relative_to_values: bool = False,
        dropout: float = 0.0,
        relative_method: str = "skew",
        name: str = "multihead_attention",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type {attention_type!r} not in {ATTENTION_TYPES}")
        if relative_method not in RELATIVE_METHODS:
            raise ValueError(f"relative_method {relative_method!r} not in {RELATIVE_METHODS}")
        key_channels = key_channels or output_depth
        value_channels = value_channels or output_depth
        if key_channels % num_heads or value_channels % num_heads:
            raise ValueError(f"key/value channels {key_channels}/{value_channels} not divisible by {num_heads} heads")
        self._keep_config_attributes(locals())
        self.dropout_rate = dropout
        init = t2t_dense_initializer
        self.q = keras.layers.Dense(self.key_channels, use_bias=False, kernel_initializer=init(), name="q")
        self.k = keras.layers.Dense(self.key_channels, use_bias=False, kernel_initializer=init(), name="k")
        self.v = keras.layers.Dense(self.value_channels, use_bias=False, kernel_initializer=init(), name="v")
        self.output_transform = keras.layers.Dense(
            output_depth, use_bias=False, kernel_initializer=init(), name="output_transform"
        )
        self.attention_dropout = keras.layers.Dropout(dropout, name="attention_dropout")
        self.relative = None
        if self.is_relative:
            if max_relative_position <= 0:
                raise ValueError("relative attention needs max_relative_position > 0")
            self.relative = RelativeEmbeddings(
                num_heads,
                max_relative_position,
                self.key_channels // num_heads,
                self.value_channels // num_heads,
                heads_share=heads_share_relative_embedding,
                add_to_values=add_relative_to_values,
            )

    @property
    def is_relative(self) -> bool:
        return self.attention_type == "dot_product_relative_v2"

    @property
    def key_depth(self) -> int:
        """Key depth per head."""
        return self.key_channels // self.num_heads

    @property
    def value_depth(self) -> int:
        """Value depth per head."""
        return self.value_channels // self.num_heads

    def build(self, input_shape):
        depth = input_shape[-1]
        for layer in (self.q, self.k, self.v):
            layer.build((None, None, depth))
        self.output_transform.build((None, None, self.value_channels))
        if self.relative is not None:
            self.relative.build()
        self.built = True

    # ------------------------------------------------------------------ pieces

    def project_memory(self, memory: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        """Keys and values of ``memory [B, S, C]``: ``([B, H, S, dk], [B, H, S, dv])``."""
        return split_heads(self.k(memory), self.num_heads), split_heads(self.v(memory), self.num_heads)

    def _query(self, query: tf.Tensor) -> tf.Tensor:
        q = split_heads(self.q(query), self.num_heads)
        return q * tf.cast(self.key_depth**-0.5, q.dtype)

    def _finish(self, weights: tf.Tensor, v: tf.Tensor, relative_values: Optional[tf.Tensor]) -> tf.Tensor:
        out = tf.matmul(tf.cast(weights, v.dtype), v)
        if relative_values is not None:
            out = out + tf.cast(relative_values, out.dtype)
        return self.output_transform(combine_heads(out))

    # ------------------------------------------------------------------ full sequences

    def _row_blocks(self, query: tf.Tensor) -> Optional[list]:
        """The row blocks ``relative_method="blocked"`` computes ``query [B, L, C]`` in; None for the full
        skew (other methods, a dynamic ``L``, or one block)."""
        length = query.shape[1]
        if not self.is_relative or self.relative_method != "blocked" or length is None:
            return None
        blocks = relative_row_blocks(length)
        return blocks if len(blocks) > 1 else None

    def call(
        self,
        query: tf.Tensor,
        memory: Optional[tf.Tensor] = None,
        bias: Optional[tf.Tensor] = None,
        training: bool = False,
    ) -> tf.Tensor:
        """Attention over whole sequences.

        Args:
          query: ``[B, L, C]``.
          memory: ``[B, S, C]`` for encoder-decoder attention; None for self-attention.
          bias: additive logits bias broadcastable to ``[B, H, L, S]`` (causal or padding).
          training: apply attention dropout.

        Returns:
          ``[B, L, output_depth]``.
        """
        if self.is_relative and memory is not None:
            raise ValueError(f"{self.name}: relative attention is self-attention only")
        q = self._query(query)
        k, v = self.project_memory(query if memory is None else memory)
        blocks = self._row_blocks(query)
        if blocks:
            out = blocked_causal_relative_attention(
                q,
                k,
                v,
                self.relative.key_relative_embeddings,
                self.relative.value_relative_embeddings if self.add_relative_to_values else None,
                bias=bias,
                blocks=blocks,
                weights_fn=lambda weights: self.attention_dropout(weights, training=training),
            )
            return self.output_transform(combine_heads(out))
        logits = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32)
        if self.is_relative:
            table = tf.cast(self.relative.key_relative_embeddings, q.dtype)
            rel = (
                relative_logits_skewed(q, table) if self.relative_method == "skew" else relative_logits_naive(q, table)
            )
            logits += tf.cast(rel, tf.float32)
        if bias is not None:
            logits += tf.cast(bias, tf.float32)
        weights = tf.nn.softmax(logits)
        weights = self.attention_dropout(weights, training=training)
        relative_values = None
        if self.is_relative and self.add_relative_to_values:
            table = tf.cast(self.relative.value_relative_embeddings, tf.float32)
            if self.relative_method == "skew":
                length = _static_or_dynamic(weights, 2)
                relative_values = _matmul_relative_values(
                    absolute_to_relative_masked(weights), relative_embeddings_left(table, length)
                )
            else:
                relative_values = relative_values_naive(weights, table)
        return self._finish(weights, v, relative_values)

    # ------------------------------------------------------------------ incremental decoding

    def attend_projected(
        self, query: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: Optional[tf.Tensor] = None, training: bool = False
    ) -> tf.Tensor:
        """Dot-product attention of ``query [B, Lq, C]`` over projected ``k [B, H, S, dk]``,
        ``v [B, H, S, dv]`` (the encoder memory cached once per sequence); ``[B, Lq, output_depth]``."""
        q = self._query(query)
        logits = tf.cast(tf.matmul(q, k, transpose_b=True), tf.float32)
        if bias is not None:
            logits += tf.cast(bias, tf.float32)
        weights = self.attention_dropout(tf.nn.softmax(logits), training=training)
        return self._finish(weights, v, None)

    def step(
        self,
        query: tf.Tensor,
        cache_k: tf.Tensor,
        cache_v: tf.Tensor,
        position,
        layer: Optional[int] = None,
        training: bool = False,
    ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Self-attention of the token at ``position`` over a fixed-size cache.

        Args:
          query: ``[B, 1, C]``, the layer input at ``position``.
          cache_k, cache_v: ``[B, H, T, dk]`` / ``[B, H, T, dv]``, or with ``layer`` the stacked caches of
            all layers ``[N, B, H, T, d]``; slots ``< position`` hold earlier keys/values, later slots
            are ignored.
          position: scalar int (tensor), ``0 <= position < T``.
          layer: index into stacked caches (None for per-layer caches).

        Returns:
          ``(output [B, 1, output_depth], cache_k, cache_v)`` with this token's key and value written
          at ``position`` (an in-place ``dynamic_update_slice`` under XLA); the output equals row
          ``position`` of :meth:`call` under a causal bias.
        """
        q = self._query(query)
        k, v = self.project_memory(query)
        position = tf.cast(position, tf.int32)
        if layer is None:
            start = [0, 0, position, 0]
        else:
            start = [layer, 0, 0, position, 0]
            k, v = k[None], v[None]
        cache_k = keras.ops.slice_update(cache_k, start, tf.cast(k, cache_k.dtype))
        cache_v = keras.ops.slice_update(cache_v, start, tf.cast(v, cache_v.dtype))
        keys = cache_k if layer is None else cache_k[layer]
        values = cache_v if layer is None else cache_v[layer]
        cache_len = keys.shape[2] if keys.shape[2] is not None else tf.shape(keys)[2]
        logits = tf.cast(tf.matmul(q, tf.cast(keys, q.dtype), transpose_b=True), tf.float32)
        memory_pos = tf.range(cache_len)
        visible = memory_pos <= position
        relative_values = None
        if self.is_relative:
            m = self.max_relative_position
            row = m - 1 - (position - memory_pos)  # table row of each slot's distance
            in_range = tf.logical_and(row >= 0, visible)
            rows = tf.clip_by_value(row, 0, m - 1)
            table = tf.cast(self.relative.key_relative_embeddings, q.dtype)
            by_row = _matmul_relative_keys(q, table)  # [B, H, 1, M]
            rel = tf.gather(by_row, rows, axis=-1)
            logits += tf.where(in_range, tf.cast(rel, tf.float32), 0.0)
        logits += tf.where(visible, 0.0, NEG_INF)
        weights = self.attention_dropout(tf.nn.softmax(logits), training=training)
        if self.is_relative and self.add_relative_to_values:
            table = tf.cast(self.relative.value_relative_embeddings, tf.float32)
            per_slot = tf.gather(table, rows, axis=-2) * tf.cast(in_range, tf.float32)[:, None]
            relative_values = _matmul_relative_values(weights, per_slot)
        return self._finish(weights, tf.cast(values, q.dtype), relative_values), cache_k, cache_v

    def get_config(self):
        return {**super().get_config(), "dropout": self.dropout_rate}
