"""nsynth_render: program table, note selection, qualities, and a real tiny render."""

import json
import pathlib
import re

import numpy as np
import pretty_midi
import pytest
import soundfile as sf

from pipelines import nsynth, nsynth_render
from tests.pipelines.conftest import TINY_PITCHES, TINY_PROGRAMS, TINY_VELOCITIES

NOTE_RE = re.compile(
    r"^(?P<family>[a-z_]+?)_(?P<source>acoustic|electronic|synthetic)_(?P<nnn>\d{3})"
    r"-(?P<pitch>\d{3})-(?P<velocity>\d{3})$"
)
SR = nsynth.SAMPLE_RATE


def _rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# --------------------------------------------------------------------------- tables


def test_program_table_covers_all_128_programs():
    programs = nsynth_render.GM_PROGRAMS
    assert [p.program for p in programs] == list(range(128))
    excluded = nsynth_render.excluded_programs()
    assert set(range(96, 104)) | set(range(120, 128)) <= set(excluded)  # sound effects
    assert all(reason for reason in excluded.values())
    for p in programs:
        if p.included:
            assert p.family in nsynth.FAMILY_NAMES and p.source in nsynth.SOURCE_NAMES
            assert 21 <= p.low < p.high <= 108, p
    assert {p.family for p in programs if p.included} == set(nsynth.FAMILY_NAMES)
    assert programs[0].family == "keyboard" and programs[0].low == 21 and programs[0].high == 108
    assert (programs[73].family, programs[73].source) == ("flute", "acoustic")
    assert (programs[38].family, programs[38].source) == ("bass", "synthetic")
    assert programs[58].high < 60 < programs[72].low  # a tuba is low, a piccolo high


def test_instrument_names_are_unique_and_nsynth_shaped():
    notes = nsynth_render.select_notes(velocities=[25])
    names = {n.instrument_str for n in notes}
    assert len(names) == len({n.program for n in notes})
    for n in notes[:500]:
        m = NOTE_RE.match(n.note_str)
        assert m and int(m["pitch"]) == n.pitch and int(m["velocity"]) == 25
        assert m["family"] == n.info.family and m["source"] == n.info.source
    assert nsynth_render.NoteSpec(24, 60, 25).note_str == "guitar_acoustic_000-060-025"
    assert nsynth_render.NoteSpec(25, 40, 127).note_str == "guitar_acoustic_001-040-127"


def test_select_notes_filters_and_orders():
    notes = nsynth_render.select_notes(programs=[73, 0, 120], pitches=range(48, 73), velocities=[127, 25])
    assert {n.program for n in notes} == {0, 73}  # 120 is a sound effect
    assert notes == sorted(notes)
    assert {n.pitch for n in notes if n.program == 73} == set(range(60, 73))  # flute starts at 60
    assert {n.velocity for n in notes} == {25, 127}
    assert len(nsynth_render.select_notes(families=["bass"], sources=["synthetic"], velocities=[25])) == 2 * 49
    assert len(nsynth_render.select_notes(limit=7)) == 7
    assert nsynth_render.select_notes()[:5] == [nsynth_render.NoteSpec(0, 21, v) for v in (25, 50, 75, 100, 127)]
    with pytest.raises(ValueError, match="unknown family"):
        nsynth_render.select_notes(families=["kazoo"])
    with pytest.raises(ValueError, match="velocity 0"):
        nsynth_render.select_notes(velocities=[0])


def test_parse_int_list():
    assert nsynth_render.parse_int_list("48-50,60") == [48, 49, 50, 60]
    assert nsynth_render.parse_int_list("7") == [7]
    with pytest.raises(ValueError):
        nsynth_render.parse_int_list("a-b")


# --------------------------------------------------------------------------- qualities


def _envelope_note(attack_s, decay_per_s, release_per_s, harmonics, pitch=48):
    t = np.arange(64000) / SR
    f0 = pretty_midi.note_number_to_hz(pitch)
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, harmonics + 1))
    env = np.minimum(t / attack_s, 1.0) * np.exp(-decay_per_s * t)
    env = np.where(t < 3.0, env, env * np.exp(-release_per_s * (t - 3.0)))
    return (0.5 * tone / np.max(np.abs(tone)) * env).astype(np.float32)


def _q(x, pitch=48):
    return dict(zip(nsynth.QUALITY_NAMES, nsynth_render.compute_qualities(x, pitch)))


