"""The pitch classifier behind GANSynth's metrics, and ``music_eval_train_classifier``.

Inputs. Audio ``[64000]`` at 16 kHz (NSynth format) becomes a log-mel spectrogram computed here
with ``tf.signal`` (no model package is imported): 2048-sample Hann frames, hop 1024 (61 frames),
128 mel bins from 20 Hz to 8 kHz, ``log(mel + 1e-6)``, then standardized per example (zero mean,
unit variance over the whole spectrogram) so that loudness does not matter. See
:func:`log_mel_spectrogram` and :func:`classifier_features`.

Network (:func:`build_pitch_network`). A small Keras CNN on ``[61, 128, 1]``: three conv blocks
(3x3 convolution, batch norm, ReLU, 2x2 max-pool), a mean over time, a dense **embedding**
layer (the penultimate layer, used for FID) and a dense layer of logits over the pitches
``min_pitch..max_pitch`` (GANSynth: 24-84, 61 classes).

Training goes through the shared :class:`tfmusic.training.Runner` (XLA step, checkpoints, config
JSON beside every checkpoint, resume). The spectrograms of the training notes are computed once
and cached in memory. A seeded share of the notes (``data.holdout_fraction``) is held out and
the accuracy on it is written to ``MODEL_DIR/classifier_metrics.json`` and, as
``eval/heldout_accuracy``, into the run's TensorBoard logs.

A trained classifier is the folder ``MODEL_DIR``: ``config.json`` + ``ckpt-N`` files;
:func:`load_classifier` rebuilds it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import re
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from tfmusic import config as config_lib
from tfmusic import experiment
from tfmusic import runtime as runtime_lib
from tfmusic import training
from tfmusic.files import atomic_write_text

SAMPLE_RATE = 16000
NUM_SAMPLES = 64000


# --------------------------------------------------------------------------- configs


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Log-mel front end.

    Attributes:
      sample_rate: Hz of the input audio. num_samples: samples per note (shorter notes are
        zero-padded, longer ones cut).
      frame_length, hop_length: STFT frame and hop in samples.
      num_mel_bins: mel bands. lower_hz, upper_hz: band range in Hz.
    """

    sample_rate: int = SAMPLE_RATE
    num_samples: int = NUM_SAMPLES
    frame_length: int = 2048
    hop_length: int = 1024
    num_mel_bins: int = 128
    lower_hz: float = 20.0
    upper_hz: float = 8000.0

    @property
    def num_frames(self) -> int:
        """STFT frames per note (61 for the defaults)."""
        return 1 + (self.num_samples - self.frame_length) // self.hop_length


@dataclasses.dataclass(frozen=True)
class ClassifierModelConfig:
    """The CNN and its optimizer.

    Attributes:
      min_pitch, max_pitch: MIDI pitches of the first and last class (inclusive).
      filters: channels of the conv blocks.
      embedding_dim: width of the penultimate (embedding) layer.
      dropout: dropout before the logits.
      learning_rate: Adam's step size. clip_norm: global gradient-norm clip.
      seed: weight-initialization seed.
    """

    min_pitch: int = 24
    max_pitch: int = 84
    filters: Tuple[int, ...] = (16, 32, 64)
    embedding_dim: int = 128
    dropout: float = 0.3
    learning_rate: float = 2e-3
    clip_norm: float = 5.0
    seed: int = 0

    @property
    def num_classes(self) -> int:
        """Number of pitch classes (61 for 24-84)."""
        return self.max_pitch - self.min_pitch + 1

    def __post_init__(self):
        if not 0 <= self.min_pitch <= self.max_pitch <= 127:
            raise ValueError(f"need 0 <= min_pitch <= max_pitch <= 127, got {self.min_pitch}, {self.max_pitch}")


@dataclasses.dataclass(frozen=True)
class ClassifierDataConfig:
    """Training data.

    Attributes:
      train_dir: an NSynth jsonwav folder (``examples.json`` + ``audio/``), e.g. from
        ``nsynth_render``.
      holdout_fraction: share of notes held out for the accuracy report (seeded split).
      acoustic_only: keep acoustic instruments only (GANSynth's subset).
      seed: split and shuffle seed.
    """

    train_dir: str = ""
    holdout_fraction: float = 0.2
    acoustic_only: bool = False
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class ClassifierExperiment:
    """A classifier run: features, model, data, trainer (steps, batch) and runtime."""

    features: FeatureConfig = FeatureConfig()
    model: ClassifierModelConfig = ClassifierModelConfig()
    data: ClassifierDataConfig = ClassifierDataConfig()
    trainer: training.TrainerConfig = training.TrainerConfig(
        train_steps=1500, global_batch_size=32, checkpoint_every=500, summary_every=50, progress=True
    )
    runtime: runtime_lib.RuntimeConfig = runtime_lib.RuntimeConfig(distribution="one_device", jit_compile=False)


