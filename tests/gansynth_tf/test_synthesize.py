"""gansynth_generate: notes, MIDI rendering and SavedModel export from a real (1-step) training run folder.

The run folder is made once per module: the ``cpu_small`` preset (64x256 mel-IF specgrams,
8,192-sample notes at 16 kHz, pitches 48..72, 64-d latent) trained for one step on
synthetic specgrams, with a fitted-looking normaliser saved as ``normalizer.json``.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pretty_midi
import pytest
import tensorflow as tf

from gansynth_tf import config as gcfg
from gansynth_tf import export as gexport
from gansynth_tf import gan
from gansynth_tf import generate_cli
from gansynth_tf import synthesize as S
from gansynth_tf.normalizer import SpecgramNormalizer
from tfmusic import audio, training

SR = 16000
AUDIO_LENGTH = 8192


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A cpu_small run folder after one training step (config.json, ckpt-1.*, normalizer.json)."""
    cfg = gcfg.get_preset(
        "cpu_small",
        [
            "trainer.train_steps=1",
            "trainer.global_batch_size=4",
            "trainer.progress=false",
            "trainer.media_every=0",
            "runtime.jit_compile=false",
        ],
    )
    model_dir = str(tmp_path_factory.mktemp("gansynth_run"))
    fn = gan.synthetic_dataset_fn(8, cfg.data.spectral.spec_shape, cfg.data.num_pitches, seed=0)
    training.Runner(
        gan.GANSynthTask(cfg, fn), cfg, model_dir, strategy=tf.distribute.OneDeviceStrategy("/cpu:0")
    ).train()
    # Not the prespecified values, so the test can tell which one was loaded.
    SpecgramNormalizer(a=(0.07, 0.75), b=(0.2, 0.01)).save(os.path.join(model_dir, "normalizer.json"))
    return model_dir


@pytest.fixture(scope="module")
def synth(run_dir):
    return S.GANSynthSynthesizer.from_model_dir(run_dir)


def _pm(notes, program=0, is_drum=False):
    """PrettyMIDI with one instrument of (pitch, start, end, velocity) notes."""
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
    for pitch, start, end, vel in notes:
        inst.notes.append(pretty_midi.Note(velocity=vel, pitch=pitch, start=start, end=end))
    pm.instruments.append(inst)
    return pm


def _energy_onsets(x, sr=SR, hop=80, rel_threshold=0.02, min_silence_s=0.1):
    """Onset times (s): 5 ms frames whose RMS rises above ``rel_threshold`` of the peak after at
    least ``min_silence_s`` of frames below it."""
    n = len(x) // hop
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1))
    active = np.flatnonzero(rms > rel_threshold * rms.max())
    gaps = np.diff(active) * hop / sr
    starts = np.concatenate([active[:1], active[1:][gaps > min_silence_s]])
    return starts * hop / sr


# --------------------------------------------------------------------------- loading


def test_from_model_dir_restores_ema_weights_and_run_normalizer(run_dir, synth):
    assert synth.uses_ema and synth.checkpoint == os.path.join(run_dir, "ckpt-1")
    assert (synth.latent_size, synth.min_pitch, synth.max_pitch, synth.sample_rate, synth.audio_length) == (
        64,
        48,
        72,
        16000,
        AUDIO_LENGTH,
    )
    reader = tf.train.load_checkpoint(synth.checkpoint)
    for i, w in enumerate(synth.generator.weights):
        ema = reader.get_tensor(f"generator_ema/averages/{i}/.ATTRIBUTES/VARIABLE_VALUE")
        np.testing.assert_array_equal(w.numpy(), ema)
    raw = S.GANSynthSynthesizer.from_model_dir(run_dir, use_ema=False)
    assert not raw.uses_ema
    diffs = [np.abs(a.numpy() - b.numpy()).max() for a, b in zip(raw.generator.weights, synth.generator.weights)]
    assert max(diffs) > 1e-6  # one step moved the trained weights away from their average
    z = synth.random_latents(1, 0)
    assert np.abs(raw.synthesize(z, [60]) - synth.synthesize(z, [60])).max() > 1e-4
    assert synth.normalizer.a == (0.07, 0.75) and synth.normalizer.b == (0.2, 0.01)


