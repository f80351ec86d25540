"""Drums RNN: Magenta's config table against note-seq, and bundles (strict port, NumPy TF1 parity, round trip)."""

import pytest

from drums_rnn_ext import bundle as bundle_lib
from drums_rnn_ext import config as config_lib
from events_rnn.bundle import BundleError
from tests.events_rnn import tf1_reference as ref
from tests.events_rnn.family_checks import check_magenta_bundle, magenta_hparams


def test_configs_match_magenta():
    one, kit = config_lib.MODEL_PRESETS.get("one_drum"), config_lib.MODEL_PRESETS.get("drum_kit")
    assert (one.input_size, one.num_classes, one.no_event_label, one.steps_per_quarter) == (2, 2, 0, 2)
    assert (kit.input_size, kit.num_classes, kit.no_event_label, kit.steps_per_quarter) == (518, 512, 0, 4)
    assert magenta_hparams(one.hparams)[:5] == (128, (128, 128), 0.5, 5.0, 0)
    assert magenta_hparams(kit.hparams)[:5] == (128, (256, 256, 256), 0.5, 3.0, 32)
    assert one.generator_description == "Drums RNN with 2-state encoding."
    assert kit.generator_description == "Drums RNN with multiple drums and binary counters."
    # one_drum decodes "a drum" as a hand clap (39).
    enc = one.encoder_decoder()
    import note_seq

    track = note_seq.DrumTrack([frozenset(), frozenset([36])])
    enc.class_index_to_event(1, track)
    assert enc.class_index_to_event(1, track) == frozenset([39])


@pytest.mark.parametrize(
    "config_id,sizes,layout,attn", [("one_drum", (16, 16), "none", 0), ("drum_kit", (16, 12), "first_layer", 32)]
)
def test_magenta_bundle_ports_and_matches_numpy(tmp_path, config_id, sizes, layout, attn):
    rewrite = {"include_metagraph": False}
    check_magenta_bundle(
        bundle_lib, tmp_path, config_id, sizes, layout, attn, seed=2, steps=10, global_step=5, rewrite=rewrite
    )


def test_drum_kit_without_attention_and_wrong_ids_are_refused(tmp_path):
    weights = ref.random_weights(ref.tf1_shapes(518, 512, (8,), "none"))
    path = ref.write_mag(str(tmp_path / "kit.mag"), weights, "drum_kit")
    with pytest.raises(BundleError, match=r"kit\.mag.*'drum_kit' but the checkpoint holds no attention"):
        bundle_lib.load_bundle(path)
    path = ref.write_mag(str(tmp_path / "one.mag"), weights, "one_drum")
    with pytest.raises(BundleError, match=r"one\.mag.*'one_drum' means 2 inputs and 2 classes.*\(they fit drum_kit\)"):
        bundle_lib.load_bundle(path)