PRESETS: config_lib.PresetRegistry[ClassifierExperiment] = config_lib.PresetRegistry("pitch classifier")
PRESETS.add("gansynth", ClassifierExperiment)
PRESETS.add(
    "tiny",
    lambda: ClassifierExperiment(
        trainer=training.TrainerConfig(
            train_steps=150, global_batch_size=32, checkpoint_every=150, summary_every=50, progress=False
        )
    ),
)


# --------------------------------------------------------------------------- features


def log_mel_spectrogram(audio, config: FeatureConfig = FeatureConfig()):
    """Log-mel spectrogram of a batch of notes.

    Args:
      audio: float ``[batch, num_samples]`` (a tensor or array; other lengths are padded/cut to
        ``config.num_samples``), values in [-1, 1], at ``config.sample_rate``.
      config: the front end.

    Returns:
      float32 tensor ``[batch, config.num_frames, config.num_mel_bins]``: ``log(mel power + 1e-6)``.
    """
    import tensorflow as tf

    audio = tf.convert_to_tensor(audio, tf.float32)
    n = tf.shape(audio)[-1]
    audio = tf.cond(
        n >= config.num_samples,
        lambda: audio[..., : config.num_samples],
        lambda: tf.pad(audio, [[0, 0], [0, config.num_samples - n]]),
    )
    audio = tf.ensure_shape(audio, [None, config.num_samples])
    stft = tf.signal.stft(
        audio,
        config.frame_length,
        config.hop_length,
        fft_length=config.frame_length,
        window_fn=tf.signal.hann_window,
        pad_end=False,
    )
    power = tf.math.real(stft * tf.math.conj(stft))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        config.num_mel_bins, config.frame_length // 2 + 1, config.sample_rate, config.lower_hz, config.upper_hz
    )
    return tf.math.log(tf.tensordot(power, mel_matrix, 1) + 1e-6)


def classifier_features(audio, config: FeatureConfig = FeatureConfig(), batch_size: int = 64) -> np.ndarray:
    """The classifier's input: per-example standardized log-mel spectrograms.

    Args:
      audio: float ``[batch, num_samples]`` at 16 kHz.
      config: the front end. batch_size: notes per tf call (memory bound only).

    Returns:
      float32 numpy ``[batch, num_frames, num_mel_bins, 1]``.
    """
    import tensorflow as tf

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    out = []
    for i in range(0, len(audio), batch_size):
        x = log_mel_spectrogram(audio[i : i + batch_size], config)
        mean, var = tf.nn.moments(x, axes=[1, 2], keepdims=True)
        out.append(((x - mean) / tf.sqrt(var + 1e-6)).numpy()[..., None])
    if not out:
        return np.zeros((0, config.num_frames, config.num_mel_bins, 1), np.float32)
    return np.concatenate(out).astype(np.float32)