def test_from_model_dir_errors_name_the_folder(tmp_path, run_dir):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        S.GANSynthSynthesizer.from_model_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="ckpt-7"):
        S.GANSynthSynthesizer.from_model_dir(run_dir, checkpoint=7)


def test_synthesize_shapes_determinism_and_pitch_check(synth):
    z = synth.random_latents(3, seed=5)
    assert z.shape == (3, 64) and z.dtype == np.float32
    np.testing.assert_array_equal(z, synth.random_latents(3, seed=5))
    np.testing.assert_array_equal(z[0], synth.random_latents(1, seed=5)[0])
    assert not np.allclose(z, synth.random_latents(3, seed=6))
    a = synth.synthesize(z, [48, 60, 72])
    assert a.shape == (3, AUDIO_LENGTH) and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, synth.synthesize(z, [48, 60, 72]))
    # Batching changes the result only by float32 rounding (kernels differ with the batch size).
    synth.batch_size, old = 2, synth.batch_size
    try:
        np.testing.assert_allclose(synth.synthesize(z, [48, 60, 72]), a, atol=5e-4 * np.abs(a).max())
    finally:
        synth.batch_size = old
    with pytest.raises(ValueError, match="outside the model's range 48..72"):
        synth.synthesize(z[:1], [47])
    with pytest.raises(ValueError, match=r"\[batch, 64\]"):
        synth.synthesize(np.zeros([1, 8], np.float32), [60])


# --------------------------------------------------------------------------- notes CLI


def _notes_cli(run_dir, output_dir, pitches: str, *more: str) -> int:
    """``gansynth_generate notes --model_dir RUN_DIR --output_dir OUTPUT_DIR --pitches PITCHES MORE...``."""
    return generate_cli.main(
        ["notes", "--model_dir", run_dir, "--output_dir", str(output_dir), "--pitches", pitches, *more]
    )


def test_notes_cli_writes_wavs_per_pitch_and_seed(run_dir, synth, tmp_path, capsys):
    out = tmp_path / "notes"
    assert _notes_cli(run_dir, out, "48,60", "--seeds", "0-1", "--rainbowgrams") == 0
    names = sorted(os.listdir(out))
    assert names == sorted(f"pitch{p}_seed{s}.{ext}" for p in (48, 60) for s in (0, 1) for ext in ("wav", "png"))
    waves = {}
    for p in (48, 60):
        for s in (0, 1):
            x, sr = audio.read_wav(
                out / f"pitch{p}_seed{s}.wav", expected_sample_rate=SR, expected_num_samples=AUDIO_LENGTH
            )
            assert np.abs(x).max() <= 0.99 + 1e-4 and np.abs(x).max() > 0.1
            waves[p, s] = x
            assert os.path.getsize(out / f"pitch{p}_seed{s}.png") > 1000
    assert np.abs(waves[60, 0] - waves[60, 1]).max() > 0.05  # seeds differ
    assert np.abs(waves[48, 0] - waves[60, 0]).max() > 0.05  # pitches differ
    # The same command again -> the same files, byte for byte.
    again = tmp_path / "again"
    assert (
        generate_cli.main(
            ["notes", "--ckpt_dir", run_dir, "--output_dir", str(again), "--pitches", "48,60", "--seeds", "0,1"]
        )
        == 0
    )
    assert sorted(os.listdir(again)) == [n for n in names if n.endswith(".wav")]
    for name in os.listdir(again):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    # Seed 0's latent from a .npy file -> seed 0's audio (up to float32 rounding: another batch size).
    np.save(tmp_path / "mine.npy", synth.random_latents(1, 0)[0])
    npy = tmp_path / "npy"
    assert _notes_cli(run_dir, npy, "60", "--latents", str(tmp_path / "mine.npy")) == 0
    assert os.listdir(npy) == ["pitch60_mine.wav"]
    np.testing.assert_allclose(audio.read_wav(npy / "pitch60_mine.wav")[0], waves[60, 0], atol=2e-3)
    # Bad input: out-of-range pitch, pickled/ill-shaped latent file.
    capsys.readouterr()
    assert _notes_cli(run_dir, out, "40") == 2
    assert "outside the model's range 48..72" in capsys.readouterr().err
    np.save(tmp_path / "bad.npy", np.zeros([2, 3], np.float32))
    assert _notes_cli(run_dir, out, "60", "--latents", str(tmp_path / "bad.npy")) == 2
    assert "bad.npy" in capsys.readouterr().err


