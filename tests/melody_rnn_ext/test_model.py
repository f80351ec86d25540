"""The Keras Melody RNN against an independent NumPy model of TF1's cell equations, on ported weights."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from melody_rnn_ext import bundle as bundle_lib
from melody_rnn_ext import config as config_lib
from melody_rnn_ext import encodings
from melody_rnn_ext.model import MelodyRnnModel, TF1LSTMCell, build_model, keras_lstm_to_tf1, tf1_lstm_to_keras
from tests.events_rnn import tf1_reference as ref

# (generator id, layer sizes, layout, attn_length, TF naming)
CASES = {
    "basic": ("basic_rnn", (24, 16), "none", 0, "kernel"),
    "lookback": ("lookback_rnn", (20, 12), "none", 0, "kernel"),
    "attention_first_layer": ("attention_rnn", (16, 12), "first_layer", 5, "kernel"),
    "attention_whole_stack": ("attention_rnn", (16, 12), "whole_stack", 5, "kernel"),
    "whole_stack_tf10_names": ("attention_rnn", (16, 12), "whole_stack", 5, "weights"),
    "three_layers_tf10_names": ("lookback_rnn", (8, 12, 10), "none", 0, "weights"),
}


def melody_like_inputs(config_id, batch, steps, seed=0):
    """Real encoder inputs of random melodies (one-hot / lookback / key features)."""
    import note_seq

    rng = np.random.default_rng(seed)
    enc = encodings.make_encoder_decoder(config_id)
    out = []
    for _ in range(batch):
        events = [int(p) if rng.random() < 0.5 else int(rng.choice([-2, -1])) for p in rng.integers(48, 84, steps + 1)]
        events[0] = 60
        inputs, _ = encodings.squash_and_encode(config_id, note_seq.Melody(events), enc)
        out.append(inputs[:steps])
    return np.asarray(out, np.float32)


def ported(tmp_path, case, seed=1):
    gid, sizes, layout, attn, naming = CASES[case]
    shapes = ref.tf1_shapes(encodings.input_size(gid), encodings.num_classes(gid), sizes, layout, naming)
    weights = ref.random_weights(shapes, seed=seed)
    path = ref.write_mag(str(tmp_path / f"{case}.mag"), weights, gid, extra={"global_step": np.int64(1234)})
    model, config, _ = bundle_lib.load_bundle(path, attn_length=attn or None)
    return model, config, weights


@pytest.mark.parametrize("case", sorted(CASES))
def test_ported_logits_match_numpy_tf1_equations(tmp_path, case):
    gid, sizes, layout, attn, naming = CASES[case]
    model, config, weights = ported(tmp_path, case)
    assert model.layout == layout and model.rnn_layer_sizes == sizes and config.config_id == gid
    # 13 steps > attn_length: the attention window slides and drops its oldest entries.
    x = melody_like_inputs(gid, 3, 13)
    want_logits, want_state = ref.reference_logits(weights, x, layout, attn, naming)
    logits, state = model(x, return_state=True)
    np.testing.assert_allclose(np.asarray(logits), want_logits, rtol=0, atol=1e-5)
    assert len(state) == len(want_state)
    for got, want in zip(state, want_state):
        np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-5)


def test_magenta_sized_attention_rnn_matches_numpy(tmp_path):
    """attention_rnn at Magenta's size: 2 x 128 units, 74 inputs, 40 classes, attn_length 40, 60 steps."""
    shapes = ref.tf1_shapes(74, 40, (128, 128), "first_layer")
    weights = ref.random_weights(shapes, seed=7)
    path = ref.write_mag(str(tmp_path / "attention_rnn.mag"), weights, "attention_rnn")
    model, config, _ = bundle_lib.load_bundle(path)
    assert config.hparams.attn_length == 40 and config.hparams.clip_norm == 3.0
    x = melody_like_inputs("attention_rnn", 2, 60, seed=3)
    want, _ = ref.reference_logits(weights, x, "first_layer", 40)
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=0, atol=1e-5)