def ndb_features(audio, config: FeatureConfig = FeatureConfig(), pool: Tuple[int, int] = (4, 4)) -> np.ndarray:
    """Flattened log spectrograms for NDB's k-means (not standardized: level differences count).

    Args:
      audio: float ``[batch, num_samples]`` at 16 kHz.
      config: the front end. pool: average-pooling (frames, mel bins) that shrinks the vectors
        (61x128 -> 15x32 by default) so that k-means stays fast.

    Returns:
      float32 ``[batch, dim]``.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    spec = log_mel_spectrogram(audio, config).numpy()
    t, f = pool
    b, nt, nf = spec.shape
    spec = spec[:, : nt // t * t, : nf // f * f].reshape(b, nt // t, t, nf // f, f).mean(axis=(2, 4))
    return spec.reshape(b, -1).astype(np.float32)


# --------------------------------------------------------------------------- network


def build_pitch_network(
    model_config: ClassifierModelConfig = ClassifierModelConfig(), feature_config: FeatureConfig = FeatureConfig()
):
    """The CNN ``[batch, frames, mel_bins, 1] -> logits [batch, num_classes]``.

    Its outputs are a dict-free single tensor; the penultimate layer is named ``embedding``
    (see :func:`embedding_model`). Every layer is named.
    """
    import keras

    keras.utils.set_random_seed(model_config.seed)
    inputs = keras.Input((feature_config.num_frames, feature_config.num_mel_bins, 1), name="log_mel")
    x = inputs
    for i, channels in enumerate(model_config.filters):
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"conv_{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn_{i}")(x)
        x = keras.layers.ReLU(name=f"relu_{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=1), name="mean_over_time")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(model_config.embedding_dim, activation="relu", name="embedding")(x)
    x = keras.layers.Dropout(model_config.dropout, name="dropout")(x)
    logits = keras.layers.Dense(model_config.num_classes, name="logits")(x)
    return keras.Model(inputs, logits, name="pitch_classifier")


def embedding_model(network):
    """A model sharing ``network``'s weights that outputs its penultimate (``embedding``) layer."""
    import keras

    return keras.Model(network.input, network.get_layer("embedding").output, name="pitch_embedding")


# --------------------------------------------------------------------------- data


class NSynthArrays:
    """Notes of an NSynth jsonwav folder as arrays.

    Attributes:
      audio: float32 ``[n, 64000]``. pitches: int64 ``[n]`` MIDI pitches.
      names: the ``note_str`` of each note. skipped: number of bad notes skipped.
    """

    def __init__(self, audio: np.ndarray, pitches: np.ndarray, names: List[str], skipped: int = 0):
        self.audio, self.pitches, self.names, self.skipped = audio, pitches, names, skipped

    def __len__(self) -> int:
        return len(self.pitches)


def load_nsynth_dir(
    path, min_pitch: Optional[int] = None, max_pitch: Optional[int] = None, acoustic_only: bool = False
) -> NSynthArrays:
    """Reads an NSynth jsonwav folder with ``pipelines.nsynth``, skipping (and counting) bad notes.

    Args:
      path: folder with ``examples.json`` and ``audio/``.
      min_pitch, max_pitch: inclusive pitch filter. acoustic_only: acoustic instruments only.

    Returns:
      :class:`NSynthArrays`.

    Raises:
      pipelines.errors.InputError: ``examples.json`` is missing or unreadable (names the file).
    """
    from pipelines import nsynth
    from pipelines.tfrecord_io import Counters

    counters = Counters()
    audio, pitches, names = [], [], []
    for el in nsynth.iter_jsonwav_dir(
        path, acoustic_only=acoustic_only, min_pitch=min_pitch, max_pitch=max_pitch, skip_bad=True, counters=counters
    ):
        audio.append(el["audio"])
        pitches.append(int(el["pitch"]))
        names.append(el["note_str"].decode() if isinstance(el["note_str"], bytes) else str(el["note_str"]))
    skipped = counters.get("skipped")
    arr = np.stack(audio) if audio else np.zeros((0, NUM_SAMPLES), np.float32)
    return NSynthArrays(arr.astype(np.float32), np.asarray(pitches, np.int64), names, skipped)


def load_features(
    path,
    feature_config: FeatureConfig = FeatureConfig(),
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    chunk: int = 256,
) -> Tuple[np.ndarray, np.ndarray, List[str]]:
    """Classifier inputs of an NSynth jsonwav folder, computed ``chunk`` notes at a time.

    Holds only the features (about 31 kB a note) rather than the audio (256 kB a note).

    Returns:
      ``(features [n, frames, mels, 1] float32, pitches [n] int64, note names)``; bad notes skipped.
    """
    from pipelines import nsynth
    from pipelines.tfrecord_io import Counters

    feats, pitches, names, batch = [], [], [], []
    counters = Counters()

    def flush():
        if batch:
            feats.append(classifier_features(np.stack(batch), feature_config))
            batch.clear()

    for el in nsynth.iter_jsonwav_dir(path, min_pitch=min_pitch, max_pitch=max_pitch, skip_bad=True, counters=counters):
        batch.append(el["audio"])
        pitches.append(int(el["pitch"]))
        names.append(el["note_str"].decode() if isinstance(el["note_str"], bytes) else str(el["note_str"]))
        if len(batch) >= chunk:
            flush()
    flush()
    empty = np.zeros((0, feature_config.num_frames, feature_config.num_mel_bins, 1), np.float32)
    return (np.concatenate(feats) if feats else empty), np.asarray(pitches, np.int64), names


