"""GANSynth's spectral front end: waves <-> STFTs <-> log-magnitude/IF specgrams <-> mel specgrams.

One :class:`SpecgramsHelper` per :class:`SpectralConfig` holds every conversion as a
pair (forward and inverse), in the layout of Magenta's ``specgrams_helper``:

* waves: float32 [batch, time, 1], time = ``config.audio_length``, values in [-1, 1];
* stfts: complex64 [batch, frames, freq, 1];
* specgrams: float32 [batch, frames, freq, 2]; channel 0 is ``log(|S| + 1e-6)``,
  channel 1 is the instantaneous frequency (phase unwrapped along time, differenced,
  divided by pi, first frame keeping its phase) or, with ``ifreq=False``, phase / pi;
* mel specgrams: same shape; channel 0 is ``log(mel(|S|^2) + 1e-6)``, channel 1 the IF
  of the mel-mapped unwrapped phase; as many mel bins as linear bins, 0 Hz to Nyquist.

Framing: ``frame_length = 2 * freq``, ``frame_step = (1 - overlap) * frame_length``; the
wave is padded on the left only, by ``frame_step * (frames - 1) + frame_length -
audio_length`` samples, so the frame count is exactly ``frames``; one bin is dropped to
keep ``freq`` bins (the DC bin with ``discard_dc``, else the Nyquist bin).

All methods are TensorFlow ops: they run eagerly, as ``tf.data`` map functions, and
under ``tf.function(jit_compile=True)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Literal

import numpy as np
import tensorflow as tf

from gansynth_tf import spectral_ops

LOG_EPS = 1.0e-6


@dataclasses.dataclass(frozen=True)
class SpectralConfig:
    """How audio becomes GANSynth specgrams.

    Fields:
      audio_length: samples per example (GANSynth: 64,000 = 4 s at 16 kHz).
      sample_rate: Hz.
      spec_shape: (frames, freq bins); freq must be a power of two.
      overlap: fraction of a frame shared with the next one (0.75 in GANSynth).
      mel: whether the model-facing representation (:meth:`SpecgramsHelper.encode`) is mel.
      ifreq: channel 1 holds instantaneous frequency (True) or wrapped phase / pi (False).
      discard_dc: drop the DC bin (True) or the Nyquist bin (False) to keep ``freq`` bins.
    """

    audio_length: int = 64000
    sample_rate: int = 16000
    spec_shape: tuple[int, int] = (128, 1024)
    overlap: float = 0.75
    mel: bool = True
    ifreq: bool = True
    discard_dc: bool = True

    def __post_init__(self):
        object.__setattr__(self, "spec_shape", tuple(int(s) for s in self.spec_shape))
        frames, freq = self.spec_shape
        if freq <= 0 or freq & (freq - 1):
            raise ValueError(f"number of frequency bins must be a power of 2, got {freq}")
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), got {self.overlap}")
        step = (1.0 - self.overlap) * self.frame_length
        if abs(step - round(step)) > 1e-9 or round(step) < 1:
            raise ValueError(f"overlap {self.overlap} gives a non-integer hop {step}")
        if self.pad_left < 0:
            raise ValueError(
                f"{frames} frames of {self.frame_length} samples with hop {self.frame_step} cover "
                f"{self.padded_length} samples, fewer than audio_length {self.audio_length}"
            )
        if self.mel and not self.ifreq:
            raise ValueError("mel specgrams need ifreq=True (the mel phase map works on unwrapped phase)")

    @property
    def num_frames(self) -> int:
        """Frames per specgram."""
        return self.spec_shape[0]

    @property
    def num_freq_bins(self) -> int:
        """Frequency bins per specgram (linear or mel)."""
        return self.spec_shape[1]

    @property
    def frame_length(self) -> int:
        """STFT frame length = FFT length in samples (2 * freq bins)."""
        return 2 * self.spec_shape[1]

    @property
    def frame_step(self) -> int:
        """Hop between frames in samples."""
        return int(round((1.0 - self.overlap) * self.frame_length))

    @property
    def padded_length(self) -> int:
        """Samples covered by the frames: step * (frames - 1) + frame_length."""
        return self.frame_step * (self.spec_shape[0] - 1) + self.frame_length

    @property
    def pad_left(self) -> int:
        """Zeros added before the wave (all the padding, as Magenta does)."""
        return self.padded_length - self.audio_length

    @property
    def pad_right(self) -> int:
        """Zeros added after the wave (always 0)."""
        return 0

    @classmethod
    def from_preset(cls, name: str, **overrides) -> "SpectralConfig":
        """A named preset from :data:`PRESETS`, with optional field overrides."""
        if name not in PRESETS:
            raise KeyError(f"unknown spectral preset {name!r}; known: {sorted(PRESETS)}")
        return dataclasses.replace(PRESETS[name], **overrides)


#: The paper's "high frequency resolution" setting: 2048-sample frames, hop 512, mel IF.
HIGH_FREQ_RES = SpectralConfig(spec_shape=(128, 1024))
#: The paper's other setting: 1024-sample frames, hop 256, mel IF.
LOW_FREQ_RES = SpectralConfig(spec_shape=(256, 512))
PRESETS: dict[str, SpectralConfig] = {
    "128x1024": HIGH_FREQ_RES,
    "256x512": LOW_FREQ_RES,
    "mel_hires": HIGH_FREQ_RES,
    "if_hires": dataclasses.replace(HIGH_FREQ_RES, mel=False),
    "mel_lores": LOW_FREQ_RES,
    "if_lores": dataclasses.replace(LOW_FREQ_RES, mel=False),
}


class SpecgramsHelper:
    """Paired conversions between waves, STFTs, specgrams and mel specgrams.

    Args:
      config: the :class:`SpectralConfig`.
      mel_impl: ``"banded"`` (default) applies the mel matrices as small dense matmuls
        over the rows each block of 32 output bins uses (see
        :class:`~gansynth_tf.spectral_ops.BlockBandedMatrix`); ``"dense"`` as one dense
        matmul. Same numbers up to float32 rounding; banded does ~30x fewer FLOPs.
    """

    def __init__(self, config: SpectralConfig = HIGH_FREQ_RES, mel_impl: Literal["banded", "dense"] = "banded"):
        if mel_impl not in ("banded", "dense"):
            raise ValueError(f"mel_impl must be 'banded' or 'dense', got {mel_impl!r}")
        self.config = config
        self.mel_impl = mel_impl

    # ------------------------------------------------------------------ matrices
    @functools.cached_property
    def linear_to_mel_matrix(self) -> np.ndarray:
        """float32 [freq, freq]: linear bins -> mel bins (GANSynth's HTK matrix, 0 Hz..Nyquist)."""
        f = self.config.num_freq_bins
        return spectral_ops.linear_to_mel_weight_matrix(
            num_mel_bins=f,
            num_spectrogram_bins=f,
            sample_rate=self.config.sample_rate,
            lower_edge_hertz=0.0,
            upper_edge_hertz=self.config.sample_rate / 2.0,
        ).astype(np.float32)

    @functools.cached_property
    def mel_to_linear_matrix(self) -> np.ndarray:
        """float32 [freq, freq]: mel bins -> linear bins (GANSynth's normalised transpose)."""
        return spectral_ops.mel_to_linear_weight_matrix(self.linear_to_mel_matrix.astype(np.float64)).astype(np.float32)

    @functools.cached_property
    def _l2m_banded(self) -> spectral_ops.BlockBandedMatrix:
        return spectral_ops.BlockBandedMatrix.from_dense(self.linear_to_mel_matrix)

    @functools.cached_property
    def _m2l_banded(self) -> spectral_ops.BlockBandedMatrix:
        return spectral_ops.BlockBandedMatrix.from_dense(self.mel_to_linear_matrix)

    def _to_mel(self, x: tf.Tensor) -> tf.Tensor:
        if self.mel_impl == "banded":
            return self._l2m_banded.matmul(x)
        return tf.tensordot(x, tf.constant(self.linear_to_mel_matrix), 1)

    def _to_linear(self, x: tf.Tensor) -> tf.Tensor:
        if self.mel_impl == "banded":
            return self._m2l_banded.matmul(x)
        return tf.tensordot(x, tf.constant(self.mel_to_linear_matrix), 1)

    # ------------------------------------------------------------------ waves <-> stfts
    def waves_to_stfts(self, waves: tf.Tensor) -> tf.Tensor:
        """float32 waves [batch, audio_length, 1] -> complex64 stfts [batch, frames, freq, 1]."""
        c = self.config
        waves = tf.convert_to_tensor(waves, tf.float32)
        padded = tf.pad(waves[:, :, 0], [[0, 0], [c.pad_left, c.pad_right]])
        stfts = tf.signal.stft(
            padded, frame_length=c.frame_length, frame_step=c.frame_step, fft_length=c.frame_length, pad_end=False
        )
        stfts = stfts[:, :, 1:] if c.discard_dc else stfts[:, :, :-1]
        got = tuple(stfts.shape[1:3])
        if None not in got and got != c.spec_shape:
            raise ValueError(f"STFT has shape {got}, expected spec_shape {c.spec_shape}")
        return stfts[..., tf.newaxis]

    def stfts_to_waves(self, stfts: tf.Tensor) -> tf.Tensor:
        """complex64 stfts [batch, frames, freq, 1] -> float32 waves [batch, audio_length, 1].

        The dropped bin (DC or Nyquist) is restored as zero; the inverse uses the
        window that makes Hann-windowed overlap-add a perfect reconstruction.
        """
        c = self.config
        dc, nyquist = (1, 0) if c.discard_dc else (0, 1)
        full = tf.pad(stfts[..., 0], [[0, 0], [0, 0], [dc, nyquist]])
        waves = tf.signal.inverse_stft(
            full,
            frame_length=c.frame_length,
            frame_step=c.frame_step,
            fft_length=c.frame_length,
            window_fn=tf.signal.inverse_stft_window_fn(c.frame_step),
        )
        return waves[:, c.pad_left : c.pad_left + c.audio_length, tf.newaxis]

    # ------------------------------------------------------------------ stfts <-> specgrams
    def stfts_to_specgrams(self, stfts: tf.Tensor) -> tf.Tensor:
        """complex64 stfts [batch, frames, freq, 1] -> float32 specgrams [batch, frames, freq, 2]."""
        stfts = stfts[..., 0]
        logmag = tf.math.log(tf.abs(stfts) + LOG_EPS)
        phase = spectral_ops.angle(stfts)
        if self.config.ifreq:
            p = spectral_ops.instantaneous_frequency(phase, time_axis=-2)
        else:
            p = phase / math.pi
        return tf.stack([logmag, p], axis=-1)

    def specgrams_to_stfts(self, specgrams: tf.Tensor) -> tf.Tensor:
        """float32 specgrams [batch, frames, freq, 2] -> complex64 stfts [batch, frames, freq, 1]."""
        specgrams = tf.convert_to_tensor(specgrams, tf.float32)
        mag = tf.exp(specgrams[..., 0])
        p = specgrams[..., 1]
        if self.config.ifreq:
            phase = spectral_ops.phase_from_instantaneous_frequency(p, time_axis=-2)
        else:
            phase = p * math.pi
        return spectral_ops.polar_to_rect(mag, phase)[..., tf.newaxis]

    # ------------------------------------------------------------------ specgrams <-> mel
    @staticmethod
    def _wrap_increments(increments: tf.Tensor) -> tf.Tensor:
        """Mapped phase increments [batch, frames, freq] (first frame: initial phase) -> IF / pi."""
        rest = spectral_ops.wrap_phase(increments[:, 1:])
        return tf.concat([increments[:, :1], rest], axis=1) / math.pi

    def _power_and_increments_to_mel(self, mag2: tf.Tensor, increments: tf.Tensor) -> tf.Tensor:
        """Linear power [batch, frames, freq] and phase increments (radians; first frame the
        initial phase) -> mel specgrams [batch, frames, freq, 2].

        Magenta cumulates the IF into the unwrapped phase, maps it to mel, then unwraps and
        differences again. The map is linear and commutes with the difference, so mapping
        the per-frame increments and wrapping the result gives the same numbers without
        the cumulative sum. Power and increments go through the mel map together.
        """
        mel = self._to_mel(tf.stack([mag2, increments], axis=0))
        logmelmag2 = tf.math.log(mel[0] + LOG_EPS)
        return tf.stack([logmelmag2, self._wrap_increments(mel[1])], axis=-1)

    def specgrams_to_melspecgrams(self, specgrams: tf.Tensor) -> tf.Tensor:
        """float32 specgrams [batch, frames, freq, 2] -> mel specgrams [batch, frames, freq, 2].

        Channel 0: ``log(mel(exp(2 * logmag)) + 1e-6)``; channel 1: IF of the mel-mapped
        unwrapped phase. Needs ``ifreq=True`` input.
        """
        specgrams = tf.convert_to_tensor(specgrams, tf.float32)
        mag2 = tf.exp(2.0 * specgrams[..., 0])
        return self._power_and_increments_to_mel(mag2, specgrams[..., 1] * math.pi)

    def melspecgrams_to_specgrams(self, melspecgrams: tf.Tensor) -> tf.Tensor:
        """float32 mel specgrams [batch, frames, freq, 2] -> linear specgrams [batch, frames, freq, 2].

        Uses the approximate inverse matrix (:attr:`mel_to_linear_matrix`):
        ``logmag = 0.5 * log(mel2lin(exp(logmelmag2)) + 1e-6)``; the IF goes through the
        unwrapped mel phase, mapped back to linear bins.
        """
        melspecgrams = tf.convert_to_tensor(melspecgrams, tf.float32)
        linear = self._to_linear(tf.stack([tf.exp(melspecgrams[..., 0]), melspecgrams[..., 1] * math.pi], axis=0))
        logmag = 0.5 * tf.math.log(linear[0] + LOG_EPS)
        return tf.stack([logmag, self._wrap_increments(linear[1])], axis=-1)

    # ------------------------------------------------------------------ compositions
    def stfts_to_melspecgrams(self, stfts: tf.Tensor) -> tf.Tensor:
        """complex64 stfts [batch, frames, freq, 1] -> mel specgrams [batch, frames, freq, 2].

        Equal to ``specgrams_to_melspecgrams(stfts_to_specgrams(stfts))`` (with IF), fused:
        the power is ``(|S| + 1e-6)^2`` directly, with no log/exp round trip.
        """
        stfts = stfts[..., 0]
        mag2 = tf.square(tf.abs(stfts) + LOG_EPS)
        phase = spectral_ops.angle(stfts)
        steps = spectral_ops.wrap_phase(spectral_ops.diff(phase, axis=1))
        return self._power_and_increments_to_mel(mag2, tf.concat([phase[:, :1], steps], axis=1))

    def melspecgrams_to_stfts(self, melspecgrams: tf.Tensor) -> tf.Tensor:
        """mel specgrams [batch, frames, freq, 2] -> complex64 stfts [batch, frames, freq, 1]."""
        return self.specgrams_to_stfts(self.melspecgrams_to_specgrams(melspecgrams))

    def waves_to_specgrams(self, waves: tf.Tensor) -> tf.Tensor:
        """waves [batch, audio_length, 1] -> linear specgrams [batch, frames, freq, 2]."""
        return self.stfts_to_specgrams(self.waves_to_stfts(waves))

    def specgrams_to_waves(self, specgrams: tf.Tensor) -> tf.Tensor:
        """linear specgrams [batch, frames, freq, 2] -> waves [batch, audio_length, 1]."""
        return self.stfts_to_waves(self.specgrams_to_stfts(specgrams))

    def waves_to_melspecgrams(self, waves: tf.Tensor) -> tf.Tensor:
        """waves [batch, audio_length, 1] -> mel specgrams [batch, frames, freq, 2]."""
        return self.stfts_to_melspecgrams(self.waves_to_stfts(waves))

    def melspecgrams_to_waves(self, melspecgrams: tf.Tensor) -> tf.Tensor:
        """mel specgrams [batch, frames, freq, 2] -> waves [batch, audio_length, 1]."""
        return self.stfts_to_waves(self.melspecgrams_to_stfts(melspecgrams))

    def encode(self, waves: tf.Tensor) -> tf.Tensor:
        """waves [batch, audio_length, 1] -> the model's specgrams (mel if ``config.mel``)."""
        return self.waves_to_melspecgrams(waves) if self.config.mel else self.waves_to_specgrams(waves)

    def decode(self, specgrams: tf.Tensor) -> tf.Tensor:
        """The model's specgrams (mel if ``config.mel``) [batch, frames, freq, 2] -> waves [batch, audio_length, 1]."""
        return self.melspecgrams_to_waves(specgrams) if self.config.mel else self.specgrams_to_waves(specgrams)

    def mel_bin_frequencies(self) -> np.ndarray:
        """Centre frequency in Hz of every mel bin, float64 [freq] (for plot axes)."""
        f = self.config.num_freq_bins
        _, centers, _ = spectral_ops.mel_band_edges_hertz(f, f, self.config.sample_rate)
        return centers

    def linear_bin_frequencies(self) -> np.ndarray:
        """Frequency in Hz of every kept linear STFT bin, float64 [freq]."""
        c = self.config
        first = 1 if c.discard_dc else 0
        return (np.arange(c.num_freq_bins) + first) * c.sample_rate / c.frame_length
