""".mag bundles: round trips from Keras, Magenta-style use of the written metagraph, strict porting errors."""

import os

import numpy as np
import pytest
import tensorflow as tf

from melody_rnn_ext import bundle as bundle_lib
from melody_rnn_ext import config as config_lib
from melody_rnn_ext.model import build_model
from tests.events_rnn import tf1_reference as ref
from tests.melody_rnn_ext.test_model import melody_like_inputs
from tests.weights import randomize
from tfmusic.tf1_checkpoints import CheckpointReadError, PortingError


def parse(path):
    from note_seq.protobuf import generator_pb2

    with open(path, "rb") as f:
        return generator_pb2.GeneratorBundle.FromString(f.read())


@pytest.mark.parametrize(
    "preset,naming",
    [
        ("tiny", "kernel"),
        ("tiny_attention", "kernel"),
        ("tiny_attention_whole_stack", "kernel"),
        ("tiny_attention_whole_stack", "weights"),
    ],
)
def test_write_read_round_trip_is_exact(tmp_path, preset, naming):
    config = config_lib.MODEL_PRESETS.get(preset)
    model = randomize(build_model(config, dropout_keep_prob=1.0))
    path = str(tmp_path / "model.mag")
    assert (
        bundle_lib.write_bundle(model, config, path, description="fine-tuned", global_step=321, naming=naming) == path
    )
    proto = parse(path)
    assert proto.generator_details.id == config.config_id
    assert proto.generator_details.description == config.generator_description != ""
    assert proto.bundle_details.description == "fine-tuned"
    assert len(proto.checkpoint_file) == 1 and len(proto.metagraph_file) > 0
    assert not [f for f in os.listdir(tmp_path) if f != "model.mag"]  # no temporary left behind

    bundle = bundle_lib.read_bundle(path)
    assert int(bundle.variables["global_step"]) == 321
    want = {name: v.numpy() for name, v in model.tf1_variables(naming).items()}
    assert set(bundle.variables) - {"global_step"} == set(want)
    for name, value in want.items():
        assert bundle.variables[name].dtype == np.float32
        np.testing.assert_array_equal(bundle.variables[name], value, err_msg=name)

    loaded, loaded_config, _ = bundle_lib.load_bundle(path, attn_length=config.hparams.attn_length or None)
    assert loaded_config.hparams.rnn_layer_sizes == config.hparams.rnn_layer_sizes
    assert loaded_config.hparams.attention_layout == config.hparams.attention_layout or not config.hparams.attn_length
    for a, b in zip(loaded.weights, model.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = melody_like_inputs(config.config_id, 2, 8)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


@pytest.mark.parametrize("preset", ["tiny", "tiny_attention", "tiny_attention_whole_stack"])
def test_written_metagraph_generates_like_magenta(tmp_path, preset):
    """Use the bundle as Magenta's generator does: import the metagraph, restore checkpoint_file[0],
    feed inputs / initial_state / temperature, read softmax and final_state, and carry the state."""
    config = config_lib.MODEL_PRESETS.get(preset)
    model = randomize(build_model(config, dropout_keep_prob=1.0), seed=3)
    path = bundle_lib.write_bundle(model, config, str(tmp_path / "m.mag"))
    proto = parse(path)
    ckpt, meta = str(tmp_path / "model.ckpt"), str(tmp_path / "model.ckpt.meta")
    with open(ckpt, "wb") as f:
        f.write(proto.checkpoint_file[0])
    with open(meta, "wb") as f:
        f.write(proto.metagraph_file)
    x = melody_like_inputs(config.config_id, 1, 7, seed=2)
    temperature = 0.7
    with tf.Graph().as_default():
        sess = tf.compat.v1.Session()
        saver = tf.compat.v1.train.import_meta_graph(meta)
        saver.restore(sess, ckpt)
        graph = sess.graph
        inputs = graph.get_collection("inputs")[0]
        initial = tuple(graph.get_collection("initial_state"))
        final = tuple(graph.get_collection("final_state"))
        softmax = graph.get_collection("softmax")[0]
        temp = graph.get_collection("temperature")[0]
        assert inputs.shape.as_list() == [1, None, config.input_size]
        zero = sess.run(initial)
        # Primer of 4 steps, then 3 single steps feeding final_state back, as Magenta's _generate_step does.
        state, probs = sess.run([final, softmax], {inputs: x[:, :4], initial: zero, temp: temperature})
        steps = [probs]
        for t in range(4, 7):
            state, probs = sess.run([final, softmax], {inputs: x[:, t : t + 1], initial: state, temp: temperature})
            steps.append(probs)
        sess.close()
    want = tf.nn.softmax(model(x) / temperature).numpy()
    np.testing.assert_allclose(np.concatenate(steps, axis=1), want, rtol=0, atol=1e-6)
    _, keras_state = model(x, return_state=True)
    for a, b in zip(state, keras_state):
        np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=1e-5)


