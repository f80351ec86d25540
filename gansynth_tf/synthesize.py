"""Audio from a trained GANSynth run: single notes, and whole MIDI files.

:class:`GANSynthSynthesizer` rebuilds what sampling needs from a training run folder
(``config.json``, the newest ``ckpt-N``, ``normalizer.json``): the generator with the
moving-average (EMA) weights when the run kept them, the
:class:`~gansynth_tf.normalizer.SpecgramNormalizer` and the
:class:`~gansynth_tf.specgrams.SpecgramsHelper`. ``synthesize(latents, pitches)`` runs
``generator -> denormalize -> inverse (mel) specgram transform`` and returns waves.

MIDI rendering (:func:`render_midi`, :func:`synthesize_midi`), after the GANSynth demo:

* notes of every non-drum instrument are read with pretty_midi;
* pitches outside the model's range are moved by whole octaves into it, or clipped to the
  nearest end when no octave fits (ranges narrower than 12 semitones); both are counted;
* timbre ``"fixed"`` gives every note the same latent; ``"interpolate"`` draws a few
  random anchor latents spread evenly between the first and the last onset and gives
  each note the spherical (or linear) interpolation of the two anchors around its onset;
* every distinct (pitch, latent) pair is generated once, in batches;
* each note is peak-normalised, shaped by :func:`note_envelope` (a short attack, held
  for the note's duration, then a linear release; never longer than the model's audio),
  scaled by ``velocity / 127`` and added at its onset; the mix is scaled down when its
  peak exceeds ``max_peak`` (0.99), so nothing clips.

Units: times in seconds, audio float32 in [-1, 1] at ``sample_rate`` (16 kHz for GANSynth),
pitches as MIDI note numbers.
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import os
import re
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from gansynth_tf import config as gconfig
from gansynth_tf.generator import Generator, build_generator
from gansynth_tf.normalizer import SpecgramNormalizer
from gansynth_tf.specgrams import SpecgramsHelper

log = logging.getLogger(__name__)

CONFIG_FILENAME = "config.json"
NORMALIZER_FILENAME = "normalizer.json"
PathLike = Union[str, os.PathLike]


# --------------------------------------------------------------------------- latent interpolation


def lerp(p0: np.ndarray, p1: np.ndarray, t) -> np.ndarray:
    """Linear interpolation ``(1 - t) * p0 + t * p1``.

    Args:
      p0, p1: float [D] end points.
      t: a scalar or float [N] fractions (0 gives p0, 1 gives p1).
    Returns float [D] for a scalar ``t``, else [N, D].
    """
    p0 = np.asarray(p0, np.float64)
    p1 = np.asarray(p1, np.float64)
    t = np.asarray(t, np.float64)
    out = (1.0 - t[..., None]) * p0 + t[..., None] * p1
    return out


def slerp(p0: np.ndarray, p1: np.ndarray, t) -> np.ndarray:
    """Spherical linear interpolation between two latent vectors.

    Moves along the great circle between the directions of ``p0`` and ``p1``, with
    weights ``sin((1 - t) w) / sin w`` and ``sin(t w) / sin w`` where ``w`` is the angle
    between them; Gaussian latents keep a typical norm along the way, unlike ``lerp``.
    Falls back to :func:`lerp` when the vectors are (anti)parallel or zero. Arguments and
    result as :func:`lerp`'s (float64).
    """
    p0 = np.asarray(p0, np.float64)
    p1 = np.asarray(p1, np.float64)
    n0, n1 = np.linalg.norm(p0), np.linalg.norm(p1)
    if n0 == 0.0 or n1 == 0.0:
        return lerp(p0, p1, t)
    cos = float(np.clip(np.dot(p0 / n0, p1 / n1), -1.0, 1.0))
    omega = np.arccos(cos)
    so = np.sin(omega)
    if so < 1e-6:
        return lerp(p0, p1, t)
    t = np.asarray(t, np.float64)[..., None]
    return np.sin((1.0 - t) * omega) / so * p0 + np.sin(t * omega) / so * p1


INTERPOLATIONS = {"slerp": slerp, "linear": lerp}


def interpolate_latents(
    times: Sequence[float], anchor_times: Sequence[float], anchors: np.ndarray, method: str = "slerp"
) -> np.ndarray:
    """The latent at each time, interpolated between the two anchors around it.

    Args:
      times: float [N] seconds (e.g. note onsets).
      anchor_times: float [A] seconds, non-decreasing.
      anchors: float [A, D] latents placed at ``anchor_times``.
      method: ``"slerp"`` or ``"linear"``.
    Returns float32 [N, D]. Times at or before the first anchor get ``anchors[0]`` exactly,
    times at or after the last get ``anchors[-1]``.
    """
    if method not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {sorted(INTERPOLATIONS)}, got {method!r}")
    interp = INTERPOLATIONS[method]
    anchors = np.asarray(anchors, np.float64)
    anchor_times = np.asarray(anchor_times, np.float64)
    if anchors.ndim != 2 or len(anchors) != len(anchor_times) or len(anchors) == 0:
        raise ValueError(f"need anchors [A, D] with A anchor times, got {anchors.shape} and {anchor_times.shape}")
    if np.any(np.diff(anchor_times) < 0):
        raise ValueError("anchor_times must be non-decreasing")
    out = np.empty((len(times), anchors.shape[1]), np.float64)
    for i, t in enumerate(np.asarray(times, np.float64)):
        if t <= anchor_times[0]:
            out[i] = anchors[0]
        elif t >= anchor_times[-1]:
            out[i] = anchors[-1]
        else:
            k = int(np.searchsorted(anchor_times, t, side="right")) - 1
            span = anchor_times[k + 1] - anchor_times[k]
            frac = 0.0 if span <= 0 else (t - anchor_times[k]) / span
            out[i] = anchors[k] if frac == 0.0 else interp(anchors[k], anchors[k + 1], frac)
    return out.astype(np.float32)


# --------------------------------------------------------------------------- the synthesizer


def find_checkpoint(model_dir: PathLike, checkpoint: Union[None, int, str] = None) -> str:
    """The checkpoint prefix to load from a run folder.

    Args:
      model_dir: the run folder.
      checkpoint: None for the newest; an int N (or "N") for ``MODEL_DIR/ckpt-N``; or a
        checkpoint prefix path.
    Raises FileNotFoundError naming the folder when there is none.
    """
    model_dir = os.fspath(model_dir)
    if checkpoint is not None and not (isinstance(checkpoint, int) or str(checkpoint).isdigit()):
        prefix = os.fspath(checkpoint)
        if not os.path.exists(prefix + ".index"):
            raise FileNotFoundError(f"{prefix}: no such checkpoint (missing {prefix}.index)")
        return prefix
    if checkpoint is not None:
        prefix = os.path.join(model_dir, f"ckpt-{int(checkpoint)}")
        if not os.path.exists(prefix + ".index"):
            raise FileNotFoundError(f"{model_dir}: no checkpoint ckpt-{int(checkpoint)}")
        return prefix
    latest = tf.train.latest_checkpoint(model_dir)
    if latest and os.path.exists(latest + ".index"):
        return latest
    steps = []
    for path in glob.glob(os.path.join(glob.escape(model_dir), "ckpt-*.index")):
        m = re.fullmatch(r"ckpt-(\d+)\.index", os.path.basename(path))
        if m:
            steps.append(int(m.group(1)))
    if not steps:
        raise FileNotFoundError(f"{model_dir}: no GANSynth checkpoint (ckpt-N.index) in this folder")
    return os.path.join(model_dir, f"ckpt-{max(steps)}")


def load_run_normalizer(model_dir: PathLike, config: gconfig.GANSynthExperiment) -> SpecgramNormalizer:
    """The normaliser a run trained with, looked up as ``gansynth_train`` does.

    ``data.normalizer_path`` if that file exists, else ``MODEL_DIR/normalizer.json``, else
    (when the config names no file) ``data.prespecified_normalizer``. Raises
    FileNotFoundError when the config names a normaliser file that is nowhere to be found.
    """
    candidates = [config.data.normalizer_path, os.path.join(os.fspath(model_dir), NORMALIZER_FILENAME)]
    for path in candidates:
        if path and os.path.exists(path):
            return SpecgramNormalizer.load(path)
    if config.data.normalizer_path:
        raise FileNotFoundError(
            f"{model_dir}: the run was trained with the normaliser {config.data.normalizer_path!r}, which is "
            f"missing, and there is no {NORMALIZER_FILENAME} in the run folder"
        )
    return SpecgramNormalizer.prespecified(*config.data.prespecified_normalizer)


class GANSynthCheckpointError(ValueError):
    """A run folder's checkpoint that cannot give the generator its config describes (truncated,
    corrupt, or made for another network); the message names the file."""


class _EMAWeights(tf.Module):
    """Mirror of :class:`gansynth_tf.gan.GeneratorEMA`'s checkpointed structure (``averages``)."""

    def __init__(self, generator: Generator):
        super().__init__(name="generator_ema")
        self.averages = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in generator.weights]


