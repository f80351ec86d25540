"""drums_rnn_create_dataset (Magenta's pipeline and file names), drums_rnn_train (scratch, fine-tune) and
drums_rnn_generate (bundle or Magenta run folder; --primer_drums, --primer_midi, default primer, beam search)."""

import json
import os

import note_seq
import numpy as np
import pytest
import tensorflow as tf

from drums_rnn_ext import bundle as bundle_lib
from drums_rnn_ext import config as config_lib
from drums_rnn_ext import create_dataset_cli, data, generate, generate_cli, train_cli
from events_rnn import data as events_data
from events_rnn.model import build_model
from tests.events_rnn import family_checks
from tests.events_rnn.family_checks import dataset_files, flags


def beat(seq_id: str, bars: int, seed: int = 0):
    """A 4/4 drum beat at 120 qpm: kick / snare / hats on 16th notes, random fills."""
    rng = np.random.default_rng(seed)
    ns = note_seq.NoteSequence(id=seq_id, ticks_per_quarter=220)
    ns.tempos.add(qpm=120)
    ns.time_signatures.add(numerator=4, denominator=4)
    step = 0.125
    for s in range(bars * 16):
        pitches = [42] + ([36] if s % 8 == 0 else []) + ([38] if s % 8 == 4 else [])
        if rng.random() < 0.2:
            pitches.append(int(rng.choice([45, 48, 49, 51])))
        for p in pitches:
            ns.notes.add(pitch=p, velocity=90, start_time=s * step, end_time=(s + 1) * step, is_drum=True, instrument=9)
    ns.total_time = bars * 16 * step
    return ns


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("drums")
    seqs = [beat(f"b{i}", 8 + i, seed=i) for i in range(4)] + [beat("short", 3, seed=9)]
    path, out = family_checks.create_dataset(create_dataset_cli, tmp, seqs, "one_drum", 0.25, "one_drum")
    return {"tmp": tmp, "input": path, "out": out, "seqs": seqs}


def test_dataset_files_counts_and_encoding(dataset):
    out = dataset["out"]
    stats = dataset_files(out, "drums_rnn_create_dataset", "drum_tracks")
    assert (stats["input_size"], stats["num_classes"]) == (2, 2)
    assert (stats["config"]["min_bars"], stats["config"]["max_steps"], stats["config"]["gap_bars"]) == (7, 512, 1.0)
    assert stats["counts"]["drums_extractor/drum_tracks_extracted"] == 4
    assert stats["counts"]["drums_extractor/drum_tracks_discarded_too_short"] == 1
    # one_drum: 2 steps per quarter, 8 per bar; every step has a hi-hat, so every label is "drum" (1).
    examples = [
        events_data.sequence_example_to_arrays(r.numpy())
        for name in data.OUTPUT_FILENAMES.values()
        for r in tf.data.TFRecordDataset(str(out / name))
    ]
    want = []
    for seq in dataset["seqs"][:4]:  # note-seq's own reading of each beat's drum track, as Magenta's extractor
        track = note_seq.DrumTrack()
        track.from_quantized_sequence(note_seq.quantize_note_sequence(seq, 2), gap_bars=1.0)
        want.append(len(track))
    assert sorted(len(y) + 1 for _, y in examples) == sorted(want)
    assert all(x.shape[1] == 2 and (y[: len(y) - 1] == 1).all() for x, y in examples)


def test_extract_drum_tracks_truncates_and_reads_primers():
    quantized = note_seq.quantize_note_sequence(beat("long", 40), 4)
    tracks, stats = data.extract_drum_tracks(quantized, max_steps_truncate=512)
    assert [len(t) for t in tracks] == [512] and stats["drum_tracks_truncated"] == 1
    seq = beat("x", 1)
    for n in seq.notes:
        n.is_drum = False
    tracks, _ = data.extract_drum_tracks(
        note_seq.quantize_note_sequence(seq, 4), min_bars=0, gap_bars=float("inf"), ignore_is_drum=True
    )
    assert len(tracks) == 1 and len(tracks[0]) == 16 and tracks[0][0] == frozenset([36, 42])


@pytest.fixture(scope="module")
def trained(dataset):
    run_dir, mag = dataset["tmp"] / "run", dataset["tmp"] / "one_drum.mag"
    train = str(dataset["out"] / "training_drum_tracks.tfrecord")
    family_checks.train(train_cli, run_dir, train, 4, export_bundle=mag)
    return run_dir, mag, train