_PITCH_DIR = re.compile(r"pitch[_-]?(\d{1,3})", re.IGNORECASE)
_NOTE_STR = re.compile(r"-(\d{3})-(\d{3})$")


def pitch_from_path(path) -> Optional[int]:
    """The MIDI pitch a wav's path names, or None.

    Understood: a ``pitch_NN`` (or ``pitchNN``) folder or file-name part (Magenta's evaluation
    layout), and NSynth note names ``<instrument>-<pitch:03d>-<velocity:03d>.wav``.
    """
    p = pathlib.Path(path)
    m = _NOTE_STR.search(p.stem)
    if m:
        return int(m.group(1))
    for part in reversed(p.parts):
        m = _PITCH_DIR.search(part)
        if m and 0 <= int(m.group(1)) <= 127:
            return int(m.group(1))
    return None


def load_note_folder(path, num_samples: int = NUM_SAMPLES, sample_rate: int = SAMPLE_RATE):
    """Notes from an NSynth jsonwav folder or any folder of wav files (searched recursively).

    Wavs at another rate are resampled; lengths are cut or zero-padded to ``num_samples``.
    Pitches come from ``examples.json`` when there is one, else from :func:`pitch_from_path`
    (-1 when unknown).

    Args:
      path: the folder.

    Returns:
      ``(NSynthArrays, bad_files)``: the notes, and a list of ``(file, problem)`` skipped.

    Raises:
      FileNotFoundError: ``path`` is not a folder or holds no wav files.
    """
    from tfmusic.audio import AudioFileError, fit_length, read_wav, resample

    root = pathlib.Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    if (root / "examples.json").is_file():
        arrays = load_nsynth_dir(root)
        return arrays, [(str(root / "examples.json"), f"{arrays.skipped} bad notes skipped")] if arrays.skipped else []
    files = sorted(root.rglob("*.wav"))
    if not files:
        raise FileNotFoundError(f"{root}: holds no .wav files")
    audio, pitches, names, bad = [], [], [], []
    for f in files:
        try:
            x, rate = read_wav(f)
        except AudioFileError as e:
            bad.append((str(f), e.problem))
            continue
        if rate != sample_rate:
            x = resample(x, rate, sample_rate)
        audio.append(fit_length(x, num_samples))
        pitch = pitch_from_path(f.relative_to(root))
        pitches.append(-1 if pitch is None else pitch)
        names.append(str(f.relative_to(root)))
    if not audio:
        raise FileNotFoundError(f"{root}: none of its {len(files)} wav files could be read")
    return NSynthArrays(np.stack(audio).astype(np.float32), np.asarray(pitches, np.int64), names, len(bad)), bad


def split_holdout(n: int, fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n)`` into (train indices, held-out indices)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    k = int(round(n * fraction)) if fraction > 0 else 0
    k = min(k, n - 1)
    return np.sort(order[k:]), np.sort(order[:k])


# --------------------------------------------------------------------------- task