def test_qualities_from_envelope_and_spectrum():
    pluck = _q(_envelope_note(0.002, 8.0, 8.0, harmonics=3))
    assert pluck["percussive"] == 1 and pluck["fast_decay"] == 1 and pluck["long_release"] == 0
    pad = _q(_envelope_note(0.3, 0.0, 1.0, harmonics=1))
    assert pad["percussive"] == 0 and pad["fast_decay"] == 0 and pad["long_release"] == 1
    assert pad["dark"] == 1 and pad["bright"] == 0
    organ = _q(_envelope_note(0.05, 0.0, 60.0, harmonics=1))
    assert organ["long_release"] == 0 and organ["fast_decay"] == 0
    buzz = _q(_envelope_note(0.05, 0.0, 60.0, harmonics=60))
    assert buzz["bright"] == 1 and buzz["dark"] == 0
    for name in ("distortion", "multiphonic", "nonlinear_env", "reverb", "tempo-synced"):
        assert pluck[name] == pad[name] == buzz[name] == 0


# --------------------------------------------------------------------------- rendered set


def test_rendered_files_are_nsynth_wavs(rendered_dir):
    examples = json.loads((rendered_dir / "examples.json").read_text())
    wavs = sorted(p.stem for p in (rendered_dir / "audio").glob("*.wav"))
    assert sorted(examples) == wavs and len(wavs) == 12
    assert {n.note_str for n in nsynth_render.select_notes(TINY_PROGRAMS, TINY_PITCHES, TINY_VELOCITIES)} == set(wavs)
    for name in wavs:
        info = sf.info(str(rendered_dir / "audio" / f"{name}.wav"))
        assert (info.format, info.subtype, info.samplerate, info.frames, info.channels) == (
            "WAV",
            "PCM_16",
            16000,
            64000,
            1,
        )


def test_examples_json_has_every_nsynth_key(rendered_dir, nsynth_sample_dir):
    examples = json.loads((rendered_dir / "examples.json").read_text())
    real = json.loads((nsynth_sample_dir / "examples.json").read_text())
    real_keys = set(next(iter(real.values())))
    for note_str, entry in examples.items():
        assert real_keys == set(nsynth.METADATA_KEYS)
        assert set(entry) == real_keys | {"program", "soundfont", "soundfont_file"}  # NSynth's keys + ours
        assert (entry["soundfont"], entry["soundfont_file"]) == ("timgm6mb", "TimGM6mb.sf2")
        assert entry["program"] == entry["instrument"]  # one SoundFont: instrument = GM program
        for key in real_keys:
            assert type(entry[key]) is type(real["guitar_acoustic_015-060-025"][key]), key
        assert nsynth.validate_metadata(note_str, entry)["note_str"] == note_str
        m = NOTE_RE.match(note_str)
        assert entry["instrument_str"] == note_str[:-8]
        assert (entry["pitch"], entry["velocity"]) == (int(m["pitch"]), int(m["velocity"]))
        assert entry["instrument_family_str"] == m["family"] and entry["instrument_source_str"] == m["source"]
        assert entry["sample_rate"] == 16000 and len(entry["qualities"]) == 10
        assert entry["instrument"] in TINY_PROGRAMS
    assert len({e["note"] for e in examples.values()}) == 12


def test_rendered_pitch_is_the_requested_one(rendered_dir):
    import librosa

    examples = json.loads((rendered_dir / "examples.json").read_text())
    for note_str, entry in examples.items():
        x, _ = sf.read(str(rendered_dir / "audio" / f"{note_str}.wav"), dtype="float32")
        f_ref = librosa.midi_to_hz(entry["pitch"])
        f = np.median(librosa.yin(x[1600:32000], fmin=f_ref / 4, fmax=f_ref * 4, sr=SR, frame_length=2048))
        assert abs(1200 * np.log2(f / f_ref)) < 50, (note_str, f, f_ref)


def test_note_is_held_three_seconds_then_released(rendered_dir):
    for note_str in ("flute_acoustic_001-069-127", "flute_acoustic_001-060-050"):
        x, _ = sf.read(str(rendered_dir / "audio" / f"{note_str}.wav"), dtype="float32")
        held, just_released, end = _rms(x[2 * SR : 3 * SR]), _rms(x[48000:52000]), _rms(x[60000:])
        assert held > 0.05  # a flute sustains while the key is down
        assert just_released < held and end < 0.01 * held
        assert 0.7 < np.max(np.abs(x)) <= 0.9 + 1 / 32768  # peak-normalized like NSynth
    for note_str in ("keyboard_acoustic_000-060-127", "guitar_acoustic_000-069-050"):
        x, _ = sf.read(str(rendered_dir / "audio" / f"{note_str}.wav"), dtype="float32")
        assert _rms(x[60000:]) <= _rms(x[48000:52000])


