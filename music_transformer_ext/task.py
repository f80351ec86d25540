"""Language-model training of the Music Transformer through :class:`tfmusic.training.Runner`.

:class:`MusicTransformerTask` is a one-phase :class:`tfmusic.training.Task`:

* loss: cross-entropy of the logits against ``targets``, PAD (id 0) positions weighted 0 as in
  t2t's ``weights_nonzero``; each example's loss is the mean over its non-PAD tokens, and the
  step loss is the mean over the *global* batch (:func:`tfmusic.training.global_batch_mean`), so
  one and several replicas agree. Optional t2t label smoothing (score2perf uses none).
* optimizer: Adam (t2t ``transformer_base``: beta1 0.9, beta2 0.997, epsilon 1e-9) or Adafactor
  (``transformer_tpu``); learning rate from t2t's factored schedules
  (:class:`T2TLearningRateSchedule`, e.g. ``constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size``).
* fine-tuning: ``init_checkpoint`` names a tensor2tensor checkpoint that is ported
  (:mod:`music_transformer_ext.checkpoints`, strict) into the fresh model before training
  (:meth:`MusicTransformerTask.initialize`); a run that resumes from its own checkpoints restores
  those instead and never reads the t2t checkpoint again (the Runner calls ``initialize`` only for a
  run with no checkpoint of its own).
* inputs: ``dataset_fn(input_context)`` yields *unbatched* examples ``{"targets": int [L]}`` (and
  ``"inputs": int [S]`` for a conditioned model), already sharded per input pipeline; the task
  crops / zero-pads them to ``data.sequence_length`` / ``data.input_length``, repeats and batches.
  The number of examples consumed is checkpointed; a resumed run skips that many, so a
  deterministic dataset continues exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from music_transformer_ext import checkpoints as checkpoints_lib
from music_transformer_ext import convert_t2t
from music_transformer_ext import config as model_config_lib
from music_transformer_ext.config import MusicTransformerConfig
from music_transformer_ext.model import MusicTransformer
from tfmusic import runtime as runtime_lib
from tfmusic import training

DatasetFn = Callable[[tf.distribute.InputContext], tf.data.Dataset]

SCHEDULE_FACTORS = ("constant", "linear_warmup", "rsqrt_decay", "rsqrt_hidden_size", "rsqrt_normalized_decay")
OPTIMIZERS = ("adam", "adafactor")


def _factors(schedule: str) -> Tuple[str, ...]:
    return tuple(f.strip() for f in schedule.split("*") if f.strip())


@dataclasses.dataclass(frozen=True)
class OptimizerConfig:
    """Optimizer and learning-rate schedule, t2t's names.

    Attributes:
      name: ``adam`` or ``adafactor``.
      schedule: ``*``-joined t2t factors: ``constant`` (``learning_rate_constant``),
        ``linear_warmup`` (``min(1, step / warmup)``), ``rsqrt_decay``
        (``1 / sqrt(max(step, warmup))``), ``rsqrt_normalized_decay`` (``sqrt(warmup)`` times that),
        ``rsqrt_hidden_size`` (``hidden ** -0.5``). Steps count from 1.
      learning_rate_constant, warmup_steps: t2t ``transformer_base``: 2.0 and 8000.
      adam_beta1, adam_beta2, adam_epsilon: 0.9, 0.997, 1e-9 (``transformer_base``).
      adafactor_decay_exponent: second-moment decay ``1 - step^-0.8`` (t2t's Adafactor default).
      clip_norm: clip the summed gradient to this global norm; 0 = none (t2t ``clip_grad_norm`` 0).
    """

    name: str = "adam"
    schedule: str = "constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size"
    learning_rate_constant: float = 2.0
    warmup_steps: int = 8000
    adam_beta1: float = 0.9
    adam_beta2: float = 0.997
    adam_epsilon: float = 1e-9
    adafactor_decay_exponent: float = 0.8
    clip_norm: float = 0.0

    def __post_init__(self):
        if self.name not in OPTIMIZERS:
            raise ValueError(f"optimizer.name {self.name!r} not in {OPTIMIZERS}")
        for factor in _factors(self.schedule):
            if factor not in SCHEDULE_FACTORS:
                raise ValueError(f"optimizer.schedule factor {factor!r} not in {SCHEDULE_FACTORS}")
        if self.warmup_steps < 0 or self.clip_norm < 0:
            raise ValueError("optimizer.warmup_steps and clip_norm must be >= 0")


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Example shapes. ``sequence_length``: target tokens per example (crop / zero-pad);
    ``input_length``: encoder tokens per example of a conditioned model."""

    sequence_length: int = 2048
    input_length: int = 256

    def __post_init__(self):
        if self.sequence_length <= 0 or self.input_length <= 0:
            raise ValueError("data.sequence_length and data.input_length must be positive")


@dataclasses.dataclass(frozen=True)
class MusicTransformerExperiment:
    """A training run: ``model``, ``optimizer``, ``data``, ``trainer``, ``runtime``.

    ``init_checkpoint``: a tensor2tensor checkpoint (folder or prefix) to fine-tune from ('' = random
    init). ``label_smoothing``: t2t's (0.0 as score2perf). ``seed``: weight initialisation.
    """

    model: MusicTransformerConfig = MusicTransformerConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    data: DataConfig = DataConfig()
    init_checkpoint: str = ""
    label_smoothing: float = 0.0
    seed: int = 0
    trainer: training.TrainerConfig = training.TrainerConfig()
    runtime: runtime_lib.RuntimeConfig = runtime_lib.RuntimeConfig()

    def __post_init__(self):
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.data.sequence_length > self.model.max_length:
            raise ValueError(
                f"data.sequence_length {self.data.sequence_length} exceeds model.max_length {self.model.max_length}"
            )


def experiment_for(model: str | MusicTransformerConfig, **fields) -> MusicTransformerExperiment:
    """An experiment around a model preset name or config; ``fields`` replace experiment fields."""
    if isinstance(model, str):
        model = model_config_lib.get(model)
    return MusicTransformerExperiment(model=model, **fields)


# --------------------------------------------------------------------------- schedule


@keras.saving.register_keras_serializable(package="music_transformer_ext")
class T2TLearningRateSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """t2t's ``learning_rate_schedule``: the product of the named factors at ``step + 1``."""

    def __init__(self, schedule: str, learning_rate_constant: float, warmup_steps: int, hidden_size: int):
        self.schedule = schedule
        self.learning_rate_constant = float(learning_rate_constant)
        self.warmup_steps = int(warmup_steps)
        self.hidden_size = int(hidden_size)
        for factor in _factors(schedule):
            if factor not in SCHEDULE_FACTORS:
                raise ValueError(f"unknown learning-rate factor {factor!r}; known: {SCHEDULE_FACTORS}")

    def __call__(self, step):
        step = tf.cast(step, tf.float32) + 1.0
        warmup = float(max(self.warmup_steps, 1))
        rate = tf.constant(1.0)
        for factor in _factors(self.schedule):
            if factor == "constant":
                rate *= self.learning_rate_constant
            elif factor == "linear_warmup":
                rate *= tf.minimum(1.0, step / warmup)
            elif factor == "rsqrt_decay":
                rate *= tf.math.rsqrt(tf.maximum(step, warmup))
            elif factor == "rsqrt_normalized_decay":
                rate *= math.sqrt(warmup) * tf.math.rsqrt(tf.maximum(step, warmup))
            elif factor == "rsqrt_hidden_size":
                rate *= self.hidden_size**-0.5
        return rate

    def get_config(self):
        return {
            "schedule": self.schedule,
            "learning_rate_constant": self.learning_rate_constant,
            "warmup_steps": self.warmup_steps,
            "hidden_size": self.hidden_size,
        }


def make_optimizer(config: OptimizerConfig, hidden_size: int) -> keras.optimizers.Optimizer:
    """The Keras optimizer of ``config`` with its t2t schedule (``hidden_size`` for ``rsqrt_hidden_size``)."""
    schedule = T2TLearningRateSchedule(config.schedule, config.learning_rate_constant, config.warmup_steps, hidden_size)
    if config.name == "adam":
        return keras.optimizers.Adam(
            schedule, beta_1=config.adam_beta1, beta_2=config.adam_beta2, epsilon=config.adam_epsilon, name="adam"
        )
    return keras.optimizers.Adafactor(
        schedule,
        beta_2_decay=-config.adafactor_decay_exponent,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=False,
        name="adafactor",
    )


# --------------------------------------------------------------------------- loss


def sequence_cross_entropy(
    logits: tf.Tensor, targets: tf.Tensor, label_smoothing: float = 0.0, pad_id: int = 0
) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Per-token losses of ``logits [B, L, V]`` against ``targets [B, L]``.

    Returns ``(loss, nll, weights)``, each ``[B, L]`` float32: ``loss`` is t2t's smoothed
    cross-entropy (confidence ``1 - s`` on the target, ``s / (V - 1)`` elsewhere, minus its
    minimum so a perfect prediction scores 0), ``nll`` the plain negative log-likelihood, and
    ``weights`` 1 for non-PAD targets.
    """
    logits = tf.cast(logits, tf.float32)
    targets = tf.cast(targets, tf.int32)
    log_probs = tf.nn.log_softmax(logits)
    nll = -tf.gather(log_probs, targets, batch_dims=2)
    weights = tf.cast(tf.not_equal(targets, pad_id), tf.float32)
    if label_smoothing <= 0:
        return nll, nll, weights
    vocab = logits.shape[-1]
    confidence = 1.0 - label_smoothing
    low = label_smoothing / (vocab - 1)
    soft = tf.one_hot(targets, vocab, on_value=confidence, off_value=low)
    loss = -tf.reduce_sum(soft * log_probs, axis=-1)
    normalizing = -(confidence * math.log(confidence) + (vocab - 1) * low * math.log(low + 1e-20))
    return loss - normalizing, nll, weights


def token_statistics(model: MusicTransformer, features: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Sums over a batch for evaluation: ``nll_sum``, ``tokens`` (non-PAD targets), ``correct``
    (argmax hits). Divide ``nll_sum`` by ``tokens`` for the NLL per token (nats)."""
    model_features = features if model.config.conditioned else features["targets"]
    logits = model(model_features, training=False)
    _, nll, weights = sequence_cross_entropy(logits, features["targets"])
    hits = tf.cast(
        tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(features["targets"], tf.int32)), tf.float32
    )
    return {
        "nll_sum": tf.reduce_sum(nll * weights),
        "tokens": tf.reduce_sum(weights),
        "correct": tf.reduce_sum(hits * weights),
    }