class PitchClassifierTask(training.Task):
    """Cross-entropy training of the pitch CNN on cached log-mel features.

    Args:
      config: the experiment. features: float32 ``[n, frames, mels, 1]`` (from
        :func:`classifier_features`). labels: int ``[n]`` class indices (pitch - min_pitch).
      eval_sets: ``{metric name: (features, labels)}`` that :meth:`evaluate` (the runner's evaluation
        hook) scores: the share of each set's argmax predictions equal to its labels (NaN for an
        empty set); None: no evaluation.
    """

    def __init__(
        self,
        config: ClassifierExperiment,
        features: np.ndarray,
        labels: np.ndarray,
        eval_sets: Optional[Dict[str, Tuple[np.ndarray, np.ndarray]]] = None,
    ):
        self.config = config
        self.features = features
        self.labels = labels.astype(np.int32)
        self.eval_sets = eval_sets

    def build(self):
        import keras

        self.network = build_pitch_network(self.config.model, self.config.features)
        self.optimizer = keras.optimizers.Adam(self.config.model.learning_rate)
        self.optimizer.build(self.network.trainable_variables)

    def checkpoint_items(self):
        return {"model": self.network, "optimizer": self.optimizer}

    def build_inputs(self, input_context):
        import tensorflow as tf

        batch = input_context.get_per_replica_batch_size(self.config.trainer.global_batch_size)
        ds = tf.data.Dataset.from_tensor_slices((self.features, self.labels))
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        ds = ds.shuffle(len(self.labels), seed=self.config.data.seed, reshuffle_each_iteration=True)
        return ds.repeat().batch(batch, drop_remainder=True).prefetch(2)

    def phases(self):
        import tensorflow as tf

        gbs = self.config.trainer.global_batch_size

        def loss_fn(batch):
            x, y = batch
            logits = self.network(x, training=True)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32)
            return training.global_batch_mean(per_example, gbs), {"accuracy": training.global_batch_mean(correct, gbs)}

        return [
            training.GradientPhase(
                "xent",
                loss_fn,
                lambda: self.network.trainable_variables,
                self.optimizer,
                clip_norm=self.config.model.clip_norm,
            )
        ]

    def evaluate(self) -> Optional[Dict[str, float]]:
        """``{name: accuracy}`` over ``eval_sets`` (batches of 64, no dropout); None without them."""
        if self.eval_sets is None:
            return None
        out = {}
        for name, (feats, labels) in self.eval_sets.items():
            if len(labels) == 0:
                out[name] = float("nan")
                continue
            logits = np.concatenate(
                [np.asarray(self.network(feats[i : i + 64], training=False)) for i in range(0, len(labels), 64)]
            )
            out[name] = float(np.mean(logits.argmax(-1) == labels))
        return out


# --------------------------------------------------------------------------- classifier object


class PitchClassifier:
    """A trained pitch classifier: audio in, pitch probabilities and embeddings out.

    Args:
      network: the Keras CNN (see :func:`build_pitch_network`).
      config: the experiment it was trained with (front end and pitch range).
    """

    def __init__(self, network, config: ClassifierExperiment):
        self.network = network
        self.config = config
        self._embed = embedding_model(network)

    @property
    def min_pitch(self) -> int:
        """MIDI pitch of class 0."""
        return self.config.model.min_pitch

    @property
    def pitches(self) -> np.ndarray:
        """MIDI pitch of each class, int ``[num_classes]``."""
        return np.arange(self.config.model.min_pitch, self.config.model.max_pitch + 1)

    def features(self, audio) -> np.ndarray:
        """Classifier inputs ``[n, frames, mels, 1]`` of audio ``[n, 64000]`` at 16 kHz."""
        return classifier_features(audio, self.config.features)

    def _run(self, model, audio, batch_size: int) -> np.ndarray:
        feats = self.features(audio)
        out = [np.asarray(model(feats[i : i + batch_size], training=False)) for i in range(0, len(feats), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, model.output_shape[-1]), np.float32)

    def logits(self, audio, batch_size: int = 64) -> np.ndarray:
        """Logits ``[n, num_classes]`` of audio ``[n, 64000]``."""
        return self._run(self.network, audio, batch_size)

    def probabilities(self, audio, batch_size: int = 64) -> np.ndarray:
        """Softmax ``p(pitch | audio)``, float ``[n, num_classes]`` (class i = pitch min_pitch + i)."""
        from scipy.special import softmax

        return softmax(self.logits(audio, batch_size).astype(np.float64), axis=-1)

    def embeddings(self, audio, batch_size: int = 64) -> np.ndarray:
        """Penultimate-layer activations ``[n, embedding_dim]`` (FID's embedding)."""
        return self._run(self._embed, audio, batch_size).astype(np.float64)

    def predict_pitches(self, audio, batch_size: int = 64) -> np.ndarray:
        """Arg-max MIDI pitch of each note, int ``[n]``."""
        return self.logits(audio, batch_size).argmax(axis=-1) + self.min_pitch

    def accuracy(self, audio, pitches, tolerance: int = 0) -> float:
        """Share of notes whose predicted pitch is within ``tolerance`` of ``pitches`` ``[n]``."""
        pred = self.predict_pitches(audio)
        return float(np.mean(np.abs(pred - np.asarray(pitches)) <= tolerance)) if len(pred) else float("nan")


class ClassifierFileError(ValueError):
    """A classifier folder whose config or weights are unreadable, truncated or do not fit."""


