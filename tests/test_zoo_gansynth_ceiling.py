"""bench/zoo/gansynth.py: the representation ceiling (notes through a representation's specgrams and back,
the octave bands, the results table, the card's ceiling column), the preset and pitch balancing a run records, and
how wrong generated notes are wrong."""

import json
import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "zoo"))
import gansynth as zoo_gansynth  # noqa: E402  (bench/zoo/gansynth.py)

from gansynth_tf.specgrams import SpectralConfig  # noqa: E402


def _sawtooth(midi: int, length: int = 16384, total: int = 64000) -> np.ndarray:
    t = np.arange(length) / 16000
    f0 = 440 * 2 ** ((midi - 69) / 12)
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, int(7000 / f0)))
    wave = 0.5 * wave / np.abs(wave).max() * np.exp(-t)
    return np.pad(wave, (0, total - length)).astype(np.float32)


def test_round_trip_gives_the_note_back_in_its_length_and_pads_the_rest():
    notes = np.stack([_sawtooth(69), _sawtooth(57)])
    spectral = SpectralConfig(audio_length=16384, spec_shape=(64, 512), overlap=0.75)
    back = zoo_gansynth.round_trip(notes, spectral, batch_size=1)
    assert back.shape == notes.shape and back.dtype == np.float32
    assert not back[:, 16384:].any()
    for a, b in zip(notes, back):  # the paper's 75 % overlap keeps a harmonic tone's waveform
        assert np.corrcoef(a[2048:14000], b[2048:14000])[0, 1] > 0.9
    # a different representation gives a different (not a copied) wave
    other = zoo_gansynth.round_trip(notes[:1], SpectralConfig(audio_length=16384, spec_shape=(32, 512), overlap=0.5))
    assert np.abs(other[0] - back[0]).max() > 1e-3


def test_pitch_bands_names_the_octaves_that_hold_notes():
    bands = zoo_gansynth.pitch_bands(np.array([24, 35, 36, 60, 84, 84]))
    assert list(bands) == ["24-35", "36-47", "60-71", "84-84"]
    assert bands["24-35"].tolist() == [True, True, False, False, False, False]
    assert bands["84-84"].sum() == 2


def test_ceiling_table_marks_the_shipped_models_representation():
    result = {
        "notes": 3,
        "band_notes": {"24-35": 1, "60-71": 2},
        "audio_length": 16384,
        "date": "2026-12-07",
        "command": "python bench/zoo/gansynth.py --stage ceiling",
        "rows": [
            {"setting": "not encoded", "scores": {"all": 1.0, "24-35": 1.0, "60-71": 1.0}},
            {
                "setting": "32x512, 50 % overlap",
                "frame_length": 1024,
                "frame_step": 512,
                "pixels": 16384,
                "shipped_model": True,
                "scores": {"all": 2 / 3, "24-35": 0.0, "60-71": 1.0},
            },
        ],
    }
    table = zoo_gansynth.ceiling_markdown(result)
    assert "| 32x512, 50 % overlap (the shipped model's) | 1024 / 512 | 16,384 | 66.7 % | 0.0 % | 100.0 % |" in table
    assert "| not encoded | - | - | 100.0 % | 100.0 % | 100.0 % |" in table


def test_card_shows_the_ceiling_column_when_the_manifest_has_it():
    manifest = json.loads((REPO / "models" / zoo_gansynth.NAME / "model.json").read_text())
    with_ceiling = "\n".join(zoo_gansynth._band_lines(manifest))
    bands = manifest["metrics"]["pitch_accuracy_by_band"]
    assert manifest["metrics"]["real_round_trip_pitch_accuracy"] > 0  # the shipped card has its ceiling
    assert "real through the model's specgrams" in with_ceiling
    assert all(f"{100 * b['real_round_trip']:.1f} % |" in with_ceiling for b in bands.values())
    for band in bands.values():
        band.pop("real_round_trip", None)
    manifest["metrics"].pop("real_round_trip_pitch_accuracy", None)
    without = "\n".join(zoo_gansynth._band_lines(manifest))
    assert "real through the model's specgrams" not in without and "| 24-35 |" in without


