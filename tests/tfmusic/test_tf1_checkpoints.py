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
        porter.get("nope")


def test_porter_reports_every_problem_at_once_as_lists(tmp_path):
    """Missing, misshapen, unused and unassigned variables all come in one PortingError, whose ``report``
    holds them as lists (callers read those, not the message)."""
    vars_, path = _fixture(tmp_path)
    layer = keras.layers.Dense(2)
    layer.build((None, 3))
    other = keras.layers.Dense(1)
    other.build((None, 1))
    porter = ck.WeightPorter(ck.read_checkpoint(path), layer.weights + other.weights, source="x.mag")
    assert porter.port(layer.kernel, "dense/kernel", transform=lambda w: w.T) is False  # misshapen
    assert porter.port(layer.bias, "nope") is False  # missing: recorded, no exception yet
    assert porter.port(other.kernel, "nope_too") is False
    with pytest.raises(ck.PortingError) as err:
        porter.finish()
    report = err.value.report
    assert report.source == "x.mag" and report.missing == ("nope", "nope_too") and report.assigned == 0
    [misfit] = report.misshapen
    assert (misfit.name, misfit.found, misfit.needed) == ("dense/kernel", "shape (2, 3)", "(3, 2)")
    assert misfit.target == layer.kernel.path
    assert report.unused == ("dense/bias", "dense/kernel/Adam", "global_step")
    assert set(report.unassigned) == {v.path for v in layer.weights + other.weights}
    text = str(err.value)
    assert text == report.message() and text.startswith("x.mag: missing checkpoint variables: nope, nope_too; ")
    assert "dense/kernel has shape (2, 3), Keras variable" in text and "unused checkpoint variables: dense/bias" in text

    # a complete port returns its report
    porter = ck.WeightPorter(vars_, layer.weights, ignore=[r".*/Adam$", r"global_step"])
    porter.port(layer.kernel, "dense/kernel")
    porter.port(layer.bias, "dense/bias")
    done = porter.finish()
    assert done.ok and done.assigned == 2 and not (done.missing or done.misshapen or done.unused or done.unassigned)