def test_parse_pitches():
    assert generate_cli.parse_pitches("60") == [60]
    assert generate_cli.parse_pitches("48-50,60") == [48, 49, 50, 60]
    with pytest.raises(Exception):
        generate_cli.parse_pitches("a,b")


# --------------------------------------------------------------------------- interpolation


def test_slerp_and_interpolate_latents():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    mid = S.slerp(a, b, 0.5)
    assert np.linalg.norm(mid) == pytest.approx(1.0)  # stays on the sphere
    assert np.linalg.norm(S.lerp(a, b, 0.5)) == pytest.approx(np.sqrt(0.5))
    np.testing.assert_allclose(S.slerp(a, b, [0.0, 1.0]), [a, b], atol=1e-12)
    np.testing.assert_allclose(S.slerp(a, 2 * a, 0.5), 1.5 * a)  # parallel: linear fallback
    anchors = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    z = S.interpolate_latents([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0], [0.0, 1.0, 2.0], anchors)
    np.testing.assert_allclose(z[[0, 1, 3, 5, 6]], anchors[[0, 0, 1, 2, 2]], atol=1e-6)
    np.testing.assert_allclose(z[2], [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    lin = S.interpolate_latents([0.5], [0.0, 1.0, 2.0], anchors, method="linear")
    np.testing.assert_allclose(lin[0], [0.5, 0.5], atol=1e-6)
    with pytest.raises(ValueError, match="interpolation"):
        S.interpolate_latents([0.5], [0.0, 1.0], anchors[:2], method="cubic")


def test_note_envelope():
    env = S.note_envelope(0.1, 8192, SR, attack_s=0.01, release_s=0.2)
    assert len(env) == int(0.3 * SR)
    assert env[0] == 0.0 and env[160] == 1.0 and env[1599] == 1.0
    assert np.all(np.diff(env[1600:]) < 0) and env[-1] == 0.0
    long = S.note_envelope(2.0, 8192, SR)  # held past the model's audio: truncated
    assert len(long) == 8192 and long[-1] == 1.0


# --------------------------------------------------------------------------- MIDI


def test_midi_onsets_peak_and_length(synth, tmp_path):
    starts = [0.25, 1.0, 1.75]
    pm = _pm([(60, s, s + 0.2, 100) for s in starts])
    path = tmp_path / "three.mid"
    pm.write(str(path))
    r = S.render_midi(synth, str(path), timbre="fixed", seed=0)
    assert r.sample_rate == SR and r.audio.dtype == np.float32
    # Last note: onset 1.75 s + 0.2 s held + 0.3 s release.
    assert len(r.audio) == round(1.75 * SR) + round(0.5 * SR)
    assert np.abs(r.audio).max() <= 0.99 + 1e-6
    onsets = _energy_onsets(r.audio)
    assert len(onsets) == 3, onsets
    np.testing.assert_allclose(onsets, starts, atol=0.015)
    assert np.all(r.audio[: round(0.25 * SR)] == 0)  # silence before the first note
    assert r.num_generated == 1  # one (pitch, latent) pair
    np.testing.assert_array_equal(S.synthesize_midi(synth, pm, timbre="fixed", seed=0), r.audio)


def test_midi_velocity_scaling_and_mix_limit(synth):
    vels = [30, 70, 120]
    notes = S.make_notes([60, 60, 60], [0.0, 0.6, 1.2], [0.2, 0.8, 1.4], vels)
    r = S.render_midi(synth, notes, timbre="fixed", seed=1)
    seg = [r.audio[round(s * SR) : round(s * SR) + 8000] for s in (0.0, 0.6, 1.2)]
    peaks = [np.abs(x).max() for x in seg]
    assert peaks[0] < peaks[1] < peaks[2]
    np.testing.assert_allclose(seg[1], seg[0] * 70 / 30, atol=1e-5)
    np.testing.assert_allclose(seg[2], seg[0] * 120 / 30, atol=1e-5)
    # Ten loud notes at once: the mix is scaled down instead of clipping.
    loud = S.make_notes(list(range(50, 70, 2)), [0.0] * 10, [0.3] * 10, [127] * 10)
    r = S.render_midi(synth, loud, timbre="fixed", seed=1)
    assert r.gain < 1.0 and np.abs(r.audio).max() == pytest.approx(0.99, abs=1e-6)
    assert r.num_generated == 10


def test_midi_interpolated_timbre(synth):
    notes = S.make_notes([60] * 4, [0.0, 1.0, 2.0, 3.0], [0.3, 1.3, 2.3, 3.3])
    fixed = S.render_midi(synth, notes, timbre="fixed", seed=3)
    interp = S.render_midi(synth, notes, timbre="interpolate", seed=3, seconds_per_anchor=1.5)
    assert len(interp.anchors) == 3
    np.testing.assert_allclose(interp.anchor_times, [0.0, 1.5, 3.0])
    np.testing.assert_array_equal(interp.anchors, synth.random_latents(3, 3))
    # Both start from the first anchor; the interpolated timbre then moves away from it.
    np.testing.assert_array_equal(fixed.latents, np.repeat(interp.anchors[:1], 4, axis=0))
    np.testing.assert_array_equal(interp.latents[0], interp.anchors[0])
    np.testing.assert_allclose(interp.latents[3], interp.anchors[2], atol=1e-6)
    np.testing.assert_allclose(interp.latents[1], S.slerp(interp.anchors[0], interp.anchors[1], 2 / 3), atol=1e-5)
    assert fixed.num_generated == 1 and interp.num_generated == 4
    first = slice(0, round(0.6 * SR))
    # Same latent and pitch; generated in batches of different sizes (float32 rounding only).
    np.testing.assert_allclose(interp.audio[first], fixed.audio[first], atol=2e-3)
    for s in (1.0, 2.0, 3.0):
        part = slice(round(s * SR), round((s + 0.5) * SR))
        assert np.abs(interp.audio[part] - fixed.audio[part]).max() > 0.05
    linear = S.render_midi(synth, notes, timbre="interpolate", seed=3, seconds_per_anchor=1.5, interpolation="linear")
    assert np.abs(linear.latents[1] - interp.latents[1]).max() > 1e-3


def test_out_of_range_pitches_are_moved_and_counted(synth, run_dir, tmp_path, capsys):
    fit = S.fit_pitch_range([30, 47, 60, 80, 100], 48, 72)
    np.testing.assert_array_equal(fit.pitches, [54, 59, 60, 68, 64])
    assert (fit.num_transposed, fit.num_clipped) == (4, 0)
    narrow = S.fit_pitch_range([59, 75, 70, 61], 60, 63)  # narrower than an octave
    np.testing.assert_array_equal(narrow.pitches, [60, 63, 63, 61])
    assert (narrow.num_transposed, narrow.num_clipped) == (1, 2)
    pm = _pm([(30, 0.0, 0.2, 90), (60, 0.6, 0.8, 90), (100, 1.2, 1.4, 90)])
    r = S.render_midi(synth, pm, timbre="fixed")
    assert (r.num_transposed, r.num_clipped) == (2, 0)
    np.testing.assert_array_equal(r.pitches, [54, 60, 64])
    np.testing.assert_array_equal(r.notes.pitches, [30, 60, 100])
    path = tmp_path / "wide.mid"
    pm.write(str(path))
    out = tmp_path / "wide.wav"
    assert (
        generate_cli.main(
            ["midi", "--model_dir", run_dir, "--midi_file", str(path), "--output_file", str(out), "--timbre", "fixed"]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "2 notes transposed by octaves, 0 clipped" in captured.err
    x, sr = audio.read_wav(out, expected_sample_rate=SR)
    np.testing.assert_allclose(x, r.audio, atol=1.5 / 32768)


def test_bad_midi_files_raise_errors_naming_them(synth, run_dir, tmp_path, capsys):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"this is not a MIDI file at all")
    with pytest.raises(S.MidiFileError, match="broken.mid: not a readable MIDI file"):
        S.load_midi_notes(str(bad))
    with pytest.raises(S.MidiFileError, match="missing.mid: file not found"):
        S.synthesize_midi(synth, str(tmp_path / "missing.mid"))
    drums = tmp_path / "drums.mid"
    _pm([(36, 0.0, 0.1, 100)], is_drum=True).write(str(drums))
    with pytest.raises(S.MidiFileError, match="drums.mid: holds no notes outside drum tracks"):
        S.load_midi_notes(drums)
    assert (
        generate_cli.main(
            ["midi", "--model_dir", run_dir, "--midi_file", str(bad), "--output_file", str(tmp_path / "x.wav")]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert str(bad) in err and "not a readable MIDI file" in err
    assert not (tmp_path / "x.wav").exists()


# --------------------------------------------------------------------------- SavedModel


_STANDALONE = textwrap.dedent("""
    import sys, importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("gansynth_tf", "tfmusic", "pipelines"):
                raise ImportError("serving must not need " + name)
    sys.meta_path.insert(0, Block())
    import numpy as np, tensorflow as tf
    export_dir, inputs, output = sys.argv[1:4]
    data = np.load(inputs)
    fn = tf.saved_model.load(export_dir).signatures["serving_default"]
    out = fn(latent=tf.constant(data["z"]), pitch=tf.constant(data["p"], tf.int32))
    np.save(output, out["audio"].numpy())
    print("project modules:", sorted(m for m in sys.modules if m.split(".")[0] in ("gansynth_tf", "tfmusic")))
""")


@pytest.mark.slow
def test_saved_model_round_trip(synth, run_dir, tmp_path, capsys):
    export_dir = str(tmp_path / "saved")
    assert generate_cli.main(["export", "--model_dir", run_dir, "--export_dir", export_dir]) == 0
    assert "serving_default" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match="already holds a SavedModel"):
        gexport.export_saved_model(synth, export_dir)
    loaded = tf.saved_model.load(export_dir)
    serving = loaded.signatures["serving_default"]
    _, specs = serving.structured_input_signature
    assert specs["latent"].shape.as_list() == [None, 64] and specs["latent"].dtype == tf.float32
    assert specs["pitch"].shape.as_list() == [None] and specs["pitch"].dtype == tf.int32
    assert serving.structured_outputs["audio"].shape.as_list() == [None, AUDIO_LENGTH]
    z = synth.random_latents(4, seed=11)
    p = np.array([48, 55, 66, 72])
    want = synth.synthesize(z, p)
    got = serving(latent=tf.constant(z), pitch=tf.constant(p, tf.int32))["audio"].numpy()
    scale = np.abs(want).max()
    np.testing.assert_allclose(got, want, atol=1e-5 * max(scale, 1.0))
    got64 = loaded.synthesize(tf.constant(z), tf.constant(p, tf.int64))["audio"].numpy()
    np.testing.assert_allclose(got64, want, atol=1e-5 * max(scale, 1.0))
    with pytest.raises(tf.errors.InvalidArgumentError, match="pitch below the model.{0,2}s range 48..72"):
        serving(latent=tf.constant(z[:1]), pitch=tf.constant([40], tf.int32))
    assert (int(loaded.min_pitch.numpy()), int(loaded.max_pitch.numpy()), int(loaded.sample_rate.numpy())) == (
        48,
        72,
        16000,
    )
    meta = json.loads((tmp_path / "saved" / gexport.METADATA_FILENAME).read_text())
    assert meta["latent_size"] == 64 and meta["audio_length"] == AUDIO_LENGTH and meta["uses_ema"] is True
    # A fresh interpreter that cannot import this project serves the same numbers.
    np.savez(tmp_path / "in.npz", z=z, p=p)
    script = tmp_path / "serve.py"
    script.write_text(_STANDALONE)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, str(script), export_dir, str(tmp_path / "in.npz"), str(tmp_path / "out.npy")],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "project modules: []" in proc.stdout, proc.stdout
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), want, atol=1e-5 * max(scale, 1.0))
