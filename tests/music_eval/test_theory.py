"""Key, scale, meter and distance helpers on textbook inputs."""

import numpy as np
import pytest

from music_eval import theory


def scale_hist(tonic, steps, weights=None):
    h = np.zeros(12)
    for i, s in enumerate(steps):
        h[(tonic + s) % 12] += 1.0 if weights is None else weights[i]
    return h


@pytest.mark.parametrize("profile", list(theory.KEY_PROFILES))
def test_key_of_tonic_triad_weighted_scales(profile):
    # Scale with the tonic triad doubled, as tonal music weights it.
    major_w = [3, 1, 2, 1, 2, 1, 1]
    for tonic in (0, 7, 10):
        k = theory.estimate_key(scale_hist(tonic, theory.MAJOR_SCALE, major_w), profile)
        assert (k.tonic, k.mode) == (tonic, "major"), (profile, k)
    minor = scale_hist(9, (0, 2, 3, 5, 7, 8, 11), [3, 1, 2, 1, 2, 1, 1])  # A harmonic minor
    k = theory.estimate_key(minor, profile)
    assert k.name == "A minor"


def test_key_names_and_signatures():
    assert theory.key_from_name("Bb major").name == "Bb major"
    assert theory.key_from_name("f#").name == "F# minor"
    assert theory.key_from_name("E- major").tonic == 3
    assert theory.key_from_name("A minor").fifths == 0
    assert theory.key_from_name("D major").fifths == 2
    assert theory.key_from_name("F major").fifths == -1
    assert theory.key_from_name("C minor").fifths == -3
    with pytest.raises(ValueError):
        theory.key_from_name("H major")


def test_in_scale_share_and_weighted_score():
    c = theory.key_from_name("C major")
    h = np.zeros(12)
    h[[0, 4, 7]] = 3
    h[1] = 1  # C# is outside C major
    assert theory.in_scale_share(h, c) == pytest.approx(9 / 10)
    a = theory.key_from_name("A minor")
    assert set(a.scale()) == {9, 11, 0, 2, 4, 5, 7, 6, 8}  # natural + raised 6th and 7th
    assert theory.key_weighted_score(c, c) == 1.0
    assert theory.key_weighted_score(c, theory.key_from_name("G major")) == 0.5
    assert theory.key_weighted_score(c, a) == pytest.approx(0.3)


def test_meter_from_synthetic_accents():
    rng = np.random.default_rng(0)
    waltz = np.tile([3.0, 1.0, 1.0], 16) + rng.normal(0, 0.2, 48)
    assert theory.estimate_meter(waltz).beats_per_bar == 3
    common = np.tile([3.0, 1.0, 2.0, 1.0], 12) + rng.normal(0, 0.2, 48)
    m = theory.estimate_meter(common)
    assert m.beats_per_bar == 4 and m.meter_class == "duple"
    # A pickup (anacrusis) of one beat shifts the phase, not the meter.
    assert theory.estimate_meter(np.concatenate([[1.0], waltz])).downbeat_phase == 1
    assert theory.estimate_meter([1.0, 2.0]).beats_per_bar == 0


def test_distances_and_tempo_accuracy():
    d = theory.histogram_distances([1, 0, 0], [1, 0, 0])
    assert d["js"] == pytest.approx(0.0) and d["overlap"] == pytest.approx(1.0)
    d = theory.histogram_distances([1, 0], [0, 1])
    assert d["js"] == pytest.approx(1.0) and d["l1"] == pytest.approx(2.0)
    assert theory.cosine_similarity([1, 2], [2, 4]) == pytest.approx(1.0)
    assert theory.tempo_accuracy(101, 100) == {"acc1": True, "acc2": True}
    assert theory.tempo_accuracy(200, 100) == {"acc1": False, "acc2": True}
    assert theory.tempo_accuracy(150, 100) == {"acc1": False, "acc2": False}
