"""GANSynth's metrics on inputs whose answers are known in closed form."""

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from music_eval import gan_metrics as gm


def one_hot(labels, num_classes):
    out = np.zeros((len(labels), num_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def test_inception_score_extremes():
    # Confident and spread evenly over C classes: KL = log C for every sample -> IS = C.
    assert gm.inception_score(one_hot(np.arange(40) % 8, 8)) == pytest.approx(8.0)
    # Everything is the same pitch: p(y|x) = p(y) -> IS = 1.
    assert gm.inception_score(one_hot(np.full(10, 3), 8)) == pytest.approx(1.0)
    # Uniform predictions carry no information -> IS = 1.
    assert gm.inception_score(np.full((5, 8), 1 / 8)) == pytest.approx(1.0)


def test_inception_score_matches_definition():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(6), size=30)
    marginal = p.mean(0)
    expected = np.exp(np.mean([np.sum(r * np.log(r / marginal)) for r in p]))
    assert gm.inception_score(p) == pytest.approx(expected, rel=1e-9)


def test_pitch_accuracy_and_tolerance():
    probs = one_hot(np.array([0, 1, 2, 5]), 61)  # classes -> pitches 24, 25, 26, 29
    assert gm.pitch_accuracy(probs, [24, 25, 27, 29], class_offset=24) == pytest.approx(0.75)
    assert gm.pitch_accuracy(probs, [24, 25, 27, 29], tolerance=1, class_offset=24) == pytest.approx(1.0)
    assert gm.pitch_accuracy(np.array([60, 61]), np.array([60, 60])) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        gm.pitch_accuracy(np.array([60]), np.array([60, 61]))


def test_pitch_entropy_known_values():
    assert gm.pitch_entropy(one_hot(np.arange(7), 7)) == pytest.approx(0.0)
    assert gm.pitch_entropy(np.full((3, 61), 1 / 61)) == pytest.approx(np.log(61))
    # A one-pitch set: the histogram of predicted pitches has zero entropy.
    assert gm.predicted_pitch_histogram_entropy(one_hot(np.full(9, 12), 61)) == 0.0
    assert gm.predicted_pitch_histogram_entropy(one_hot(np.arange(4), 61)) == pytest.approx(np.log(4))


def test_probs_are_validated():
    with pytest.raises(ValueError, match="sum to 1"):
        gm.inception_score(np.ones((2, 3)))
    with pytest.raises(ValueError):
        gm.pitch_entropy(np.zeros((0, 3)))


def test_fid_same_set_is_zero_and_1d_closed_form():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 16))
    assert gm.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    # In one dimension FID = (m1 - m2)^2 + (s1 - s2)^2 with s the (ddof=1) standard deviations.
    a, b = rng.normal(1.0, 2.0, size=(500, 1)), rng.normal(-0.5, 0.5, size=(400, 1))
    expected = (a.mean() - b.mean()) ** 2 + (a.std(ddof=1) - b.std(ddof=1)) ** 2
    assert gm.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_fid_diagonal_closed_form():
    # Commuting (diagonal) covariances: Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(s1) - sqrt(s2))^2.
    rng = np.random.default_rng(2)
    a = rng.normal(size=(4000, 3)) * [1.0, 2.0, 3.0]
    b = rng.normal(size=(4000, 3)) * [2.0, 2.0, 1.0] + [1.0, 0.0, 0.0]
    expected = 1.0 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2  # = 6 for the population values
    assert gm.frechet_distance(a, b) == pytest.approx(expected, rel=0.08)


def test_two_proportion_test_equals_chi_square():
    # The pooled two-proportion z-test is the 2x2 chi-square test without continuity correction.
    for ca, na, cb, nb in [(30, 200, 50, 210), (5, 100, 5, 100), (0, 50, 7, 60)]:
        _, p, _, _ = chi2_contingency([[ca, na - ca], [cb, nb - cb]], correction=False)
        assert gm.two_proportion_z_test(np.array([ca]), na, np.array([cb]), nb)[0] == pytest.approx(p, rel=1e-9)


def _mixture(n, rng, shift=0.0):
    centers = np.array([[0, 0], [6, 0], [0, 6], [6, 6], [3, 3]], float)
    idx = rng.integers(0, len(centers), n)
    return centers[idx] + rng.normal(scale=1.0, size=(n, 2)) + shift


def test_ndb_known_cases():
    rng = np.random.default_rng(3)
    real = _mixture(3000, rng)
    # A set against itself: no cell differs.
    same = gm.number_of_different_bins(real, real, k=50)
    assert same.num_different == 0 and same.k == 50
    # An independent draw of the same distribution: about alpha * k = 2.5 cells by chance.
    fresh = gm.number_of_different_bins(real, _mixture(3000, rng), k=50)
    assert fresh.num_different <= 8
    # A shifted distribution (or a collapsed one) differs in most cells.
    shifted = gm.number_of_different_bins(real, _mixture(3000, rng, shift=2.0), k=50)
    assert shifted.num_different >= 25
    collapsed = gm.number_of_different_bins(real, np.zeros((500, 2)) + [6, 6], k=50)
    assert collapsed.num_different >= 40
    assert collapsed.real_proportions.sum() == pytest.approx(1.0)


def test_ndb_needs_enough_real_samples():
    with pytest.raises(ValueError):
        gm.number_of_different_bins(np.zeros((10, 2)), np.zeros((10, 2)), k=50)


def test_language_model_metrics():
    labels = np.array([[0, 1, 2, 3]])
    uniform = gm.language_model_metrics(np.zeros((1, 4, 5)), labels)
    assert uniform["perplexity"] == pytest.approx(5.0)
    assert uniform["nll"] == pytest.approx(np.log(5))
    perfect = gm.language_model_metrics(np.eye(5)[labels] * 50, labels, no_event_label=0)
    assert perfect["accuracy"] == 1.0 and perfect["perplexity"] == pytest.approx(1.0)
    assert perfect["event_accuracy"] == 1.0 and perfect["no_event_accuracy"] == 1.0
    masked = gm.language_model_metrics(np.zeros((1, 4, 5)), labels, mask=np.array([[1, 1, 0, 0]]))
    assert masked["num_tokens"] == 2
