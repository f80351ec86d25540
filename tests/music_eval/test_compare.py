"""`music_eval compare`, the report writer and its tables on short synthetic pieces."""

import json

import numpy as np
import pytest

from music_eval import cli, compare, report
from music_eval.io import REFERENCE_RMS_DBFS, load_piece, piece_from_midi

from ..browser import check_if_chromium
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
    # The same notes, louder: same key/tempo/histograms; MIDI is rendered at the loudness reference,
    # so the RMS ratio is 1 and both read the reference level.
    assert same["key_score"] == 1.0 and same["tempo_ratio"] == pytest.approx(1.0, abs=0.02)
    assert same["pc_js"] == pytest.approx(0.0, abs=1e-9) and same["ioi_js"] == pytest.approx(0.0, abs=1e-9)
    assert same["rms_ratio"] == pytest.approx(1.0, abs=0.01) and same["chroma_cos"] > 0.99
    assert orig["rms_db"] == pytest.approx(REFERENCE_RMS_DBFS, abs=0.05)
    assert same["rms_db"] == pytest.approx(REFERENCE_RMS_DBFS, abs=0.05)
    # Another tune in another key and tempo.
    assert other["tempo_ratio"] == pytest.approx(1.32, rel=0.05)
    assert other["pc_js"] > 0.2 and other["key_score"] < 1.0
    md = c.to_markdown()
    assert md.count("\n|") == 4 and "1 input(s) skipped" in md
    csv_text = c.to_csv()
    assert csv_text.splitlines()[0].startswith("piece,role,source,duration_s,tempo_bpm")


