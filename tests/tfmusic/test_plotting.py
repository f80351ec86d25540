"""tfmusic.plotting: PNGs exist, have the requested size, and show something."""

import numpy as np
import pytest
import soundfile as sf
from matplotlib import image as mpimg

from tfmusic import plotting


@pytest.fixture(scope="module")
def note(nsynth_sample_dir):
    audio, sr = sf.read(nsynth_sample_dir / "audio" / "keyboard_electronic_002-060-050.wav", dtype="float32")
    return audio, sr


def _read_png(path):
    img = mpimg.imread(str(path))
    assert img.ndim == 3 and img.shape[-1] in (3, 4)
    return img[..., :3]


@pytest.mark.parametrize("freq_axis", ["mel", "linear"])
def test_rainbowgram_from_audio(tmp_path, note, freq_axis):
    audio, sr = note
    path = plotting.plot_rainbowgram(
        tmp_path / "out" / "rainbow.png", audio=audio, sample_rate=sr, freq_axis=freq_axis, figsize=(6, 3), dpi=100
    )
    assert path.exists() and path.suffix == ".png"
    img = _read_png(path)
    assert img.shape[:2] == (300, 600)
    assert img.var() > 1e-3, "blank image"
    # The plot area is mostly black (quiet bins) with coloured partials: many distinct colours.
    colours = np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 100


def test_rainbowgram_from_specgram(tmp_path, note):
    audio, sr = note
    logmag, ifreq, bins = plotting.stft_logmag_ifreq(audio, 1024, 256)
    spec = np.stack([logmag, ifreq], -1)
    path = plotting.plot_rainbowgram(
        tmp_path / "rb.png", specgram=spec, sample_rate=sr, frame_step=256, bin_frequencies=bins * sr, title="t"
    )
    img = _read_png(path)
    assert img.shape[:2] == (400, 800) and img.var() > 1e-3


def test_rainbowgram_rgb_brightness_and_hue():
    logmag = np.array([[0.0, -20.0]])  # one loud bin, one far below the dynamic range
    ifreq = np.array([[0.5, 0.5]])
    rgb = plotting.rainbowgram_rgb(logmag, ifreq, dynamic_range=8.0)
    assert rgb.shape == (2, 1, 3)
    assert rgb[0, 0].max() > 0.5 and np.all(rgb[1, 0] == 0.0)
    with pytest.raises(ValueError):
        plotting.rainbowgram_rgb(np.zeros((2, 3)), np.zeros((3, 2)))


def test_stft_logmag_ifreq_shapes(note):
    audio, _ = note
    logmag, ifreq, bins = plotting.stft_logmag_ifreq(audio, 2048, 512)
    assert logmag.shape == ifreq.shape == (1 + -(-(64000 - 2048) // 512), 1024)
    assert bins[0] == pytest.approx(1 / 2048) and bins[-1] == pytest.approx(0.5)


def test_plot_specgram_and_metric_curves(tmp_path, note):
    audio, sr = note
    logmag, ifreq, _ = plotting.stft_logmag_ifreq(audio)
    p1 = plotting.plot_specgram(tmp_path / "spec.png", np.stack([logmag, ifreq], -1), freq_axis="linear", dpi=50)
    p2 = plotting.plot_specgram(tmp_path / "mag.png", logmag, figsize=(4, 3), dpi=50)
    p3 = plotting.plot_metric_curves(
        tmp_path / "curves.png", {"loss": [3.0, 2.0, 1.5, 1.2], "acc": ([0, 10, 20], [0.1, 0.5, 0.9])}, title="run"
    )
    for p in (p1, p2, p3):
        assert _read_png(p).var() > 1e-4
    assert _read_png(p2).shape[:2] == (150, 200)
    with pytest.raises(ValueError):
        plotting.plot_metric_curves(tmp_path / "none.png", {})
    with pytest.raises(ValueError):
        plotting.plot_rainbowgram(tmp_path / "x.png")
