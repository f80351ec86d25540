"""Fixtures for the pipeline tests: a tiny rendered NSynth set and a folder of good and bad notes."""

import json
import pathlib
import shutil

import numpy as np
import pytest
import soundfile as sf

from pipelines import nsynth_render

# 3 programs (piano, nylon guitar, flute) x 2 pitches x 2 velocities = 12 notes.
TINY_PROGRAMS = (0, 24, 73)
TINY_PITCHES = (60, 69)
TINY_VELOCITIES = (50, 127)

# The bad notes of the mixed folder, and a word their skip reason must contain.
BAD_NOTES = {
    "corrupt": "not a readable audio file",
    "missing": "file not found",
    "no_pitch_key": "missing key(s) pitch",
    "velocity_as_string": "velocity must be an integer",
    "short_wav": "has 32000 samples, expected 64000",
    "wrong_rate": "sample rate is 22050 Hz, expected 16000 Hz",
    "qualities_too_short": "qualities must be a list of 10",
}


@pytest.fixture(scope="session")
def rendered_dir(tmp_path_factory) -> pathlib.Path:
    """12 notes rendered with pretty_midi's SoundFont, using 2 worker processes."""
    out = tmp_path_factory.mktemp("rendered")
    notes = nsynth_render.select_notes(TINY_PROGRAMS, TINY_PITCHES, TINY_VELOCITIES)
    counters = nsynth_render.render_dataset(out, notes, workers=2, progress=False)
    assert counters.get("rendered") == 12, counters.summary()
    return out


def _copy_notes(src: pathlib.Path, dst: pathlib.Path, examples: dict) -> None:
    for note_str, entry in json.loads((src / "examples.json").read_text()).items():
        examples[note_str] = entry
        shutil.copy(src / "audio" / f"{note_str}.wav", dst / "audio" / f"{note_str}.wav")


def _bad_note(examples, dst, template_name, name):
    entry = dict(examples[template_name])
    note_str = f"{name}_000-060-050"
    entry["note_str"] = note_str
    examples[note_str] = entry
    shutil.copy(dst / "audio" / f"{template_name}.wav", dst / "audio" / f"{note_str}.wav")
    return note_str, entry, dst / "audio" / f"{note_str}.wav"


@pytest.fixture(scope="session")
def mixed_dir(tmp_path_factory, nsynth_sample_dir, rendered_dir):
    """The real sample + the rendered notes + one note per case of ``BAD_NOTES``.

    Returns:
      (folder, {bad note_str: expected reason fragment}).
    """
    out = tmp_path_factory.mktemp("mixed")
    (out / "audio").mkdir()
    examples = {}
    _copy_notes(nsynth_sample_dir, out, examples)
    _copy_notes(rendered_dir, out, examples)
    template = "guitar_acoustic_015-060-025"
    expected = {}
    for case, reason in BAD_NOTES.items():
        note_str, entry, wav = _bad_note(examples, out, template, case)
        expected[note_str] = reason
        if case == "corrupt":
            wav.write_bytes(b"RIFF\x00\x00\x00\x00not really a wav file" * 10)
        elif case == "missing":
            wav.unlink()
        elif case == "no_pitch_key":
            del entry["pitch"]
        elif case == "velocity_as_string":
            entry["velocity"] = "50"
        elif case == "short_wav":
            sf.write(wav, np.zeros(32000, np.int16), 16000, subtype="PCM_16")
        elif case == "wrong_rate":
            sf.write(wav, np.zeros(64000, np.int16), 22050, subtype="PCM_16")
        elif case == "qualities_too_short":
            entry["qualities"] = entry["qualities"][:9]
    (out / "examples.json").write_text(json.dumps(examples, indent=1, sort_keys=True))
    return out, expected