def _render_cli(output_dir, programs: str, pitches: str, velocities: str, *more: str) -> int:
    """``nsynth_render`` (the command) of a selection into ``output_dir``, one worker, no progress bar."""
    selection = ["--programs", programs, "--pitches", pitches, "--velocities", velocities]
    return nsynth_render.main(["--output_dir", str(output_dir), *selection, *more, "--workers", "1", "--no_progress"])


def test_render_is_deterministic_and_independent_of_selection(rendered_dir, tmp_path):
    notes = nsynth_render.select_notes(TINY_PROGRAMS, TINY_PITCHES, TINY_VELOCITIES)
    nsynth_render.render_dataset(tmp_path / "again", notes, workers=1, progress=False)
    for path in [rendered_dir / "examples.json", *sorted((rendered_dir / "audio").glob("*.wav"))]:
        other = tmp_path / "again" / path.relative_to(rendered_dir)
        assert path.read_bytes() == other.read_bytes(), path.name
    # a smaller selection renders the same notes to the same bytes
    assert _render_cli(tmp_path / "one", "24", "69", "50") == 0
    name = "guitar_acoustic_000-069-050.wav"
    assert (tmp_path / "one" / "audio" / name).read_bytes() == (rendered_dir / "audio" / name).read_bytes()
    assert list(json.loads((tmp_path / "one" / "examples.json").read_text())) == [name[:-4]]


def test_silent_notes_are_skipped_and_counted(tmp_path, capsys):
    assert _render_cli(tmp_path, "0", "60", "50,100", "--gain", "0") == 0
    out = capsys.readouterr().out
    assert "skipped: 2" in out and "keyboard_acoustic_000-060-050: renders silent" in out
    assert json.loads((tmp_path / "examples.json").read_text()) == {}
    assert not list((tmp_path / "audio").glob("*"))