def test_compare_command_writes_everything(pieces, tmp_path, capsys):
    out = tmp_path / "report"
    rc = cli.main(
        ["compare", str(pieces / "original.mid"), str(pieces / "generated"), "--out", str(out), "--no_pitch_range"]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| piece | role |" in printed and str(out / "report.html") in printed
    data = json.loads((out / "comparison.json").read_text())
    assert len(data["rows"]) == 3 and data["original"]["symbolic"]["num_notes"] > 0
    html = (out / "report.html").read_text()
    # Self-contained: plots and audio inline, nothing fetched.
    assert html.count("data:audio/wav;base64,") == 3
    assert html.count("data:image/png;base64,") >= 2 + 3 * 3
    assert 'src="http' not in html and 'href="http' not in html
    assert (out / "comparison.csv").is_file() and (out / "comparison.md").is_file()
    check_if_chromium(out / "report.html", tmp_path / "screenshots")


def test_bad_original_is_a_clear_error(pieces, tmp_path, capsys):
    rc = cli.main(
        [
            "compare",
            str(pieces / "generated" / "corrupt.mid"),
            str(pieces / "original.mid"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert rc == 2 and "corrupt.mid" in capsys.readouterr().err


@pytest.mark.slow
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
    for html in (html_path, path):
        check_if_chromium(html, tmp_path / "screenshots")


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


def test_a_fluidsynth_rendering_of_the_same_midi_has_an_rms_ratio_of_1(pieces, tmp_path):
    """The midi is rendered at the loudness reference, and so is the wav (at 16 kHz, written to disk):
    their energy ratio is 1 (it was 36 when the midi was rendered at FluidSynth's own scale and the
    wav peak-normalised)."""
    import pretty_midi

    from music_eval.io import LOUDNESS_REFERENCE, render_symbolic
    from tfmusic.audio import write_wav

    midi = pretty_midi.PrettyMIDI(str(pieces / "original.mid"))
    wav = tmp_path / "original_fluidsynth.wav"
    write_wav(wav, render_symbolic(midi, 16000), 16000)
    row = compare.compare_files(pieces / "original.mid", [wav], with_pitch_range=False).rows[1]
    assert row["source"] == "audio" and row["rms_ratio"] == pytest.approx(1.0, abs=0.05), row
    # FluidSynth's own scale is far from it: that is what the reference removes
    raw = render_symbolic(midi, 16000, rms_dbfs=None)
    assert not -26 < 20 * np.log10(np.sqrt(np.mean(raw**2))) < -20
    assert f"{REFERENCE_RMS_DBFS:g} dBFS" in LOUDNESS_REFERENCE


def test_glossary_has_every_column_under_its_header():
    from music_eval.gan_eval import GAN_COLUMNS, GAN_GLOSSARY

    verdicts = (
        "higher is better",
        "lower is better",
        "closer to 1 is better",
        "closer to the original is better",
        "closer to the real row is better",
    )
    for columns, glossary in ((compare.COLUMNS, compare.GLOSSARY), (GAN_COLUMNS, GAN_GLOSSARY)):
        headers = [h for _, h, _ in columns]
        assert [h for h, _, _ in glossary] == headers
        for header, meaning, better in glossary:
            assert meaning, header
            assert better.startswith(verdicts) or better in ("a label, not a score", "a setting, not a score"), header
    scored = [h for h, _, b in compare.GLOSSARY if "not a score" not in b]
    assert len(scored) == len(compare.COLUMNS) - 3  # all but piece, role, source
    assert set(compare.COLUMN_HELP) == {h for _, h, _ in compare.COLUMNS}
    md = compare.glossary_markdown()
    for header, _, better in compare.GLOSSARY:
        assert f"**{header}**" in md and better.capitalize() in md


def test_report_rows_named_by_model_and_role_table_scrolls(pieces, tmp_path):
    names = {
        str(pieces / "original.mid"): "Bach-like waltz (original)",
        str(pieces / "generated" / "other_tune.mid"): "Melody RNN (melody_rnn_attention) continuation",
        str(pieces / "generated" / "same_tune_louder.mid"): "Music Transformer (transformer_chorales) continuation",
    }
    path = report.write_report(pieces / "original.mid", [pieces / "generated"], tmp_path / "named", names=names)
    data = json.loads((tmp_path / "named" / "comparison.json").read_text())
    assert [r["piece"] for r in data["rows"]] == [
        names[str(pieces / "original.mid")],
        "Melody RNN (melody_rnn_attention) continuation",
        "Music Transformer (transformer_chorales) continuation",
    ]
    assert data["generated"][0]["path"].endswith("other_tune.mid") and "loudness_reference" in data
    page = open(path, encoding="utf-8").read()
    assert "overflow-x:auto" in page
    assert page.count("<table") == page.count("<div class='scroll'><table")  # every table scrolls in its box
    assert "generated: Melody RNN (melody_rnn_attention) continuation</h2>" in page
    assert "Loudness reference: MIDI is rendered by FluidSynth" in page
    for header, _, better in compare.GLOSSARY:
        assert f"<td><b>{header}</b></td>" in page.replace("&amp;", "&") and better in page, header
    md = (tmp_path / "named" / "comparison.md").read_text()
    assert "Melody RNN (melody_rnn_attention) continuation" in md and "**chroma DTW cos**" in md
    # a file not in names keeps its file name; in-memory pieces keep theirs
    path = report.write_report(
        pieces / "original.mid",
        [pieces / "generated" / "other_tune.mid", piece_from_midi(march(), "march")],
        tmp_path / "mixed",
        names={pieces / "generated" / "other_tune.mid": "model X continuation"},
    )
    rows = json.loads((tmp_path / "mixed" / "comparison.json").read_text())["rows"]
    assert [r["piece"] for r in rows] == ["original.mid", "model X continuation", "march"]


def test_legends_sit_outside_the_axes():
    from music_eval import plots

    t = np.linspace(0, 10, 50)
    figures = [
        plots.tempo_curves({"a": (t, 100 + t), "b": (t, 90 + t)}),
        plots.histogram_bars({"a": np.ones(12), "b": np.arange(12)}, list("CcDdEFfGgAaB")),
        plots.ndb_bins(np.full(4, 0.25), np.array([0.1, 0.2, 0.3, 0.4]), np.array([1, 0, 0, 1], bool)),
    ]
    for fig in figures:
        fig.canvas.draw()
        ax = fig.axes[0]
        legend = ax.get_legend().get_window_extent()
        assert legend.x0 >= ax.get_window_extent().x1, "the legend overlaps the plot"
        assert plots.figure_to_png(fig)[:4] == b"\x89PNG"


@pytest.mark.slow
def test_reports_in_headless_chromium(pieces, tmp_path):
    """Both reports in a 1024 px wide Chromium window: nothing wider than the page (the 21-column table
    scrolls in its box), no errors, every image shown and every player decodable; screenshots saved."""
    from music_eval import gan_eval, gan_metrics
    from music_eval.classifier import NSynthArrays

    from ..browser import assert_report_reads_well, require_chromium

    require_chromium()
    long = "Music Transformer (transformer_chorales) continuation 2, GANSynth (gansynth_run), interpolated timbre"
    names = {str(pieces / "generated" / "other_tune.mid"): long}
    comparison = report.write_report(
        pieces / "original.mid", [pieces / "generated"], tmp_path / "comparison", names=names
    )
    r = assert_report_reads_well(comparison, tmp_path / "screenshots")
    assert r["audio"] == 3 and r["images"] >= 2 + 3 * 3 and r["tables"] == 2

    rng = np.random.default_rng(0)
    k = 6
    ndb = gan_metrics.NDBResult(
        2, k, np.array([1, 0, 0, 1, 0, 0], bool), np.full(k, 1 / k), rng.dirichlet(np.ones(k)), rng.uniform(size=k)
    )
    rows = [
        {
            "set": "real",
            "num_notes": 8,
            "ndb": 0,
            "ndb_over_k": 0.0,
            "k": k,
            "fid": 1.0,
            "inception_score": 5.0,
            "pitch_accuracy": 0.9,
            "pitch_entropy": 0.3,
            "pitch_hist_entropy": 2.0,
        },
        {
            "set": "generated",
            "num_notes": 8,
            "ndb": 2,
            "ndb_over_k": 2 / k,
            "k": k,
            "fid": 30.0,
            "inception_score": 3.0,
            "pitch_accuracy": 0.5,
            "pitch_entropy": 0.9,
            "pitch_hist_entropy": 1.5,
        },
    ]
    t = np.arange(64000) / 16000.0
    notes = NSynthArrays(
        np.stack([0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-t)] * 2).astype(np.float32),
        np.array([69, 69]),
        ["a_440_1", "a_440_2"],
    )
    gan = report.write_gan_report(gan_eval.GanEvaluation(rows, ndb), tmp_path / "gan", notes, notes, num_audio=2)
    r = assert_report_reads_well(gan, tmp_path / "screenshots")
    assert r["audio"] == 4 and r["images"] == 1
