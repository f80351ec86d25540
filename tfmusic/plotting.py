"""Headless plots saved as PNG: rainbowgrams, spectrograms, metric curves.

Figures are drawn on matplotlib's Agg canvas directly (no pyplot, no global backend
switch), so this works on machines without a display and inside notebooks alike.
Every function saves one PNG and returns its path. NumPy only: nothing here depends on
a model package; model code passes its own specgrams and bin frequencies in.
"""

from __future__ import annotations

import math
import os
import pathlib
from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_MEL_BREAK_HZ = 700.0
_MEL_Q = 1127.0
_MEL_HZ_TICKS = (200, 500, 1000, 2000, 4000, 8000, 16000)


# --------------------------------------------------------------------------- helpers
def _hz_to_mel(f):
    return _MEL_Q * np.log1p(np.asarray(f, dtype=np.float64) / _MEL_BREAK_HZ)


def _scale(freq_axis: str):
    if freq_axis == "mel":
        return _hz_to_mel
    if freq_axis == "linear":
        return lambda f: np.asarray(f, dtype=np.float64)
    raise ValueError(f"freq_axis must be 'mel' or 'linear', got {freq_axis!r}")


def stft_logmag_ifreq(
    audio: np.ndarray, frame_length: int = 2048, frame_step: int = 512
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log magnitude and instantaneous frequency of a mono signal, in NumPy.

    Args:
      audio: float [time] (a trailing channel axis of 1 is squeezed).
      frame_length: periodic-Hann frame and FFT length in samples.
      frame_step: hop in samples. The signal is zero-padded on the left to whole frames.

    Returns:
      (logmag float32 [frames, frame_length // 2] = log(|S| + 1e-6) over bins 1..N/2,
       ifreq float32 [frames, frame_length // 2] = wrapped phase step / pi (first frame:
       phase / pi), bin frequencies in units of the sample rate, float64 [frame_length // 2]).
    """
    x = np.asarray(audio, dtype=np.float64).reshape(-1)
    if x.size < frame_length:
        x = np.pad(x, (frame_length - x.size, 0))
    frames = 1 + math.ceil((x.size - frame_length) / frame_step)
    x = np.pad(x, (frame_step * (frames - 1) + frame_length - x.size, 0))
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(frame_length) / frame_length)
    idx = np.arange(frame_length)[None, :] + frame_step * np.arange(frames)[:, None]
    spec = np.fft.rfft(x[idx] * window, axis=-1)[:, 1:]
    logmag = np.log(np.abs(spec) + 1e-6)
    phase = np.unwrap(np.angle(spec), axis=0)
    ifreq = np.concatenate([phase[:1], np.diff(phase, axis=0)], axis=0) / np.pi
    bins = np.arange(1, frame_length // 2 + 1) / frame_length
    return logmag.astype(np.float32), ifreq.astype(np.float32), bins


def rainbowgram_rgb(
    log_magnitude: np.ndarray,
    ifreq: np.ndarray,
    *,
    dynamic_range: float = 8.0,
    gamma: float = 1.0,
    cmap: str = "rainbow",
) -> np.ndarray:
    """Colour a rainbowgram: hue from IF, brightness from log magnitude, on black.

    Args:
      log_magnitude: float [frames, freq] natural-log magnitude (or power).
      ifreq: float [frames, freq] instantaneous frequency in units of pi (about [-1, 1]).
      dynamic_range: natural-log units below the peak that stay visible (8 nepers of
        magnitude ~ 70 dB); anything quieter is black.
      gamma: brightness exponent (>1 darkens quiet parts).
      cmap: a matplotlib colormap name for the IF hue.

    Returns:
      float32 RGB image [freq, frames, 3] in [0, 1], low frequencies in row 0.
    """
    logmag = np.asarray(log_magnitude, dtype=np.float64)
    if logmag.shape != np.shape(ifreq) or logmag.ndim != 2:
        raise ValueError(f"need two equal [frames, freq] arrays, got {logmag.shape} and {np.shape(ifreq)}")
    peak = np.max(logmag)
    brightness = np.clip((logmag - (peak - dynamic_range)) / dynamic_range, 0.0, 1.0) ** gamma
    hue = np.clip((np.asarray(ifreq, dtype=np.float64) + 1.0) / 2.0, 0.0, 1.0)
    rgb = colormaps[cmap](hue)[..., :3] * brightness[..., None]
    return np.transpose(rgb, (1, 0, 2)).astype(np.float32)


def _resample_rows(image: np.ndarray, bin_hz: np.ndarray, to_display, num_rows: int):
    """Nearest-bin resampling of image rows (one per bin) onto rows uniform in display units."""
    disp = to_display(bin_hz)
    order = np.argsort(disp)
    disp, image = disp[order], image[order]
    grid = np.linspace(disp[0], disp[-1], num_rows)
    nearest = np.clip(np.searchsorted(disp, grid), 1, len(disp) - 1)
    left_closer = (grid - disp[nearest - 1]) < (disp[nearest] - grid)
    rows = np.where(left_closer, nearest - 1, nearest)
    return image[rows], (disp[0], disp[-1])


def _frequency_ticks(ax, freq_axis: str, to_display, lo_disp, hi_disp):
    if freq_axis == "mel":
        hz = _MEL_HZ_TICKS
    else:
        top = float(hi_disp)  # linear: display units are Hz
        step = next((s for s in (250, 500, 1000, 2000, 5000, 10000) if top / s <= 9), 20000)
        hz = tuple(np.arange(0.0, top + 1e-9, step))
    ticks = [(float(to_display(f)), f) for f in hz]
    ticks = [(d, f) for d, f in ticks if lo_disp <= d <= hi_disp]
    ax.set_yticks([d for d, _ in ticks])
    ax.set_yticklabels([f"{f / 1000:g}k" if f >= 1000 else f"{f:g}" for _, f in ticks])
    ax.set_ylabel("frequency (Hz)")


def _save(fig: Figure, path) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(os.fspath(path), format="png", dpi=fig.dpi, facecolor=fig.get_facecolor())
    return path


def _bin_frequencies(num_bins: int, sample_rate: float, bin_frequencies) -> np.ndarray:
    if bin_frequencies is not None:
        hz = np.asarray(bin_frequencies, dtype=np.float64)
        if hz.shape != (num_bins,):
            raise ValueError(f"bin_frequencies has shape {hz.shape}, expected ({num_bins},)")
        return hz
    # Default: linear STFT bins with the DC bin dropped (GANSynth's layout): k * sr / (2 F), k = 1..F.
    return np.arange(1, num_bins + 1) * sample_rate / (2.0 * num_bins)


# --------------------------------------------------------------------------- plots
def plot_rainbowgram(
    path: str | os.PathLike,
    *,
    audio: np.ndarray | None = None,
    specgram: np.ndarray | None = None,
    sample_rate: float = 16000,
    frame_length: int = 2048,
    frame_step: int = 512,
    bin_frequencies: Sequence[float] | None = None,
    freq_axis: str = "mel",
    start_time: float = 0.0,
    log_power: bool = False,
    dynamic_range_db: float = 70.0,
    gamma: float = 1.0,
    cmap: str = "rainbow",
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 4.0),
    dpi: int = 100,
) -> pathlib.Path:
    """Save an NSynth-style rainbowgram: log magnitude as brightness, IF as hue, on black.

    Give exactly one of:
      audio: float [time] mono samples in [-1, 1]; analysed here with a periodic-Hann
        STFT of ``frame_length`` / ``frame_step``.
      specgram: float [frames, freq, 2] with channel 0 the log magnitude (or log power,
        see ``log_power``) and channel 1 the IF in units of pi, e.g. one example of
        GANSynth's linear or mel specgrams; ``bin_frequencies`` gives each bin's centre
        in Hz (for mel specgrams pass the mel centres); default: linear bins without DC.

    Args:
      path: PNG to write (parent folders are created).
      sample_rate: Hz; with ``frame_step`` it sets the time axis (seconds).
      freq_axis: ``"mel"`` or ``"linear"``: how the frequency axis is spaced. Rows are
        resampled to that spacing, so a linear specgram can be shown on a mel axis.
      start_time: time in seconds of the first frame's start; e.g. minus the left
        padding of GANSynth specgrams (``-pad_left / sample_rate``) to put the note's
        onset at 0.
      log_power: channel 0 is log power (GANSynth mel specgrams) rather than log magnitude.
      dynamic_range_db: how far below the peak stays visible, in dB.
      gamma, cmap: brightness exponent and IF colormap.
      title, figsize (inches), dpi: figure look; the PNG is figsize * dpi pixels.

    Returns:
      The PNG's path.
    """
    if (audio is None) == (specgram is None):
        raise ValueError("give exactly one of audio= or specgram=")
    if audio is not None:
        logmag, ifreq, bins = stft_logmag_ifreq(audio, frame_length, frame_step)
        hz = bins * sample_rate
        log_power = False
    else:
        spec = np.asarray(specgram, dtype=np.float64)
        if spec.ndim != 3 or spec.shape[-1] != 2:
            raise ValueError(f"specgram must be [frames, freq, 2], got shape {spec.shape}")
        logmag, ifreq = spec[..., 0], spec[..., 1]
        hz = _bin_frequencies(spec.shape[1], sample_rate, bin_frequencies)
    nepers = dynamic_range_db / 20.0 * math.log(10.0) * (2.0 if log_power else 1.0)
    rgb = rainbowgram_rgb(logmag, ifreq, dynamic_range=nepers, gamma=gamma, cmap=cmap)
    to_display = _scale(freq_axis)
    image, (lo, hi) = _resample_rows(rgb, hz, to_display, num_rows=max(rgb.shape[0], int(figsize[1] * dpi)))
    end_time = start_time + logmag.shape[0] * frame_step / float(sample_rate)

    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(image, origin="lower", aspect="auto", extent=(start_time, end_time, lo, hi), interpolation="nearest")
    ax.set_facecolor("black")
    _frequency_ticks(ax, freq_axis, to_display, lo, hi)
    ax.set_xlabel("time (s)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_specgram(
    path: str | os.PathLike,
    specgram: np.ndarray,
    *,
    sample_rate: float = 16000,
    frame_step: int = 512,
    bin_frequencies: Sequence[float] | None = None,
    freq_axis: str = "mel",
    start_time: float = 0.0,
    cmap: str = "magma",
    if_cmap: str = "twilight",
    title: str | None = None,
    figsize: tuple[float, float] = (8.0, 5.0),
    dpi: int = 100,
) -> pathlib.Path:
    """Save a spectrogram image: [frames, freq] (one panel) or [frames, freq, 2] (magnitude
    over IF, two panels).

    Args:
      path: PNG to write.
      specgram: float array [frames, freq] or [frames, freq, channels >= 1]; channel 0 is
        shown with ``cmap``, channel 1 (if present) with ``if_cmap`` on [-1, 1].
      sample_rate, frame_step: set the time axis (seconds).
      bin_frequencies: Hz of each bin (default: linear bins without DC).
      freq_axis: ``"mel"`` or ``"linear"`` spacing of the frequency axis.
      start_time: time in seconds of the first frame's start.
      title, figsize (inches), dpi: figure look.

    Returns:
      The PNG's path.
    """
    spec = np.asarray(specgram, dtype=np.float64)
    if spec.ndim == 2:
        spec = spec[..., None]
    if spec.ndim != 3:
        raise ValueError(f"specgram must be [frames, freq] or [frames, freq, channels], got {spec.shape}")
    hz = _bin_frequencies(spec.shape[1], sample_rate, bin_frequencies)
    to_display = _scale(freq_axis)
    end_time = start_time + spec.shape[0] * frame_step / float(sample_rate)
    panels = min(spec.shape[-1], 2)
    fig = Figure(figsize=figsize, dpi=dpi)
    names = ("log magnitude", "instantaneous frequency / pi")
    for c in range(panels):
        ax = fig.add_subplot(panels, 1, c + 1)
        image, (lo, hi) = _resample_rows(spec[..., c].T, hz, to_display, num_rows=max(spec.shape[1], 256))
        kwargs = {"cmap": cmap} if c == 0 else {"cmap": if_cmap, "vmin": -1.0, "vmax": 1.0}
        im = ax.imshow(image, origin="lower", aspect="auto", extent=(start_time, end_time, lo, hi), **kwargs)
        fig.colorbar(im, ax=ax)
        _frequency_ticks(ax, freq_axis, to_display, lo, hi)
        ax.set_title(names[c] if not (title and c == 0) else f"{title}: {names[c]}", fontsize=9)
    ax.set_xlabel("time (s)")
    fig.tight_layout()
    return _save(fig, path)


def plot_metric_curves(
    path: str | os.PathLike,
    curves: Mapping[str, Sequence[float] | tuple[Sequence[float], Sequence[float]]],
    *,
    title: str | None = None,
    xlabel: str = "step",
    log_y: bool = False,
    figsize: tuple[float, float] | None = None,
    dpi: int = 100,
) -> pathlib.Path:
    """Save one small panel per metric, stacked, sharing the x axis.

    Args:
      path: PNG to write.
      curves: {name: values} (x = 0, 1, 2, ...) or {name: (steps, values)}.
      title: figure title; xlabel: x-axis label; log_y: logarithmic y axes.
      figsize: inches (default 6 wide, 2 per metric); dpi: resolution.

    Returns:
      The PNG's path.
    """
    if not curves:
        raise ValueError("no curves to plot")
    fig = Figure(figsize=figsize or (6.0, 2.0 * len(curves) + 0.5), dpi=dpi)
    axes = fig.subplots(len(curves), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (name, curve) in zip(axes, curves.items()):
        if isinstance(curve, tuple) and len(curve) == 2:
            steps, values = np.asarray(curve[0], dtype=np.float64), np.asarray(curve[1], dtype=np.float64)
        else:
            values = np.asarray(curve, dtype=np.float64)
            steps = np.arange(values.size)
        ax.plot(steps, values, lw=1.2)
        ax.set_ylabel(name, fontsize=9)
        ax.grid(True, alpha=0.3)
        if log_y:
            ax.set_yscale("log")
    axes[-1].set_xlabel(xlabel)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
