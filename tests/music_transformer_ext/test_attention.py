"""Relative attention by skewing against the paper's definition, the naive method, and t2t's NumPy transcription;
incremental steps against full sequences; memory of the skewed graph."""

import numpy as np
import pytest
import tensorflow as tf

from music_transformer_ext import attention as A
from tests.music_transformer_ext import t2t_reference as ref


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("length,max_rel,shared", [(7, 3, False), (6, 6, True), (5, 9, False), (12, 4, True)])
def test_skewed_relative_logits_equal_the_definition_and_the_naive_method(length, max_rel, shared):
    rng = _rng(length)
    q = rng.normal(size=(2, 3, length, 4))
    table = rng.normal(size=(max_rel, 4) if shared else (3, max_rel, 4))
    expected = ref.relative_logits_by_definition(q, table)  # zero above the diagonal and beyond max_rel
    skewed = A.relative_logits_skewed(tf.constant(q), tf.constant(table)).numpy()
    naive = A.relative_logits_naive(tf.constant(q), tf.constant(table)).numpy()
    lower = np.tril(np.ones((length, length), bool))
    np.testing.assert_allclose(skewed[..., lower], expected[..., lower], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(naive, expected, rtol=1e-12, atol=1e-12)
    # t2t's own computation (pad / slice / einsum / skew), transcribed in NumPy, agrees everywhere
    t2t = ref.skew(ref.rel_keys(q, ref.embeddings_left(table, length)))
    np.testing.assert_allclose(skewed, t2t, rtol=1e-12, atol=1e-12)
    # distances >= max_rel carry no relative term (t2t pads the table with zeros, it does not clip)
    far = np.subtract.outer(np.arange(length), np.arange(length)) >= max_rel
    assert np.all(naive[..., far] == 0.0)
    assert np.abs(expected[..., lower & ~far]).max() > 0.1  # while near ones are not


def test_inverse_skew_maps_causal_weights_to_distances():
    rng = _rng(3)
    length = 6
    w = np.tril(rng.uniform(size=(1, 2, length, length)))
    rel = A.absolute_to_relative_masked(tf.constant(w)).numpy()
    for i in range(length):
        for m in range(i + 1):
            assert rel[0, :, i, length - 1 - (i - m)].tolist() == w[0, :, i, m].tolist()
    np.testing.assert_array_equal(
        A.relative_to_absolute_masked(tf.constant(rel)).numpy()[..., np.tril(np.ones((6, 6), bool))],
        w[..., np.tril(np.ones((6, 6), bool))],
    )


def test_timing_signal_matches_t2t_formula():
    got = A.timing_signal(50, 16).numpy()
    np.testing.assert_allclose(got, ref.timing_signal(50, 16), atol=2e-5)
    odd = A.timing_signal(4, 7).numpy()
    assert odd.shape == (1, 4, 7) and np.all(odd[..., -1] == 0)
    np.testing.assert_allclose(A.timing_signal(3, 16, start=10).numpy()[0], got[0, 10:13], atol=2e-5)


def _layer(relative=True, shared=False, values=False, method="skew", max_rel=5):
    layer = A.MultiHeadAttention(
        24,
        4,
        key_channels=32,
        value_channels=16,
        attention_type="dot_product_relative_v2" if relative else "dot_product",
        max_relative_position=max_rel,
        heads_share_relative_embedding=shared,
        add_relative_to_values=values,
        relative_method=method,
    )
    layer.build((None, None, 24))
    return layer


def _copy(src, dst):
    for a, b in zip(src.weights, dst.weights):
        b.assign(a)


@pytest.mark.parametrize("shared,values", [(False, False), (True, True), (False, True)])
def test_layer_skew_and_naive_agree_and_match_numpy_t2t(shared, values):
    skew = _layer(shared=shared, values=values)
    naive = _layer(shared=shared, values=values, method="naive")
    _copy(skew, naive)
    rng = _rng(1)
    length = 9
    x = rng.normal(size=(2, length, 24)).astype(np.float32)
    bias = A.causal_bias(length)
    a = skew(x, bias=bias).numpy()
    b = naive(x, bias=bias).numpy()
    np.testing.assert_allclose(a, b, atol=2e-6)
    # the same layer in float64 NumPy, following t2t's code path by variable name
    names = {
        "s/multihead_attention/q/kernel": skew.q.kernel,
        "s/multihead_attention/k/kernel": skew.k.kernel,
        "s/multihead_attention/v/kernel": skew.v.kernel,
        "s/multihead_attention/output_transform/kernel": skew.output_transform.kernel,
        "s/multihead_attention/dot_product_self_attention_relative_v2/key_relative_embeddings": skew.relative.key_relative_embeddings,
    }
    if values:
        names["s/multihead_attention/dot_product_self_attention_relative_v2/value_relative_embeddings"] = (
            skew.relative.value_relative_embeddings
        )
    variables = {k: v.numpy().astype(np.float64) for k, v in names.items()}

    class Cfg:
        num_heads = 4

    expected = ref.multihead_attention(
        variables, "s", x.astype(np.float64), None, bias.numpy().astype(np.float64), Cfg, relative=True
    )
    np.testing.assert_allclose(a, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(expected).max() > 0.1


@pytest.mark.parametrize("relative,values", [(True, False), (True, True), (False, False)])
def test_incremental_steps_equal_full_computation_under_xla(relative, values):
    layer = _layer(relative=relative, values=values, max_rel=4)
    rng = _rng(2)
    length, cache_len = 10, 13
    x = rng.normal(size=(3, length, 24)).astype(np.float32)
    full = layer(x, bias=A.causal_bias(length)).numpy()
    step = tf.function(layer.step, jit_compile=True)
    ck = tf.zeros([3, 4, cache_len, 8])
    cv = tf.zeros([3, 4, cache_len, 4])
    outs = []
    for t in range(length):
        out, ck, cv = step(tf.constant(x[:, t : t + 1]), ck, cv, tf.constant(t))
        outs.append(out.numpy()[:, 0])
    np.testing.assert_allclose(np.stack(outs, 1), full, atol=3e-6)
    # the cache holds exactly the keys of the positions seen, zeros after
    k_full, _ = layer.project_memory(tf.constant(x))
    np.testing.assert_allclose(ck.numpy()[:, :, :length], k_full.numpy(), atol=1e-6)
    assert np.all(ck.numpy()[:, :, length:] == 0)


def test_skewed_graph_never_holds_a_pairwise_embedding_tensor():
    b, h, length, d = 1, 2, 64, 16

    def largest(fn):
        concrete = tf.function(fn).get_concrete_function(tf.TensorSpec([b, h, length, d]), tf.TensorSpec([h, 32, d]))
        sizes = [
            int(np.prod(o.shape.as_list()))
            for op in concrete.graph.get_operations()
            for o in op.outputs
            if o.shape.rank is not None and o.shape.is_fully_defined()
        ]
        return max(sizes)

    skew = largest(A.relative_logits_skewed)
    naive = largest(A.relative_logits_naive)
    assert skew <= b * h * (length + 1) * length  # O(L^2) logits, O(L*d) embeddings
    assert naive >= h * length * length * d  # the O(L^2*d) tensor the skew avoids
    assert naive > 8 * skew


def test_layer_config_round_trip_and_errors():
    layer = _layer(shared=True, values=True)
    clone = A.MultiHeadAttention.from_config(layer.get_config())
    clone.build((None, None, 24))
    assert clone.get_config() == layer.get_config()
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in layer.weights]
    with pytest.raises(ValueError, match="self-attention only"):
        layer(np.zeros((1, 3, 24), np.float32), memory=np.zeros((1, 4, 24), np.float32))
    with pytest.raises(ValueError, match="max_relative_position"):
        A.MultiHeadAttention(24, 4, attention_type="dot_product_relative_v2")
    with pytest.raises(ValueError, match="divisible"):
        A.MultiHeadAttention(24, 5)