def test_magenta_layout_fixture_loads_and_ignores_optimizer_slots(tmp_path):
    shapes = ref.tf1_shapes(74, 40, (16, 16), "first_layer")
    weights = ref.random_weights(shapes, seed=4)
    extra = {"global_step": np.int64(20000), "beta1_power": np.float32(0.9), "beta2_power": np.float32(0.99)}
    for name in list(weights)[:3]:
        extra[f"{name}/Adam"] = np.zeros_like(weights[name])
        extra[f"{name}/Adam_1"] = np.zeros_like(weights[name])
    path = ref.write_mag(
        str(tmp_path / "attention_rnn.mag"),
        weights,
        "attention_rnn",
        extra=extra,
        description="Melody RNN with lookback encoding and attention.",
    )
    only_config, _ = bundle_lib.read_bundle_config(path)
    model, config, bundle = bundle_lib.load_bundle(path)
    assert only_config == config
    assert bundle.metagraph_size == 0 and bundle.generator_id == "attention_rnn"
    assert config.hparams.attn_length == 40 and config.hparams.attention_layout == "first_layer"
    assert config.description == "Melody RNN with lookback encoding and attention."
    for name, variable in model.tf1_variables().items():
        np.testing.assert_array_equal(variable.numpy(), weights[name])


def test_infer_model_spec_reads_sizes_layout_and_naming():
    shapes = ref.tf1_shapes(121, 40, (32, 24, 16), "none", naming="weights")
    spec = bundle_lib.infer_model_spec({k: np.zeros(s) for k, s in shapes.items()})
    assert spec == bundle_lib.ModelSpec(121, 40, (32, 24, 16), "none", "weights")
    shapes = ref.tf1_shapes(74, 40, (64, 32), "whole_stack")
    spec = bundle_lib.infer_model_spec({k: np.zeros(s) for k, s in shapes.items()})
    assert spec == bundle_lib.ModelSpec(74, 40, (64, 32), "whole_stack", "kernel")


# --------------------------------------------------------------------------- strictness


@pytest.fixture
def basic_weights():
    return ref.random_weights(ref.tf1_shapes(38, 38, (16, 16), "none"), seed=5)


def test_extra_variable_is_named(tmp_path, basic_weights):
    path = ref.write_mag(
        str(tmp_path / "extra.mag"),
        basic_weights,
        "basic_rnn",
        extra={"rnn/multi_rnn_cell/cell_1/basic_lstm_cell/projection": np.zeros((3,), np.float32)},
    )
    with pytest.raises(PortingError, match=r"extra\.mag.*unused.*cell_1/basic_lstm_cell/projection"):
        bundle_lib.load_bundle(path)


def test_missing_variable_is_named(tmp_path, basic_weights):
    del basic_weights["rnn/multi_rnn_cell/cell_1/basic_lstm_cell/bias"]
    path = ref.write_mag(str(tmp_path / "missing.mag"), basic_weights, "basic_rnn")
    with pytest.raises(PortingError, match=r"missing\.mag.*missing.*cell_1/basic_lstm_cell/bias"):
        bundle_lib.load_bundle(path)


def test_wrong_shape_is_named(tmp_path, basic_weights):
    basic_weights["fully_connected/biases"] = np.zeros((37,), np.float32)
    path = ref.write_mag(str(tmp_path / "shape.mag"), basic_weights, "basic_rnn")
    with pytest.raises(PortingError, match=r"shape\.mag.*fully_connected/biases has shape \(37,\)"):
        bundle_lib.load_bundle(path)


