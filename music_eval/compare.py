"""MIR comparison of an original piece with one or more generated ones.

Every piece gets audio statistics (MIDI is rendered with FluidSynth first, so loudness, chroma and
beat tracking compare like with like) and, when it is MIDI or MusicXML, symbolic statistics.
A table row per piece (:data:`COLUMNS`) takes the symbolic value where the piece has notes
(tempo and meter from onsets, key from note durations, pitch range from notes) and the audio value
otherwise; the ``source`` column says which. Comparisons with the original (ratios, key score,
histogram distances, chroma similarity) are on the generated rows. MIDI is rendered at a fixed
loudness (:data:`music_eval.io.LOUDNESS_REFERENCE`), so energy ratios compare like with like, and
:data:`GLOSSARY` explains every column under its header and says which way is better.
"""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import json
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from music_eval import features_audio as fa
from music_eval import features_symbolic as fs
from music_eval import theory
from music_eval.io import MusicFileError, Piece, expand_inputs, load_piece

# (key, header, format) of the table columns, in order.
COLUMNS: Tuple[Tuple[str, str, str], ...] = (
    ("piece", "piece", "{}"),
    ("role", "role", "{}"),
    ("source", "source", "{}"),
    ("duration_s", "duration (s)", "{:.1f}"),
    ("tempo_bpm", "tempo (BPM)", "{:.1f}"),
    ("tempo_ratio", "tempo ratio", "{:.2f}"),
    ("meter", "beats/bar", "{}"),
    ("key", "key", "{}"),
    ("key_score", "key score", "{:.2f}"),
    ("in_scale", "in scale", "{:.0%}"),
    ("rms_db", "RMS (dBFS)", "{:.1f}"),
    ("rms_ratio", "RMS ratio", "{:.2f}"),
    ("loudness_dba", "loudness (dBA FS)", "{:.1f}"),
    ("pitch_range", "pitch range", "{}"),
    ("onset_density", "onsets/s", "{:.2f}"),
    ("note_density", "notes/s", "{:.2f}"),
    ("polyphony", "polyphony", "{:.2f}"),
    ("pc_js", "PC-hist JS", "{:.3f}"),
    ("ioi_js", "IOI-hist JS", "{:.3f}"),
    ("chroma_cos", "chroma cos", "{:.3f}"),
    ("chroma_dtw", "chroma DTW cos", "{:.3f}"),
)

# The glossary: (header, meaning, which way is better), one entry per column of COLUMNS, under the
# column's header exactly. "better" reads against the original: for the descriptive statistics a
# generated piece is better the closer it is to the original's value.
CLOSER_TO_ORIGINAL = "closer to the original is better"
CLOSER_TO_1 = "closer to 1 is better"
HIGHER = "higher is better"
LOWER = "lower is better"
LABEL = "a label, not a score"
GLOSSARY: Tuple[Tuple[str, str, str], ...] = (
    ("piece", "the piece: the model and role that made it where the caller names it, else the file name", LABEL),
    ("role", "original (the reference every other row is compared with) or generated", LABEL),
    (
        "source",
        "where the row's statistics come from: midi (the notes; audio only for energy, loudness and "
        "chroma) or audio (the sound)",
        LABEL,
    ),
    ("duration (s)", "length of the analysed audio in seconds (at most the analysis limit)", CLOSER_TO_ORIGINAL),
    (
        "tempo (BPM)",
        "tempo in beats per minute: from note onsets (midi) or librosa's beat tracker (audio)",
        CLOSER_TO_ORIGINAL,
    ),
    ("tempo ratio", "generated tempo / original tempo", CLOSER_TO_1),
    ("beats/bar", "estimated beats per bar (meter) from accent patterns", CLOSER_TO_ORIGINAL),
    ("key", "Krumhansl-Schmuckler key estimate (note durations, or mean chroma for audio)", CLOSER_TO_ORIGINAL),
    (
        "key score",
        "MIREX weighted key score against the original's key (mir_eval): 1 same key, 0.5 a fifth "
        "away, 0.3 relative, 0.2 parallel, 0 unrelated",
        HIGHER,
    ),
    ("in scale", "share of note duration (or chroma energy) inside the piece's own key's scale", CLOSER_TO_ORIGINAL),
    (
        "RMS (dBFS)",
        "mean frame RMS in dB re full scale; MIDI is rendered at the loudness reference, so MIDI "
        "rows read the reference",
        CLOSER_TO_ORIGINAL,
    ),
    (
        "RMS ratio",
        "generated mean frame RMS / original mean frame RMS, both loudness-matched (MIDI rendered at "
        "the reference); 1 for a rendering of the same MIDI",
        CLOSER_TO_1,
    ),
    ("loudness (dBA FS)", "A-weighted mean power in dB re full scale (uncalibrated)", CLOSER_TO_ORIGINAL),
    (
        "pitch range",
        "lowest-highest MIDI pitch and the span in semitones (notes), or pYIN f0 5th-95th percentile (audio)",
        CLOSER_TO_ORIGINAL,
    ),
    ("onsets/s", "distinct note onsets per second", CLOSER_TO_ORIGINAL),
    ("notes/s", "notes per second (MIDI only)", CLOSER_TO_ORIGINAL),
    ("polyphony", "mean number of sounding notes while any sounds (MIDI only)", CLOSER_TO_ORIGINAL),
    ("PC-hist JS", "Jensen-Shannon distance (0..1) of the pitch-class histogram to the original's", LOWER),
    (
        "IOI-hist JS",
        "Jensen-Shannon distance (0..1) of the inter-onset-interval histogram (in beats) to the original's",
        LOWER,
    ),
    ("chroma cos", "cosine similarity (0..1) of the mean chroma vector with the original's", HIGHER),
    (
        "chroma DTW cos",
        "mean frame cosine similarity (0..1) of chroma with the original's along a DTW alignment",
        HIGHER,
    ),
)
# header -> "meaning (which way is better)"
COLUMN_HELP: Dict[str, str] = {h: f"{text} ({better})" for h, text, better in GLOSSARY}