def load_classifier(model_dir) -> PitchClassifier:
    """Rebuilds a classifier trained by :func:`train_classifier` (or exported by
    :func:`export_classifier`) from ``model_dir``.

    Every variable of the network must come from the checkpoint with its own shape.

    Raises:
      FileNotFoundError: no ``config.json`` or no checkpoint in ``model_dir``.
      ClassifierFileError: ``config.json`` unreadable, or the checkpoint truncated, corrupt or
        made for another network (the message names the file and the problem).
    """
    import tensorflow as tf

    model_dir = os.fspath(model_dir)
    cfg_path = os.path.join(model_dir, config_lib.CONFIG_FILENAME)
    if not os.path.isfile(cfg_path):
        raise FileNotFoundError(f"{model_dir}: no {config_lib.CONFIG_FILENAME}; not a trained classifier folder")
    try:
        cfg = config_lib.load_json(ClassifierExperiment, cfg_path)
    except (config_lib.ConfigError, ValueError, TypeError) as e:
        raise ClassifierFileError(f"{cfg_path}: not a pitch-classifier config ({e})") from e
    latest = tf.train.latest_checkpoint(model_dir)
    if not latest:
        raise FileNotFoundError(f"{model_dir}: holds no checkpoint")
    network = build_pitch_network(cfg.model, cfg.features)
    try:
        status = tf.train.Checkpoint(model=network).restore(latest)
        status.assert_existing_objects_matched()  # every network variable, with its own shape
    except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError, RuntimeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ClassifierFileError(
            f"{latest}: checkpoint truncated, corrupt or not made for the network in "
            f"{cfg_path} ({type(e).__name__}: {first[:300]})"
        ) from None
    return PitchClassifier(network, cfg)


def load(run_dir) -> PitchClassifier:
    """The trained pitch classifier of a ``music_eval_train_classifier`` run (or an exported folder).

    In: ``run_dir``, a folder with ``config.json`` (a :class:`ClassifierExperiment`) and ``ckpt-N``.
    Out: a :class:`PitchClassifier` (audio in, pitch probabilities and embeddings out).
    Raises what :func:`load_classifier` raises (``FileNotFoundError``, :class:`ClassifierFileError`).
    """
    return load_classifier(run_dir)