def test_gap_in_layers_is_an_error(tmp_path, basic_weights):
    for leaf in ("kernel", "bias"):
        basic_weights[f"rnn/multi_rnn_cell/cell_3/basic_lstm_cell/{leaf}"] = basic_weights[
            f"rnn/multi_rnn_cell/cell_1/basic_lstm_cell/{leaf}"
        ]
    path = ref.write_mag(str(tmp_path / "gap.mag"), basic_weights, "basic_rnn")
    with pytest.raises(PortingError, match=r"gap\.mag.*numbered \[0, 1, 3\]"):
        bundle_lib.load_bundle(path)


def test_generator_id_must_agree(tmp_path, basic_weights):
    path = ref.write_mag(str(tmp_path / "mislabelled.mag"), basic_weights, "lookback_rnn")
    with pytest.raises(
        bundle_lib.BundleError,
        match=r"mislabelled\.mag.*'lookback_rnn' means 121 inputs and 40 classes.*38 inputs and "
        r"38 classes \(they fit basic_rnn\)",
    ):
        bundle_lib.load_bundle(path)
    path = ref.write_mag(str(tmp_path / "unknown.mag"), basic_weights, "drums_rnn")
    with pytest.raises(bundle_lib.BundleError, match=r"unknown\.mag.*'drums_rnn' is not a Melody RNN config"):
        bundle_lib.load_bundle(path)
    no_attention = ref.random_weights(ref.tf1_shapes(74, 40, (16, 16), "none"))
    path = ref.write_mag(str(tmp_path / "noattn.mag"), no_attention, "attention_rnn")
    with pytest.raises(bundle_lib.BundleError, match=r"noattn\.mag.*no attention_cell_wrapper"):
        bundle_lib.load_bundle(path)


def test_not_a_bundle(tmp_path):
    junk = tmp_path / "junk.mag"
    junk.write_bytes(b"\xff\xfe not a protobuf \x00\x01")
    with pytest.raises(bundle_lib.BundleError, match="junk.mag"):
        bundle_lib.read_bundle(str(junk))
    with pytest.raises(bundle_lib.BundleError, match="cannot read"):
        bundle_lib.read_bundle(str(tmp_path / "absent.mag"))
    from note_seq.protobuf import generator_pb2

    bad = generator_pb2.GeneratorBundle()
    bad.generator_details.id = "basic_rnn"
    bad.checkpoint_file.append(b"truncated checkpoint bytes")
    (tmp_path / "badckpt.mag").write_bytes(bad.SerializeToString())
    with pytest.raises(CheckpointReadError, match=r"badckpt\.mag \(checkpoint_file\[0\]\)"):
        bundle_lib.read_bundle(str(tmp_path / "badckpt.mag"))
    empty = generator_pb2.GeneratorBundle()
    empty.generator_details.id = "basic_rnn"
    (tmp_path / "nockpt.mag").write_bytes(empty.SerializeToString())
    with pytest.raises(bundle_lib.BundleError, match="exactly one checkpoint_file"):
        bundle_lib.read_bundle(str(tmp_path / "nockpt.mag"))


def test_write_bundle_refuses_a_config_that_does_not_describe_the_model(tmp_path):
    model = build_model(config_lib.MODEL_PRESETS.get("tiny"))
    with pytest.raises(bundle_lib.BundleError, match="does not describe the model"):
        bundle_lib.write_bundle(model, config_lib.MODEL_PRESETS.get("basic_rnn"), str(tmp_path / "x.mag"))
    with pytest.raises(bundle_lib.BundleError, match="'lookback_rnn' means 121 inputs"):
        bundle_lib.write_bundle(model, config_lib.MODEL_PRESETS.get("lookback_rnn"), str(tmp_path / "x.mag"))
    assert not os.listdir(tmp_path)


def test_warm_start_checks_architecture(tmp_path):
    config = config_lib.MODEL_PRESETS.get("tiny_attention")
    source = randomize(build_model(config))
    path = bundle_lib.write_bundle(source, config, str(tmp_path / "a.mag"), include_metagraph=False)
    assert len(parse(path).metagraph_file) == 0
    target = build_model(config)
    bundle_lib.warm_start_from_bundle(target, path, "attention_rnn")
    for a, b in zip(target.weights, source.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    other = build_model(config_lib.MODEL_PRESETS.get("tiny_attention_whole_stack"))
    with pytest.raises(bundle_lib.BundleError, match=r"a\.mag: bundle architecture"):
        bundle_lib.warm_start_from_bundle(other, path)
