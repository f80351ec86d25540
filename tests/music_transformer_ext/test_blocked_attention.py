"""Row-blocked causal relative attention (``relative_method="blocked"``) against t2t's
``dot_product_self_attention_relative_v2`` (the NumPy transcription), the full skew's gradients
under XLA, and the layer and model that use it."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from music_transformer_ext import attention as A
from music_transformer_ext import config as C
from music_transformer_ext.model import MusicTransformer
from tests.music_transformer_ext import t2t_reference as ref


def _inputs(seed, batch, heads, length, dk, dv, max_rel, shared, values):
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(batch, heads, length, dk)).astype(np.float32) * dk**-0.5
    k = rng.normal(size=(batch, heads, length, dk)).astype(np.float32)
    v = rng.normal(size=(batch, heads, length, dv)).astype(np.float32)
    table_shape = (max_rel,) if shared else (heads, max_rel)
    key_table = rng.normal(size=table_shape + (dk,)).astype(np.float32)
    value_table = rng.normal(size=table_shape + (dv,)).astype(np.float32) if values else None
    return q, k, v, key_table, value_table


@pytest.mark.parametrize(
    "length,max_rel,shared,values,blocks",
    [
        (16, 16, True, False, [(0, 8), (8, 16)]),
        (23, 7, False, True, [(0, 1), (1, 9), (9, 10), (10, 23)]),  # uneven, one-row blocks, M < L
        (19, 40, True, True, [(0, 5), (5, 12), (12, 19)]),  # M > L
        (33, 12, False, False, None),  # the default tiling (one block at this length)
        (40, 40, False, True, [(a, a + 5) for a in range(0, 40, 5)]),
    ],
)
def test_blocks_equal_t2t_relative_v2(length, max_rel, shared, values, blocks):
    q, k, v, key_table, value_table = _inputs(1, 2, 3, length, 8, 6, max_rel, shared, values)
    bias = A.causal_bias(length)
    got = A.blocked_causal_relative_attention(q, k, v, key_table, value_table, bias=bias, blocks=blocks).numpy()
    f64 = [x if x is None else x.astype(np.float64) for x in (q, k, v, key_table, value_table)]
    expected = ref.relative_attention_v2(*f64[:3], bias.numpy().astype(np.float64), f64[3], f64[4])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=2e-6)
    assert np.abs(expected).max() > 0.5


def test_blocks_apply_the_causal_mask_themselves_and_slice_a_padding_bias():
    length = 24
    q, k, v, key_table, value_table = _inputs(2, 2, 2, length, 8, 8, 10, False, True)
    # a key-padding bias [B, 1, 1, L] on the last 3 keys of the second example (no row loses every key)
    pad = np.zeros((2, 1, 1, length), np.float32)
    pad[1, ..., -3:] = A.NEG_INF
    full = pad + A.causal_bias(length).numpy()
    f64 = [x.astype(np.float64) for x in (q, k, v, key_table, value_table)]
    expected = ref.relative_attention_v2(*f64[:3], full.astype(np.float64), f64[3], f64[4])
    blocks = [(0, 8), (8, 16), (16, 24)]
    without_causal = A.blocked_causal_relative_attention(q, k, v, key_table, value_table, bias=pad, blocks=blocks)
    np.testing.assert_allclose(without_causal.numpy(), expected, rtol=1e-5, atol=2e-6)


def test_blocked_gradients_equal_the_full_skew_under_xla():
    length = 48
    q, k, v, key_table, value_table = _inputs(3, 1, 4, length, 8, 8, 20, False, True)
    tensors = [tf.constant(x) for x in (q, k, v, key_table, value_table)]
    bias = A.causal_bias(length)

    def full(q, k, v, key_table, value_table):
        logits = tf.matmul(q, k, transpose_b=True) + A.relative_logits_skewed(q, key_table) + bias
        weights = tf.nn.softmax(logits)
        used = A.relative_embeddings_left(value_table, length)
        return tf.matmul(weights, v) + A._matmul_relative_values(A.absolute_to_relative_masked(weights), used)

    def blocked(q, k, v, key_table, value_table):
        blocks = [(0, 16), (16, 24), (24, 48)]
        return A.blocked_causal_relative_attention(q, k, v, key_table, value_table, bias=bias, blocks=blocks)

    def grads(fn):
        @tf.function(jit_compile=True)
        def step(*xs):
            with tf.GradientTape() as tape:
                tape.watch(xs)
                y = fn(*xs)
                loss = tf.reduce_sum(tf.sin(y))
            return y, tape.gradient(loss, xs)

        return step(*tensors)

    y_full, g_full = grads(full)
    y_blocked, g_blocked = grads(blocked)
    np.testing.assert_allclose(y_blocked.numpy(), y_full.numpy(), atol=2e-6)
    for a, b in zip(g_blocked, g_full):
        scale = np.abs(b.numpy()).max()
        assert scale > 0
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-6 * scale)


def test_row_blocks_tile_the_sequence_by_the_length_rule():
    assert A.relative_row_blocks(200) == [(0, 200)]  # under 2 * MIN_ROWS_PER_BLOCK: one block
    assert A.relative_row_blocks(512) == [(0, 128), (128, 256), (256, 384), (384, 512)]
    for length in (256, 300, 1000, 1024, 2048, 4093):
        blocks = A.relative_row_blocks(length)
        assert blocks[0][0] == 0 and blocks[-1][1] == length
        assert all(b0[1] == b1[0] for b0, b1 in zip(blocks, blocks[1:]))
        assert len(blocks) == min(A.MAX_RELATIVE_BLOCKS, length // A.MIN_ROWS_PER_BLOCK)
        assert all(stop - start >= 8 for start, stop in blocks)
        assert all(stop % 8 == 0 for _, stop in blocks[:-1])


def _layers(values):
    layers = [
        A.MultiHeadAttention(
            16,
            2,
            attention_type="dot_product_relative_v2",
            max_relative_position=100,
            add_relative_to_values=values,
            relative_method=method,
        )
        for method in ("skew", "blocked")
    ]
    for layer in layers:
        layer.build((None, None, 16))
    for a, b in zip(layers[0].weights, layers[1].weights):
        b.assign(a)
    return layers


@pytest.mark.parametrize("values", [False, True])
def test_layer_blocked_equals_skew_at_static_length_and_falls_back_when_dynamic(values):
    skew, blocked = _layers(values)
    length = 2 * A.MIN_ROWS_PER_BLOCK + 40
    x = np.random.default_rng(4).normal(size=(2, length, 16)).astype(np.float32)
    bias = A.causal_bias(length)
    assert len(blocked._row_blocks(tf.constant(x))) == 2 and skew._row_blocks(tf.constant(x)) is None
    np.testing.assert_allclose(blocked(x, bias=bias).numpy(), skew(x, bias=bias).numpy(), atol=2e-6)
    # a dynamic length cannot be blocked: the full skew runs, with the same result
    dynamic = tf.function(lambda t: blocked(t, bias=A.causal_bias(tf.shape(t)[1])))
    traced = dynamic.get_concrete_function(tf.TensorSpec([None, None, 16]))
    np.testing.assert_allclose(traced(tf.constant(x)).numpy(), skew(x, bias=bias).numpy(), atol=2e-6)
    assert blocked.get_config()["relative_method"] == "blocked"


def test_model_default_is_blocked_and_matches_skew_logits():
    config = dataclasses.replace(
        C.get("tiny"), max_length=300, layer_prepostprocess_dropout=0.0, attention_dropout=0.0, relu_dropout=0.0
    )
    blocked = MusicTransformer(config)
    skew = MusicTransformer(config, relative_method="skew")
    assert blocked.relative_method == "blocked"
    skew.set_weights(blocked.get_weights())
    ids = np.random.default_rng(5).integers(1, 40, size=(1, 300)).astype(np.int32)
    np.testing.assert_allclose(blocked(ids).numpy(), skew(ids).numpy(), atol=2e-5)
