"""`music_eval compare`, the report writer and its tables on short synthetic pieces."""
import json

import pytest

from music_eval import cli, compare, report
from music_eval.io import load_piece, piece_from_midi

from .helpers import march, waltz


@pytest.fixture(scope="module")
def pieces(tmp_path_factory):
    d = tmp_path_factory.mktemp("pieces")
    waltz(bpm=100, bars=8).write(str(d / "original.mid"))
    gen = d / "generated"
    gen.mkdir()
    loud = waltz(bpm=100, bars=8, velocity=127)
    loud.write(str(gen / "same_tune_louder.mid"))
    march(bpm=132, bars=6, transpose=2).write(str(gen / "other_tune.mid"))
    (gen / "corrupt.mid").write_bytes(b"MThd garbage")
    (gen / "readme.txt").write_text("not music")
    return d


def test_compare_rows(pieces):
    c = compare.compare_files(pieces / "original.mid", [pieces / "generated"], with_pitch_range=False)
    assert [r["piece"] for r in c.rows] == ["original.mid", "other_tune.mid", "same_tune_louder.mid"]
    assert [p for p, _ in c.skipped] == [str(pieces / "generated" / "corrupt.mid")]
    orig, other, same = c.rows
    assert orig["meter"] == 3 and orig["key"] == "C major" and orig["tempo_bpm"] == pytest.approx(100, rel=0.04)
    # The same notes, louder: same key/tempo/histograms, RMS ratio above 1.
    assert same["key_score"] == 1.0 and same["tempo_ratio"] == pytest.approx(1.0, abs=0.02)
    assert same["pc_js"] == pytest.approx(0.0, abs=1e-9) and same["ioi_js"] == pytest.approx(0.0, abs=1e-9)
    assert same["rms_ratio"] > 1.2 and same["chroma_cos"] > 0.99
    # Another tune in another key and tempo.
    assert other["tempo_ratio"] == pytest.approx(1.32, rel=0.05)
    assert other["pc_js"] > 0.2 and other["key_score"] < 1.0
    md = c.to_markdown()
    assert md.count("\n|") == 4 and "1 input(s) skipped" in md
    csv_text = c.to_csv()
    assert csv_text.splitlines()[0].startswith("piece,role,source,duration_s,tempo_bpm")


def test_compare_command_writes_everything(pieces, tmp_path, capsys):
    out = tmp_path / "report"
    rc = cli.main(["compare", str(pieces / "original.mid"), str(pieces / "generated"), "--out", str(out),
                   "--no_pitch_range"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| piece | role |" in printed and str(out / "report.html") in printed
    data = json.loads((out / "comparison.json").read_text())
    assert len(data["rows"]) == 3 and data["original"]["symbolic"]["num_notes"] > 0
    html = (out / "report.html").read_text()
    # Self-contained: plots and audio inline, nothing fetched.
    assert html.count("data:audio/wav;base64,") == 3
    assert html.count("data:image/png;base64,") >= 2 + 3 * 3
    assert "src=\"http" not in html and "href=\"http" not in html
    assert (out / "comparison.csv").is_file() and (out / "comparison.md").is_file()


def test_bad_original_is_a_clear_error(pieces, tmp_path, capsys):
    rc = cli.main(["compare", str(pieces / "generated" / "corrupt.mid"), str(pieces / "original.mid"),
                   "--out", str(tmp_path / "o")])
    assert rc == 2 and "corrupt.mid" in capsys.readouterr().err


def test_write_report_with_audio_and_pieces(pieces, tmp_path):
    from tfmusic.audio import write_wav

    orig = load_piece(pieces / "original.mid")
    wav = tmp_path / "rendered.wav"
    write_wav(wav, orig.audio * 0.5, orig.sample_rate)
    html_path = report.write_report(pieces / "original.mid", [wav], tmp_path / "r1")
    rows = json.loads((tmp_path / "r1" / "comparison.json").read_text())["rows"]
    assert rows[1]["source"] == "audio" and rows[1]["rms_ratio"] == pytest.approx(0.5, rel=0.02)
    assert rows[1]["chroma_dtw"] > 0.95
    assert html_path.endswith("report.html")
    # In-memory pieces work too (what the demo and notebook pass).
    path = report.write_report(orig, [piece_from_midi(march(), "march")], tmp_path / "r2")
    assert "march" in open(path, encoding="utf-8").read()


def test_report_players_share_one_loudness():
    """A quiet FluidSynth rendering (peak 0.02) and a loud wav (peak 0.9) play at the same peak."""
    import base64
    import io as _io
    import re

    import numpy as np
    import soundfile as sf

    t = np.arange(16000) / 16000.0
    peaks = []
    for scale in (0.02, 0.9):
        tag = report.audio_tag((scale * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 16000)
        data = base64.b64decode(re.search(r'base64,([^"]+)"', tag).group(1))
        y, _ = sf.read(_io.BytesIO(data))
        peaks.append(float(np.abs(y).max()))
    assert peaks[0] == pytest.approx(0.9, abs=1e-3) and peaks[1] == pytest.approx(0.9, abs=1e-3)
    silent = report.audio_tag(np.zeros(1600, np.float32), 16000)  # silence stays silence, no division by 0
    assert "base64," in silent