@pytest.mark.parametrize("case", ["basic", "attention_first_layer", "attention_whole_stack"])
def test_step_api_continues_a_sequence(tmp_path, case):
    model, config, _ = ported(tmp_path, case)
    x = melody_like_inputs(config.config_id, 2, 9, seed=5)
    full, full_state = model(x, return_state=True)
    # Primer through call(), then one step at a time, as generation does.
    primer, state = model(x[:, :4], return_state=True)
    logits = [np.asarray(primer)]
    for t in range(4, 9):
        step_logits, state = model.step(x[:, t], state)
        logits.append(np.asarray(step_logits)[:, None])
    np.testing.assert_allclose(np.concatenate(logits, axis=1), np.asarray(full), rtol=0, atol=1e-6)
    for a, b in zip(state, full_state):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-6)
    assert [int(s.shape[1]) for s in model.initial_state(2)] == list(model.state_size)
    # call() also continues from a given state.
    _, mid = model(x[:, :4], return_state=True)
    rest = model(x[:, 4:], initial_state=mid)
    np.testing.assert_allclose(np.asarray(rest), np.asarray(full)[:, 4:], rtol=0, atol=1e-6)


@pytest.mark.parametrize("preset", ["tiny", "tiny_attention", "tiny_attention_whole_stack"])
def test_get_config_round_trips(preset):
    model = build_model(config_lib.MODEL_PRESETS.get(preset))
    config = model.get_config()
    clone = MelodyRnnModel.from_config(config)
    assert clone.get_config() == config
    assert [tuple(v.shape) for v in clone.weights] == [tuple(v.shape) for v in model.weights]
    assert sorted(clone.tf1_variables()) == sorted(model.tf1_variables())
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(revived, MelodyRnnModel) and revived.get_config() == config
    # Nested cells round-trip on their own too.
    for layer in (model.multi_cell, model.rnn):
        cls = type(layer)
        assert cls.from_config(layer.get_config()).get_config() == layer.get_config()


def test_every_sublayer_and_variable_is_named():
    model = build_model(config_lib.MODEL_PRESETS.get("tiny_attention"))
    paths = [v.path for v in model.weights]
    assert len(set(paths)) == len(paths)
    assert "melody_rnn/multi_rnn_cell/cell_0/attention/attn_w" in paths
    assert "melody_rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel" in paths
    assert "melody_rnn/fully_connected/kernel" in paths
    assert len(model.tf1_variables()) == len(model.weights) == 14


def test_tf1_lstm_converts_to_keras_lstm_and_back():
    rng = np.random.default_rng(0)
    in_dim, units = 7, 5
    kernel = rng.normal(0, 0.4, (in_dim + units, 4 * units)).astype(np.float32)
    bias = rng.normal(0, 0.4, (4 * units,)).astype(np.float32)
    cell = TF1LSTMCell(units)
    cell.build((None, in_dim))
    cell.kernel.assign(kernel)
    cell.bias.assign(bias)
    lstm = keras.layers.LSTM(units, return_sequences=True)
    lstm.build((None, None, in_dim))
    lstm.set_weights(list(tf1_lstm_to_keras(kernel, bias, in_dim)))
    x = rng.normal(size=(2, 6, in_dim)).astype(np.float32)
    state = (tf.zeros([2, units]), tf.zeros([2, units]))
    outs = []
    for t in range(6):
        h, state = cell(x[:, t], state)
        outs.append(np.asarray(h))
    np.testing.assert_allclose(np.asarray(lstm(x)), np.stack(outs, 1), rtol=0, atol=1e-6)
    k2, b2 = keras_lstm_to_tf1(*lstm.get_weights())
    np.testing.assert_array_equal(k2, kernel)
    np.testing.assert_allclose(b2, bias, rtol=0, atol=1e-6)


