"""gansynth_tf.spectral_ops against NumPy references computed here."""

import math

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf import spectral_ops as so

SR = 16000


# ----------------------------------------------------------------------------- mel matrix
def _mel(f):
    return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _hz(m):
    return 700.0 * (np.exp(np.asarray(m, dtype=np.float64) / 1127.0) - 1.0)


def _reference_weight(mel_bin, lin_bin, num_bins, sample_rate):
    """One weight of GANSynth's mel matrix from the written rules, solving the widening
    numerically (bisection) instead of with the closed form the module uses."""
    nyquist = sample_rate / 2.0
    edges = np.linspace(0.0, _mel(nyquist), num_bins + 2)
    lo_m, c_m, hi_m = edges[mel_bin], edges[mel_bin + 1], edges[mel_bin + 2]
    min_width = 1.5 * nyquist / num_bins
    if _hz(hi_m) - _hz(lo_m) < min_width:
        a, b = 0.0, 1000.0  # half-width in mel such that the band is min_width Hz wide
        for _ in range(200):
            mid = 0.5 * (a + b)
            if _hz(c_m + mid) - _hz(c_m - mid) < min_width:
                a = mid
            else:
                b = mid
        lo_m, hi_m = c_m - a, c_m + a
    if lin_bin == 0:
        return 0.0
    f = np.linspace(0.0, nyquist, num_bins)[lin_bin]
    lo, c, hi = _hz(lo_m), _hz(c_m), _hz(hi_m)
    return max(0.0, min((f - lo) / (c - lo), (hi - f) / (hi - c)))


@pytest.mark.parametrize("num_bins", [1024, 512])
def test_mel_matrix_properties(num_bins):
    w = so.linear_to_mel_weight_matrix(num_bins, num_bins, SR, 0.0, SR / 2)
    assert w.shape == (num_bins, num_bins)
    assert np.all(w >= 0.0) and np.all(w <= 1.0 + 1e-12)
    assert np.all(w[0] == 0.0), "the lowest linear bin is zeroed (HTK)"
    # Every mel bin but the lowest gets weight. The lowest band (centre ~1.7 Hz at 1024 bins,
    # widened to 1.5 bins) ends just below the first non-DC linear bin, so it is empty in
    # GANSynth's matrix too; we keep that for compatibility with GANSynth's representation.
    col_sums = w.sum(axis=0)
    assert col_sums[0] == 0.0
    assert np.all(col_sums[1:] > 0.0), np.flatnonzero(col_sums[1:] == 0) + 1
    # Mel bands move up monotonically: the weighted centre frequency of each column grows.
    centroid = (np.arange(num_bins)[:, None] * w[:, 1:]).sum(0) / col_sums[1:]
    assert np.all(np.diff(centroid) >= -1e-9)
    # Banded: each column's non-zeros are contiguous (this is what BlockBandedMatrix relies on).
    for j in range(1, num_bins):
        nz = np.flatnonzero(w[:, j])
        assert nz[-1] - nz[0] + 1 == nz.size


