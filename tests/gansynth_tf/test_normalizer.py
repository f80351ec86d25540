"""SpecgramNormalizer: fit, apply, invert, save/load."""

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf.normalizer import SpecgramNormalizer, range_to_affine


def _specgrams(seed=0, n=6):
    rng = np.random.default_rng(seed)
    mag = rng.uniform(-13.8, 4.0, (n, 8, 16, 1))
    ifreq = rng.uniform(-1.0, 1.0, (n, 8, 16, 1))
    return np.concatenate([mag, ifreq], -1).astype(np.float32)


def test_range_to_affine_maps_range_to_margin():
    a, b = range_to_affine(-10.0, 6.0, 0.8)
    assert a * -10.0 + b == pytest.approx(-0.8) and a * 6.0 + b == pytest.approx(0.8)
    with pytest.raises(ValueError):
        range_to_affine(1.0, 1.0, 0.8)


def test_fit_apply_invert_round_trip():
    data = _specgrams()
    batches = [data[:2], data[2:4], data[4:]]
    norm = SpecgramNormalizer.fit(batches, margin=0.8, num_examples=None)
    assert norm.num_examples == 6 and norm.num_channels == 2
    np.testing.assert_allclose(norm.data_min, data.reshape(-1, 2).min(0), rtol=1e-6)
    y = norm.normalize(tf.constant(data)).numpy()
    for c in range(2):
        assert y[..., c].min() == pytest.approx(-0.8, abs=1e-5)
        assert y[..., c].max() == pytest.approx(0.8, abs=1e-5)
    np.testing.assert_allclose(norm.denormalize(tf.constant(y)).numpy(), data, atol=1e-5)
    # Values outside the fitted range are clipped to [-1, 1].
    wild = norm.normalize(tf.constant([[100.0, -100.0]])).numpy()
    np.testing.assert_array_equal(wild, [[1.0, -1.0]])


def test_fit_stops_after_num_examples_and_accepts_datasets():
    data = _specgrams(n=8)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(2)
    norm = SpecgramNormalizer.fit(ds, num_examples=4)
    assert norm.num_examples == 4
    np.testing.assert_allclose(norm.data_max, data[:4].reshape(-1, 2).max(0), rtol=1e-6)
    with pytest.raises(ValueError):
        SpecgramNormalizer.fit([])


def test_prespecified():
    norm = SpecgramNormalizer.prespecified(mag_a=0.1, mag_b=0.5, p_a=0.9, p_b=0.0)
    x = tf.constant([[[[-2.0, 0.5]]]])
    np.testing.assert_allclose(norm.normalize(x).numpy(), [[[[0.3, 0.45]]]], atol=1e-6)
    np.testing.assert_allclose(norm.denormalize(norm.normalize(x)).numpy(), x.numpy(), atol=1e-6)
    with pytest.raises(ValueError):
        SpecgramNormalizer(a=(0.0, 1.0), b=(0.0, 0.0))


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_save_load(tmp_path, suffix):
    norm = SpecgramNormalizer.fit([_specgrams()], margin=0.7)
    path = norm.save(tmp_path / "sub" / f"normalizer{suffix}")
    assert path.exists() and not list(path.parent.glob("*.tmp"))
    back = SpecgramNormalizer.load(path)
    assert back == norm
    pre = SpecgramNormalizer.prespecified(1.0, 0.0, 2.0, 0.5)
    assert SpecgramNormalizer.load(pre.save(tmp_path / f"pre{suffix}")) == pre


def test_npz_has_no_pickles(tmp_path):
    path = SpecgramNormalizer.fit([_specgrams()]).save(tmp_path / "n.npz")
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) >= {"a", "b", "margin", "num_examples"}


def test_load_rejects_foreign_json(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"format": "something else", "a": [1], "b": [0]}')
    with pytest.raises(ValueError):
        SpecgramNormalizer.load(p)
