"""GANSynth's metrics table for a folder of real notes and a folder of generated notes.

Rows, as in the paper's Table 1:

* ``real``: IS, PA and PE of the real notes; FID and NDB between two seeded halves of the real
  notes (what two samples of the same distribution give);
* ``generated``: IS, PA and PE of the generated notes; FID and NDB against all real notes.

PA needs the pitch each generated note was meant to have (``examples.json``, or the path, see
:func:`music_eval.classifier.pitch_from_path`); notes without one are left out of PA only.
NDB uses k = 50 k-means cells, reduced to ``num_real // 4`` (at least 2) when there are fewer
real notes than that supports; the table says which k was used.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import List, Optional

import numpy as np

from music_eval import gan_metrics as gm
from music_eval.classifier import NSynthArrays, PitchClassifier, ndb_features

GAN_COLUMNS = (
    ("set", "set", "{}"),
    ("num_notes", "notes", "{}"),
    ("ndb", "NDB", "{}"),
    ("ndb_over_k", "NDB/k", "{:.3f}"),
    ("k", "k", "{}"),
    ("fid", "FID", "{:.2f}"),
    ("inception_score", "IS", "{:.2f}"),
    ("pitch_accuracy", "PA", "{:.1%}"),
    ("pitch_entropy", "PE", "{:.3f}"),
    ("pitch_hist_entropy", "pitch-hist H", "{:.3f}"),
)

# (header, meaning, which way is better) for every column of GAN_COLUMNS, under its header.
GAN_GLOSSARY = (
    (
        "set",
        "which notes the row measures: real (two halves of the real notes against each other), generated, "
        "or a row of the GANSynth paper's Table 1 (other data and classifier: for orientation only)",
        "a label, not a score",
    ),
    ("notes", "number of notes measured", "higher is better (steadier figures)"),
    (
        "NDB",
        "number of statistically different bins: k-means cells on real log-mel spectrograms where the "
        "generated share differs from the real share (two-proportion z-test)",
        "lower is better",
    ),
    ("NDB/k", "NDB divided by the number of cells", "lower is better"),
    ("k", "number of k-means cells NDB used", "a setting, not a score"),
    (
        "FID",
        "Frechet distance between real and generated features of the pitch classifier's penultimate layer",
        "lower is better",
    ),
    ("IS", "Inception Score with the pitch classifier: exp E[KL(p(y|x) || p(y))]", "higher is better"),
    ("PA", "pitch accuracy: share of notes whose arg-max predicted pitch is the requested pitch", "higher is better"),
    ("PE", "pitch entropy: mean entropy (nats) of the classifier's p(y|x)", "lower is better"),
    (
        "pitch-hist H",
        "entropy (nats) of the histogram of predicted pitches over all notes",
        "closer to the real row is better",
    ),
)

PAPER_ROWS = (  # GANSynth paper, Table 1 (NDB / FID / IS / PA / PE), for orientation only
    {
        "set": "paper: real data",
        "ndb": 2.2,
        "fid": 13.0,
        "inception_score": 47.1,
        "pitch_accuracy": 0.982,
        "pitch_entropy": 0.22,
    },
    {
        "set": "paper: IF-Mel + H",
        "ndb": 29.3,
        "fid": 167.0,
        "inception_score": 38.1,
        "pitch_accuracy": 0.979,
        "pitch_entropy": 0.40,
    },
)


@dataclasses.dataclass
class GanEvaluation:
    """Result of :func:`evaluate_gan`.

    Attributes:
      rows: table rows (``real``, ``generated``), keys of :data:`GAN_COLUMNS`.
      ndb: the generated set's :class:`gan_metrics.NDBResult`. skipped: bad input files.
    """

    rows: List[dict]
    ndb: gm.NDBResult
    skipped: List[tuple] = dataclasses.field(default_factory=list)

    def to_markdown(self, with_paper: bool = False) -> str:
        """The metrics table as Markdown (``with_paper`` appends the paper's rows for orientation)."""
        rows = list(self.rows) + (list(PAPER_ROWS) if with_paper else [])
        lines = ["| " + " | ".join(h for _, h, _ in GAN_COLUMNS) + " |", "|" + "---|" * len(GAN_COLUMNS)]
        for r in rows:
            cells = []
            for k, _, f in GAN_COLUMNS:
                v = r.get(k)
                cells.append("" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f.format(v))
            lines.append("| " + " | ".join(cells) + " |")
        if self.skipped:
            lines.append("")
            lines.append(f"{len(self.skipped)} file(s) skipped: " + "; ".join(f"{p} ({w})" for p, w in self.skipped))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-friendly rows and NDB detail."""
        clean = lambda v: None if isinstance(v, float) and not math.isfinite(v) else v  # noqa: E731
        return {
            "rows": [{k: clean(v) for k, v in r.items()} for r in self.rows],
            "ndb_cells": {
                "real_proportions": self.ndb.real_proportions.tolist(),
                "generated_proportions": self.ndb.generated_proportions.tolist(),
                "different": self.ndb.different.tolist(),
                "p_values": self.ndb.p_values.tolist(),
            },
            "skipped": [{"path": p, "problem": w} for p, w in self.skipped],
            "paper_rows": list(PAPER_ROWS),
        }


def classifier_metrics(
    classifier: PitchClassifier, audio: np.ndarray, pitches: Optional[np.ndarray], pitch_tolerance: int = 0
) -> dict:
    """IS, PA, PE and predicted-pitch-histogram entropy of notes ``[n, 64000]`` (pitches ``[n]``,
    -1 = unknown; PA over the known ones, NaN if none)."""
    probs = classifier.probabilities(audio)
    out = {
        "inception_score": gm.inception_score(probs),
        "pitch_entropy": gm.pitch_entropy(probs),
        "pitch_hist_entropy": gm.predicted_pitch_histogram_entropy(probs),
        "pitch_accuracy": float("nan"),
    }
    if pitches is not None:
        known = np.asarray(pitches) >= 0
        if known.any():
            out["pitch_accuracy"] = gm.pitch_accuracy(
                probs[known], np.asarray(pitches)[known], pitch_tolerance, class_offset=classifier.min_pitch
            )
    return out


def _ndb_k(k: int, num_real: int) -> int:
    return int(max(2, min(k, num_real // 4)))


def evaluate_gan(
    real: NSynthArrays,
    generated: NSynthArrays,
    classifier: PitchClassifier,
    k: int = 50,
    alpha: float = 0.05,
    pitch_tolerance: int = 0,
    seed: int = 0,
) -> GanEvaluation:
    """GANSynth's metrics of generated notes against real notes.

    Args:
      real, generated: notes (audio ``[n, 64000]`` at 16 kHz, pitches ``[n]``).
      classifier: a trained :class:`PitchClassifier`.
      k: NDB cells (50 in the paper). alpha: NDB significance. pitch_tolerance: PA slack (semitones).
      seed: k-means and real-split seed.

    Raises:
      ValueError: fewer than 4 real or 2 generated notes.
    """
    if len(real) < 4 or len(generated) < 2:
        raise ValueError(f"need at least 4 real and 2 generated notes, got {len(real)} and {len(generated)}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(real))
    half_a, half_b = np.sort(order[: len(real) // 2]), np.sort(order[len(real) // 2 :])
    cfg = classifier.config.features
    real_ndb, gen_ndb = ndb_features(real.audio, cfg), ndb_features(generated.audio, cfg)
    real_emb, gen_emb = classifier.embeddings(real.audio), classifier.embeddings(generated.audio)

    k_real = _ndb_k(k, len(half_a))
    ndb_real = gm.number_of_different_bins(real_ndb[half_a], real_ndb[half_b], k=k_real, alpha=alpha, seed=seed)
    row_real = {
        "set": "real",
        "num_notes": len(real),
        "ndb": ndb_real.num_different,
        "k": k_real,
        "ndb_over_k": ndb_real.ndb_over_k,
        "fid": gm.frechet_distance(real_emb[half_a], real_emb[half_b]),
    }
    row_real.update(classifier_metrics(classifier, real.audio, real.pitches, pitch_tolerance))

    k_gen = _ndb_k(k, len(real))
    ndb_gen = gm.number_of_different_bins(real_ndb, gen_ndb, k=k_gen, alpha=alpha, seed=seed)
    row_gen = {
        "set": "generated",
        "num_notes": len(generated),
        "ndb": ndb_gen.num_different,
        "k": k_gen,
        "ndb_over_k": ndb_gen.ndb_over_k,
        "fid": gm.frechet_distance(real_emb, gen_emb),
    }
    row_gen.update(classifier_metrics(classifier, generated.audio, generated.pitches, pitch_tolerance))
    return GanEvaluation([row_real, row_gen], ndb_gen)


def write_gan_tables(evaluation: GanEvaluation, out_dir, stem: str = "gan_metrics") -> dict:
    """Writes ``STEM.md``, ``STEM.csv``, ``STEM.json``; returns their paths."""
    import csv

    os.makedirs(out_dir, exist_ok=True)
    paths = {ext: os.path.join(out_dir, f"{stem}.{ext}") for ext in ("md", "csv", "json")}
    with open(paths["md"], "w", encoding="utf-8") as f:
        f.write(evaluation.to_markdown(with_paper=True) + "\n")
    with open(paths["csv"], "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=[k for k, _, _ in GAN_COLUMNS], extrasaction="ignore")
        w.writeheader()
        for r in evaluation.rows:
            w.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()})
    with open(paths["json"], "w", encoding="utf-8") as f:
        json.dump(evaluation.to_dict(), f, indent=2)
    return paths