def test_cli_rejects_bad_selection(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        nsynth_render.main(["--output_dir", str(tmp_path), "--families", "kazoo"])
    assert info.value.code == 2 and "unknown family 'kazoo'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        nsynth_render.main(["--output_dir", str(tmp_path), "--programs", "120-127"])  # all sound effects
    assert nsynth_render.main(["--list_programs"]) == 0
    table = capsys.readouterr().out
    assert "excluded: sound effect" in table and "guitar_acoustic_000 pitches 40-83" in table


# --------------------------------------------------------------------------- several SoundFonts

SECOND_SOUNDFONT = "/usr/share/sounds/sf2/sf_GMbank.sf2"  # Debian's csound-soundfont (make system-deps)


def test_instruments_of_several_soundfonts_are_distinct():
    notes = nsynth_render.select_notes([24, 73], [60], [100], soundfonts=[0, 1, 2])
    assert [n.soundfont for n in notes] == [0, 0, 1, 1, 2, 2]
    guitar = [n for n in notes if n.program == 24]
    # the first SoundFont keeps the single-SoundFont names; the others number after it
    # 6 acoustic guitars per SoundFont
    assert [n.instrument_str for n in guitar] == ["guitar_acoustic_000", "guitar_acoustic_006", "guitar_acoustic_012"]
    assert [n.instrument for n in guitar] == [24, 128 + 24, 256 + 24]
    assert len({n.note_id for n in notes}) == len({n.note_str for n in notes}) == 6
    all_notes = nsynth_render.select_notes(velocities=[25], soundfonts=[0, 1])
    per_program = {(n.soundfont, n.program): n.instrument_str for n in all_notes}
    assert len(set(per_program.values())) == len(per_program)  # each (SoundFont, program) is one instrument


def test_split_notes_by_instrument_and_soundfont():
    notes = nsynth_render.select_notes(pitches=range(60, 64), velocities=[50], soundfonts=[0, 1, 2])
    splits = nsynth_render.split_notes(notes, heldout_instrument_fraction=0.2, holdout_soundfont=2, seed=3)
    assert set(splits) == {"train", "valid_instruments", "valid_soundfont"}
    assert sum(map(len, splits.values())) == len(notes)
    instruments = {k: {(n.soundfont, n.program) for n in v} for k, v in splits.items()}
    assert not instruments["train"] & instruments["valid_instruments"]
    assert {sf for sf, _ in instruments["valid_soundfont"]} == {2}
    assert 2 not in {sf for sf, _ in instruments["train"] | instruments["valid_instruments"]}

    def families(split):
        return {n.info.family for n in splits[split]}

    assert families("valid_instruments") == families("train")  # every family held out and trained on
    share = len(instruments["valid_instruments"]) / len(instruments["train"] | instruments["valid_instruments"])
    assert 0.15 < share < 0.3
    assert nsynth_render.split_notes(notes, 0.2, 2, seed=3) == splits  # seeded
    assert nsynth_render.split_notes(notes, 0.2, 2, seed=4) != splits
    assert set(nsynth_render.split_notes(notes)) == {"train"}
    with pytest.raises(ValueError, match="heldout_instrument_fraction"):
        nsynth_render.split_notes(notes, 1.0)


def test_parse_soundfont_names():
    sf = nsynth_render.SoundFont
    assert nsynth_render.parse_soundfont("/x/FluidR3_GM.sf2") == sf("fluidr3_gm", "/x/FluidR3_GM.sf2")
    assert nsynth_render.parse_soundfont("fluid=/x/a.sf2") == nsynth_render.SoundFont("fluid", "/x/a.sf2")
    assert nsynth_render.soundfont_name("MuseScore_General-Full.sf3") == "musescore_general_full"
    with pytest.raises(ValueError, match="either soundfont or soundfonts"):
        nsynth_render.RenderSettings(soundfont="a.sf2", soundfonts=(nsynth_render.SoundFont("a", "a.sf2"),))
    with pytest.raises(ValueError, match="names must differ"):
        nsynth_render.RenderSettings(soundfonts=(nsynth_render.SoundFont("a", "x"), nsynth_render.SoundFont("a", "y")))


@pytest.mark.skipif(
    not pathlib.Path(SECOND_SOUNDFONT).is_file(),
    reason="needs Debian's csound-soundfont (installed by `make test`'s system-deps)",
)
def test_cli_renders_two_real_soundfonts_with_a_held_out_one(tmp_path, capsys):
    from tfmusic.audio import default_soundfont

    out = tmp_path / "two"
    soundfonts = ["--soundfont", default_soundfont(), "--soundfont", f"csound={SECOND_SOUNDFONT}"]
    assert _render_cli(out, "0,24,73", "60", "100", *soundfonts, "--holdout_soundfont", "csound") == 0
    assert "valid_soundfont: rendered: 3" in capsys.readouterr().out
    train = json.loads((out / "train" / "examples.json").read_text())
    held = json.loads((out / "valid_soundfont" / "examples.json").read_text())
    assert {e["soundfont"] for e in train.values()} == {"timgm6mb"}
    assert {e["soundfont"] for e in held.values()} == {"csound"}
    assert {e["soundfont_file"] for e in held.values()} == {"sf_GMbank.sf2"}
    assert sorted(held) == [
        "flute_acoustic_009-060-100",
        "guitar_acoustic_006-060-100",
        "keyboard_acoustic_004-060-100",
    ]
    assert sorted(e["program"] for e in held.values()) == [0, 24, 73]
    assert sorted(e["instrument"] for e in held.values()) == [128, 152, 201]
    for entry in held.values():
        assert nsynth.validate_metadata(entry["note_str"], entry)
    # same program, other SoundFont: other sound
    a, _ = sf.read(str(out / "train" / "audio" / "flute_acoustic_001-060-100.wav"), dtype="float32")
    b, _ = sf.read(str(out / "valid_soundfont" / "audio" / "flute_acoustic_009-060-100.wav"), dtype="float32")
    assert np.max(np.abs(a - b)) > 0.1
    summary = json.loads((out / "splits.json").read_text())
    assert [s["name"] for s in summary["soundfonts"]] == ["timgm6mb", "csound"]
    assert summary["splits"]["valid_soundfont"]["instruments"]["flute_acoustic_009"] == {
        "soundfont": "csound",
        "program": 73,
    }
    # the first SoundFont's notes are byte-identical to a single-SoundFont render
    assert _render_cli(tmp_path / "one", "73", "60", "100") == 0
    name = "flute_acoustic_001-060-100.wav"
    assert (tmp_path / "one" / "audio" / name).read_bytes() == (out / "train" / "audio" / name).read_bytes()
    with pytest.raises(SystemExit):
        nsynth_render.main(["--output_dir", str(out), "--soundfont", SECOND_SOUNDFONT, "--holdout_soundfont", "nope"])
    assert "not among the SoundFonts (sf_gmbank)" in capsys.readouterr().err
