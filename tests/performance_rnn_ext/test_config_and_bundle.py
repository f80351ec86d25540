"""Performance RNN: Magenta's config table against note-seq, and bundles (strict port, NumPy TF1 parity, round trip)."""

import pytest

from events_rnn.bundle import BundleError
from performance_rnn_ext import bundle as bundle_lib
from performance_rnn_ext import config as config_lib
from tests.events_rnn import tf1_reference as ref
from tests.events_rnn.family_checks import check_magenta_bundle, magenta_hparams


def test_configs_match_magenta():
    widths = {i: bundle_lib._widths(i) for i in config_lib.CONFIG_IDS}
    assert widths == {
        "performance": (356, 356),
        "performance_with_dynamics": (388, 388),
        "performance_with_dynamics_and_modulo_encoding": (16, 388),
        "density_conditioned_performance_with_dynamics": (8 + 388, 388),
        "pitch_conditioned_performance_with_dynamics": (12 + 388, 388),
        "multiconditioned_performance_with_dynamics": (20 + 388, 388),
        "optional_multiconditioned_performance_with_dynamics": (21 + 388, 388),
    }
    for config_id in config_lib.CONFIG_IDS:
        cfg = config_lib.MODEL_PRESETS.get(config_id)
        assert magenta_hparams(cfg.hparams) == (64, (512, 512, 512), 1.0, 3.0, 0, 0.001)
        assert cfg.steps_per_second == 100 and cfg.generator_description == config_lib.DESCRIPTIONS[config_id]
    multi = config_lib.MODEL_PRESETS.get("multiconditioned_performance_with_dynamics")
    assert [s.name for s in multi.control_signals()] == ["notes_per_second", "pitch_class_histogram"]
    assert multi.num_velocity_bins == 32 and config_lib.MODEL_PRESETS.get("performance").num_velocity_bins == 0
    with pytest.raises(ValueError, match="note_encoding.*not supported.*several softmaxes"):
        config_lib.PerformanceRnnConfig(config_id="performance_with_dynamics_and_note_encoding")


@pytest.mark.parametrize("config_id", ["performance", "multiconditioned_performance_with_dynamics"])
def test_magenta_bundle_ports_and_matches_numpy(tmp_path, config_id):
    check_magenta_bundle(bundle_lib, tmp_path, config_id, seed=4, global_step=3, rewrite={"global_step": 3})


def test_wrong_ids_are_refused(tmp_path):
    weights = ref.random_weights(ref.tf1_shapes(388, 388, (8,), "none"))
    path = ref.write_mag(str(tmp_path / "p.mag"), weights, "performance")
    with pytest.raises(
        BundleError, match=r"p\.mag.*'performance' means 356 inputs.*\(they fit performance_with_dynamics\)"
    ):
        bundle_lib.load_bundle(path)
    path = ref.write_mag(str(tmp_path / "m.mag"), weights, "attention_rnn")
    with pytest.raises(BundleError, match=r"m\.mag.*'attention_rnn' is not a Performance RNN config"):
        bundle_lib.load_bundle(path)
