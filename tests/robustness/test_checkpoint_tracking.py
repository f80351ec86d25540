"""Every model's weights are in its own ``tf.train.Checkpoint`` (Keras 3 leaves layers held in Python
lists out of TensorFlow's object graph; each model must attach them as attributes), and a fresh model
restored from that checkpoint computes the same outputs."""

import numpy as np
import pytest
import tensorflow as tf


def _melody(preset):
    from melody_rnn_ext import config, model

    cfg = config.MODEL_PRESETS.get(preset)
    x = np.random.default_rng(0).normal(size=(2, 5, cfg.input_size)).astype(np.float32)
    return (lambda: model.build_model(cfg)), (lambda m: m(x))


def _transformer(preset):
    from music_transformer_ext import config, model

    cfg = config.get(preset)
    tokens = np.random.default_rng(0).integers(2, cfg.vocab_size, size=(2, 7)).astype(np.int32)
    if cfg.conditioned:
        inputs = np.random.default_rng(1).integers(2, cfg.input_vocab_size, size=(2, 6)).astype(np.int32)
        return (lambda: model.build_model(cfg)), (lambda m: m({"targets": tokens, "inputs": inputs}))
    return (lambda: model.build_model(cfg)), (lambda m: m(tokens))


CASES = {
    "melody_rnn_tiny": lambda: _melody("tiny"),
    "melody_rnn_attention_whole_stack": lambda: _melody("tiny_attention_whole_stack"),
    "transformer_tiny": lambda: _transformer("tiny"),
    "transformer_conditioned": lambda: _transformer("tiny_conditioned"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_checkpoint_holds_every_weight_and_restores(case, tmp_path):
    build, run = CASES[case]()
    tf.keras.utils.set_random_seed(1)
    first = build()
    expected = np.asarray(run(first))
    path = tf.train.Checkpoint(model=first).save(str(tmp_path / "ckpt"))
    saved = {name for name, _ in tf.train.list_variables(path) if name.startswith("model/")}
    assert len(saved) >= len(first.weights), (len(saved), len(first.weights))
    tf.keras.utils.set_random_seed(2)
    second = build()
    run(second)  # build the variables
    assert not np.allclose(np.asarray(run(second)), expected)  # a different initialisation...
    tf.train.Checkpoint(model=second).restore(path).assert_existing_objects_matched()
    np.testing.assert_allclose(np.asarray(run(second)), expected, rtol=1e-6, atol=1e-6)  # ...restored exactly