def test_dropout_is_seeded_and_only_in_training():
    model = build_model(config_lib.MODEL_PRESETS.get("tiny_attention"))
    assert model.dropout_keep_prob == 0.5
    x = melody_like_inputs("attention_rnn", 2, 6)
    infer = np.asarray(model(x))
    np.testing.assert_array_equal(np.asarray(model(x, training=False)), infer)
    seed = tf.constant([3, 4], tf.int64)
    a = np.asarray(model(x, training=True, dropout_seed=seed))
    b = np.asarray(model(x, training=True, dropout_seed=seed))
    c = np.asarray(model(x, training=True, dropout_seed=tf.constant([3, 5], tf.int64)))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3 and np.abs(a - infer).max() > 1e-3
    no_drop = MelodyRnnModel.from_config({**model.get_config(), "dropout_keep_prob": 1.0})
    no_drop.set_weights(model.get_weights())
    np.testing.assert_allclose(np.asarray(no_drop(x, training=True, dropout_seed=seed)), infer, atol=1e-6)


def test_dropout_masks_keep_the_configured_fraction():
    model = MelodyRnnModel(4, 3, (64, 64), dropout_keep_prob=0.7)
    masks = model._dropout_masks(tf.constant([50, 8]), tf.constant([1, 2], tf.int64))
    for m in masks:
        m = np.asarray(m)
        assert set(np.unique(m)) <= {0.0, np.float32(1 / 0.7)}
        assert abs((m > 0).mean() - 0.7) < 0.02


def test_xla_compiled_call_equals_eager(tmp_path):
    model, config, _ = ported(tmp_path, "attention_first_layer")
    x = melody_like_inputs(config.config_id, 2, 10)
    compiled = tf.function(lambda v: model(v), jit_compile=True)
    np.testing.assert_allclose(np.asarray(compiled(x)), np.asarray(model(x)), rtol=0, atol=1e-5)


def test_freeze_by_layer_group():
    model = build_model(config_lib.MODEL_PRESETS.get("tiny_attention"))
    assert sorted(model.layer_groups()) == ["attention", "cell_0", "cell_1", "fully_connected"]
    n = len(model.trainable_variables)
    model.freeze(["attention"])
    assert len(model.trainable_variables) == n - 8  # input projection 2, attention 4, output projection 2
    model.freeze(["cell_0"])  # in the first-layer layout cell_0 holds its attention wrapper and LSTM
    assert len(model.trainable_variables) == n - 10
    model.freeze(["fully_connected"])
    assert {v.path for v in model.trainable_variables} == {
        "melody_rnn/multi_rnn_cell/cell_1/kernel",
        "melody_rnn/multi_rnn_cell/cell_1/bias",
    }
    with pytest.raises(ValueError, match="cell_7"):
        model.freeze(["cell_7"])
    whole = build_model(config_lib.MODEL_PRESETS.get("tiny_attention_whole_stack"))
    whole.freeze(["cell_0", "cell_1"])
    assert len(whole.trainable_variables) == 10  # the wrapper's 8 + fully_connected's 2


def test_config_validation():
    for make, bad in (
        (config_lib.MelodyRnnConfig, {"config_id": "polyphony_rnn"}),
        (config_lib.MelodyRnnHParams, {"dropout_keep_prob": 0.0}),
        (config_lib.MelodyRnnHParams, {"attention_layout": "middle"}),
        (config_lib.MelodyRnnHParams, {"rnn_layer_sizes": ()}),
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):  # the message names the bad field
            make(**bad)
    att = config_lib.MODEL_PRESETS.get("attention_rnn")
    assert (att.hparams.attn_length, att.hparams.clip_norm, att.input_size, att.num_classes) == (40, 3.0, 74, 40)
    basic = config_lib.MODEL_PRESETS.get("basic_rnn")
    assert (
        basic.hparams.batch_size,
        basic.hparams.rnn_layer_sizes,
        basic.hparams.dropout_keep_prob,
        basic.hparams.clip_norm,
        basic.hparams.learning_rate,
    ) == (128, (128, 128), 0.5, 5.0, 0.001)
    assert (basic.input_size, basic.num_classes, basic.min_note, basic.max_note) == (38, 38, 48, 84)
    assert config_lib.MODEL_PRESETS.get("lookback_rnn").input_size == 121
    mono = config_lib.MODEL_PRESETS.get("mono_rnn")
    assert (mono.min_note, mono.max_note, mono.transpose_to_key) == (0, 128, None)
    assert mono.generator_description == "Monophonic RNN with one-hot encoding."
