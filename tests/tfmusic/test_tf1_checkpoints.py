"""Foreign TF1 checkpoints: V1 single-file read/write and strict porting."""

import numpy as np
import pytest
import keras

from tfmusic import tf1_checkpoints as ck


def _fixture(tmp_path):
    rng = np.random.default_rng(0)
    vars_ = {
        "dense/kernel": rng.normal(size=(3, 2)).astype(np.float32),
        "dense/bias": rng.normal(size=(2,)).astype(np.float32),
        "dense/kernel/Adam": np.zeros((3, 2), np.float32),
        "global_step": np.array(7, np.int64),
    }
    path = ck.write_v1_checkpoint(vars_, str(tmp_path / "model.ckpt"))
    return vars_, path


def test_v1_checkpoint_round_trip_from_path_and_bytes(tmp_path):
    vars_, path = _fixture(tmp_path)
    for source in (path, open(path, "rb").read()):
        got = ck.read_checkpoint(source)
        assert set(got) == set(vars_)
        for k in vars_:
            np.testing.assert_array_equal(got[k], vars_[k])


def test_unreadable_checkpoint_names_input(tmp_path):
    bad = tmp_path / "broken.ckpt"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ck.CheckpointReadError, match="broken.ckpt"):
        ck.read_checkpoint(str(bad))
    with pytest.raises(ck.CheckpointReadError, match="bundle.mag"):
        ck.read_checkpoint(b"not a checkpoint", name="bundle.mag")


def test_strict_porter(tmp_path):
    vars_, path = _fixture(tmp_path)
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    porter = ck.WeightPorter(ck.read_checkpoint(path), layer.weights, ignore=[r".*/Adam$", r"global_step"])
    porter.port(layer.kernel, "dense/kernel")
    porter.port(layer.bias, "dense/bias")
    porter.finish()
    np.testing.assert_array_equal(layer.kernel.numpy(), vars_["dense/kernel"])

    porter = ck.WeightPorter(ck.read_checkpoint(path), layer.weights, source="x.mag")
    porter.port(layer.kernel, "dense/kernel", transform=lambda w: w.T)
    with pytest.raises(ck.PortingError) as err:
        porter.finish()
    text = str(err.value)
    assert "x.mag" in text and "shape (2, 3)" in text and "dense/bias" in text and "global_step" in text
    with pytest.raises(ck.PortingError, match="'nope' is missing"):
        porter.port(layer.bias, "nope")