def export_classifier(classifier: PitchClassifier, out_dir) -> str:
    """Writes ``classifier`` as a small model-only folder (``config.json`` + one checkpoint, no
    optimizer state) that :func:`load_classifier` reads. Returns the checkpoint's prefix."""
    import tensorflow as tf

    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    config_lib.save_json(classifier.config, os.path.join(out_dir, config_lib.CONFIG_FILENAME))
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=classifier.network), out_dir, max_to_keep=1, checkpoint_name="ckpt"
    )
    return manager.save(checkpoint_number=1)


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_classifier` returns.

    Attributes:
      classifier: the trained :class:`PitchClassifier`.
      metrics: dict written to ``classifier_metrics.json`` (train/held-out accuracy, counts).
    """

    classifier: PitchClassifier
    metrics: dict


METRICS_FILENAME = "classifier_metrics.json"


def train_classifier(
    config: ClassifierExperiment,
    model_dir,
    data: Optional[NSynthArrays] = None,
    strategy=None,
    features: Optional[Tuple[np.ndarray, np.ndarray]] = None,
) -> TrainResult:
    """Trains (or resumes) a pitch classifier with :class:`tfmusic.training.Runner`.

    Args:
      config: the experiment; ``config.data.train_dir`` is read unless ``data`` is given.
      model_dir: run folder (checkpoints, config.json, TensorBoard, classifier_metrics.json).
      data: notes to train on instead of reading ``train_dir``.
      strategy: optional ready ``tf.distribute`` strategy.
      features: ``(features [n, frames, mels, 1], pitches [n])`` computed beforehand (e.g. by
        :func:`load_features`, which needs less memory than whole notes); replaces ``data``.

    Returns:
      :class:`TrainResult` with the classifier and accuracy on the train and held-out notes.

    Raises:
      ValueError: fewer than 2 usable notes.
    """
    model_dir = os.fspath(model_dir)
    m = config.model
    skipped = 0
    if features is not None:
        feats, pitches = features
        keep = (pitches >= m.min_pitch) & (pitches <= m.max_pitch)
        feats, pitches = feats[keep], np.asarray(pitches)[keep]
    elif data is None:
        if not config.data.train_dir:
            raise ValueError("data.train_dir is empty: give an NSynth jsonwav folder")
        data = load_nsynth_dir(config.data.train_dir, m.min_pitch, m.max_pitch, config.data.acoustic_only)
    if features is None:
        keep = (data.pitches >= m.min_pitch) & (data.pitches <= m.max_pitch)
        pitches, skipped = data.pitches[keep], data.skipped
        feats = classifier_features(data.audio[keep], config.features)
    if len(pitches) < 2:
        raise ValueError(f"need at least 2 notes with pitches {m.min_pitch}-{m.max_pitch}, got {len(pitches)}")
    train_idx, held_idx = split_holdout(len(pitches), config.data.holdout_fraction, config.data.seed)
    labels = (pitches - m.min_pitch).astype(np.int32)
    eval_sets = {
        "train_accuracy": (feats[train_idx], labels[train_idx]),
        "heldout_accuracy": (feats[held_idx], labels[held_idx]),
    }
    task = PitchClassifierTask(config, feats[train_idx], labels[train_idx], eval_sets=eval_sets)
    # The evaluation hook writes eval/train_accuracy, eval/heldout_accuracy beside the training scalars.
    result = experiment.run(task, config, model_dir, strategy).result
    classifier = PitchClassifier(task.network, config)
    metrics = {
        **result.eval_metrics,
        "num_train": int(len(train_idx)),
        "num_heldout": int(len(held_idx)),
        "skipped_notes": int(skipped),
        "final_step": int(result.final_step),
        "final_logs": result.logs,
    }
    atomic_write_text(os.path.join(model_dir, METRICS_FILENAME), json.dumps(metrics, indent=2) + "\n")
    return TrainResult(classifier, metrics)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """The ``music_eval_train_classifier`` argument parser (:func:`music_eval.cli.build_train_classifier_parser`)."""
    from music_eval import cli

    return cli.build_train_classifier_parser()


def _refuse(message: str) -> int:
    """Prints ``music_eval_train_classifier: message`` to stderr; returns the exit status 2."""
    print(f"music_eval_train_classifier: {message}", file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``music_eval_train_classifier``; prints accuracies, returns 0."""
    from music_eval import cli

    args = cli.parse_train_classifier_args(argv)
    overrides = list(args.overrides)
    if args.train_dir:
        overrides.append(f"data.train_dir={args.train_dir}")
    from pipelines import nsynth
    from pipelines.errors import InputError

    flags = {"--preset": config_lib.RunFlag(args.preset or "gansynth", given=args.preset is not None)}
    try:
        plan = config_lib.plan_run_config(args.model_dir, PRESETS.get(args.preset or "gansynth"), overrides, flags)
    except ValueError as e:  # ConfigError: a bad --set, or --preset against the run's
        return _refuse(str(e))
    cfg, resumed = plan.config, plan.resumed
    if not cfg.data.train_dir:
        return _refuse("no training data: pass --train_dir (an NSynth jsonwav folder)")
    try:  # before anything is written to the run folder
        nsynth.check_jsonwav_dir(cfg.data.train_dir, cfg.data.acoustic_only, cfg.model.min_pitch, cfg.model.max_pitch)
    except InputError as e:
        return _refuse(f"--train_dir {e}")
    plan.write()
    print(f"{'resuming' if resumed else 'training'} pitch classifier in {args.model_dir}")
    result = train_classifier(cfg, args.model_dir)
    print(
        f"train accuracy {result.metrics['train_accuracy']:.3f} on {result.metrics['num_train']} notes; "
        f"held-out accuracy {result.metrics['heldout_accuracy']:.3f} on {result.metrics['num_heldout']} notes"
    )
    for d in args.eval_dir:
        arrays = load_nsynth_dir(d, cfg.model.min_pitch, cfg.model.max_pitch)
        acc = result.classifier.accuracy(arrays.audio, arrays.pitches)
        acc1 = result.classifier.accuracy(arrays.audio, arrays.pitches, tolerance=1)
        result.metrics.setdefault("eval", {})[d] = {"accuracy": acc, "accuracy_within_1": acc1, "num": len(arrays)}
        print(f"accuracy on {d}: {acc:.3f} exact, {acc1:.3f} within a semitone ({len(arrays)} notes)")
    atomic_write_text(os.path.join(args.model_dir, METRICS_FILENAME), json.dumps(result.metrics, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
