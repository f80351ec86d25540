"""Audio files and synthesis shared by every model family.

* ``read_wav`` / ``write_wav``: wav files through soundfile. In memory, audio is always
  float32, values in [-1, 1), shape ``[num_samples]`` (mono) unless stated otherwise.
  16-bit PCM is scaled by 1/32768 both ways, so a PCM_16 file read and written again is
  bit-identical.
* ``resample``: sample-rate conversion with soxr.
* ``FluidSynthRenderer`` / ``render_note`` / ``render_midi``: General MIDI rendering with
  FluidSynth and a SoundFont (``default_soundfont()`` is the small GM SoundFont that
  pretty_midi ships).

Bad input raises ``AudioFileError``, whose message names the file and the problem.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
from typing import Optional, Union

import numpy as np

from tfmusic import files

PathLike = Union[str, os.PathLike]

# FluidSynth renders in blocks of this many frames; events only take effect on block
# boundaries, so every length we ask it for is rounded up to a multiple of it.
FLUIDSYNTH_BLOCK = 64

_PCM16_SCALE = 32768.0
_MAX_BELOW_ONE = np.float32(1.0 - 1.0 / _PCM16_SCALE)


class AudioFileError(ValueError):
    """A wav file is missing, unreadable, or not what the caller asked for.

    Attributes:
      path: the file, as a string.
      problem: what is wrong with it, in words.
    """

    def __init__(self, path: PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


# --------------------------------------------------------------------------- wav files


def read_wav(
    path: PathLike,
    expected_sample_rate: Optional[int] = None,
    expected_num_samples: Optional[int] = None,
    expected_channels: Optional[int] = None,
) -> tuple[np.ndarray, int]:
    """Reads a wav (or any libsndfile format) file as mono float32.

    Args:
      path: the file.
      expected_sample_rate: if given, a file at another rate is an error (no silent
        resampling; call ``resample`` yourself if that is what you want).
      expected_num_samples: if given, a file with another number of frames is an error.
      expected_channels: if given, a file with another number of channels is an error
        (without it, multi-channel files are mixed down).

    Returns:
      ``(audio, sample_rate)``: audio float32 ``[num_samples]`` with values in [-1, 1)
      (multi-channel files are averaged to mono; float files are clipped into the range),
      sample_rate in Hz.

    Raises:
      AudioFileError: file missing, not a readable audio file, empty, wrong rate,
        length or channel count, or containing NaN/inf samples.
    """
    import soundfile as sf

    path = pathlib.Path(path)
    if not path.is_file():
        raise AudioFileError(path, "file not found")
    try:
        audio, sample_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as e:
        raise AudioFileError(path, f"not a readable audio file ({e})") from None
    if expected_sample_rate is not None and sample_rate != expected_sample_rate:
        raise AudioFileError(path, f"sample rate is {sample_rate} Hz, expected {expected_sample_rate} Hz")
    if audio.shape[0] == 0:
        raise AudioFileError(path, "file holds no audio frames")
    if expected_num_samples is not None and audio.shape[0] != expected_num_samples:
        raise AudioFileError(path, f"has {audio.shape[0]} samples, expected {expected_num_samples}")
    if expected_channels is not None and audio.shape[1] != expected_channels:
        raise AudioFileError(path, f"has {audio.shape[1]} channels, expected {expected_channels}")
    if not np.all(np.isfinite(audio)):
        raise AudioFileError(path, "contains NaN or infinite samples")
    mono = audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1, dtype=np.float32)
    return np.clip(mono, -1.0, _MAX_BELOW_ONE).astype(np.float32, copy=False), int(sample_rate)


def float_to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Quantizes float audio in [-1, 1) to int16 (scale 32768, round to nearest, clip).

    Args:
      audio: float array of any shape.

    Returns:
      int16 array of the same shape.
    """
    scaled = np.round(np.asarray(audio, dtype=np.float64) * _PCM16_SCALE)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


