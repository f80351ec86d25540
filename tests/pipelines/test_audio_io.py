"""tfmusic.audio: wav files, resampling, FluidSynth rendering."""

import os

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from tfmusic import audio


def _cents(f, ref):
    return 1200.0 * np.log2(f / ref)


def _yin_hz(x, sr, expected_hz):
    import librosa

    return float(np.median(librosa.yin(x, fmin=expected_hz / 4, fmax=expected_hz * 4, sr=sr, frame_length=2048)))


def test_pcm16_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(0)
    ints = rng.integers(-32768, 32768, size=4000).astype(np.int16)
    x = ints.astype(np.float32) / 32768.0
    path = tmp_path / "a.wav"
    audio.write_wav(path, x, 16000)
    info = sf.info(str(path))
    assert (info.subtype, info.samplerate, info.channels, info.frames) == ("PCM_16", 16000, 1, 4000)
    y, sr = audio.read_wav(path)
    assert sr == 16000 and y.dtype == np.float32 and y.shape == (4000,)
    np.testing.assert_array_equal(y, x)
    assert y.min() >= -1.0 and y.max() < 1.0
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_write_clips_and_read_mixes_stereo_to_mono(tmp_path):
    path = tmp_path / "s.wav"
    stereo = np.stack([np.full(100, 0.5), np.full(100, -0.25)], axis=1)
    audio.write_wav(path, stereo, 8000)
    y, _ = audio.read_wav(path)
    np.testing.assert_allclose(y, 0.125, atol=1 / 32768)
    audio.write_wav(path, np.array([2.0, -2.0]), 8000)
    y, _ = audio.read_wav(path)
    assert y[0] == np.float32(32767 / 32768) and y[1] == -1.0


@pytest.mark.parametrize("case", ["missing", "corrupt", "wrong_rate", "wrong_length", "nan", "empty"])
def test_read_errors_name_file_and_problem(tmp_path, case):
    path = tmp_path / f"{case}.wav"
    kwargs = {}
    if case == "corrupt":
        path.write_bytes(b"this is not audio" * 20)
        problem = "not a readable audio file"
    elif case == "wrong_rate":
        sf.write(str(path), np.zeros(100, np.int16), 22050)
        kwargs = {"expected_sample_rate": 16000}
        problem = "sample rate is 22050 Hz, expected 16000 Hz"
    elif case == "wrong_length":
        sf.write(str(path), np.zeros(100, np.int16), 16000)
        kwargs = {"expected_num_samples": 64000}
        problem = "has 100 samples, expected 64000"
    elif case == "nan":
        sf.write(str(path), np.array([0.0, np.nan, 0.1], np.float32), 16000, subtype="FLOAT")
        problem = "NaN"
    elif case == "empty":
        sf.write(str(path), np.zeros(0, np.int16), 16000)
        problem = "no audio frames"
    else:
        problem = "file not found"
    with pytest.raises(audio.AudioFileError) as info:
        audio.read_wav(path, **kwargs)
    assert str(path) in str(info.value) and problem in str(info.value)
    assert info.value.path == str(path)


def test_write_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        audio.write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]), 16000)
    assert not os.listdir(tmp_path)


def test_resample_keeps_frequency_and_duration():
    sr_in, sr_out = 48000, 16000
    t = np.arange(sr_in) / sr_in
    x = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    y = audio.resample(x, sr_in, sr_out)
    assert y.dtype == np.float32 and y.shape == (sr_out,)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.fft.rfftfreq(len(y), 1 / sr_out)[np.argmax(spectrum)] == pytest.approx(1000.0, abs=1.0)
    assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.5, abs=0.01)
    # a tone above the new Nyquist frequency is removed, not aliased
    z = audio.resample(np.sin(2 * np.pi * 10000.0 * t).astype(np.float32), sr_in, sr_out)
    assert np.sqrt(np.mean(z[1000:-1000] ** 2)) < 1e-3


def test_default_soundfont_is_pretty_midis():
    path = audio.default_soundfont()
    assert path.endswith("TimGM6mb.sf2") and os.path.getsize(path) > 1_000_000


def test_render_note_has_requested_pitch_and_length():
    x = audio.render_note(24, 57, 100, sample_rate=16000, note_seconds=1.0, total_seconds=1.5)
    assert x.shape == (24000,) and x.dtype == np.float32
    assert np.max(np.abs(x)) > 0.01
    f = _yin_hz(x[1600:12800], 16000, pretty_midi.note_number_to_hz(57))
    assert abs(_cents(f, pretty_midi.note_number_to_hz(57))) < 50


def test_renderer_notes_do_not_depend_on_previous_notes():
    with audio.FluidSynthRenderer(sample_rate=16000) as renderer:
        first = renderer.render_note(0, 60, 100, 0.5, 1.0)
        renderer.render_note(19, 90, 10, 0.5, 1.0)  # church organ leaves voice state behind
        renderer.render_note(40, 30, 127, 0.5, 1.0)
        again = renderer.render_note(0, 60, 100, 0.5, 1.0)
        stereo = renderer.render_note(0, 60, 100, 0.5, 1.0, stereo=True)
    np.testing.assert_array_equal(first, again)
    assert stereo.shape == (16000, 2)
    np.testing.assert_allclose(stereo.mean(axis=1), first, atol=1e-7)


def test_renderer_rejects_bad_arguments(tmp_path):
    with pytest.raises(audio.AudioFileError, match="SoundFont not found"):
        audio.FluidSynthRenderer(tmp_path / "none.sf2")
    bad = tmp_path / "bad.sf2"
    bad.write_bytes(b"RIFF" + b"\x00" * 100)
    with pytest.raises(audio.AudioFileError) as info:
        audio.FluidSynthRenderer(bad)
    assert str(bad) in str(info.value) and "could not load" in str(info.value)
    with audio.FluidSynthRenderer(sample_rate=16000) as renderer:
        assert renderer.has_preset(0) and not renderer.has_preset(0, bank=77)
        with pytest.raises(ValueError):
            renderer.render_note(0, 60, 0, 0.5, 1.0)
        with pytest.raises(ValueError):
            renderer.render_note(0, 60, 100, 2.0, 1.0)


def test_render_midi():
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    inst.notes.append(pretty_midi.Note(velocity=100, pitch=69, start=0.0, end=0.5))
    pm.instruments.append(inst)
    x = audio.render_midi(pm, sample_rate=16000)
    assert x.dtype == np.float32 and x.ndim == 1 and x.shape[0] >= 8000
    assert 0.1 < np.max(np.abs(x)) < 1.0
    f = _yin_hz(x[800:7200], 16000, 440.0)
    assert abs(_cents(f, 440.0)) < 50
