"""Improv RNN: Magenta's config table, bundles (strict port, NumPy TF1 parity, round trip), training on
conditional SequenceExamples, and improv_rnn_generate (backing chords, primers, chords rendered, beam search)."""

import os

import note_seq
import numpy as np
import pytest

from events_rnn import data as events_data
from events_rnn.bundle import BundleError
from events_rnn.model import build_model
from improv_rnn_ext import bundle as bundle_lib
from improv_rnn_ext import config as config_lib
from improv_rnn_ext import generate, generate_cli, train_cli
from tests.events_rnn import tf1_reference as ref
from tests.events_rnn import family_checks
from tests.events_rnn.family_checks import check_magenta_bundle, flags


def test_configs_match_magenta():
    assert {i: bundle_lib._widths(i) for i in config_lib.CONFIG_IDS} == {
        "basic_improv": (49 + 38, 38),
        "attention_improv": (49 + 74, 40),
        "chord_pitches_improv": (37 + 38, 38),
    }
    hp = {i: config_lib.MODEL_PRESETS.get(i).hparams for i in config_lib.CONFIG_IDS}
    assert (hp["basic_improv"].rnn_layer_sizes, hp["basic_improv"].clip_norm, hp["basic_improv"].attn_length) == (
        (64, 64),
        5.0,
        0,
    )
    assert (
        hp["attention_improv"].rnn_layer_sizes,
        hp["attention_improv"].clip_norm,
        hp["attention_improv"].attn_length,
    ) == ((128, 128, 128), 3.0, 40)
    assert (hp["chord_pitches_improv"].rnn_layer_sizes, hp["chord_pitches_improv"].clip_norm) == ((256, 256, 256), 3.0)
    assert all(h.batch_size == 128 and h.dropout_keep_prob == 0.5 and h.learning_rate == 0.001 for h in hp.values())


@pytest.mark.parametrize(
    "config_id,layout,attn", [("chord_pitches_improv", "none", 0), ("attention_improv", "first_layer", 40)]
)
def test_magenta_bundle_ports_and_matches_numpy(tmp_path, config_id, layout, attn):
    check_magenta_bundle(bundle_lib, tmp_path, config_id, (16, 12), layout, attn, seed=6, global_step=2)


def test_wrong_ids_are_refused(tmp_path):
    weights = ref.random_weights(ref.tf1_shapes(87, 38, (8,), "none"))
    path = ref.write_mag(str(tmp_path / "a.mag"), weights, "attention_improv")
    with pytest.raises(BundleError, match=r"a\.mag.*'attention_improv' means 123 inputs.*\(they fit basic_improv\)"):
        bundle_lib.load_bundle(path)


def lead_sheet_examples(path: str, config_id: str, count: int = 6) -> str:
    """SequenceExamples as Magenta's improv pipeline encodes lead sheets: chords and melody per step."""
    enc = config_lib.make_encoder_decoder(config_id)
    rng = np.random.default_rng(0)
    import tensorflow as tf

    with tf.io.TFRecordWriter(path) as w:
        for _ in range(count):
            melody = note_seq.Melody([60] + [int(p) if rng.random() < 0.5 else -2 for p in rng.integers(55, 75, 31)])
            chords = note_seq.ChordProgression([c for c in ("C", "G", "Am", "F") for _ in range(8)])
            inputs, labels = enc.encode(chords, melody)
            w.write(events_data.make_sequence_example(inputs, labels).SerializeToString())
    return path


def test_train_then_generate_with_chords(tmp_path, capsys):
    train = lead_sheet_examples(str(tmp_path / "training_lead_sheets.tfrecord"), "basic_improv")
    mag = str(tmp_path / "basic.mag")
    family_checks.train(train_cli, tmp_path / "run", train, 2, export_bundle=mag)
    out = tmp_path / "out"
    chords = flags(backing_chords="C G Am F", steps_per_chord=16)
    argv = flags(bundle_file=mag, output_dir=out, num_outputs=2) + chords
    assert generate_cli.main(argv + flags(primer_melody="[60, -2, 62, -2]", render_chords=True, seed=0)) == 0
    files = sorted(os.listdir(out))
    seq = note_seq.midi_file_to_note_sequence(str(out / files[0]))
    # 4 chords x 16 sixteenths at 120 qpm = 8 s; the primer is kept; chords rendered at velocity 50.
    assert len(files) == 2 and seq.total_time <= 8.0 + 1e-6
    melody_notes = [n for n in seq.notes if n.velocity != generate.CHORD_VELOCITY]
    assert melody_notes[0].pitch == 60 and melody_notes[1].pitch == 62
    assert any(n.velocity == generate.CHORD_VELOCITY for n in seq.notes)
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o2", num_outputs=1, backing_chords="C F", steps_per_chord=8)
    assert generate_cli.main(argv + flags(beam_size=2, branch_factor=2, temperature=0)) == 0
    assert "single middle C" in capsys.readouterr().err
    assert generate_cli.main(flags(bundle_file=mag, output_dir=tmp_path / "o3", backing_chords="C Xq7")) == 1
    assert "cannot read chord symbol 'Xq7'" in capsys.readouterr().err
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o3", backing_chords="C", steps_per_chord=2)
    assert generate_cli.main(argv + flags(primer_melody="[60, -2, 62, -2]")) == 1
    assert "not shorter than the backing chords" in capsys.readouterr().err


def test_generator_squashes_and_follows_the_chords():
    cfg = config_lib.MODEL_PRESETS.get("tiny_attention")
    model = build_model(cfg, dropout_keep_prob=1.0)
    chords = generate.backing_chords("C G", 8)
    gen = generate.ImprovGenerator(model, cfg, chords)
    # A primer two octaves up is squashed into 48..83 by whole octaves, and stays there (as in Magenta:
    # Melody.squash returns only the key transposition, 0 here, which is all that is undone).
    seq, score = gen.generate(generate.primer_from_melody([96, -2, 98]), generate.options(seed=1))
    assert np.isfinite(score) and [n.pitch for n in seq.notes][:2] == [72, 74]
    assert [a.text for a in seq.text_annotations] == ["C", "G"]
