"""Self-contained HTML reports (plots as inline PNG, audio as inline WAV; no external files).

* :func:`write_report` — the comparison of an original with generated pieces: Markdown, CSV and
  JSON tables plus ``report.html`` with the table (scrolling sideways inside the page when wide),
  the glossary of every column (which way is better) and the loudness reference, tempo curves and
  pitch-class histograms of all pieces, and per piece an audio player (FluidSynth rendering for
  MIDI), piano roll (MIDI), chromagram and mel spectrogram. Rows are named by ``names`` (model and
  role) where the caller gives them. This is the function ``make demo`` calls.
* :func:`write_gan_report` — GANSynth's metrics table with NDB cell plot and a few audio examples.
"""

from __future__ import annotations

import base64
import html
import io
import os
from typing import Mapping, Optional, Sequence

import numpy as np

from music_eval import compare as compare_lib
from music_eval import plots
from music_eval.theory import PITCH_CLASS_NAMES

AUDIO_SECONDS = 30.0  # embedded audio is cut to this length
AUDIO_RATE = 16000

_STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;max-width:1200px;color:#222}
h1,h2,p,li,dd{overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%;margin:1em 0}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
table.glossary td,table.glossary th{text-align:left;white-space:normal}
img{max-width:100%;height:auto;display:block;margin:0.4em 0}
audio{max-width:100%}
.piece{border-top:2px solid #ddd;margin-top:1.5em;padding-top:0.5em}
.note{color:#666;font-size:12px}
"""


def _png_tag(fig, alt: str) -> str:
    data = base64.b64encode(plots.figure_to_png(fig)).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"/>'


def audio_tag(audio: np.ndarray, sample_rate: int, max_seconds: float = AUDIO_SECONDS) -> str:
    """An ``<audio>`` element holding the audio as a base64 16-bit WAV (resampled to 16 kHz, cut to
    ``max_seconds``, peak-normalized to 0.9), so every player of a report plays at one loudness: a MIDI
    piece's FluidSynth rendering (peak about 0.02 on FluidSynth's own scale) sits beside generated wavs
    (peak about 0.9). The tables analyse the audio as it is; only the players are normalized."""
    import soundfile as sf

    from tfmusic.audio import resample

    y = np.asarray(audio, np.float32)[: int(max_seconds * sample_rate)]
    if sample_rate != AUDIO_RATE:
        y = resample(y, sample_rate, AUDIO_RATE)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0.0:
        y = y * (0.9 / peak)
    buf = io.BytesIO()
    sf.write(buf, y, AUDIO_RATE, format="WAV", subtype="PCM_16")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<audio controls preload="none" src="data:audio/wav;base64,{data}"></audio>'


def _fmt(v, f):
    return compare_lib._fmt(v, f)


def html_table(rows: Sequence[dict], columns) -> str:
    """An HTML table of ``rows`` over ``columns`` (``(key, header, format)`` triples), inside a
    ``div.scroll`` that scrolls horizontally when the table is wider than the page."""
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in columns)
    body = []
    for r in rows:
        body.append("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(k), f))}</td>" for k, _, f in columns) + "</tr>")
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def glossary_html(glossary) -> str:
    """The glossary ``(header, meaning, which way is better)`` as a table, one row per column."""
    rows = "".join(
        f"<tr><td><b>{html.escape(h)}</b></td><td>{html.escape(text)}</td><td>{html.escape(better)}</td></tr>"
        for h, text, better in glossary
    )
    return (
        "<div class='scroll'><table class='glossary'><thead><tr><th>column</th><th>meaning</th>"
        f"<th>better</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _unique_labels(analyses) -> list:
    """Display names, made unique (plots key their legends by name)."""
    seen: dict = {}
    out = []
    for a in analyses:
        name = a.piece.name
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def comparison_html(comparison: compare_lib.Comparison, title: str = "music_eval comparison") -> str:
    """The full HTML page of a comparison (see the module docstring)."""
    from music_eval.io import LOUDNESS_REFERENCE

    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
    ]
    parts.append(html_table(comparison.rows, compare_lib.COLUMNS))
    parts.append(f"<p class='note'>Loudness reference: {html.escape(LOUDNESS_REFERENCE)}</p>")
    parts.append("<h2>Columns</h2>" + glossary_html(compare_lib.GLOSSARY))
    if comparison.skipped:
        parts.append(
            f"<p class='note'>{len(comparison.skipped)} input(s) skipped: "
            + "; ".join(html.escape(f"{p} ({w})") for p, w in comparison.skipped)
            + "</p>"
        )
    analyses = [comparison.original] + list(comparison.generated)
    labels = _unique_labels(analyses)
    curves = {label: (a.audio.tempo_times, a.audio.tempo_bpm_curve) for label, a in zip(labels, analyses)}
    parts.append("<h2>Tempo curves</h2>" + _png_tag(plots.tempo_curves(curves, "local tempo (librosa)"), "tempo"))
    hists = {label: a.pitch_class_hist for label, a in zip(labels, analyses)}
    parts.append(
        "<h2>Pitch-class histograms</h2>"
        + _png_tag(plots.histogram_bars(hists, PITCH_CLASS_NAMES, "pitch classes"), "pitch classes")
    )
    roles = ["original"] + ["generated"] * len(comparison.generated)
    for role, a, label in zip(roles, analyses, labels):
        parts.append(f"<div class='piece'><h2>{html.escape(role)}: {html.escape(label)}</h2>")
        if a.piece.path and os.path.basename(a.piece.path) != label:
            parts.append(f"<p class='note'>file: {html.escape(a.piece.path)}</p>")
        src = "FluidSynth rendering of the MIDI at the loudness reference" if a.piece.rendered else "the audio file"
        parts.append(
            f"<p class='note'>{html.escape(src)}, first {AUDIO_SECONDS:.0f} s, peak-normalized for listening</p>"
        )
        parts.append(audio_tag(a.piece.audio, a.piece.sample_rate))
        if a.piece.midi is not None:
            parts.append(_png_tag(plots.piano_roll(a.piece.midi, f"piano roll: {label}"), "piano roll"))
        parts.append(
            _png_tag(plots.chromagram(a.audio.chroma, a.piece.sample_rate, title=f"chroma: {label}"), "chroma")
        )
        parts.append(
            _png_tag(
                plots.mel_spectrogram(a.piece.audio, a.piece.sample_rate, f"mel spectrogram: {label}"), "spectrogram"
            )
        )
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def write_comparison_report(comparison: compare_lib.Comparison, out_dir, title: str = "music_eval comparison") -> str:
    """Writes tables (md, csv, json) and ``report.html`` for a comparison; returns the HTML path."""
    os.makedirs(out_dir, exist_ok=True)
    compare_lib.write_tables(comparison, out_dir)
    path = os.path.join(os.fspath(out_dir), "report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(comparison_html(comparison, title))
    return path


def write_report(
    original,
    generated,
    out_dir,
    max_seconds: Optional[float] = 120.0,
    title: str = "music_eval comparison",
    names: Optional[Mapping] = None,
) -> str:
    """Compares an original piece with generated ones and writes the report; returns the HTML path.

    Args:
      original: a MIDI / MusicXML / audio file path, or a :class:`music_eval.io.Piece`.
      generated: a path, a folder, a Piece, or a list of them (bad files are skipped and listed).
      out_dir: folder for ``report.html``, ``comparison.md``, ``comparison.csv``, ``comparison.json``.
      max_seconds: analyze at most this much of each piece.
      title: page title.
      names: ``{path: display name}``: rows named by model and role (e.g. "Melody RNN
        (melody_rnn_attention) continuation") instead of file names; paths not in it keep their
        file names, Pieces their ``name``.

    Returns:
      path of ``report.html``.
    """
    from music_eval.io import Piece, load_piece

    def load(path):
        piece = load_piece(path, max_seconds=max_seconds)
        piece.name = compare_lib.display_name(path, names) or piece.name
        return piece

    gens = generated if isinstance(generated, (list, tuple)) else [generated]
    if isinstance(original, Piece) and all(isinstance(g, Piece) for g in gens):
        comparison = compare_lib.compare_pieces(original, gens)
    elif not isinstance(original, Piece) and not any(isinstance(g, Piece) for g in gens):
        comparison = compare_lib.compare_files(original, gens, max_seconds=max_seconds, names=names)
    else:
        orig = original if isinstance(original, Piece) else load(original)
        pieces = [g if isinstance(g, Piece) else load(g) for g in gens]
        comparison = compare_lib.compare_pieces(orig, pieces)
    return write_comparison_report(comparison, out_dir, title)


def write_gan_report(
    evaluation, out_dir, real=None, generated=None, num_audio: int = 4, title: str = "GANSynth metrics"
) -> str:
    """Writes the GAN metrics tables and ``gan_report.html`` (table, NDB cells, audio examples).

    Args:
      evaluation: a :class:`music_eval.gan_eval.GanEvaluation`.
      out_dir: output folder. real, generated: optional ``NSynthArrays`` for audio examples.
      num_audio: examples of each set to embed.

    Returns:
      path of ``gan_report.html``.
    """
    from music_eval.gan_eval import GAN_COLUMNS, GAN_GLOSSARY, PAPER_ROWS, write_gan_tables

    write_gan_tables(evaluation, out_dir)
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        html_table(list(evaluation.rows) + list(PAPER_ROWS), GAN_COLUMNS),
        "<h2>Columns</h2>" + glossary_html(GAN_GLOSSARY),
        "<p class='note'>NDB: k-means cells on real log-mel spectrograms, two-proportion z-test per cell "
        "(alpha 0.05). FID on the pitch classifier's penultimate layer. IS = exp E[KL(p(y|x)||p(y))]. "
        "PA: arg-max pitch = requested pitch. PE: mean entropy (nats) of p(y|x). Real row: FID and NDB "
        "between two halves of the real notes. Paper rows: GANSynth Table 1, other data and classifier, "
        "for orientation only.</p>",
    ]
    nd = evaluation.ndb
    parts.append(_png_tag(plots.ndb_bins(nd.real_proportions, nd.generated_proportions, nd.different), "NDB"))
    for label, arrays in (("real", real), ("generated", generated)):
        if arrays is None:
            continue
        parts.append(f"<h2>{label} examples</h2>")
        for i in range(min(num_audio, len(arrays))):
            pitch = int(arrays.pitches[i])
            parts.append(
                f"<p>{html.escape(arrays.names[i])} (pitch {pitch if pitch >= 0 else '?'})</p>"
                + audio_tag(arrays.audio[i], 16000)
            )
    parts.append("</body></html>")
    path = os.path.join(os.fspath(out_dir), "gan_report.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(parts))
    return path