def evaluate(model: MusicTransformer, batches: Iterable[Dict[str, Any]], jit_compile: bool = True) -> Dict[str, float]:
    """Token-weighted NLL and accuracy of ``model`` over ``batches`` (dicts of ``targets [B, L]``,
    and ``inputs`` for a conditioned model): ``{"nll_per_token", "accuracy", "tokens"}``."""
    fn = tf.function(lambda f: token_statistics(model, f), jit_compile=jit_compile)
    total = {"nll_sum": 0.0, "tokens": 0.0, "correct": 0.0}
    for batch in batches:
        stats = fn({k: tf.convert_to_tensor(v) for k, v in batch.items()})
        for key in total:
            total[key] += float(stats[key].numpy())
    tokens = max(total["tokens"], 1.0)
    return {
        "nll_per_token": total["nll_sum"] / tokens,
        "accuracy": total["correct"] / tokens,
        "tokens": total["tokens"],
    }


# --------------------------------------------------------------------------- data


def _fit_length(x: tf.Tensor, length: int) -> tf.Tensor:
    x = tf.cast(x, tf.int32)[:length]
    return tf.pad(x, [[0, length - tf.shape(x)[0]]])


class InputState(tf.Module):
    """Checkpointed count of examples consumed (global), so a resumed run continues the stream."""

    def __init__(self):
        super().__init__(name="input_state")
        self.examples_seen = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="examples_seen",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )


