"""The demo's stage 0 plays each zoo family through its real command (here: GANSynth, the one the zoo got last)."""

import pathlib
import sys

import numpy as np
import soundfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "demo"))
import zoo_stage  # noqa: E402  (demo/zoo_stage.py)


def test_zoo_gansynth_notes_and_chorale_line(tmp_path):
    from tfmusic import zoo

    name = zoo.DEFAULTS["gansynth"]
    lines = []
    wavs = zoo_stage._gansynth(name, tmp_path, lines.append)
    names = sorted(pathlib.Path(w).name for w in wavs)
    assert "bwv66.6_top_line.wav" in names and len(names) == 6, names  # 5 notes (C2-C6) + the line
    audio, rate = soundfile.read(str(tmp_path / "gansynth" / "bwv66.6_top_line.wav"))
    assert rate == 16000 and len(audio) > 8 * rate and np.abs(audio).max() > 0.01
    assert lines and name in lines[0]
