"""The Music Transformer paper's plain skew: the reference row of issue 14 item 1.

Huang et al. 2018, "Music Transformer", section 3.4.1 ("Memory efficient implementation of
relative position-based attention"), written from the paper's description for decoder
self-attention with a causal mask and one relative table shared by the heads.

Shapes: ``B`` batch, ``H`` heads, ``L`` sequence length, ``D`` key depth per head, ``Dv`` value
depth per head.

* ``Er [L, D]``: the relative embeddings of the distances ``-(L-1) .. 0`` in that order, so row
  ``r`` holds distance ``r - (L-1)`` (memory position minus query position; 0 is the query
  itself, negative distances the past);
* ``Q Er^T [B, H, L, L]``: one relative-logit tensor per head, entry ``(i, r)`` is
  ``q_i . e_(r-(L-1))``;
* the skew: pad a dummy column of zeros on the left (``[B, H, L, L+1]``), reshape to
  ``[B, H, L+1, L]`` and drop the first row. The result ``S_rel [B, H, L, L]`` has
  ``S_rel[i, j] = q_i . e_(j-i)`` for ``j <= i``; entries above the diagonal are meaningless and
  the causal mask removes them;
* ``Attention = softmax((Q K^T + S_rel) / sqrt(D) + causal mask) V``.
"""

from __future__ import annotations

import tensorflow as tf

NEG_INF = -1e9


def plain_skew_relative_logits(q: tf.Tensor, er: tf.Tensor) -> tf.Tensor:
    """``S_rel``: the relative logits, aligned by memory position.

    Args:
      q: ``[B, H, L, D]`` queries.
      er: ``[L, D]`` relative embeddings, row ``r`` for distance ``r - (L-1)``, shared by the heads.

    Returns:
      ``[B, H, L, L]``; entry ``(i, j)`` is ``q_i . e_(j-i)`` for ``j <= i`` (unspecified above the
      diagonal).
    """
    b, h, length = tf.shape(q)[0], tf.shape(q)[1], tf.shape(q)[2]
    rel = tf.einsum("bhld,rd->bhlr", q, er)  # [B, H, L, L]: (query, distance index)
    rel = tf.pad(rel, [[0, 0], [0, 0], [0, 0], [1, 0]])  # dummy zero column on the left: [B, H, L, L+1]
    rel = tf.reshape(rel, [b, h, length + 1, length])  # [B, H, L+1, L]
    return rel[:, :, 1:, :]  # drop the first row: [B, H, L, L]


def plain_skew_attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, er: tf.Tensor) -> tf.Tensor:
    """Causal relative self-attention with the plain skew.

    Args:
      q, k: ``[B, H, L, D]`` queries and keys (not scaled).
      v: ``[B, H, L, Dv]`` values.
      er: ``[L, D]`` relative embeddings of distances ``-(L-1) .. 0``, shared by the heads.

    Returns:
      ``[B, H, L, Dv]``: ``softmax((Q K^T + S_rel) / sqrt(D) + mask) V``, mask ``-1e9`` above the
      diagonal.
    """
    length = tf.shape(q)[2]
    depth = tf.cast(tf.shape(q)[3], q.dtype)
    logits = (tf.matmul(q, k, transpose_b=True) + plain_skew_relative_logits(q, er)) * tf.math.rsqrt(depth)
    lower = tf.linalg.band_part(tf.ones([length, length], logits.dtype), -1, 0)
    logits += NEG_INF * (1.0 - lower)
    return tf.matmul(tf.nn.softmax(logits), v)