# --------------------------------------------------------------------------- task


class MusicTransformerTask(training.Task):
    """Language-model (or melody-conditioned) training of a :class:`MusicTransformer`.

    Args:
      config: the :class:`MusicTransformerExperiment`.
      dataset_fn: ``input_context -> tf.data.Dataset`` of unbatched example dicts (see module doc).
      skip_consumed_on_resume: skip the examples a resumed run already trained on (exact
        continuation for deterministic datasets; set False for huge shuffled datasets).

    Attributes after :meth:`build`: ``model``, ``optimizer``; after :meth:`initialize`: ``ported_from``
    (the resolved ``init_checkpoint`` path; None for a resumed run or one without ``init_checkpoint``).
    """

    xla_family = runtime_lib.MUSIC_TRANSFORMER

    def __init__(self, config: MusicTransformerExperiment, dataset_fn: DatasetFn, skip_consumed_on_resume: bool = True):
        self.config = config
        self.dataset_fn = dataset_fn
        self.skip_consumed_on_resume = skip_consumed_on_resume
        self.global_batch_size = config.trainer.global_batch_size
        self.ported_from: Optional[str] = None

    def build(self) -> None:
        keras.utils.set_random_seed(self.config.seed)
        self.model = MusicTransformer(self.config.model)
        self.optimizer = make_optimizer(self.config.optimizer, self.config.model.hidden_size)
        self.optimizer.build(self.model.trainable_variables)
        self.input_state = InputState()

    def initialize(self, step: tf.Variable) -> Optional[str]:
        """A new run with ``init_checkpoint``: every model weight ported strictly from that tensor2tensor
        checkpoint (the optimizer starts fresh). Raises ``CheckpointReadError`` / ``PortingError``."""
        if self.config.init_checkpoint:
            variables, source = checkpoints_lib.read_t2t_variables(self.config.init_checkpoint)
            convert_t2t.convert_config(variables, base=self.config.model, source=source)
            convert_t2t.convert_weights(variables, self.model, source=source)
            self.ported_from = source
        return None

    def checkpoint_items(self) -> Dict[str, Any]:
        return {"model": self.model, "optimizer": self.optimizer, "input_state": self.input_state}

    def _prepare(self, example):
        out = {"targets": _fit_length(example["targets"], self.config.data.sequence_length)}
        if self.config.model.conditioned:
            out["inputs"] = _fit_length(example["inputs"], self.config.data.input_length)
        return out

    def build_inputs(self, input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        batch = input_context.get_per_replica_batch_size(self.global_batch_size)
        ds = self.dataset_fn(input_context).repeat()
        if self.skip_consumed_on_resume:
            ds = ds.skip(int(self.input_state.examples_seen.numpy()) // input_context.num_input_pipelines)
        ds = ds.map(self._prepare, num_parallel_calls=tf.data.AUTOTUNE)
        return ds.batch(batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def on_step_begin(self, step: tf.Tensor) -> training.Logs:
        self.input_state.examples_seen.assign((tf.cast(step, tf.int64) + 1) * self.global_batch_size)
        return {}

    def _loss(self, batch):
        features = batch if self.config.model.conditioned else batch["targets"]
        logits = self.model(features, training=True)
        loss, nll, weights = sequence_cross_entropy(logits, batch["targets"], self.config.label_smoothing)
        tokens = tf.maximum(tf.reduce_sum(weights, axis=1), 1.0)
        per_example = tf.reduce_sum(loss * weights, axis=1) / tokens
        hits = tf.cast(
            tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(batch["targets"], tf.int32)), tf.float32
        )
        gbs = self.global_batch_size
        logs = {
            "nll": training.global_batch_mean(tf.reduce_sum(nll * weights, axis=1) / tokens, gbs),
            "accuracy": training.global_batch_mean(tf.reduce_sum(hits * weights, axis=1) / tokens, gbs),
            "learning_rate": self.optimizer.learning_rate
            / tf.cast(tf.distribute.get_replica_context().num_replicas_in_sync, tf.float32),
        }
        return training.global_batch_mean(per_example, gbs), logs

    def phases(self) -> Sequence[training.GradientPhase]:
        clip = self.config.optimizer.clip_norm or None
        return [
            training.GradientPhase(
                "lm", self._loss, lambda: self.model.trainable_variables, self.optimizer, clip_norm=clip
            )
        ]

    def export_t2t(self, path: str, global_step: int = 0) -> str:
        """Write the current weights under tensor2tensor's names (:func:`checkpoints.save_as_t2t`)."""
        return checkpoints_lib.save_as_t2t(self.model, path, global_step=global_step)


# --------------------------------------------------------------------------- loading a run


def load(run_dir: str) -> MusicTransformer:
    """The trained model of a ``music_transformer_train`` run (or of a :class:`MusicTransformerTask`
    run through :class:`tfmusic.training.Runner`).

    Args:
      run_dir: the run folder: ``config.json`` (a :class:`MusicTransformerExperiment`) and ``ckpt-N``
        (its newest checkpoint is read).
    Returns:
      a :class:`MusicTransformer` of the run's ``model`` config holding the checkpoint's weights
      (``model.config`` is that config).
    Raises:
      FileNotFoundError: ``run_dir`` holds no ``config.json`` or no checkpoint, or a checkpoint
        without this model's weights.
    """
    from tfmusic import config as config_lib

    run_dir = os.fspath(run_dir)
    config_path = os.path.join(run_dir, config_lib.CONFIG_FILENAME)
    latest = tf.train.latest_checkpoint(run_dir)
    if not os.path.exists(config_path) or not latest:
        raise FileNotFoundError(f"{run_dir}: not a music_transformer_train run (needs config.json and ckpt-N)")
    cfg = config_lib.load_json(MusicTransformerExperiment, config_path)
    model = MusicTransformer(cfg.model)
    # The Runner's checkpoint reaches the weights through the optimizer's tracked variable
    # list (in model.trainable_variables order), so restore through an optimizer built alike.
    optimizer = make_optimizer(cfg.optimizer, cfg.model.hidden_size)
    optimizer.build(model.trainable_variables)
    before = [v.numpy() for v in model.trainable_variables[:1]]
    status = tf.train.Checkpoint(model=model, optimizer=optimizer).restore(latest).expect_partial()
    status.assert_existing_objects_matched()
    if all((b == v.numpy()).all() for b, v in zip(before, model.trainable_variables[:1])):
        raise FileNotFoundError(f"{latest}: holds no weights for this model")
    return model