def write_wav(path: PathLike, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Writes audio to a wav file atomically (temporary name, then ``os.replace``).

    Args:
      path: destination; missing parent folders are created.
      audio: float ``[num_samples]`` (mono) or ``[num_samples, channels]``, values in
        [-1, 1); louder values are clipped.
      sample_rate: in Hz.
      subtype: a soundfile subtype; ``PCM_16`` is quantized here with scale 32768 so that
        ``read_wav`` gives back exactly ``int16 / 32768``.

    Raises:
      ValueError: audio has NaN/inf values or more than two dimensions.
    """
    import soundfile as sf

    audio = np.asarray(audio)
    if audio.ndim not in (1, 2):
        raise ValueError(f"{path}: audio must be [samples] or [samples, channels], got {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError(f"{path}: refusing to write NaN or infinite samples")
    data = float_to_pcm16(audio) if subtype == "PCM_16" else audio.astype(np.float32)
    with files.atomic_open(path, "wb") as f:
        sf.write(f, data, int(sample_rate), subtype=subtype, format="WAV")


# --------------------------------------------------------------------------- resampling


def resample(audio: np.ndarray, from_rate: int, to_rate: int, quality: str = "HQ") -> np.ndarray:
    """Changes the sample rate of audio with soxr (phase-linear, delay compensated).

    Args:
      audio: float ``[num_samples]`` or ``[num_samples, channels]``.
      from_rate: the rate of ``audio`` in Hz.
      to_rate: the wanted rate in Hz.
      quality: soxr quality, one of "QQ", "LQ", "MQ", "HQ", "VHQ".

    Returns:
      float32 array with ``round(num_samples * to_rate / from_rate)`` samples (same
      channel layout).
    """
    import soxr

    audio = np.asarray(audio, dtype=np.float32)
    if from_rate == to_rate:
        return audio.copy()
    return soxr.resample(audio, from_rate, to_rate, quality=quality).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- FluidSynth


def default_soundfont() -> str:
    """Path of the General MIDI SoundFont ``TimGM6mb.sf2`` that pretty_midi ships."""
    import pretty_midi

    path = pathlib.Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise AudioFileError(path, "pretty_midi's SoundFont is missing from its package")
    return str(path)


def _write_float_function():
    import fluidsynth

    return fluidsynth.cfunc(
        "fluid_synth_write_float",
        ctypes.c_int,
        ("synth", ctypes.c_void_p, 1),
        ("len", ctypes.c_int, 1),
        ("lout", ctypes.c_void_p, 1),
        ("loff", ctypes.c_int, 1),
        ("lincr", ctypes.c_int, 1),
        ("rout", ctypes.c_void_p, 1),
        ("roff", ctypes.c_int, 1),
        ("rincr", ctypes.c_int, 1),
    )


def _round_up_to_block(num_frames: int) -> int:
    return -(-num_frames // FLUIDSYNTH_BLOCK) * FLUIDSYNTH_BLOCK


class FluidSynthRenderer:
    """Renders single General MIDI notes with FluidSynth, reproducibly.

    FluidSynth voices keep a little state (amplitude and filter ramps) from the note
    they played before, so a note rendered after another one can differ in its first
    block from the same note rendered first. To make every note depend only on its own
    parameters, each note is played on a fresh ``fluidsynth.Synth``; this object keeps
    one Synth alive with the SoundFont loaded, so FluidSynth's sample cache makes the
    per-note load cheap (tens of milliseconds for TimGM6mb).

    Output is float (no dither), reverb and chorus are off unless asked for.

    Args:
      soundfont: path of a .sf2 file; ``None`` means ``default_soundfont()``.
      sample_rate: FluidSynth's rate in Hz (8000-96000).
      gain: FluidSynth's master gain (its default is 0.2).
      reverb, chorus: enable FluidSynth's effects.
    """

    def __init__(
        self,
        soundfont: Optional[PathLike] = None,
        sample_rate: int = 48000,
        gain: float = 0.5,
        reverb: bool = False,
        chorus: bool = False,
    ):
        import fluidsynth  # noqa: F401  (fails early with a clear ImportError)

        self.soundfont = str(soundfont) if soundfont is not None else default_soundfont()
        if not os.path.isfile(self.soundfont):
            raise AudioFileError(self.soundfont, "SoundFont not found")
        self.sample_rate = int(sample_rate)
        self.gain = float(gain)
        self._settings = {
            "synth.reverb.active": int(bool(reverb)),
            "synth.chorus.active": int(bool(chorus)),
        }
        self._write_float = _write_float_function()
        self._anchor, _ = self._new_synth()

    def _new_synth(self):
        import fluidsynth

        synth = fluidsynth.Synth(gain=self.gain, samplerate=float(self.sample_rate), **self._settings)
        sfid = synth.sfload(self.soundfont)
        if sfid < 0:
            synth.delete()
            raise AudioFileError(self.soundfont, "FluidSynth could not load this SoundFont")
        return synth, sfid

    def _samples(self, synth, num_frames: int) -> np.ndarray:
        buf = np.zeros((num_frames, 2), np.float32)
        self._write_float(synth.synth, num_frames, buf.ctypes.data, 0, 2, buf.ctypes.data, 1, 2)
        return buf

    def has_preset(self, program: int, bank: int = 0) -> bool:
        """Whether the SoundFont has a preset for ``(bank, program)``."""
        synth, sfid = self._new_synth()
        try:
            return synth.program_select(0, sfid, bank, program) == 0
        finally:
            synth.delete()

    def render_note(
        self,
        program: int,
        pitch: int,
        velocity: int,
        note_seconds: float,
        total_seconds: float,
        bank: int = 0,
        stereo: bool = False,
    ) -> np.ndarray:
        """Plays one note: note-on at 0, note-off at ``note_seconds``, cut at ``total_seconds``.

        Args:
          program: General MIDI program 0-127.
          pitch: MIDI key 0-127.
          velocity: MIDI velocity 1-127.
          note_seconds: how long the key is held, in seconds (rounded up to 64 frames).
          total_seconds: length of the result in seconds (the part after note-off is the
            release).
          bank: SoundFont bank (128 is the GM drum kit).
          stereo: return both channels instead of their mean.

        Returns:
          float32 ``[round(total_seconds * sample_rate)]`` (or ``[..., 2]`` if stereo) at
          ``self.sample_rate``.

        Raises:
          ValueError: arguments out of range or no such preset in the SoundFont.
        """
        if not 0 <= program <= 127 or not 0 <= pitch <= 127 or not 1 <= velocity <= 127:
            raise ValueError(f"program/pitch must be 0-127 and velocity 1-127: {program}, {pitch}, {velocity}")
        if not 0 < note_seconds <= total_seconds:
            raise ValueError(f"need 0 < note_seconds <= total_seconds, got {note_seconds}, {total_seconds}")
        total = int(round(total_seconds * self.sample_rate))
        held = min(_round_up_to_block(int(round(note_seconds * self.sample_rate))), _round_up_to_block(total))
        synth, sfid = self._new_synth()
        try:
            if synth.program_select(0, sfid, bank, program) != 0:
                raise ValueError(f"{self.soundfont}: no preset for bank {bank}, program {program}")
            synth.noteon(0, pitch, velocity)
            on = self._samples(synth, held)
            synth.noteoff(0, pitch)
            off = self._samples(synth, max(_round_up_to_block(total) - held, 0))
        finally:
            synth.delete()
        audio = np.concatenate([on, off])[:total]
        return audio if stereo else audio.mean(axis=1, dtype=np.float32)

    def close(self) -> None:
        """Frees the FluidSynth instance (the object is unusable afterwards)."""
        if self._anchor is not None:
            self._anchor.delete()
            self._anchor = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass


def render_note(
    program: int,
    pitch: int,
    velocity: int,
    sample_rate: int = 16000,
    note_seconds: float = 3.0,
    total_seconds: float = 4.0,
    soundfont: Optional[PathLike] = None,
    synth_rate: int = 48000,
    gain: float = 0.5,
) -> np.ndarray:
    """Renders one General MIDI note with FluidSynth and resamples it.

    Args:
      program, pitch, velocity: MIDI program 0-127, key 0-127, velocity 1-127.
      sample_rate: rate of the result in Hz.
      note_seconds: how long the key is held; total_seconds: length of the result.
      soundfont: a .sf2 path; ``None`` means ``default_soundfont()``.
      synth_rate: the rate FluidSynth runs at before resampling to ``sample_rate``.
      gain: FluidSynth's master gain.

    Returns:
      float32 ``[round(total_seconds * sample_rate)]``, mono.
    """
    with FluidSynthRenderer(soundfont, sample_rate=synth_rate, gain=gain) as renderer:
        audio = renderer.render_note(program, pitch, velocity, note_seconds, total_seconds)
    return fit_length(resample(audio, synth_rate, sample_rate), int(round(total_seconds * sample_rate)))


def fit_length(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """Cuts or zero-pads ``audio`` ``[n, ...]`` along its first axis to ``num_samples``."""
    if audio.shape[0] >= num_samples:
        return audio[:num_samples]
    pad = [(0, num_samples - audio.shape[0])] + [(0, 0)] * (audio.ndim - 1)
    return np.pad(audio, pad)


def render_midi(
    midi,
    sample_rate: int = 16000,
    soundfont: Optional[PathLike] = None,
) -> np.ndarray:
    """Renders a ``pretty_midi.PrettyMIDI`` object with FluidSynth (via pretty_midi).

    Args:
      midi: a ``pretty_midi.PrettyMIDI``.
      sample_rate: output rate in Hz.
      soundfont: a .sf2 path; ``None`` means ``default_soundfont()``.

    Returns:
      float32 ``[num_samples]`` mono, peak-limited into [-1, 1); its length covers the
      MIDI's end time plus the instruments' release (pretty_midi's behaviour).
    """
    soundfont = str(soundfont) if soundfont is not None else default_soundfont()
    if not os.path.isfile(soundfont):
        raise AudioFileError(soundfont, "SoundFont not found")
    try:
        audio = midi.fluidsynth(fs=sample_rate, synthesizer=soundfont)
    except TypeError:  # pretty_midi < 0.2.11 only knows sf2_path
        audio = midi.fluidsynth(fs=sample_rate, sf2_path=soundfont)
    return np.clip(np.asarray(audio, dtype=np.float32), -1.0, _MAX_BELOW_ONE)