def test_the_card_names_the_preset_the_run_was_started_with(tmp_path):
    assert zoo_gansynth.run_preset(tmp_path) == "cpu_zoo"  # no record: a run from before the record
    assert zoo_gansynth.PRESET == "cpu_zoo_hf"  # the shipped model's
    (tmp_path / "run_flags.json").write_text(json.dumps({"--preset": "cpu_zoo_hf"}))
    assert zoo_gansynth.run_preset(tmp_path) == "cpu_zoo_hf"


def test_error_intervals_sort_wrong_notes_by_how_far_off_they_are():
    asked = np.array([48, 48, 48, 36, 60, 60, 60, 72])
    named = np.array([48, 36, 24, 48, 61, 59, 67, 72])
    errors = zoo_gansynth.error_intervals(named, asked)
    assert errors == {"wrong": 6, "octaves_below": 2, "octaves_above": 1, "semitone": 2, "other": 1}
    sentence = zoo_gansynth._errors_sentence(errors)
    assert "Of the 6 generated notes" in sentence and "33 % are whole octaves below" in sentence
    assert zoo_gansynth._errors_sentence({"wrong": 0}) == "" and zoo_gansynth._errors_sentence(None) == ""


def test_the_run_records_from_which_step_it_saw_balanced_pitches(tmp_path, monkeypatch):
    from gansynth_tf import train_cli

    calls = []
    monkeypatch.setattr(train_cli, "main", lambda argv: calls.append(argv) or 0)
    balanced = tmp_path / "balanced"
    zoo_gansynth.train_stage(balanced, tmp_path, 100, ["data.balance_pitches=true"], balance_from=0)
    assert zoo_gansynth.balanced_from(balanced, True) == 0
    later = tmp_path / "later"
    zoo_gansynth.train_stage(later, tmp_path, 100, [], balance_from=40)
    assert zoo_gansynth.balanced_from(later, True) == 40
    assert [a[a.index("--model_dir") + 1] for a in calls[-2:]] == [str(later / "run")] * 2  # 40 steps, then 100
    assert "data.balance_pitches=true" in calls[-1] and "data.balance_pitches=true" not in calls[-2]
    never = tmp_path / "never"
    zoo_gansynth.train_stage(never, tmp_path, 100, [], balance_from=0)
    assert zoo_gansynth.balanced_from(never, False) is None
    # a run from before the record: balanced from BALANCE_FROM when its config balances
    assert zoo_gansynth.balanced_from(tmp_path / "old", True) == zoo_gansynth.BALANCE_FROM
    card_line = zoo_gansynth._balance_sentence(0)
    assert card_line.startswith("Every step saw pitch-balanced real notes")


def test_line_note_pitches_and_the_cards_sentence_on_them():
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(program=0)
    piano.notes = [pretty_midi.Note(90, p, 0.6 * i, 0.6 * i + 0.5) for i, p in enumerate((60, 67, 72))]
    midi.instruments.append(piano)
    # a "rendering": sawtooth notes at the MIDI's pitches, the last one an octave low
    wave = np.zeros(int(16000 * 1.8), np.float32)
    for note, played in zip(piano.notes, (60, 67, 60)):
        start = int(note.start * 16000)
        wave[start : start + 8000] = _sawtooth(played, length=8000, total=8000)
    check = zoo_gansynth.line_note_pitches(wave, 16000, midi, piano.notes)
    assert check["midi"] == [60, 67, 72]
    assert check["gansynth"][:2] == [60.0, 67.0] and abs(check["gansynth"][2] - 60.0) <= 0.5
    assert check["gansynth_agreement"]["within_semitone"] == 2 and check["gansynth_agreement"]["octave_low"] == 1
    assert check["fluidsynth_agreement"]["within_semitone"] == 3  # FluidSynth plays what the MIDI says

    text = zoo_gansynth._note_pitch_sentence(check)
    assert "this model's rendering 2 of 3 notes within a semitone" in text and "MIDI 72 heard as 60" in text
    assert "FluidSynth's piano 3 of 3 notes" in text
    # 72 is never heard right anywhere: no claim that the tracker, not the rendering, is wrong
    assert "octave ambiguity" not in text
    heard_right_elsewhere = {**check, "midi": [72, 67, 72], "gansynth": [72.0, 67.0, 60.0]}
    assert "octave ambiguity" in zoo_gansynth._note_pitch_sentence(heard_right_elsewhere)
    assert zoo_gansynth._note_pitch_sentence({}) == ""
