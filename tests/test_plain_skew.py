"""bench/plain_skew.py (the paper's plain skew) against our relative attention layer."""

import numpy as np
import pytest
import tensorflow as tf

from bench.plain_skew import plain_skew_attention, plain_skew_relative_logits
from music_transformer_ext import attention as A

HIDDEN, HEADS = 32, 4


def _paper_table(table: np.ndarray, length: int) -> np.ndarray:
    """Our shared table ``[M, d]`` (row ``M-1-d`` holds distance ``d = i - m``) as the paper's ``Er``
    for distances ``-(L-1) .. 0``: with ``L <= M`` (no clipping) that is its last ``L`` rows."""
    return table[table.shape[0] - length :]


@pytest.mark.parametrize("length,max_rel", [(8, 8), (33, 33), (33, 40)])
def test_plain_skew_equals_our_relative_logits_and_layer(length, max_rel):
    layer = A.MultiHeadAttention(
        HIDDEN,
        HEADS,
        attention_type="dot_product_relative_v2",
        max_relative_position=max_rel,
        heads_share_relative_embedding=True,
    )
    layer.build((None, None, HIDDEN))
    x = tf.constant(np.random.default_rng(length + max_rel).normal(size=(2, length, HIDDEN)).astype(np.float32))
    table = layer.relative.key_relative_embeddings.numpy()
    er = tf.constant(_paper_table(table, length))

    q = A.split_heads(layer.q(x), HEADS)
    k, v = layer.project_memory(x)
    q_scaled = q * layer.key_depth**-0.5

    # relative logits on and below the diagonal
    ours_rel = A.relative_logits_skewed(q_scaled, tf.constant(table)).numpy()
    plain_rel = plain_skew_relative_logits(q_scaled, er).numpy()
    lower = np.tril(np.ones((length, length), bool))
    np.testing.assert_allclose(plain_rel[..., lower], ours_rel[..., lower], rtol=1e-5, atol=1e-6)
    # the definition: S_rel[i, j] = q_i . e_(j-i), e_(j-i) being Er row (j-i) + L-1
    i, j = 5, 2
    np.testing.assert_allclose(
        plain_rel[1, 3, i, j], q_scaled.numpy()[1, 3, i] @ er.numpy()[j - i + length - 1], rtol=1e-5
    )

    # the attention output: our layer against the same projections around the plain skew
    ours = layer(x, bias=A.causal_bias(length)).numpy()
    heads = plain_skew_attention(q, k, v, er)
    plain = layer.output_transform(A.combine_heads(heads)).numpy()
    np.testing.assert_allclose(plain, ours, rtol=1e-5, atol=1e-6)
    assert np.abs(ours).max() > 0.1