def glossary_markdown() -> str:
    """The glossary as a Markdown list: every column under its header, and which way is better."""
    from music_eval.io import LOUDNESS_REFERENCE

    lines = [f"Loudness reference: {LOUDNESS_REFERENCE}", ""]
    lines += [f"- **{h}**: {text}. *{better.capitalize()}.*" for h, text, better in GLOSSARY]
    return "\n".join(lines)


class _Preferred:
    """A :class:`PieceAnalysis` value read from its symbolic features where the piece has notes, else from
    its audio features (the field ``audio``, default the same name)."""

    def __init__(self, doc: str, audio: Optional[str] = None):
        self.__doc__ = doc
        self.audio = audio

    def __set_name__(self, owner, name: str):
        self.name = name

    def __get__(self, analysis, owner=None):
        if analysis is None:
            return self
        if analysis.symbolic:
            return getattr(analysis.symbolic, self.name)
        return getattr(analysis.audio, self.audio or self.name)


@dataclasses.dataclass
class PieceAnalysis:
    """A piece and its statistics.

    Attributes:
      piece: the :class:`music_eval.io.Piece`. audio: :class:`features_audio.AudioFeatures`.
      symbolic: :class:`features_symbolic.SymbolicFeatures` for MIDI/MusicXML, else None.
    """

    piece: Piece
    audio: fa.AudioFeatures
    symbolic: Optional[fs.SymbolicFeatures] = None

    # Preferred values (symbolic where there are notes).
    tempo_bpm = _Preferred("Tempo in BPM (from note onsets for MIDI, beat tracking for audio).")
    meter = _Preferred("Beats per bar estimate (:class:`theory.MeterEstimate`).")
    key = _Preferred(
        "Krumhansl-Schmuckler key (note durations for MIDI, chroma for audio; :class:`theory.KeyEstimate`)."
    )
    pitch_class_hist = _Preferred("``[12]`` pitch-class weights (note durations, or mean chroma).", audio="mean_chroma")
    ioi_hist = _Preferred("``[15]`` inter-onset-interval counts in beats.")

    @property
    def onset_density(self) -> float:
        """Distinct onsets per second."""
        if self.symbolic:
            return float(len(fs.onset_times(self.piece.midi)) / max(self.symbolic.duration_s, 1e-9))
        return self.audio.onset_density


def analyze_piece(piece: Piece, with_pitch_range: bool = True) -> PieceAnalysis:
    """Audio (and, for MIDI, symbolic) statistics of a piece.

    Args:
      piece: from :func:`music_eval.io.load_piece` or ``piece_from_midi`` / ``piece_from_audio``.
      with_pitch_range: run pYIN for audio-only pieces (slow; MIDI pieces use their notes).
    """
    sym = fs.symbolic_features(piece.midi) if piece.midi is not None else None
    aud = fa.audio_features(piece.audio, piece.sample_rate, with_pitch_range=with_pitch_range and sym is None)
    return PieceAnalysis(piece, aud, sym)


