"""Symbolic and audio statistics on pieces whose tempo, meter, key and levels are known."""

import numpy as np
import pytest

from music_eval import features_audio as fa
from music_eval import features_symbolic as fs
from music_eval import theory
from music_eval.io import MusicFileError, load_piece, load_symbolic

from .helpers import click_track, march, waltz

SR = 22050


def test_symbolic_waltz():
    f = fs.symbolic_features(waltz(bpm=100))
    assert f.tempo_bpm == pytest.approx(100, rel=0.04)
    assert f.meter.beats_per_bar == 3
    assert f.key.name == "C major"
    assert f.in_scale_share == pytest.approx(1.0)
    assert (f.pitch_min, f.pitch_max) == (43, 74)
    assert f.declared_bpm == pytest.approx(100)
    # Bass + melody throughout most of the bar, short 2-3 note chords on beats 2 and 3.
    assert 2.0 <= f.polyphony_mean <= 3.5 and f.polyphony_max == 5
    assert f.note_density == pytest.approx(f.num_notes / f.duration_s)


def test_symbolic_march_and_transposition():
    f = fs.symbolic_features(march(bpm=120))
    assert f.tempo_bpm == pytest.approx(120, rel=0.04)
    assert f.meter.meter_class == "duple"
    g = fs.symbolic_features(march(bpm=120, transpose=5))
    assert (g.pitch_min - f.pitch_min, g.pitch_max - f.pitch_max) == (5, 5)
    assert np.allclose(np.roll(f.pitch_class_hist, 5), g.pitch_class_hist)
    assert (g.key.tonic - f.key.tonic) % 12 == 5 and g.key.mode == f.key.mode


def test_ioi_histogram_is_tempo_free():
    slow, fast = fs.symbolic_features(waltz(bpm=80)), fs.symbolic_features(waltz(bpm=140))
    assert theory.histogram_distances(slow.ioi_hist, fast.ioi_hist)["js"] < 0.05


def test_polyphony_of_a_chord():
    import pretty_midi

    m = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes += [pretty_midi.Note(80, p, 0.0, 2.0) for p in (60, 64, 67)]
    m.instruments.append(inst)
    assert fs.polyphony(m) == {"mean": pytest.approx(3.0), "max": 3.0}


def test_audio_tempo_meter_and_levels():
    y = click_track(120, 20, SR, accent_every=3)
    f = fa.audio_features(y, SR, with_pitch_range=False)
    assert theory.tempo_accuracy(f.tempo_bpm, 120)["acc1"]
    assert f.meter.beats_per_bar == 3
    g = fa.audio_features(y * 0.25, SR, with_pitch_range=False)
    assert g.rms_mean / f.rms_mean == pytest.approx(0.25, rel=1e-3)
    assert f.loudness_dba - g.loudness_dba == pytest.approx(20 * np.log10(4), abs=0.05)


def test_loudness_reference_and_chroma_of_a_tone():
    t = np.arange(4 * SR) / SR
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    # A 1 kHz sine has 0 dB A-weighting: its power is 0.5^2 / 2.
    assert fa.a_weighted_loudness_db(tone, SR) == pytest.approx(10 * np.log10(0.125), abs=0.3)
    a440 = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    assert int(np.argmax(fa.chroma(a440, SR).mean(axis=1))) == 9  # A
    sim = fa.chroma_similarity(fa.chroma(a440, SR), fa.chroma(a440, SR))
    assert sim["mean_cosine"] == pytest.approx(1.0) and sim["dtw_cosine"] == pytest.approx(1.0, abs=1e-6)


def test_pitch_range_of_a_melody():
    t = np.arange(int(0.5 * SR)) / SR
    notes = [57, 60, 64, 69]
    y = np.concatenate([0.4 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in notes]).astype(np.float32)
    low, high = fa.pitch_range(y, SR)
    assert low == pytest.approx(57, abs=0.6) and high == pytest.approx(69, abs=0.6)


def test_note_pitches_follow_each_note_and_name_octave_errors():
    t = np.arange(int(0.5 * SR)) / SR
    notes = [57, 60, 64, 69, 72]
    y = np.concatenate([0.4 * np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in notes]).astype(np.float32)
    spans = [(0.5 * i, 0.5 * (i + 1)) for i in range(len(notes))]
    est = fa.note_pitches(y, SR, spans)
    assert est.shape == (5,) and np.allclose(est, notes, atol=0.5)
    # a score that says the last note is an octave higher, and one span past the end of the audio
    est = fa.note_pitches(y, SR, [*spans, (3.0, 3.5)])
    assert np.isnan(est[-1])
    agreement = fa.pitch_agreement(est, [*notes[:4], 84, 60])
    assert agreement == {
        "notes": 6,
        "within_semitone": 4,
        "octave_low": 1,
        "octave_high": 0,
        "other": 0,
        "unvoiced": 1,
    }
    assert fa.pitch_agreement([60.4, 55.0, 73.0], [60, 60, 61]) == {
        "notes": 3,
        "within_semitone": 1,
        "octave_low": 0,
        "octave_high": 1,
        "other": 1,
        "unvoiced": 0,
    }


def test_bad_files_raise_typed_errors(tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"definitely not MIDI")
    wav = tmp_path / "garbage.wav"
    wav.write_bytes(b"RIFF1234WAVEjunk")
    for load, path, match in (
        (load_symbolic, bad, "broken.mid"),
        (load_piece, tmp_path / "missing.wav", "missing.wav"),
        (load_piece, wav, "garbage.wav"),
        (load_piece, tmp_path / "notes.txt", "unsupported"),
    ):
        with pytest.raises(MusicFileError, match=match):
            load(path)


def test_musicxml_is_read(tmp_path):
    from music21 import corpus

    path = corpus.getWork("bwv269")
    midi = load_symbolic(path)
    assert sum(len(i.notes) for i in midi.instruments) > 100
