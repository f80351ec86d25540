"""Key, meter and tempo estimation against ground truth nobody here wrote: music21's Bach chorales.

The full corpus (371 chorales, ``music_eval validate``) is measured in music_eval/README.md; the
test runs the first 12 chorales of the corpus iterator, a deterministic subset, and holds each
accuracy above a threshold set below the full-corpus rate by about two binomial standard errors
for 12 items (sqrt(p (1 - p) / 12) is at most 0.14), so a real regression fails while the choice
of subset does not.
"""

import pytest

from music_eval import validation

# Full corpus (README): key exact 0.785, MIREX 0.820; meter class 0.932 (triple recall 1.0, duple
# 0.924); audio tempo ACC2 0.987; symbolic tempo ACC1 0.976.
KEY_EXACT_MIN = 0.55
KEY_MIREX_MIN = 0.60
METER_CLASS_MIN = 0.75
METER_TRIPLE_RECALL_MIN = 0.66  # the subset has three 3/4 chorales: at most one may be missed
TEMPO_ACC2_MIN = 0.90


@pytest.fixture(scope="module")
def summary():
    return validation.validate_chorales(num=12, start=0, with_audio=True)["summary"]


@pytest.mark.slow
def test_key_against_declared_key(summary):
    print("key", summary["key"], "audio", summary["key_audio"])
    assert summary["key"]["n"] >= 10
    assert summary["key"]["exact"] >= KEY_EXACT_MIN
    assert summary["key"]["mirex_weighted"] >= KEY_MIREX_MIN


@pytest.mark.slow
def test_meter_against_time_signature(summary):
    print("meter", summary["meter"], "audio", summary["meter_audio"])
    assert summary["meter"]["class"] >= METER_CLASS_MIN
    assert summary["meter"]["recall_triple"] >= METER_TRIPLE_RECALL_MIN


@pytest.mark.slow
def test_tempo_of_fluidsynth_rendering(summary):
    print("tempo", summary["tempo_symbolic"], summary["tempo_audio"])
    assert summary["tempo_symbolic"]["acc1"] >= 0.9
    assert summary["tempo_audio"]["acc2"] >= TEMPO_ACC2_MIN


def test_declared_signatures_are_read():
    r = validation.validate_chorale("bach/bwv269", 0, with_audio=False)
    assert r.declared_numerator in (3, 4) and r.declared_key
    assert r.rendered_bpm == validation.TEMPI[0]