def _nan() -> float:
    return float("nan")


def piece_row(a: PieceAnalysis, original: Optional[PieceAnalysis] = None, role: str = "generated") -> dict:
    """One table row (keys of :data:`COLUMNS`) for ``a``; comparison columns against ``original``
    (NaN / '' for the original itself)."""
    sym = a.symbolic
    if sym:
        prange = f"{sym.pitch_min}-{sym.pitch_max} ({sym.pitch_max - sym.pitch_min})"
    elif math.isfinite(a.audio.pitch_low):
        prange = f"{a.audio.pitch_low:.0f}-{a.audio.pitch_high:.0f} ({a.audio.pitch_high - a.audio.pitch_low:.0f})"
    else:
        prange = ""
    in_scale = sym.in_scale_share if sym else a.audio.in_scale_share
    row = {
        "piece": a.piece.name,
        "role": role,
        "source": "midi" if sym else "audio",
        "duration_s": a.piece.duration,
        "tempo_bpm": a.tempo_bpm,
        "meter": a.meter.beats_per_bar or "?",
        "key": a.key.name,
        "in_scale": in_scale,
        "rms_db": a.audio.rms_db,
        "loudness_dba": a.audio.loudness_dba,
        "pitch_range": prange,
        "onset_density": a.onset_density,
        "note_density": sym.note_density if sym else _nan(),
        "polyphony": sym.polyphony_mean if sym else _nan(),
        "tempo_ratio": _nan(),
        "key_score": _nan(),
        "rms_ratio": _nan(),
        "pc_js": _nan(),
        "ioi_js": _nan(),
        "chroma_cos": _nan(),
        "chroma_dtw": _nan(),
    }
    if original is not None and original is not a:
        sim = fa.chroma_similarity(original.audio.chroma, a.audio.chroma)
        row.update(
            {
                "tempo_ratio": a.tempo_bpm / original.tempo_bpm if original.tempo_bpm > 0 else _nan(),
                "key_score": theory.key_weighted_score(original.key, a.key),
                "rms_ratio": a.audio.rms_mean / original.audio.rms_mean if original.audio.rms_mean > 0 else _nan(),
                "pc_js": theory.histogram_distances(original.pitch_class_hist, a.pitch_class_hist)["js"],
                "ioi_js": theory.histogram_distances(original.ioi_hist, a.ioi_hist)["js"],
                "chroma_cos": sim["mean_cosine"],
                "chroma_dtw": sim["dtw_cosine"],
            }
        )
    return row


def _fmt(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


@dataclasses.dataclass
class Comparison:
    """The result of comparing an original with generated pieces.

    Attributes:
      original: its analysis. generated: analyses of the generated pieces (readable ones).
      rows: table rows (original first). skipped: ``[(path, problem)]`` inputs left out.
    """

    original: PieceAnalysis
    generated: List[PieceAnalysis]
    rows: List[dict]
    skipped: List[Tuple[str, str]] = dataclasses.field(default_factory=list)

    def to_markdown(self) -> str:
        """The table as GitHub Markdown (empty cells where a value does not apply)."""
        head = "| " + " | ".join(h for _, h, _ in COLUMNS) + " |"
        sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
        lines = [head, sep]
        for r in self.rows:
            lines.append("| " + " | ".join(_fmt(r.get(k), f).replace("|", "/") for k, _, f in COLUMNS) + " |")
        if self.skipped:
            lines.append("")
            lines.append(
                f"{len(self.skipped)} input(s) skipped: " + "; ".join(f"{p} ({why})" for p, why in self.skipped)
            )
        return "\n".join(lines)

    def to_csv(self) -> str:
        """The table as CSV text (raw numbers, header = column keys)."""
        buf = _io.StringIO()
        w = csv.DictWriter(buf, fieldnames=[k for k, _, _ in COLUMNS], extrasaction="ignore")
        w.writeheader()
        for r in self.rows:
            w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()})
        return buf.getvalue()

    def to_dict(self) -> dict:
        """Everything as JSON-friendly data: rows, per-piece statistics, skipped inputs."""

        def analysis(a: PieceAnalysis) -> dict:
            return {
                "name": a.piece.name,
                "path": a.piece.path,
                "kind": a.piece.kind,
                "audio": a.audio.summary(),
                "symbolic": a.symbolic.summary() if a.symbolic else None,
            }

        from music_eval.io import LOUDNESS_REFERENCE

        return {
            "columns": {k: h for k, h, _ in COLUMNS},
            "column_help": COLUMN_HELP,
            "loudness_reference": LOUDNESS_REFERENCE,
            "rows": [_json_clean(r) for r in self.rows],
            "original": _json_clean(analysis(self.original)),
            "generated": [_json_clean(analysis(a)) for a in self.generated],
            "skipped": [{"path": p, "problem": why} for p, why in self.skipped],
        }


