"""The Keras Music Transformer: t2t's scope names, causality, PAD handling, incremental decoding, configs."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from music_transformer_ext import checkpoints
from music_transformer_ext import config as C
from music_transformer_ext.model import MusicTransformer, build_model


def _targets(shape, seed=0, vocab=310):
    return np.random.default_rng(seed).integers(2, vocab, size=shape).astype(np.int32)


@pytest.mark.parametrize("preset", ["tiny", "tiny_conditioned", "score2perf_relative", "jsb_relative"])
def test_keras_weights_carry_t2t_names_and_shapes(preset):
    config = C.get(preset)
    model = MusicTransformer(config)
    mapped = checkpoints.keras_t2t_map(model)
    expected = checkpoints.t2t_variable_shapes(config)
    assert set(mapped) == set(expected)
    assert {n: tuple(v.shape) for n, v in mapped.items()} == expected
    # every trainable weight is mapped once, and nothing else needs a value
    assert sorted(v.path for v in mapped.values()) == sorted(v.path for v in model.trainable_weights)
    assert all("seed_generator" in v.path for v in model.non_trainable_weights)
    # Keras' own variable paths follow t2t's scopes
    for name, var in mapped.items():
        assert var.path == name, (var.path, name)


def test_released_checkpoint_layouts_match_the_published_names():
    uncond = checkpoints.t2t_variable_shapes(C.get("unconditional_16"))
    assert uncond["transformer/symbol_modality_310_512/shared/weights_0"] == (310, 512)
    base = "transformer/body/decoder/layer_15/self_attention/multihead_attention"
    for part in ("q", "k", "v", "output_transform"):
        assert uncond[f"{base}/{part}/kernel"] == (512, 512)
    assert uncond["transformer/body/decoder/layer_15/ffn/conv1/kernel"] == (512, 2048)
    assert uncond["transformer/body/decoder/layer_prepostprocess/layer_norm/layer_norm_scale"] == (512,)
    assert not any("relative" in n or "encoder" in n or "layer_16" in n for n in uncond)
    cond = checkpoints.t2t_variable_shapes(C.get("melody_conditioned_16"))
    assert cond["transformer/symbol_modality_92_512/shared/weights_0"] == (92, 512)
    assert cond["transformer/body/encoder/layer_15/ffn/conv2/kernel"] == (2048, 512)
    assert cond["transformer/body/decoder/layer_15/encdec_attention/multihead_attention/k/kernel"] == (512, 512)
    assert cond["transformer/body/target_space_embedding/kernel"] == (32, 512)
    # ~50M weights unconditioned (16 x 3.1M + embedding)
    assert 49e6 < sum(np.prod(s) for s in uncond.values()) < 51e6


@pytest.mark.parametrize("preset", ["tiny", "tiny_conditioned"])
def test_decode_steps_under_xla_equal_the_full_pass(preset):
    config = dataclasses.replace(C.get(preset), max_length=48)
    model = MusicTransformer(config)
    length = 40  # > max_relative_position (16): far distances are exercised
    targets = _targets((2, length), seed=1)
    features = targets
    inputs = None
    if config.conditioned:
        inputs = np.random.default_rng(2).integers(2, 92, (2, 9)).astype(np.int32)
        inputs[0, -3:] = 0
        features = {"targets": targets, "inputs": inputs}
    full = model(features).numpy()
    step = tf.function(model.decode_step, jit_compile=True)
    cache = model.init_cache(2, inputs=inputs)
    assert len(cache["k"]) == 2 and cache["k"][0].shape == (2, 4, 48, 8)  # per layer [B, H, T, dk]
    previous = np.zeros(2, np.int32)
    outs = []
    for t in range(length):
        logits, cache = step(tf.constant(previous), cache, tf.constant(t))
        outs.append(logits.numpy())
        previous = targets[:, t]
    np.testing.assert_allclose(np.stack(outs, 1), full, atol=2e-5, rtol=1e-5)
    assert np.abs(full).max() > 1.0


def test_future_tokens_do_not_change_past_logits_and_pad_embeds_to_zero():
    model = MusicTransformer(C.get("tiny"))
    a = _targets((1, 20), seed=3)
    b = a.copy()
    b[0, 12:] = _targets((1, 8), seed=4)
    la, lb = model(a).numpy(), model(b).numpy()
    np.testing.assert_allclose(la[0, :13], lb[0, :13], atol=1e-6)  # logits at t see targets < t
    assert np.abs(la[0, 13:] - lb[0, 13:]).max() > 1e-3
    # position 0 sees only the zero vector (t2t's shift right), whatever the sequence
    np.testing.assert_allclose(la[0, 0], model(_targets((1, 20), seed=5)).numpy()[0, 0], atol=1e-6)
    assert np.all(model.target_modality.embed(tf.constant([[0, 5]])).numpy()[0, 0] == 0)


def test_encoder_ignores_pad_inputs():
    model = MusicTransformer(C.get("tiny_conditioned"))
    targets = _targets((1, 12), seed=6)
    inputs = np.random.default_rng(7).integers(2, 92, (1, 6)).astype(np.int32)
    padded = np.concatenate([inputs, np.zeros((1, 5), np.int32)], axis=1)
    a = model({"targets": targets, "inputs": inputs}).numpy()
    b = model({"targets": targets, "inputs": padded}).numpy()
    np.testing.assert_allclose(a, b, atol=2e-5)
    c = model({"targets": targets, "inputs": inputs[:, ::-1].copy()}).numpy()
    assert np.abs(a - c).max() > 1e-3  # the melody matters
    with pytest.raises(ValueError, match="inputs"):
        model(targets)


def test_naive_relative_model_gives_the_same_logits():
    config = C.get("tiny")
    skew = MusicTransformer(config)
    naive = MusicTransformer(config, relative_method="naive")
    for a, b in zip(skew.trainable_weights, naive.trainable_weights):
        b.assign(a)
    t = _targets((2, 30), seed=8)
    np.testing.assert_allclose(skew(t).numpy(), naive(t).numpy(), atol=2e-5)


def test_config_round_trip_and_validation():
    model = build_model("tiny_conditioned")
    clone = MusicTransformer.from_config(model.get_config())
    assert clone.config == model.config
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
    sub = model.body.decoder.stack_layers[0]
    assert type(sub).from_config(sub.get_config()).get_config() == sub.get_config()
    assert set(C.PRESETS.names()) >= {
        "unconditional_16",
        "melody_conditioned_16",
        "jsb_baseline",
        "jsb_relative",
        "score2perf_relative",
        "tiny",
    }
    from music_transformer_ext import jsb

    assert C.get("jsb_relative").vocab_size == C.get("jsb_baseline").vocab_size == jsb.VOCAB_SIZE
    s2p = C.get("score2perf_relative")
    assert (s2p.max_relative_position, s2p.key_channels, s2p.value_channels) == (1024, 512, 384)
    with pytest.raises(ValueError, match="max_relative_position"):
        C.MusicTransformerConfig(self_attention_type="dot_product_relative_v2")
    with pytest.raises(ValueError, match="divisible"):
        C.MusicTransformerConfig(num_heads=5)
    with pytest.raises(ValueError, match="self_attention_type"):
        C.MusicTransformerConfig(self_attention_type="local")


def test_mixed_bfloat16_model_runs_and_stays_close_to_float32():
    import keras

    config = C.get("tiny")
    reference = MusicTransformer(config)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = MusicTransformer(config)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for a, b in zip(reference.trainable_weights, mixed.trainable_weights):
        b.assign(a)
    t = _targets((2, 24), seed=9)
    want, got = reference(t).numpy(), mixed(t).numpy()
    assert got.dtype == np.float32 and mixed.compute_dtype == "bfloat16"
    assert np.abs(got - want).max() < 0.1 * np.abs(want).max()
    cache = mixed.init_cache(2, max_length=24)
    assert cache["k"][0].dtype == tf.bfloat16
    logits, _ = mixed.decode_step(tf.constant(np.zeros(2, np.int32)), cache, 0)
    assert np.abs(logits.numpy() - want[:, 0]).max() < 0.1 * np.abs(want).max()


def test_decode_step_runs_inside_an_xla_while_loop():
    model = MusicTransformer(dataclasses.replace(C.get("tiny"), max_length=24))
    steps = 20  # > max_relative_position 16

    @tf.function(jit_compile=True)
    def greedy(cache):
        def body(t, token, out, cache):
            logits, cache = model.decode_step(token, cache, t)
            nxt = tf.argmax(logits, -1, output_type=tf.int32)
            return t + 1, nxt, out.write(t, nxt), cache

        out = tf.TensorArray(tf.int32, size=steps)
        _, _, out, _ = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), tf.zeros([2], tf.int32), out, cache)
        )
        return tf.transpose(out.stack())

    tokens = greedy(model.init_cache(2)).numpy()
    # each greedy token is the argmax of the full pass over the generated sequence
    np.testing.assert_array_equal(np.argmax(model(tokens).numpy(), -1), tokens)