@pytest.mark.parametrize("num_bins", [1024, 512])
def test_mel_matrix_reference_values(num_bins):
    w = so.linear_to_mel_weight_matrix(num_bins, num_bins, SR, 0.0, SR / 2)
    rng = np.random.default_rng(0)
    # A few fixed points: widened low bands, normal high bands, and random non-zero entries.
    points = [(0, 1), (3, 1), (3, 2), (40, 10), (num_bins // 2, None), (num_bins - 1, None)]
    nonzero = np.argwhere(w > 0)
    points += [tuple(p) for p in nonzero[rng.choice(len(nonzero), 20, replace=False)][:, ::-1]]
    checked = 0
    for mel_bin, lin_bin in points:
        rows = [lin_bin] if lin_bin is not None else list(np.flatnonzero(w[:, mel_bin]))
        for r in rows:
            ref = _reference_weight(mel_bin, int(r), num_bins, SR)
            assert w[r, mel_bin] == pytest.approx(ref, abs=1e-9), (mel_bin, r)
            checked += 1
    assert checked > 25


def test_mel_band_edges_minimum_width():
    lo, c, hi = so.mel_band_edges_hertz(1024, 1024, SR)
    assert np.all(hi - lo >= 1.5 * 8000 / 1024 - 1e-9)
    assert np.all((lo < c) & (c < hi))
    assert so.mel_to_hertz(so.hertz_to_mel(1234.5)) == pytest.approx(1234.5)


def test_mel_to_linear_matrix_is_gansynths_normalised_transpose():
    w = so.linear_to_mel_weight_matrix(64, 64, SR)
    inv = so.mel_to_linear_weight_matrix(w)
    sums = (w @ w.T).sum(axis=0)
    d = np.array([1.0 / s if abs(s) > 1e-8 else s for s in sums])
    np.testing.assert_allclose(inv, w.T @ np.diag(d))
    assert inv.shape == (64, 64) and np.all(inv[:, 0] == 0.0)


def test_mel_arguments_validated():
    with pytest.raises(ValueError):
        so.linear_to_mel_weight_matrix(0, 16, SR)
    with pytest.raises(ValueError):
        so.linear_to_mel_weight_matrix(16, 16, SR, 0.0, SR)


# ----------------------------------------------------------------------------- block-banded
@pytest.mark.parametrize("block_cols", [7, 32, 1000])
def test_block_banded_matmul_equals_dense(block_cols):
    w = so.linear_to_mel_weight_matrix(256, 256, SR).astype(np.float32)
    banded = so.BlockBandedMatrix.from_dense(w, block_cols)
    np.testing.assert_array_equal(banded.to_dense(), w)
    assert banded.multiply_adds_per_row <= w.size
    x = np.random.default_rng(1).standard_normal((2, 5, 256)).astype(np.float32)
    np.testing.assert_allclose(banded.matmul(tf.constant(x)).numpy(), x @ w, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- phase
def _random_phase(shape, seed=0):
    rng = np.random.default_rng(seed)
    steps = rng.uniform(-3.0 * np.pi, 3.0 * np.pi, shape)
    return np.angle(np.exp(1j * np.cumsum(steps, axis=-2))).astype(np.float32)


@pytest.mark.parametrize("axis", [-2, -1, 0])
def test_unwrap_matches_numpy(axis):
    p = _random_phase((40, 33))
    ref = np.unwrap(p.astype(np.float64), axis=axis)
    got = so.unwrap(tf.constant(p), axis=axis).numpy()
    np.testing.assert_allclose(got, ref, atol=2e-4)  # float32 cumulative sum over 40 steps


def test_instantaneous_frequency_matches_numpy_unwrap_diff():
    p = _random_phase((3, 50, 65), seed=2)
    un = np.unwrap(p.astype(np.float64), axis=-2)
    ref = np.concatenate([un[:, :1], np.diff(un, axis=-2)], axis=-2) / np.pi
    got = so.instantaneous_frequency(tf.constant(p), time_axis=-2).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-6)
    # ... and cumulating it back gives the unwrapped phase.
    back = so.phase_from_instantaneous_frequency(tf.constant(got)).numpy()
    np.testing.assert_allclose(back, un, atol=2e-4)


def test_wrap_phase():
    dd = tf.constant([0.5, -3.0, 3.5, -3.5, 7.0, 2 * math.pi, 13.0], tf.float32)
    got = so.wrap_phase(dd).numpy()
    ref = np.angle(np.exp(1j * dd.numpy().astype(np.float64)))
    np.testing.assert_allclose(got, ref, atol=2e-6)
    assert got[0] == np.float32(0.5) and got[1] == np.float32(-3.0)  # small steps kept exactly


def test_atan2_matches_numpy_including_signed_zeros():
    rng = np.random.default_rng(3)
    y = (rng.standard_normal(50000) * np.exp(rng.uniform(-40, 10, 50000))).astype(np.float32)
    x = (rng.standard_normal(50000) * np.exp(rng.uniform(-40, 10, 50000))).astype(np.float32)
    special_y = np.array([0.0, -0.0, 0.0, -0.0, 1.0, -1.0, 0.0, 0.0, 1.0, -1.0], np.float32)
    special_x = np.array([0.0, 0.0, -0.0, -0.0, 0.0, 0.0, -1.0, 1.0, -1.0, -1.0], np.float32)
    y, x = np.concatenate([special_y, y]), np.concatenate([special_x, x])
    got = so.atan2(tf.constant(y), tf.constant(x)).numpy()
    ref = np.arctan2(y.astype(np.float64), x.astype(np.float64))
    np.testing.assert_allclose(got, ref, rtol=0, atol=3e-7)
    np.testing.assert_array_equal(np.signbit(got[:10]), np.signbit(ref[:10]))
    z = tf.complex(tf.constant(x), tf.constant(y))
    np.testing.assert_allclose(so.angle(z).numpy(), ref, atol=3e-7)


def test_polar_to_rect():
    mag = tf.constant([[1.0, 2.0]])
    ph = tf.constant([[0.0, math.pi / 2]])
    np.testing.assert_allclose(so.polar_to_rect(mag, ph).numpy(), [[1.0 + 0j, 2j]], atol=1e-6)