class GANSynthSynthesizer:
    """Notes from a GANSynth generator: (latent, MIDI pitch) -> waveform.

    Args:
      config: the run's :class:`gansynth_tf.config.GANSynthExperiment`.
      generator: a built :class:`gansynth_tf.generator.Generator` holding the weights to
        sample with (full resolution is used, whatever stage training reached).
      normalizer: the :class:`SpecgramNormalizer` the generator's outputs are in.
      batch_size: notes generated per generator call.
      progress: the progressive-growing progress the generator runs at (None: the last,
        full-resolution stage; a Magenta checkpoint of an earlier stage sets its own).

    Attributes: ``config``, ``generator``, ``normalizer``, ``helper`` (SpecgramsHelper),
    ``progress``, ``checkpoint`` (the prefix loaded by :meth:`from_model_dir` or
    :meth:`from_magenta_dir`, else None) and ``uses_ema`` (whether the generator holds the
    moving-average weights).
    """

    def __init__(
        self,
        config: gconfig.GANSynthExperiment,
        generator: Generator,
        normalizer: Optional[SpecgramNormalizer] = None,
        batch_size: int = 16,
        progress: Optional[float] = None,
    ):
        self.config = config
        self.generator = generator
        self.progress = None if progress is None else float(progress)
        self.normalizer = normalizer or SpecgramNormalizer.prespecified(*config.data.prespecified_normalizer)
        self.helper = SpecgramsHelper(config.data.spectral)
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.checkpoint: Optional[str] = None
        self.uses_ema = False
        self._fn = tf.function(self.synthesis_graph, reduce_retracing=True)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_model_dir(
        cls, model_dir: PathLike, checkpoint: Union[None, int, str] = None, use_ema: bool = True, batch_size: int = 16
    ) -> "GANSynthSynthesizer":
        """Rebuild a synthesizer from a training run folder.

        Args:
          model_dir: folder with ``config.json``, ``ckpt-N.*`` and (optionally) ``normalizer.json``.
          checkpoint: see :func:`find_checkpoint` (None: the newest).
          use_ema: load the moving-average generator weights (``generator_ema``) when the run
            kept them (``model.generator_ema_decay > 0``), as GANSynth samples; False loads
            the raw trained weights.
          batch_size: notes per generator call.
        Raises FileNotFoundError (no config or checkpoint), or :class:`GANSynthCheckpointError`
        naming the checkpoint when it is truncated, corrupt or holds another generator.
        """
        from tfmusic import config as config_lib

        model_dir = os.fspath(model_dir)
        config_path = os.path.join(model_dir, CONFIG_FILENAME)
        if not os.path.exists(config_path):
            raise FileNotFoundError(f"{model_dir}: not a GANSynth run folder (no {CONFIG_FILENAME})")
        config = config_lib.load_json(gconfig.GANSynthExperiment, config_path)
        prefix = find_checkpoint(model_dir, checkpoint)
        generator = build_generator(config.model, config.data.num_pitches, name="generator")
        ema_wanted = use_ema and config.model.generator_ema_decay > 0
        try:
            if ema_wanted:
                ema = _EMAWeights(generator)
                ckpt = tf.train.Checkpoint(generator_ema=ema)
                ckpt.restore(prefix).expect_partial().assert_existing_objects_matched()
                for avg, dst in zip(ema.averages, generator.weights):
                    dst.assign(avg)
            else:
                ckpt = tf.train.Checkpoint(generator=generator)
                ckpt.restore(prefix).expect_partial().assert_existing_objects_matched()
        except (tf.errors.OpError, ValueError, AssertionError, KeyError, IndexError, RuntimeError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise GANSynthCheckpointError(
                f"{prefix}: checkpoint truncated, corrupt or not made for the generator that {config_path} "
                f"describes ({type(e).__name__}: {first[:300]})"
            ) from None
        synth = cls(config, generator, load_run_normalizer(model_dir, config), batch_size=batch_size)
        synth.checkpoint = prefix
        synth.uses_ema = ema_wanted
        return synth

    @classmethod
    def from_magenta_dir(cls, ckpt_dir: PathLike, use_ema: bool = True, batch_size: int = 16) -> "GANSynthSynthesizer":
        """A synthesizer from an unzipped Magenta GANSynth folder (``experiment.json`` + ``stage_NNNNN/``),
        e.g. the released ``acoustic_only`` / ``all_instruments``: the flags are mapped (or refused by
        name), the stage checkpoint Magenta's generation takes is ported (the generator's moving
        averages, as Magenta's ``load_scope``, unless ``use_ema`` is False) and the progress is the
        one Magenta's generator runs at. See :mod:`gansynth_tf.convert_magenta`.

        Raises :class:`gansynth_tf.convert_magenta.MagentaCheckpointError` or
        :class:`tfmusic.tf1_checkpoints.PortingError`, naming the file and the problem.
        """
        from gansynth_tf import convert_magenta

        m = convert_magenta.load_magenta_gansynth(os.fspath(ckpt_dir), use_ema=use_ema)
        full = float(m.config.model.num_resolutions - 1)
        synth = cls(
            m.config,
            m.generator,
            m.normalizer,
            batch_size=batch_size,
            progress=None if m.progress == full else m.progress,
        )
        synth.checkpoint = m.stage.prefix
        synth.uses_ema = m.uses_ema
        return synth

    # ------------------------------------------------------------------ properties

    @property
    def latent_size(self) -> int:
        """Dimensions of a latent vector."""
        return self.config.model.latent_size

    @property
    def min_pitch(self) -> int:
        """Lowest MIDI pitch the model was conditioned on."""
        return self.config.data.min_pitch

    @property
    def max_pitch(self) -> int:
        """Highest MIDI pitch the model was conditioned on."""
        return self.config.data.max_pitch

    @property
    def sample_rate(self) -> int:
        """Hz."""
        return self.config.data.spectral.sample_rate

    @property
    def audio_length(self) -> int:
        """Samples per generated note."""
        return self.config.data.spectral.audio_length

    # ------------------------------------------------------------------ latents

    def random_latents(self, n: int, seed: int = 0) -> np.ndarray:
        """float32 [n, latent_size] standard-normal latents from ``numpy.random.default_rng(seed)``.

        Row i depends only on ``seed`` and i, so ``random_latents(1, s)[0] ==
        random_latents(k, s)[0]`` for every k.
        """
        rng = np.random.default_rng(int(seed))
        return rng.standard_normal((int(n), self.latent_size)).astype(np.float32)

    # ------------------------------------------------------------------ synthesis

    def synthesis_graph(self, latents: tf.Tensor, pitches: tf.Tensor) -> Dict[str, tf.Tensor]:
        """TensorFlow ops from inputs to audio (traceable; used by :meth:`synthesize` and the export).

        Args:
          latents: float32 [B, latent_size].
          pitches: int [B] MIDI pitches within ``min_pitch..max_pitch`` (not checked here).
        Returns {"audio": float32 [B, audio_length], "specgrams": float32 [B, frames, freq, 2]
        un-normalised model specgrams (mel if the run used mel)}.
        """
        latents = tf.convert_to_tensor(latents, tf.float32)
        index = tf.cast(pitches, tf.int32) - self.min_pitch
        one_hot = tf.one_hot(index, self.config.data.num_pitches, dtype=tf.float32)
        normalized = self.generator((latents, one_hot), progress=self.progress, training=False)
        specgrams = self.normalizer.denormalize(tf.cast(normalized, tf.float32))
        audio = self.helper.decode(specgrams)[..., 0]
        return {"audio": audio, "specgrams": specgrams}

    def _check(self, latents, pitches) -> Tuple[np.ndarray, np.ndarray]:
        latents = np.asarray(latents, np.float32)
        if latents.ndim == 1:
            latents = latents[None]
        pitches = np.asarray(pitches).reshape(-1)
        if latents.ndim != 2 or latents.shape[1] != self.latent_size:
            raise ValueError(f"latents must be [batch, {self.latent_size}], got shape {latents.shape}")
        if len(pitches) != len(latents):
            raise ValueError(f"{len(latents)} latents but {len(pitches)} pitches")
        if pitches.size and not np.issubdtype(pitches.dtype, np.integer):
            if not np.all(pitches == np.round(pitches)):
                raise ValueError(f"pitches must be whole MIDI note numbers, got {pitches}")
        pitches = pitches.astype(np.int32)
        bad = pitches[(pitches < self.min_pitch) | (pitches > self.max_pitch)]
        if bad.size:
            raise ValueError(
                f"pitches {sorted(set(bad.tolist()))} are outside the model's range "
                f"{self.min_pitch}..{self.max_pitch} (see fit_pitch_range)"
            )
        if not np.all(np.isfinite(latents)):
            raise ValueError("latents hold NaN or infinite values")
        return latents, pitches

    def generate(self, latents, pitches) -> Tuple[np.ndarray, np.ndarray]:
        """Audio and specgrams for a batch of notes, computed ``batch_size`` notes at a time.

        Args:
          latents: float [B, latent_size] (or one latent [latent_size]).
          pitches: int [B] MIDI pitches in ``min_pitch..max_pitch``.
        Returns (audio float32 [B, audio_length], specgrams float32 [B, frames, freq, 2]
        un-normalised (mel) log magnitude and IF).
        Raises ValueError on wrong shapes or out-of-range pitches.
        """
        latents, pitches = self._check(latents, pitches)
        audio, specs = [], []
        for i in range(0, len(latents), self.batch_size):
            out = self._fn(tf.constant(latents[i : i + self.batch_size]), tf.constant(pitches[i : i + self.batch_size]))
            audio.append(out["audio"].numpy())
            specs.append(out["specgrams"].numpy())
        if not audio:
            frames, freq = self.config.data.spectral.spec_shape
            return np.zeros((0, self.audio_length), np.float32), np.zeros((0, frames, freq, 2), np.float32)
        return np.concatenate(audio), np.concatenate(specs)

    def synthesize(self, latents, pitches) -> np.ndarray:
        """float32 audio [B, audio_length] at :attr:`sample_rate` for latents [B, latent_size]
        and MIDI pitches [B] (see :meth:`generate`). Not peak-limited: write it with
        :func:`peak_limit` if it must stay within [-1, 1]."""
        return self.generate(latents, pitches)[0]


def peak_limit(audio: np.ndarray, max_peak: float = 0.99) -> np.ndarray:
    """Scale ``audio`` (any shape) down so that ``max(|audio|) <= max_peak``; quieter audio is unchanged.
    Returns float32, same shape."""
    audio = np.asarray(audio, np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > max_peak:
        audio = audio * np.float32(max_peak / peak)
    return audio


# --------------------------------------------------------------------------- MIDI


class MidiFileError(ValueError):
    """A MIDI file is missing, unreadable or holds no notes to play. The message names the file."""

    def __init__(self, path: str, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclasses.dataclass(frozen=True)
class MidiNotes:
    """The notes of a piece, sorted by onset then pitch.

    Fields (all length N): ``pitches`` int MIDI numbers, ``start_times`` and ``end_times``
    float seconds, ``velocities`` int 1..127; ``source`` names where they came from.
    """

    pitches: np.ndarray
    start_times: np.ndarray
    end_times: np.ndarray
    velocities: np.ndarray
    source: str = "<notes>"

    def __len__(self) -> int:
        return len(self.pitches)

    @property
    def end_time(self) -> float:
        """Seconds at which the last note ends."""
        return float(np.max(self.end_times)) if len(self) else 0.0


def make_notes(
    pitches: Sequence[int],
    start_times: Sequence[float],
    end_times: Sequence[float],
    velocities: Optional[Sequence[int]] = None,
    source: str = "<notes>",
) -> MidiNotes:
    """A sorted :class:`MidiNotes` from parallel lists (velocities default to 100)."""
    pitches = np.asarray(pitches, np.int64).reshape(-1)
    start = np.asarray(start_times, np.float64).reshape(-1)
    end = np.asarray(end_times, np.float64).reshape(-1)
    vel = np.full(len(pitches), 100, np.int64) if velocities is None else np.asarray(velocities, np.int64).reshape(-1)
    if not len(pitches) == len(start) == len(end) == len(vel):
        raise ValueError("pitches, start_times, end_times and velocities must have the same length")
    order = np.lexsort((pitches, start))
    return MidiNotes(
        pitches[order], start[order], np.maximum(end[order], start[order]), np.clip(vel[order], 0, 127), source
    )


def load_midi_notes(midi) -> MidiNotes:
    """Notes of every non-drum instrument of a MIDI file.

    Args:
      midi: a path to a ``.mid`` file or a ``pretty_midi.PrettyMIDI``.
    Raises MidiFileError naming the file when it is missing, not readable as MIDI, or has
    no non-drum notes.
    """
    import pretty_midi

    if isinstance(midi, pretty_midi.PrettyMIDI):
        pm, source = midi, "<PrettyMIDI>"
    else:
        source = os.fspath(midi)
        if not os.path.isfile(source):
            raise MidiFileError(source, "file not found")
        try:
            pm = pretty_midi.PrettyMIDI(source)
        except Exception as e:  # pretty_midi / mido raise many kinds (OSError, EOFError, KeyError, ValueError...)
            raise MidiFileError(source, f"not a readable MIDI file ({type(e).__name__}: {e})") from None
    notes = [(n.pitch, n.start, n.end, n.velocity) for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    if not notes:
        raise MidiFileError(source, "holds no notes outside drum tracks")
    p, s, e, v = zip(*notes)
    return make_notes(p, s, e, v, source=source)


@dataclasses.dataclass(frozen=True)
class PitchFit:
    """Pitches moved into a model's range.

    Fields: ``pitches`` int [N] in range; ``transposed`` bool [N] (moved by octaves);
    ``clipped`` bool [N] (no octave fitted: set to the nearest end of the range).
    """

    pitches: np.ndarray
    transposed: np.ndarray
    clipped: np.ndarray

    @property
    def num_transposed(self) -> int:
        return int(self.transposed.sum())

    @property
    def num_clipped(self) -> int:
        return int(self.clipped.sum())


def fit_pitch_range(pitches: Sequence[int], min_pitch: int, max_pitch: int) -> PitchFit:
    """Move out-of-range pitches into ``min_pitch..max_pitch``: by the fewest whole octaves
    that land inside, else (a range narrower than an octave) clip to the nearest end."""
    pitches = np.asarray(pitches, np.int64).reshape(-1)
    out = pitches.copy()
    transposed = np.zeros(len(pitches), bool)
    clipped = np.zeros(len(pitches), bool)
    for i, p in enumerate(pitches):
        if min_pitch <= p <= max_pitch:
            continue
        q = p + 12 * (-(-(min_pitch - p) // 12)) if p < min_pitch else p - 12 * (-(-(p - max_pitch) // 12))
        if min_pitch <= q <= max_pitch:
            out[i] = q
            transposed[i] = True
        else:
            out[i] = min(max(p, min_pitch), max_pitch)
            clipped[i] = True
    return PitchFit(out, transposed, clipped)


def note_envelope(
    duration_s: float, num_samples: int, sample_rate: int, attack_s: float = 0.01, release_s: float = 0.3
) -> np.ndarray:
    """Amplitude envelope of one note: linear attack, held for ``duration_s``, then a linear release.

    Args:
      duration_s: how long the note is held (MIDI end - start), seconds.
      num_samples: the generated note's length (the envelope never runs past it).
      sample_rate: Hz.
      attack_s: fade-in at the onset, seconds (within the held part).
      release_s: fade-out after the held part, seconds.
    Returns float32 [min(held + release, num_samples)] samples: 0 -> 1 over the attack,
    1 until ``duration_s``, then down to 0 at the end of the release.
    """
    held = max(int(round(duration_s * sample_rate)), 0)
    release = max(int(round(release_s * sample_rate)), 0)
    total = min(held + release, int(num_samples))
    env = np.ones(held + release, np.float64)
    attack = min(max(int(round(attack_s * sample_rate)), 0), held + release)
    if attack:
        env[:attack] = np.arange(attack) / attack
    if release:
        env[held:] = np.minimum(env[held:], 1.0 - np.arange(1, release + 1) / release)
    return env[:total].astype(np.float32)


@dataclasses.dataclass(frozen=True)
class MidiRendering:
    """A rendered piece and how it was made.

    Fields:
      audio: float32 [samples] at ``sample_rate``, peak <= ``max_peak``.
      sample_rate: Hz.
      notes: the :class:`MidiNotes` as read (original pitches).
      pitches: int [N] the pitches generated (after :func:`fit_pitch_range`).
      latents: float32 [N, latent_size] each note's latent.
      anchors, anchor_times: float32 [A, latent_size] and float [A] seconds; for ``fixed``
        timbre A = 1 (the single latent).
      num_transposed, num_clipped: notes moved into the model's range.
      num_generated: distinct (pitch, latent) pairs the generator ran for.
      gain: factor applied to the mix to keep its peak <= max_peak (1.0 if none).
    """

    audio: np.ndarray
    sample_rate: int
    notes: MidiNotes
    pitches: np.ndarray
    latents: np.ndarray
    anchors: np.ndarray
    anchor_times: np.ndarray
    num_transposed: int
    num_clipped: int
    num_generated: int
    gain: float


def default_num_anchors(span_s: float, seconds_per_anchor: float) -> int:
    """Anchors for interpolating over ``span_s`` seconds: one every ``seconds_per_anchor``, at least 2."""
    if seconds_per_anchor <= 0:
        raise ValueError("seconds_per_anchor must be positive")
    return max(2, 1 + int(round(span_s / seconds_per_anchor)))


def render_midi(
    synth: GANSynthSynthesizer,
    midi,
    timbre: str = "fixed",
    seed: int = 0,
    latent: Optional[np.ndarray] = None,
    anchors: Optional[np.ndarray] = None,
    seconds_per_anchor: float = 2.0,
    interpolation: str = "slerp",
    attack_s: float = 0.01,
    release_s: float = 0.3,
    normalize_notes: bool = True,
    max_peak: float = 0.99,
) -> MidiRendering:
    """Render a MIDI piece with a GANSynth model.

    Args:
      synth: the :class:`GANSynthSynthesizer`.
      midi: a ``.mid`` path, a ``pretty_midi.PrettyMIDI`` or a :class:`MidiNotes`.
      timbre: ``"fixed"`` (one latent for every note) or ``"interpolate"`` (latents
        interpolated between anchors spread over the piece).
      seed: seeds the random latents: the fixed latent is ``synth.random_latents(1, seed)[0]``
        and the anchors are ``synth.random_latents(A, seed)``, so both timbres start from
        the same latent.
      latent: float [latent_size], the fixed timbre's latent instead of a random one.
      anchors: float [A, latent_size], the interpolation's anchors instead of random ones.
      seconds_per_anchor: spacing of the random anchors (the number of anchors is
        :func:`default_num_anchors` of the span from the first to the last onset).
      interpolation: ``"slerp"`` or ``"linear"``.
      attack_s, release_s: see :func:`note_envelope`.
      normalize_notes: scale each generated note to peak 1 before the envelope and velocity.
      max_peak: the mix is scaled down when its peak exceeds this.
    Returns a :class:`MidiRendering`.
    Raises MidiFileError for unreadable input, ValueError for bad arguments.
    """
    if timbre not in ("fixed", "interpolate"):
        raise ValueError(f"timbre must be 'fixed' or 'interpolate', got {timbre!r}")
    if not 0 < max_peak <= 1.0:
        raise ValueError("max_peak must be in (0, 1]")
    notes = midi if isinstance(midi, MidiNotes) else load_midi_notes(midi)
    if len(notes) == 0:
        raise MidiFileError(notes.source, "holds no notes")
    sr = synth.sample_rate
    fit = fit_pitch_range(notes.pitches, synth.min_pitch, synth.max_pitch)
    if fit.num_transposed or fit.num_clipped:
        log.info(
            "%s: %d notes transposed by octaves and %d clipped into the model's range %d..%d",
            notes.source,
            fit.num_transposed,
            fit.num_clipped,
            synth.min_pitch,
            synth.max_pitch,
        )

    first, last = float(notes.start_times.min()), float(notes.start_times.max())
    if timbre == "fixed":
        z = synth.random_latents(1, seed)[0] if latent is None else np.asarray(latent, np.float32).reshape(-1)
        if z.shape != (synth.latent_size,):
            raise ValueError(f"latent must have {synth.latent_size} values, got {z.shape}")
        anchor_arr, anchor_times = z[None], np.array([first])
        latents = np.repeat(z[None], len(notes), axis=0)
    else:
        if anchors is None:
            anchor_arr = synth.random_latents(default_num_anchors(last - first, seconds_per_anchor), seed)
        else:
            anchor_arr = np.asarray(anchors, np.float32)
            if anchor_arr.ndim != 2 or anchor_arr.shape[1] != synth.latent_size or len(anchor_arr) < 1:
                raise ValueError(f"anchors must be [A, {synth.latent_size}], got {anchor_arr.shape}")
        anchor_times = np.linspace(first, last, len(anchor_arr))
        latents = interpolate_latents(notes.start_times, anchor_times, anchor_arr, interpolation)

    # Each distinct (pitch, latent) once.
    keys: Dict[Tuple[int, bytes], int] = {}
    note_index = np.empty(len(notes), np.int64)
    for i, (p, z) in enumerate(zip(fit.pitches, latents)):
        note_index[i] = keys.setdefault((int(p), z.tobytes()), len(keys))
    uniq_pitches = np.array([k[0] for k in keys], np.int32)
    uniq_latents = np.stack([np.frombuffer(k[1], np.float32) for k in keys])
    waves = synth.synthesize(uniq_latents, uniq_pitches).astype(np.float64)
    if normalize_notes:
        peaks = np.max(np.abs(waves), axis=1, keepdims=True)
        waves = waves / np.where(peaks > 0, peaks, 1.0)

    envelopes = [
        note_envelope(e - s, synth.audio_length, sr, attack_s, release_s)
        for s, e in zip(notes.start_times, notes.end_times)
    ]
    onsets = np.round(notes.start_times * sr).astype(np.int64)
    total = int(max(o + len(env) for o, env in zip(onsets, envelopes)))
    mix = np.zeros(max(total, 1), np.float64)
    for onset, env, k, vel in zip(onsets, envelopes, note_index, notes.velocities):
        n = len(env)
        mix[onset : onset + n] += waves[k, :n] * env * (float(vel) / 127.0)
    peak = float(np.max(np.abs(mix)))
    gain = max_peak / peak if peak > max_peak else 1.0
    audio = (mix * gain).astype(np.float32)
    return MidiRendering(
        audio=audio,
        sample_rate=sr,
        notes=notes,
        pitches=fit.pitches,
        latents=latents,
        anchors=np.asarray(anchor_arr, np.float32),
        anchor_times=np.asarray(anchor_times),
        num_transposed=fit.num_transposed,
        num_clipped=fit.num_clipped,
        num_generated=len(keys),
        gain=float(gain),
    )


def synthesize_midi(synth: GANSynthSynthesizer, midi, timbre: str = "fixed", seed: int = 0, **kwargs) -> np.ndarray:
    """float32 audio [samples] at ``synth.sample_rate`` for a MIDI file or ``PrettyMIDI``;
    see :func:`render_midi` for the arguments and for the rendering's details."""
    return render_midi(synth, midi, timbre=timbre, seed=seed, **kwargs).audio


def load(run_dir: PathLike) -> GANSynthSynthesizer:
    """The trained GANSynth of a ``gansynth_train`` run, ready to synthesize
    (:meth:`GANSynthSynthesizer.from_model_dir` with its defaults).

    Args:
      run_dir: the run folder: ``config.json``, ``normalizer.json`` and ``ckpt-N`` (the newest is read).
    Returns:
      a :class:`GANSynthSynthesizer` using the generator's moving average when the run kept one.
    Raises:
      see :meth:`GANSynthSynthesizer.from_model_dir` (``FileNotFoundError``, ``GANSynthCheckpointError``).
    """
    return GANSynthSynthesizer.from_model_dir(run_dir)
