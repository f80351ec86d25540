"""Polyphony RNN bundles: a Magenta-layout ``polyphony`` .mag loads, ports strictly and matches the NumPy
transcription of the TF1 step; bundles we write load back bit-exact and carry Magenta's metagraph."""

import numpy as np
import pytest
import tensorflow as tf

from events_rnn.bundle import BundleError
from melody_rnn_ext import bundle as melody_bundle
from polyphony_rnn_ext import bundle as bundle_lib
from polyphony_rnn_ext import config as config_lib
from polyphony_rnn_ext import polyphony_lib as pl
from polyphony_rnn_ext.generate import primer_from_pitches
from tests.events_rnn import tf1_reference as ref
from tfmusic.tf1_checkpoints import PortingError


def polyphony_inputs(batch=2, steps=12, seed=0):
    """Real polyphony encodings [batch, steps, 259] of random chords."""
    from note_seq import sequences_lib

    rng = np.random.default_rng(seed)
    enc = pl.make_encoder_decoder()
    out = []
    for _ in range(batch):
        seq = primer_from_pitches(sorted(rng.choice(np.arange(48, 80), 3, replace=False).tolist()))
        track = pl.PolyphonicSequence(sequences_lib.quantize_note_sequence(seq, 4))
        track.set_length(4)
        inputs, _ = enc.encode(track)
        out.append((inputs * 3)[:steps])
    return np.asarray(out, np.float32)


def magenta_fixture(tmp_path, sizes=(64, 64), name="polyphony_rnn.mag", generator_id="polyphony", seed=4):
    """A .mag as Magenta's saver lays it out: TF1 names and shapes, global_step and Adam slots."""
    shapes = ref.tf1_shapes(259, 259, sizes, "none")
    weights = ref.random_weights(shapes, seed=seed)
    extra = {"global_step": np.int64(12345), "beta1_power": np.float32(0.9), "beta2_power": np.float32(0.99)}
    for n in weights:
        extra[f"{n}/Adam"] = np.zeros_like(weights[n])
        extra[f"{n}/Adam_1"] = np.zeros_like(weights[n])
    path = ref.write_mag(str(tmp_path / name), weights, generator_id, extra=extra, description="Polyphonic RNN")
    return path, weights


def test_magenta_polyphony_bundle_loads_and_matches_numpy_tf1(tmp_path):
    path, weights = magenta_fixture(tmp_path)
    model, config, bundle = bundle_lib.load_bundle(path)
    assert bundle.generator_id == "polyphony" and config.config_id == "polyphony"
    assert config.hparams.rnn_layer_sizes == (64, 64)
    assert (config.hparams.batch_size, config.hparams.dropout_keep_prob, config.hparams.clip_norm) == (64, 0.5, 5.0)
    for name, variable in model.tf1_variables().items():
        np.testing.assert_array_equal(variable.numpy(), weights[name])
    x = polyphony_inputs()
    want, want_state = ref.reference_logits(weights, x, "none")
    got, state = model(x, return_state=True)
    err = np.abs(np.asarray(got, np.float64) - want).max()
    assert err < 1e-5, err
    for a, b in zip(state, want_state):
        np.testing.assert_allclose(np.asarray(a), b, atol=1e-5)


def test_melody_rnn_refuses_it_and_polyphony_refuses_melody(tmp_path):
    path, _ = magenta_fixture(tmp_path)
    with pytest.raises(BundleError, match=r"polyphony_rnn\.mag.*'polyphony' is not a Melody RNN config"):
        melody_bundle.load_bundle(path)
    basic = ref.write_mag(
        str(tmp_path / "basic.mag"), ref.random_weights(ref.tf1_shapes(38, 38, (8,), "none")), "basic_rnn"
    )
    with pytest.raises(BundleError, match=r"basic\.mag.*'basic_rnn' is not a Polyphony RNN config \(polyphony\)"):
        bundle_lib.load_bundle(basic)
    wrong = ref.write_mag(
        str(tmp_path / "wrong.mag"), ref.random_weights(ref.tf1_shapes(38, 38, (8,), "none")), "polyphony"
    )
    with pytest.raises(BundleError, match=r"wrong\.mag.*'polyphony' means 259 inputs and 259 classes.*38 inputs"):
        bundle_lib.load_bundle(wrong)


def test_strict_porting_names_extra_variables(tmp_path):
    shapes = ref.tf1_shapes(259, 259, (8, 8), "none")
    weights = ref.random_weights(shapes)
    path = ref.write_mag(
        str(tmp_path / "extra.mag"),
        weights,
        "polyphony",
        extra={"rnn/multi_rnn_cell/cell_0/basic_lstm_cell/projection": np.zeros(2, np.float32)},
    )
    with pytest.raises(PortingError, match=r"extra\.mag.*unused.*projection"):
        bundle_lib.load_bundle(path)


def test_written_bundle_round_trips_bit_exact_with_magenta_metagraph(tmp_path):
    path, weights = magenta_fixture(tmp_path, sizes=(16, 12))
    model, config, _ = bundle_lib.load_bundle(path)
    out = bundle_lib.write_bundle(model, config, str(tmp_path / "ours.mag"), description="re-written", global_step=777)
    again = bundle_lib.load_bundle(out)
    back = again[2].variables
    assert int(back["global_step"]) == 777 and again[2].metagraph_size > 0
    assert set(back) - {"global_step"} == set(weights)
    for name, value in weights.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)

    from note_seq.protobuf import generator_pb2

    proto = generator_pb2.GeneratorBundle.FromString(open(out, "rb").read())
    assert proto.generator_details.id == "polyphony"
    assert proto.generator_details.description == "Polyphonic RNN"
    ckpt, meta = str(tmp_path / "model.ckpt"), str(tmp_path / "model.ckpt.meta")
    open(ckpt, "wb").write(proto.checkpoint_file[0])
    open(meta, "wb").write(proto.metagraph_file)
    x = polyphony_inputs(1, 9, seed=3)
    with tf.Graph().as_default():
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.import_meta_graph(meta).restore(sess, ckpt)
            g = sess.graph
            inputs, softmax = g.get_collection("inputs")[0], g.get_collection("softmax")[0]
            initial, final = tuple(g.get_collection("initial_state")), tuple(g.get_collection("final_state"))
            temp = g.get_collection("temperature")[0]
            assert inputs.shape.as_list() == [1, None, 259]
            state, p1 = sess.run([final, softmax], {inputs: x[:, :5], initial: sess.run(initial), temp: 1.0})
            _, p2 = sess.run([final, softmax], {inputs: x[:, 5:], initial: state, temp: 1.0})
    want = tf.nn.softmax(model(x)).numpy()
    np.testing.assert_allclose(np.concatenate([p1, p2], axis=1), want, atol=1e-6)


def test_write_refuses_a_config_that_does_not_describe_the_model(tmp_path):
    config = config_lib.MODEL_PRESETS.get("tiny")
    from events_rnn.model import build_model

    model = build_model(config)
    with pytest.raises(BundleError, match="does not describe the model"):
        bundle_lib.write_bundle(model, config_lib.MODEL_PRESETS.get("polyphony"), str(tmp_path / "x.mag"))