def test_train_exports_and_fine_tunes(trained):
    run_dir, mag, train = trained
    model, config, parsed = bundle_lib.load_bundle(str(mag))
    assert (
        parsed.generator_id == "one_drum" and parsed.metagraph_size > 0 and config.hparams.rnn_layer_sizes == (16, 16)
    )
    ft = run_dir.parent / "ft"
    family_checks.train(train_cli, ft, train, 2, bundle=mag)
    assert json.loads((ft / "config.json").read_text())["warm_start"]["bundle_path"] == str(mag)


def test_generate_from_bundle_with_primers_and_beam(trained, tmp_path, capsys):
    _, mag, _ = trained
    out = tmp_path / "out"
    primer = "[(36, 42), (), (42,), ()]"
    argv = flags(bundle_file=mag, output_dir=out, num_outputs=2, num_steps=32, primer_drums=primer, seed=1)
    assert generate_cli.main(argv) == 0
    files = sorted(os.listdir(out))
    assert len(files) == 2 and all(f.endswith(".mid") for f in files)
    seq = note_seq.midi_file_to_note_sequence(str(out / files[0]))
    # one_drum: 2 steps per quarter at 120 qpm = 0.25 s a step; 32 steps = 8 s; the primer kept.
    assert seq.total_time <= 8.0 + 1e-6
    assert sorted(n.pitch for n in seq.notes if n.start_time < 0.01) == [36, 42]
    # A MIDI primer, and beam search at argmax.
    midi = str(tmp_path / "p.mid")
    note_seq.sequence_proto_to_midi_file(beat("p", 1), midi)
    beam = flags(beam_size=2, branch_factor=2, steps_per_iteration=2, temperature=0)
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o2", num_outputs=1, num_steps=24, primer_midi=midi)
    assert generate_cli.main(argv + beam) == 0
    # No primer: Magenta's single bass drum hit.
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o3", num_outputs=1, num_steps=8, seed=0)
    assert generate_cli.main(argv) == 0
    assert "single bass drum hit" in capsys.readouterr().err
    # A primer longer than the request, and a bad --primer_drums, are clear errors.
    argv = flags(bundle_file=mag, output_dir=tmp_path / "o4", num_steps=2, primer_drums="[(36,), (36,), (36,)]")
    assert generate_cli.main(argv) == 1
    assert "not shorter than the 2 steps" in capsys.readouterr().err
    assert generate_cli.main(flags(bundle_file=mag, output_dir=tmp_path / "o4", primer_drums="[(36, 'x')]")) == 1
    assert "--primer_drums" in capsys.readouterr().err


def test_generator_matches_magentas_layout_and_scores():
    """As Magenta: the primer is kept, generation starts one step after its last note ends (so step 3,
    inside the primer's span, stays silent), the track ends at num_steps; beam search at argmax scores
    at least as well as greedy decoding."""
    cfg = config_lib.MODEL_PRESETS.get("tiny_kit")
    model = build_model(cfg, dropout_keep_prob=1.0)
    gen = generate.DrumsGenerator(model, cfg)
    primer = generate.primer_from_drums([(36,), (), (38,)], 120, cfg.steps_per_quarter)
    seq, score = gen.generate(primer, generate.options(num_steps=16, seed=3))
    assert np.isfinite(score) and seq.total_time <= 16 * 0.125 + 1e-9
    by_step = {}
    for n in seq.notes:
        by_step.setdefault(round(n.start_time / 0.125), set()).add(n.pitch)
    assert by_step[0] == {36} and 1 not in by_step and by_step[2] == {38} and 3 not in by_step
    greedy = gen.generate(primer, generate.options(num_steps=16, temperature=0))[1]
    beam = gen.generate(primer, generate.options(num_steps=16, temperature=0, beam_size=3, branch_factor=3))[1]
    assert beam >= greedy - 1e-5  # batched and single-sequence float32 steps differ by ~1e-7


def test_magenta_run_folder_generates_and_bundles(tmp_path):
    cfg = config_lib.MODEL_PRESETS.get("tiny_kit")
    model = build_model(cfg, dropout_keep_prob=1.0)
    family_checks.save_magenta_run(model, tmp_path / "run", 7)
    mag = str(tmp_path / "kit.mag")
    run = flags(run_dir=tmp_path / "run", config="drum_kit", hparams="attn_length=5")
    assert generate_cli.main(run + flags(save_generator_bundle=True, bundle_file=mag)) == 0
    loaded, config, bundle = bundle_lib.load_bundle(mag, attn_length=5)
    assert bundle.generator_id == "drum_kit" and int(bundle.variables["global_step"]) == 7
    family_checks.assert_same_weights(loaded, model)
    assert generate_cli.main(run + flags(output_dir=tmp_path / "o", num_outputs=1, num_steps=12, seed=0)) == 0
    assert len(os.listdir(tmp_path / "o")) == 1