def _json_clean(x):
    if isinstance(x, dict):
        return {k: _json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def compare_pieces(
    original: Piece, generated: Sequence[Piece], with_pitch_range: bool = True, skipped: Sequence[Tuple[str, str]] = ()
) -> Comparison:
    """Analyzes and compares in-memory pieces.

    Args:
      original: the reference piece. generated: pieces to compare with it.
      with_pitch_range: run pYIN on audio-only pieces.
      skipped: inputs already left out, carried into the result.
    """
    orig = analyze_piece(original, with_pitch_range)
    gens = [analyze_piece(g, with_pitch_range) for g in generated]
    rows = [piece_row(orig, None, "original")] + [piece_row(g, orig) for g in gens]
    return Comparison(orig, gens, rows, list(skipped))


def _path_key(path) -> str:
    import os

    return os.path.abspath(os.fspath(path))


def display_name(path, names: Optional[Mapping] = None) -> Optional[str]:
    """The name ``names`` gives ``path`` (keys are paths, compared as absolute paths), or None."""
    if not names:
        return None
    wanted = _path_key(path)
    for key, name in names.items():
        if _path_key(key) == wanted:
            return str(name)
    return None


def compare_files(
    original,
    generated: Sequence,
    max_seconds: Optional[float] = None,
    with_pitch_range: bool = True,
    soundfont=None,
    names: Optional[Mapping] = None,
) -> Comparison:
    """Reads and compares files (or folders of them).

    Args:
      original: a MIDI / MusicXML / audio file.
      generated: files and folders; folders are searched recursively. Bad or unsupported files are
        skipped and listed in ``Comparison.skipped``.
      max_seconds: analyze at most this much of each piece.
      with_pitch_range: run pYIN on audio-only pieces. soundfont: .sf2 for rendering MIDI.
      names: ``{path: display name}`` for the rows (e.g. "Melody RNN (melody_rnn_attention)
        continuation"); files not in it are named by their file name.

    Raises:
      MusicFileError: the original is unreadable, or no generated file is readable.
    """
    orig_piece = load_piece(original, max_seconds=max_seconds, soundfont=soundfont)
    orig_piece.name = display_name(original, names) or orig_piece.name
    files, skipped = expand_inputs(generated)
    pieces = []
    for f in files:
        try:
            piece = load_piece(f, max_seconds=max_seconds, soundfont=soundfont)
        except MusicFileError as e:
            skipped.append((e.path, e.problem))
            continue
        piece.name = display_name(f, names) or piece.name
        pieces.append(piece)
    if not pieces:
        raise MusicFileError(
            ", ".join(str(g) for g in generated),
            f"no readable generated piece ({len(skipped)} skipped: " + "; ".join(f"{p}: {w}" for p, w in skipped) + ")",
        )
    return compare_pieces(orig_piece, pieces, with_pitch_range, skipped)


def write_tables(comparison: Comparison, out_dir, stem: str = "comparison") -> Dict[str, str]:
    """Writes ``STEM.md``, ``STEM.csv`` and ``STEM.json`` into ``out_dir``; returns their paths."""
    import os

    os.makedirs(out_dir, exist_ok=True)
    paths = {ext: os.path.join(out_dir, f"{stem}.{ext}") for ext in ("md", "csv", "json")}
    with open(paths["md"], "w", encoding="utf-8") as f:
        f.write(comparison.to_markdown() + "\n\n## Columns\n\n" + glossary_markdown() + "\n")
    with open(paths["csv"], "w", encoding="utf-8", newline="") as f:
        f.write(comparison.to_csv())
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(comparison.to_dict(), f, indent=2)
    return paths
