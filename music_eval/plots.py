"""Plots for evaluation reports (matplotlib, headless): piano rolls, chromagrams, tempo curves,
mel spectrograms and GAN-metric bars (legends outside the axes). Every function returns a
``matplotlib.figure.Figure``; :func:`figure_to_png` turns one into PNG bytes for embedding in HTML.
"""

from __future__ import annotations

import io
from typing import Dict, Optional, Sequence

import numpy as np


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # pragma: no cover - a GUI backend already running
            pass
    import matplotlib.pyplot as plt

    return plt


def figure_to_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes of a figure (the figure is closed afterwards)."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def legend_outside(ax, fontsize: int = 7) -> None:
    """The axes' legend to the right of the plot, outside the axes, so it covers no data
    (``figure_to_png`` saves with ``bbox_inches="tight"``, which keeps it in the picture)."""
    ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def piano_roll(midi, title: str = "", fs: int = 50, max_seconds: Optional[float] = 60.0):
    """Piano roll of a PrettyMIDI: time (s) x MIDI pitch, colour = velocity.

    Args:
      midi: ``pretty_midi.PrettyMIDI``. title: axes title. fs: columns per second.
      max_seconds: crop the time axis.
    """
    plt = _plt()
    roll = midi.get_piano_roll(fs=fs)
    if max_seconds is not None:
        roll = roll[:, : int(max_seconds * fs)]
    fig, ax = plt.subplots(figsize=(9, 3))
    rows = np.nonzero(roll.any(axis=1))[0]
    lo, hi = (int(rows.min()) - 2, int(rows.max()) + 3) if rows.size else (0, 128)
    lo, hi = max(lo, 0), min(hi, 128)
    ax.imshow(
        np.minimum(roll[lo:hi], 127),
        aspect="auto",
        origin="lower",
        cmap="magma",
        interpolation="nearest",
        vmin=0,
        vmax=127,
        extent=(0, roll.shape[1] / fs, lo - 0.5, hi - 0.5),
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title or "piano roll")
    return fig


def chromagram(chroma: np.ndarray, sample_rate: int, hop_length: int = 512, title: str = ""):
    """Chromagram ``[12, frames]`` over time (s), pitch classes C..B."""
    from music_eval.theory import PITCH_CLASS_NAMES

    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 2.5))
    dur = chroma.shape[1] * hop_length / sample_rate
    ax.imshow(
        chroma, aspect="auto", origin="lower", cmap="viridis", extent=(0, dur, -0.5, 11.5), interpolation="nearest"
    )
    ax.set_yticks(range(12))
    ax.set_yticklabels(PITCH_CLASS_NAMES, fontsize=7)
    ax.set_xlabel("time (s)")
    ax.set_title(title or "chroma")
    return fig


def tempo_curves(curves: Dict[str, tuple], title: str = "local tempo"):
    """Several tempo curves on one axes.

    Args:
      curves: ``{label: (times [n] s, bpm [n])}``.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 2.8))
    for label, (t, bpm) in curves.items():
        ax.plot(t, bpm, label=label, linewidth=1.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("BPM")
    ax.set_title(title)
    legend_outside(ax)
    ax.grid(alpha=0.3)
    return fig


def mel_spectrogram(audio: np.ndarray, sample_rate: int, title: str = "", max_seconds: float = 60.0):
    """Log-power mel spectrogram (dB, 128 bands) of float mono audio."""
    import librosa

    plt = _plt()
    y = np.asarray(audio, np.float32)[: int(max_seconds * sample_rate)]
    mel = librosa.feature.melspectrogram(y=y, sr=sample_rate, n_fft=2048, hop_length=512, n_mels=128)
    db = librosa.power_to_db(mel, ref=np.max, top_db=80)
    fig, ax = plt.subplots(figsize=(9, 2.8))
    ax.imshow(
        db,
        aspect="auto",
        origin="lower",
        cmap="magma",
        extent=(0, len(y) / sample_rate, 0, 128),
        interpolation="nearest",
    )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mel band")
    ax.set_title(title or "mel spectrogram (dB)")
    return fig


def histogram_bars(hists: Dict[str, Sequence[float]], labels: Sequence[str], title: str = ""):
    """Grouped bars of normalized histograms over the same bins (e.g. pitch classes)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 2.5))
    n = max(len(hists), 1)
    x = np.arange(len(labels))
    for i, (name, h) in enumerate(hists.items()):
        h = np.asarray(h, np.float64)
        h = h / h.sum() if h.sum() > 0 else h
        ax.bar(x + (i - (n - 1) / 2) * 0.8 / n, h, width=0.8 / n, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7, rotation=0 if len(labels) <= 12 else 90)
    ax.set_title(title)
    legend_outside(ax)
    return fig


def ndb_bins(
    real_proportions: np.ndarray, generated_proportions: np.ndarray, different: np.ndarray, title: str = "NDB cells"
):
    """Per-cell proportions of real and generated samples; significantly different cells marked."""
    plt = _plt()
    k = len(real_proportions)
    order = np.argsort(-np.asarray(real_proportions))
    fig, ax = plt.subplots(figsize=(9, 2.5))
    x = np.arange(k)
    ax.bar(x - 0.2, np.asarray(real_proportions)[order], width=0.4, label="real")
    ax.bar(x + 0.2, np.asarray(generated_proportions)[order], width=0.4, label="generated")
    for i, j in enumerate(order):
        if different[j]:
            ax.axvspan(i - 0.5, i + 0.5, color="red", alpha=0.12)
    ax.set_xlabel("k-means cell (sorted by real share); shaded = significantly different")
    ax.set_title(title)
    legend_outside(ax)
    return fig
