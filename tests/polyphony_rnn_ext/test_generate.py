"""Polyphonic generation and `polyphony_rnn_generate`: primers, injection, temperature, beam search, files."""

import os

import note_seq
import numpy as np
import pytest

from events_rnn.model import build_model
from polyphony_rnn_ext import bundle as bundle_lib
from polyphony_rnn_ext import config as config_lib
from polyphony_rnn_ext import generate, generate_cli
from tests.events_rnn import family_checks
from tests.events_rnn.family_checks import flags


@pytest.fixture(scope="module")
def tiny():
    config = config_lib.MODEL_PRESETS.get("tiny")
    model = build_model(config, dropout_keep_prob=1.0)
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(0, 0.3, tuple(v.shape)).astype(np.float32))
    # A trained model closes a step every few events; make the random one do so too (STEP_END = class 2).
    bias = model.fully_connected.bias.numpy()
    bias[2] += 6.0
    model.fully_connected.bias.assign(bias)
    return model, config


def notes_of(sequence):
    return sorted((n.pitch, round(n.start_time / 0.125), round(n.end_time / 0.125)) for n in sequence.notes)


def test_primer_pitches_continuation_is_deterministic_and_keeps_the_primer(tiny):
    gen = generate.PolyphonyGenerator(*tiny)
    primer = generate.primer_from_pitches([60, 64, 67])
    options = generate.PolyphonyOptions(num_steps=16, temperature=1.0, seed=3)
    a, score_a = gen.generate(primer, options)
    b, score_b = gen.generate(primer, options)
    assert notes_of(a) == notes_of(b) and score_a == score_b and score_a < 0
    assert a.total_time == pytest.approx(16 * 0.125)
    got = notes_of(a)
    # The primer chord (a quarter note), and, injected at the first generated step, the chord again.
    # Generation starts at step 5: Magenta quantizes the primer's end (0.5 s = 4 steps) with cutoff 0,
    # int(4 + 1) = 5.
    for pitch in (60, 64, 67):
        assert (pitch, 0, 4) in got
        assert any(p == pitch and s == 5 for p, s, _ in got)
    assert all(0 <= s < e <= 16 for _, s, e in got)


def test_condition_on_primer_beam_search_and_argmax(tiny):
    gen = generate.PolyphonyGenerator(*tiny)
    primer = generate.primer_from_pitches([62, 65])
    cond = generate.PolyphonyOptions(num_steps=12, seed=1, condition_on_primer=True)
    seq, _ = gen.generate(primer, cond)
    assert (62, 0, 4) in notes_of(seq) and seq.total_time == pytest.approx(12 * 0.125)
    beam = generate.PolyphonyOptions(
        num_steps=12, seed=1, beam_size=3, branch_factor=2, steps_per_iteration=2, inject_primer_during_generation=False
    )
    sampled = generate.PolyphonyOptions(num_steps=12, seed=1, inject_primer_during_generation=False)
    _, beam_score = gen.generate(primer, beam)
    _, sample_score = gen.generate(primer, sampled)
    assert np.isfinite(beam_score) and np.isfinite(sample_score)
    greedy = generate.PolyphonyOptions(num_steps=12, temperature=0.0, seed=5)
    assert notes_of(gen.generate(primer, greedy)[0]) == notes_of(
        gen.generate(primer, generate.PolyphonyOptions(num_steps=12, temperature=0.0, seed=9))[0]
    )


def test_primer_longer_than_num_steps_is_refused(tiny):
    gen = generate.PolyphonyGenerator(*tiny)
    with pytest.raises(generate.GenerationError, match="not shorter"):
        gen.generate(generate.primer_from_pitches([60]), generate.PolyphonyOptions(num_steps=4))


def test_cli_from_bundle_with_pitches_and_midi(tmp_path, tiny, capsys):
    model, config = tiny
    mag = bundle_lib.write_bundle(model, config, str(tmp_path / "p.mag"), include_metagraph=False)
    out = tmp_path / "out"
    argv = flags(bundle_file=mag, output_dir=out, num_outputs=2, num_steps=12, primer_pitches="[60, 64, 67]", seed=0)
    rc = generate_cli.main(argv + flags(temperature=0.8, beam_size=2, branch_factor=2))
    assert rc == 0
    files = sorted(os.listdir(out))
    assert len(files) == 2 and all(f.endswith(".mid") for f in files)
    first = note_seq.midi_file_to_note_sequence(str(out / files[0]))
    assert {(n.pitch, round(n.start_time / 0.125)) for n in first.notes} >= {(60, 0), (64, 0), (67, 0)}
    primer_path = str(tmp_path / "primer.mid")
    note_seq.sequence_proto_to_midi_file(generate.primer_from_pitches([55, 59], qpm=90.0), primer_path)
    argv = flags(bundle_file=mag, output_dir=tmp_path / "out2", num_outputs=1, num_steps=10, primer_midi=primer_path)
    rc = generate_cli.main(argv + flags(condition_on_primer=True, noinject_primer_during_generation=True, seed=1))
    assert rc == 0
    (midi,) = os.listdir(tmp_path / "out2")
    seq = note_seq.midi_file_to_note_sequence(str(tmp_path / "out2" / midi))
    assert seq.tempos[0].qpm == pytest.approx(90.0, rel=1e-5)  # MIDI stores whole microseconds per quarter
    assert generate_cli.main(["--bundle_file", str(tmp_path / "absent.mag"), "--output_dir", str(out)]) == 1
    assert "absent.mag" in capsys.readouterr().err


def test_cli_magenta_run_folder_and_save_bundle(tmp_path, tiny):
    """A Magenta run folder (RUN/train/model.ckpt-N, TF1 names) generates and bundles."""
    model, config = tiny
    family_checks.save_magenta_run(model, tmp_path / "run", 42)
    mag = str(tmp_path / "from_run.mag")
    assert generate_cli.main(["--run_dir", str(tmp_path / "run"), "--save_generator_bundle", "--bundle_file", mag]) == 0
    loaded, _, bundle = bundle_lib.load_bundle(mag)
    assert int(bundle.variables["global_step"]) == 42
    family_checks.assert_same_weights(loaded, model)
    argv = flags(run_dir=tmp_path / "run", output_dir=tmp_path / "o", num_outputs=1, num_steps=8, seed=0)
    assert generate_cli.main(argv) == 0
    assert len(os.listdir(tmp_path / "o")) == 1
