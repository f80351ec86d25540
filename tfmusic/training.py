"""The custom-loop runner every model family trains through.

A model family supplies a :class:`Task` (Model Garden's shape): it builds its Keras models
and optimizers, its ``tf.data`` input, and one or more :class:`GradientPhase` s (a GAN has
two: discriminator then generator; a language model has one). :class:`Runner` does the rest:

* the per-replica loss-and-gradient computation is XLA-compiled (``jit_compile``, switchable
  in :class:`tfmusic.runtime.RuntimeConfig`; ``auto`` decides by device type and the task's
  ``xla_family``, :func:`tfmusic.runtime.resolve_jit_compile`);
* losses are averaged over the *global* batch (:func:`global_batch_mean`), gradients are
  summed over replicas, clipped by global norm after the sum, and applied;
* ``tf.train.CheckpointManager`` saves every ``checkpoint_every`` steps and resumes from the
  newest checkpoint automatically; the run's full config is written as JSON beside each
  checkpoint (``ckpt-N.config.json``) and as ``config.json`` in the run folder;
* no checkpoint is written while any weight or loss is non-finite: training stops with
  :class:`NonFiniteError` instead;
* TensorBoard gets the run's config as text (tag ``config``, at the step each start of the run
  begins from: 0 for a new run), scalars every ``summary_every`` steps and the task's audio and
  images every ``media_every`` steps; evaluations write ``eval/*`` scalars into the same logs with
  :func:`write_eval_summaries`; a tqdm bar shows steps/s;
* a new run (no checkpoint of its own in ``model_dir``) is started by :meth:`Task.initialize`, where
  foreign warm starts live (a ``.mag`` bundle, a tensor2tensor checkpoint, a Magenta folder): a resumed
  run never calls it, so it never reads the foreign source again;
* :meth:`Task.evaluate` (held-out metrics) runs every ``eval_every`` steps and at the end of each
  :meth:`Runner.train`, its numbers written as ``eval/*`` scalars;
* a task whose step changes shape along the run (GANSynth's progressive stages) keys its steps by
  :meth:`Task.step_variant`: the runner compiles one step program per key, from
  :meth:`Task.variant_phases` (default: one key, one program).

:mod:`tfmusic.experiment` holds the sequence every ``*_train`` command runs around the Runner.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import glob
import math
import os
import shutil
import time
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tfmusic import config as config_lib
from tfmusic import runtime as runtime_lib

Logs = Dict[str, tf.Tensor]


class NonFiniteError(FloatingPointError):
    """A loss or weight became NaN/Inf; the run stops without writing a checkpoint."""


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """How long and how a run trains.

    Attributes:
      train_steps: total optimizer steps of the run (resumed runs count from their checkpoint).
      global_batch_size: examples per step summed over all replicas and workers.
      checkpoint_every: steps between checkpoints (one is also written at the end).
      max_checkpoints: checkpoints kept on disk.
      summary_every: steps between TensorBoard scalar writes.
      media_every: steps between the task's audio/image summaries (0 = never).
      progress: show a tqdm progress bar.
      on_nonfinite: what a NaN/Inf loss or gradient does: ``"raise"`` stops the run with
        :class:`NonFiniteError`; ``"skip"`` drops that step's update (weights, optimizer state and
        step counter untouched, the batch consumed, ``nonfinite/skipped`` logged) and raises only
        after ``max_consecutive_skips`` skipped steps in a row. Either way no checkpoint ever
        holds a non-finite weight.
      max_consecutive_skips: see ``on_nonfinite``.
      max_minutes: stop this start of the run after this many minutes of training, with a checkpoint,
        even if ``train_steps`` is not reached (0 = no limit). A rerun resumes from there, so a long
        run can be trained in time slices. One process only: multi-worker runs refuse it.
      eval_every: steps between evaluations by :meth:`Task.evaluate` during training (0 = none during
        training); a task with an evaluation is also evaluated once at the end of every
        :meth:`Runner.train`. Ignored by tasks without one.
    """

    train_steps: int = 1000
    global_batch_size: int = 8
    checkpoint_every: int = 500
    max_checkpoints: int = 3
    summary_every: int = 50
    media_every: int = 0
    progress: bool = True
    on_nonfinite: str = "raise"
    max_consecutive_skips: int = 10
    max_minutes: float = 0.0
    eval_every: int = 0

    def __post_init__(self):
        for name in ("train_steps", "global_batch_size", "checkpoint_every", "max_checkpoints", "summary_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"trainer.{name} must be positive, got {getattr(self, name)}")
        if self.media_every < 0:
            raise ValueError("trainer.media_every must be >= 0")
        if self.on_nonfinite not in ("raise", "skip"):
            raise ValueError(f"trainer.on_nonfinite must be 'raise' or 'skip', got {self.on_nonfinite!r}")
        if self.max_consecutive_skips <= 0:
            raise ValueError("trainer.max_consecutive_skips must be positive")
        if self.max_minutes < 0:
            raise ValueError(f"trainer.max_minutes must be >= 0, got {self.max_minutes}")
        if self.eval_every < 0:
            raise ValueError(f"trainer.eval_every must be >= 0, got {self.eval_every}")


def global_batch_mean(per_example: tf.Tensor, global_batch_size: int) -> tf.Tensor:
    """Sum of ``per_example`` losses [per_replica_batch, ...] divided by the global batch size.

    Summing this over replicas gives the mean over the global batch, which is what makes a
    multi-replica step equal to a one-replica step on the same global batch.
    """
    per_example = tf.cast(per_example, tf.float32)
    per_example = tf.reshape(per_example, [tf.shape(per_example)[0], -1])
    per_example = tf.reduce_mean(per_example, axis=1)
    return tf.reduce_sum(per_example) / tf.cast(global_batch_size, tf.float32)


def reapply_learning_rate(optimizer: Any, learning_rate: float, label: str) -> Optional[str]:
    """Set a restored Keras optimizer's learning rate back to the config's ``learning_rate`` (a
    Keras optimizer checkpoints its rate, so a resumed run would silently keep the old one).

    Args:
      optimizer: a built ``keras.optimizers.Optimizer`` with a constant rate (one with a schedule is
        left alone: its rate is a function of the step, not a checkpointed value).
      learning_rate: the rate the run's config asks for.
      label: the config field, named in the returned line.
    Returns:
      ``"LABEL NEW from the config (the checkpoint held OLD)"`` when the checkpoint held another
      rate, else None.
    """
    rate = optimizer.learning_rate  # a variable for a constant rate, a tensor computed from a schedule
    if not hasattr(rate, "assign"):
        return None
    old = float(rate.numpy())
    if np.isclose(old, learning_rate, rtol=1e-6, atol=0.0):
        return None
    rate.assign(learning_rate)
    return f"{label} {learning_rate:g} from the config (the checkpoint held {old:g})"


@dataclasses.dataclass
class GradientPhase:
    """One optimizer update inside a training step.

    Attributes:
      name: prefix of this phase's logs (e.g. ``"d"``, ``"g"``).
      loss_fn: ``inputs -> (loss, logs)`` run on one replica; ``loss`` must already be scaled for
        the global batch (see :func:`global_batch_mean`), and so must every log that should be
        summed over replicas (logs are summed across replicas).
      variables: returns the trainable variables this phase updates.
      optimizer: a Keras optimizer built under the strategy's scope. Do not set its
        ``clipnorm``: Keras clips per replica before summing; use ``clip_norm`` here.
      clip_norm: clip the summed gradient to this global norm (None = no clipping).
    """

    name: str
    loss_fn: Callable[[Any], Tuple[tf.Tensor, Logs]]
    variables: Callable[[], Sequence[tf.Variable]]
    optimizer: Any
    clip_norm: Optional[float] = None


class Task(abc.ABC):
    """What a model family gives the runner. Methods are called in this order.

    ``build`` runs inside ``strategy.scope()``; ``initialize`` after it, only for a run with no
    checkpoint of its own; ``build_inputs`` once per input pipeline; ``phases`` once; ``write_media``
    on the chief only, inside the TensorBoard writer; ``evaluate`` every ``trainer.eval_every`` steps
    and at the end of training, on every worker.

    ``xla_family``: which :func:`tfmusic.runtime.resolve_jit_compile` rule ``runtime.jit_compile=auto``
    follows for this task (:data:`tfmusic.runtime.EVENTS_RNN`, ...; default ``GENERIC``).
    """

    xla_family: str = runtime_lib.GENERIC

    @abc.abstractmethod
    def build(self) -> None:
        """Create models and optimizers (variables land on the strategy's devices)."""

    @abc.abstractmethod
    def checkpoint_items(self) -> Dict[str, Any]:
        """Trackables to checkpoint, e.g. ``{"generator": g, "g_optimizer": opt}``."""

    @abc.abstractmethod
    def build_inputs(self, input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        """An endless dataset of per-replica batches (``input_context.get_per_replica_batch_size``)."""

    @abc.abstractmethod
    def phases(self) -> Sequence[GradientPhase]:
        """The optimizer updates of one step, in order."""

    def initialize(self, step: tf.Variable) -> Optional[str]:
        """Start a new run's weights from a foreign source (a warm start: a ``.mag`` bundle, a
        tensor2tensor checkpoint, a Magenta folder). Default: nothing (the fresh initialisation).

        Called by :meth:`Runner.restore` inside ``strategy.scope()``, after :meth:`build`, only when
        ``model_dir`` holds no checkpoint of the run's own: a resumed run restores its checkpoint
        instead and never reads the foreign source again (it may have moved since).

        Args:
          step: the run's step counter (0 here); a source that carries a training step (a Magenta
            run folder being continued) may assign it.
        Returns:
          one line saying what was loaded, for the command to print, or None.
        """
        return None

    def after_restore(self) -> Optional[str]:
        """Re-apply what a user may change between starts of a run and the checkpoint would otherwise
        bring back, e.g. learning rates (a Keras optimizer checkpoints its rate; use
        :func:`reapply_learning_rate`). Default: nothing.

        Called by :meth:`Runner.restore` inside ``strategy.scope()`` after it restored a checkpoint of
        the run's own (never for a new run: :meth:`initialize` starts those).

        Returns:
          one line saying what changed, for the command to print, or None.
        """
        return None

    def evaluate(self) -> Optional[Mapping[str, float]]:
        """Held-out metrics of the current weights, ``{name: number}``, or None when the task has no
        evaluation (the default). The runner calls it every ``trainer.eval_every`` steps and at the
        end of :meth:`Runner.train` (and :meth:`Runner.evaluate` on demand), on every worker, and writes
        the numbers as ``eval/NAME`` scalars beside the training ones (chief only)."""
        return None

    def on_step_begin(self, step: tf.Tensor) -> Logs:
        """Hook run in each replica at the start of a step (e.g. set a fade-in alpha); returns logs."""
        return {}

    def write_media(self, step: int) -> None:
        """Write audio/image summaries with :func:`log_audio` / :func:`log_image` (optional)."""

    def step_variant(self, step: int) -> Optional[Hashable]:
        """Which compiled program trains step ``step`` (a Python int, the step about to run): the
        runner traces and compiles one step program per distinct key, its phases from
        :meth:`variant_phases`, and reuses it for every step with that key (e.g. one per progressive
        stage). Must depend on ``step`` only, so that every worker and a resumed run pick the same.
        Default None: one program for the whole run, from :meth:`phases`."""
        return None

    def variant_phases(self, variant: Hashable) -> Sequence[GradientPhase]:
        """The phases of the step program keyed ``variant`` (:meth:`step_variant`); their names and
        variables must be those of :meth:`phases` (a phase may leave variables out of its loss: they
        get zero gradients). Default: :meth:`phases`."""
        return self.phases()

    def reduce_logs(self, logs: Dict[str, float]) -> Dict[str, float]:
        """Hook on each step's logs after the cross-replica sum, as Python floats, before they are
        checked, shown and written: recompute what a sum cannot give (e.g. a perplexity as
        exp(summed loss)). Default: unchanged."""
        return logs


@dataclasses.dataclass
class RunResult:
    """What :meth:`Runner.train` reports: where it started and ended, the last logs (floats), and the
    last evaluation's metrics (None when the task has no evaluation)."""

    start_step: int
    final_step: int
    logs: Dict[str, float]
    checkpoint: Optional[str]
    eval_metrics: Optional[Dict[str, float]] = None


@dataclasses.dataclass
class _StepPrograms:
    """One step variant's phases and compiled functions (:meth:`Runner._step_programs`)."""

    variant: Hashable
    phases: List[GradientPhase]
    compiled: Dict[str, Callable]  # phase name -> loss-and-gradients tf.function
    train_step: Optional[Callable] = None  # iterator -> logs (the whole distributed step)
    skip_fns: Dict[str, Tuple[Callable, Callable]] = dataclasses.field(default_factory=dict)


#: Folder of a run's TensorBoard logs, under ``model_dir``.
LOG_SUBDIR = "train"
#: Tag prefix of evaluation metrics written beside the training scalars (:func:`write_eval_summaries`).
EVAL_PREFIX = "eval"


def log_audio(
    name: str, audio: np.ndarray, sample_rate: int, step: int, max_outputs: int = 4, description: Optional[str] = None
) -> None:
    """Write audio to the default TensorBoard writer. ``audio``: [batch, samples] floats in [-1, 1].
    ``description`` (Markdown) shows under the clip in TensorBoard, e.g. what it is and its pitch."""
    audio = np.asarray(audio, np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    tf.summary.audio(name, audio[..., None], sample_rate, step=step, max_outputs=max_outputs, description=description)


def log_image(name: str, image: Any, step: int, description: Optional[str] = None) -> None:
    """Write an image to the default TensorBoard writer: a PNG path, or an array [H, W, C] / [B, H, W, C]
    of uint8 or floats in [0, 1]. ``description`` (Markdown) shows beside it in TensorBoard."""
    if isinstance(image, (str, os.PathLike)):
        with open(image, "rb") as f:
            image = tf.io.decode_png(f.read(), channels=4)
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        image = tf.image.convert_image_dtype(tf.clip_by_value(image, 0.0, 1.0), tf.uint8)
    if image.shape.rank == 3:
        image = image[None]
    tf.summary.image(name, image, step=step, description=description)


def config_text(config: Any) -> str:
    """A run's config as TensorBoard's text plugin shows it: the JSON of ``config.json`` as a Markdown
    code block."""
    import json

    body = json.dumps(config_lib.to_dict(config), indent=2, sort_keys=False)
    return "\n".join("    " + line for line in body.splitlines())


def log_eval_scalars(metrics: Mapping[str, Any], step: int, prefix: str = EVAL_PREFIX) -> List[str]:
    """Writes evaluation metrics as scalars ``PREFIX/NAME`` to the default TensorBoard writer at
    ``step``. Non-numeric and non-finite values are left out (and bookkeeping such as
    ``global_step``). Returns the tags written."""
    tags = []
    for name, value in metrics.items():
        numeric = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
        if name in ("global_step", "step") or not numeric or not math.isfinite(float(value)):
            continue
        tag = f"{prefix}/{name}"
        tf.summary.scalar(tag, float(value), step=int(step))
        tags.append(tag)
    return tags


def write_eval_summaries(model_dir: str, metrics: Mapping[str, Any], step: int, prefix: str = EVAL_PREFIX) -> List[str]:
    """Writes evaluation metrics as scalars ``PREFIX/NAME`` into the run's own TensorBoard logs
    (``model_dir/train``, beside the training scalars), at ``step`` (see :func:`log_eval_scalars`).
    Returns the tags written."""
    writer = tf.summary.create_file_writer(os.path.join(model_dir, LOG_SUBDIR))
    with writer.as_default():
        tags = log_eval_scalars(metrics, step, prefix)
    writer.flush()
    writer.close()
    return tags


def _all_finite(tensors: Sequence[tf.Tensor]) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(t)))) for t in tensors)


class Runner:
    """Trains a :class:`Task` under a strategy, resuming from ``model_dir`` when it holds checkpoints.

    Args:
      task: the model family's task.
      experiment_config: the run's full config (a frozen dataclass tree holding ``trainer`` and
        ``runtime`` branches); saved as JSON beside every checkpoint.
      model_dir: folder of checkpoints, config and TensorBoard logs.
      strategy: a ready strategy; by default built from ``experiment_config.runtime``.
    """

    def __init__(
        self, task: Task, experiment_config: Any, model_dir: str, strategy: Optional[tf.distribute.Strategy] = None
    ):
        self.task = task
        self.config = experiment_config
        self.trainer: TrainerConfig = experiment_config.trainer
        self.runtime: runtime_lib.RuntimeConfig = experiment_config.runtime
        self.model_dir = model_dir
        self.strategy = strategy or runtime_lib.make_strategy(self.runtime)
        self.is_chief = runtime_lib.is_chief(self.strategy)
        #: Whether the loss-and-gradient step is XLA-compiled (``runtime.jit_compile``, ``auto`` resolved
        #: for the task's family on the strategy's device type).
        self.jit_compile = runtime_lib.resolve_jit_compile(
            self.runtime, getattr(task, "xla_family", runtime_lib.GENERIC), runtime_lib.device_type(self.strategy)
        )
        os.makedirs(model_dir, exist_ok=True)
        runtime_lib.set_precision(self.runtime)
        with self.strategy.scope():
            self.task.build()
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            self.checkpoint = tf.train.Checkpoint(step=self.step, **self.task.checkpoint_items())
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self._checkpoint_dir(), max_to_keep=self.trainer.max_checkpoints
        )
        #: Step programs by :meth:`Task.step_variant` key, made on first use; None: the task's :meth:`Task.phases`.
        self._programs: Dict[Hashable, _StepPrograms] = {}
        default = self._step_programs(None)
        self._phases, self._compiled, self._skip_fns = default.phases, default.compiled, default.skip_fns
        self._begin_fn = tf.function(lambda: self.strategy.run(self.task.on_step_begin, args=(self.step,)))
        self.skipped_steps = 0
        self._training_writer = None
        #: What :meth:`Task.initialize` reported for a new run (None: not called, or nothing to say).
        self.initialized_from: Optional[str] = None
        #: What :meth:`Task.after_restore` reported for a resumed run (None: nothing changed).
        self.resumed_with: Optional[str] = None
        self._initialized = False
        self._restored = False  # restore() ran and no training since: train() need not restore again

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint_dir(self) -> str:
        if self.is_chief:
            return self.model_dir
        # Non-chief workers must take part in saving (it is collective) but into a scratch folder.
        return os.path.join(self.model_dir, f".worker_{runtime_lib.worker_id(self.strategy)}_scratch")

    def restore(self) -> int:
        """Restore the newest checkpoint if there is one, else start the run with
        :meth:`Task.initialize` (once per Runner); returns the step reached (0 for a new run, unless
        the task's warm start carries a step).

        Every worker restores the chief's newest checkpoint in ``model_dir`` (non-chief workers
        save into scratch folders that are deleted after each save), so a restarted multi-worker
        run resumes in step on all workers; ``model_dir`` must be on a filesystem all workers see.
        """
        latest = tf.train.latest_checkpoint(self.model_dir)
        if latest:
            self.checkpoint.restore(latest).assert_existing_objects_matched()
            with self.strategy.scope():
                self.resumed_with = self.task.after_restore()
        elif not self._initialized:
            with self.strategy.scope():
                self.initialized_from = self.task.initialize(self.step)
            self._initialized = True
        self._restored = True
        return int(self.step.numpy())

    def evaluate(self) -> Optional[Dict[str, float]]:
        """The task's evaluation of the current weights (:meth:`Task.evaluate`), written as ``eval/*``
        scalars at the current step into the run's TensorBoard logs (chief only; to the open writer
        while training). None when the task has no evaluation."""
        metrics = self.task.evaluate()
        if metrics is None:
            return None
        metrics = dict(metrics)
        step = int(self.step.numpy())
        if self.is_chief:
            if self._training_writer is not None:
                with self._training_writer.as_default():
                    log_eval_scalars(metrics, step)
                self._training_writer.flush()
            else:
                write_eval_summaries(self.model_dir, metrics, step)
        return metrics

    def save(self) -> str:
        """Write a checkpoint and its config JSON; refuses non-finite weights."""
        weights = [v for v in self.checkpoint_variables() if v.dtype.is_floating]
        if not _all_finite([v.numpy() for v in weights]):
            raise NonFiniteError(f"refusing to checkpoint non-finite weights at step {int(self.step.numpy())}")
        step = int(self.step.numpy())
        if self.is_chief:
            # The config goes first: a checkpoint the manager lists always has its config beside it,
            # even when the process dies right after the manager's state file is updated.
            config_lib.save_json(self.config, os.path.join(self.model_dir, f"ckpt-{step}.config.json"))
            config_lib.save_json(self.config, os.path.join(self.model_dir, config_lib.CONFIG_FILENAME))
        path = self.manager.save(checkpoint_number=step)
        if self.is_chief:
            if not os.path.exists(path + ".config.json"):  # a prefix other than "ckpt"
                config_lib.save_json(self.config, path + ".config.json")
            kept = set(self.manager.checkpoints)
            for stale in glob.glob(os.path.join(self.model_dir, "ckpt-*.config.json")):
                if stale[: -len(".config.json")] not in kept:
                    os.unlink(stale)
        else:
            shutil.rmtree(self._checkpoint_dir(), ignore_errors=True)
        return path

    def checkpoint_variables(self) -> List[tf.Variable]:
        """All variables the checkpoint holds (models, optimizers, step)."""
        out: List[tf.Variable] = []
        for item in self.task.checkpoint_items().values():
            variables = getattr(item, "variables", None)
            if callable(variables):
                variables = variables()
            out.extend(
                v.value if hasattr(v, "value") and not isinstance(v, tf.Variable) else v for v in (variables or [])
            )
        return out

    # ------------------------------------------------------------------ step

    def _step_programs(self, variant: Hashable) -> "_StepPrograms":
        """The compiled functions of step variant ``variant`` (made, not yet traced, on first use)."""
        programs = self._programs.get(variant)
        if programs is None:
            phases = list(self.task.phases() if variant is None else self.task.variant_phases(variant))
            compiled = {p.name: self._compile_phase(p) for p in phases}
            programs = _StepPrograms(variant, phases, compiled)
            programs.train_step = tf.function(functools.partial(self._distributed_step, programs))
            # "skip" mode checks the summed gradients between computing and applying them. A
            # conditional apply cannot live inside the replica function (the optimizer's all-reduce
            # is a synchronisation point), so each phase is two compiled calls with a host check between.
            programs.skip_fns = {p.name: self._make_skip_fns(p, compiled[p.name]) for p in phases}
            self._programs[variant] = programs
        return programs

    def step_variants(self) -> List[Hashable]:
        """The :meth:`Task.step_variant` keys whose step program has been traced, in first-use order."""
        return [
            key
            for key, p in self._programs.items()
            if p.train_step.experimental_get_tracing_count()
            or any(f.experimental_get_tracing_count() for f in p.compiled.values())
        ]

    def _current_programs(self) -> "_StepPrograms":
        return self._step_programs(self.task.step_variant(int(self.step.numpy())))

    def _train_step(self, iterator) -> Logs:
        """One training step with the program of the current step's :meth:`Task.step_variant`."""
        return self._current_programs().train_step(iterator)

    def _compile_phase(self, phase: GradientPhase) -> Callable:
        def loss_and_grads(inputs):
            variables = list(phase.variables())
            with tf.GradientTape() as tape:
                loss, logs = phase.loss_fn(inputs)
            grads = tape.gradient(loss, variables)
            grads = [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]
            return loss, logs, grads

        return tf.function(loss_and_grads, jit_compile=self.jit_compile)

    def _replica_step(self, programs: "_StepPrograms", inputs) -> Logs:
        ctx = tf.distribute.get_replica_context()
        n = tf.cast(ctx.num_replicas_in_sync, tf.float32)
        logs: Logs = dict(self.task.on_step_begin(self.step))
        for phase in programs.phases:
            loss, phase_logs, grads = programs.compiled[phase.name](inputs)
            variables = list(phase.variables())
            grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
            if phase.clip_norm is not None:
                grads, norm = tf.clip_by_global_norm(grads, phase.clip_norm)
                logs[f"{phase.name}/grad_norm"] = norm / n  # summed over replicas below
            # Keras sums gradients over replicas itself; these are sums already, so divide first.
            grads = [g / tf.cast(n, g.dtype) for g in grads]
            phase.optimizer.apply_gradients(zip(grads, variables))
            logs[f"{phase.name}/loss"] = loss
            for key, value in phase_logs.items():
                logs[f"{phase.name}/{key}"] = value
        return logs

    def _make_skip_fns(self, phase: GradientPhase, compiled: Callable) -> Tuple[Callable, Callable]:
        grads_fn = functools.partial(self._replica_grads, compiled)
        apply_fn = functools.partial(self._replica_apply, phase)
        return (
            tf.function(lambda inputs: self.strategy.run(grads_fn, args=(inputs,))),
            tf.function(lambda grads: self.strategy.run(apply_fn, args=(grads,))),
        )

    def _replica_grads(self, compiled: Callable, inputs):
        ctx = tf.distribute.get_replica_context()
        loss, phase_logs, grads = compiled(inputs)
        grads = ctx.all_reduce(tf.distribute.ReduceOp.SUM, grads)
        total_loss = ctx.all_reduce(tf.distribute.ReduceOp.SUM, loss)
        finite = tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in grads] + [tf.reduce_all(tf.math.is_finite(total_loss))]
        )
        return grads, loss, phase_logs, finite

    def _replica_apply(self, phase: GradientPhase, grads):
        ctx = tf.distribute.get_replica_context()
        n = tf.cast(ctx.num_replicas_in_sync, tf.float32)
        logs: Logs = {}
        grads = list(grads)
        if phase.clip_norm is not None:
            grads, norm = tf.clip_by_global_norm(grads, phase.clip_norm)
            logs[f"{phase.name}/grad_norm"] = norm / n
        grads = [g / tf.cast(n, g.dtype) for g in grads]
        phase.optimizer.apply_gradients(zip(grads, list(phase.variables())))
        return logs

    def _skipping_step(self, iterator) -> Optional[Logs]:
        """One step of ``on_nonfinite="skip"`` mode; None when a phase's update was dropped.

        The first phase whose summed gradient or loss is non-finite ends the step: its update and
        those of later phases are not applied (a GAN's generator would otherwise train against a
        discriminator step that never happened); earlier phases of that step keep theirs."""
        reduce = lambda v: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
        programs = self._current_programs()
        inputs = next(iterator)
        logs: Logs = {k: reduce(v) for k, v in self._begin_fn().items()}
        for phase in programs.phases:
            grads_fn, apply_fn = programs.skip_fns[phase.name]
            grads, loss, phase_logs, finite = grads_fn(inputs)
            if not all(bool(f.numpy()) for f in self.strategy.experimental_local_results(finite)):
                return None
            logs.update({k: reduce(v) for k, v in apply_fn(grads).items()})
            logs[f"{phase.name}/loss"] = reduce(loss)
            logs.update({f"{phase.name}/{k}": reduce(v) for k, v in phase_logs.items()})
        self.step.assign_add(1)
        return logs

    def _distributed_step(self, programs: "_StepPrograms", iterator) -> Logs:
        inputs = next(iterator)
        per_replica = self.strategy.run(functools.partial(self._replica_step, programs), args=(inputs,))
        logs = {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}
        self.step.assign_add(1)
        return logs

    def make_iterator(self):
        """A distributed iterator over the task's inputs."""
        dataset = self.strategy.distribute_datasets_from_function(self._input_fn)
        return iter(dataset)

    def _input_fn(self, input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        return self.task.build_inputs(input_context)

    # ------------------------------------------------------------------ loop

    def _writer(self):
        if self.is_chief:
            return tf.summary.create_file_writer(os.path.join(self.model_dir, LOG_SUBDIR))
        return tf.summary.create_noop_writer()

    def train(self, stop_after: Optional[int] = None) -> RunResult:
        """Train until ``trainer.train_steps`` (or ``stop_after`` more steps); resume first.

        The task's evaluation (:meth:`Task.evaluate`) runs every ``trainer.eval_every`` steps and once
        at the end (also when there was nothing left to train), unless the final step was just
        evaluated.

        Returns a :class:`RunResult` with the start and final step, the last logs as floats and the
        last evaluation's metrics. Raises :class:`NonFiniteError` if a loss becomes NaN/Inf (no
        checkpoint is written then).
        """
        start = int(self.step.numpy()) if self._restored else self.restore()
        self._restored = False
        total = self.trainer.train_steps
        end = total if stop_after is None else min(total, start + stop_after)
        logs_np: Dict[str, float] = {}
        last_ckpt = self.manager.latest_checkpoint
        if start >= end:
            return RunResult(start, start, logs_np, last_ckpt, self.evaluate())
        iterator = self.make_iterator()
        writer = self._writer()
        eval_metrics: Optional[Dict[str, float]] = None
        evaluated_at = None
        bar = None
        if self.trainer.progress and self.is_chief:
            from tfmusic.progress import progress_bar

            bar = progress_bar(
                total=total, initial=start, unit="step", dynamic_ncols=True, desc=os.path.basename(self.model_dir)
            )
        t_last, step_last = time.perf_counter(), start
        if self.trainer.max_minutes and isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            raise ValueError(
                "trainer.max_minutes stops one process on its own clock; multi-worker runs "
                "would fall out of step: use train_steps"
            )
        deadline = time.monotonic() + 60.0 * self.trainer.max_minutes if self.trainer.max_minutes else None
        self._training_writer = writer
        try:
            with writer.as_default():
                if self.is_chief:  # the run's config.json, at the step this start of the run begins from
                    tf.summary.text(
                        "config",
                        config_text(self.config),
                        step=start,
                        description="the run's config.json (as this start of the run uses it)",
                    )
                consecutive_skips = 0
                while int(self.step.numpy()) < end:
                    if self.trainer.on_nonfinite == "skip":
                        logs = self._skipping_step(iterator)
                        if logs is None:
                            consecutive_skips += 1
                            self.skipped_steps += 1
                            tf.summary.scalar("nonfinite/skipped", self.skipped_steps, step=int(self.step.numpy()))
                            if consecutive_skips >= self.trainer.max_consecutive_skips:
                                raise NonFiniteError(
                                    f"{consecutive_skips} steps in a row had a non-finite loss or gradient at step "
                                    f"{int(self.step.numpy())} in {self.model_dir}; last good checkpoint: {last_ckpt}"
                                )
                            continue
                        consecutive_skips = 0
                    else:
                        logs = self._train_step(iterator)
                    step = int(self.step.numpy())
                    logs_np = self.task.reduce_logs({k: float(v.numpy()) for k, v in logs.items()})
                    bad = [k for k, v in logs_np.items() if not math.isfinite(v)]
                    if bad:
                        raise NonFiniteError(
                            f"non-finite {', '.join(bad)} at step {step} in {self.model_dir}; "
                            f"last good checkpoint: {last_ckpt}"
                        )
                    if bar is not None:
                        bar.update(1)
                    if step % self.trainer.summary_every == 0 or step == end:
                        now = time.perf_counter()
                        rate = (step - step_last) / max(now - t_last, 1e-9)
                        t_last, step_last = now, step
                        for k, v in logs_np.items():
                            tf.summary.scalar(k, v, step=step)
                        tf.summary.scalar("perf/steps_per_sec", rate, step=step)
                        tf.summary.scalar("perf/examples_per_sec", rate * self.trainer.global_batch_size, step=step)
                        if bar is not None:
                            shown = sorted(logs_np, key=lambda k: (not k.endswith("loss"), k))[:3]
                            main = {k: f"{logs_np[k]:.4g}" for k in shown}
                            bar.set_postfix(main, refresh=False)
                    if self.trainer.media_every and step % self.trainer.media_every == 0 and self.is_chief:
                        self.task.write_media(step)
                    if step % self.trainer.checkpoint_every == 0 or step == end:
                        last_ckpt = self.save()
                    elif deadline is not None and time.monotonic() >= deadline:
                        last_ckpt = self.save()
                    if self.trainer.eval_every and step % self.trainer.eval_every == 0:
                        eval_metrics, evaluated_at = self.evaluate(), step
                    if deadline is not None and time.monotonic() >= deadline:
                        break
                if evaluated_at != int(self.step.numpy()):
                    eval_metrics = self.evaluate()
                writer.flush()
        finally:
            self._training_writer = None
            if bar is not None:
                bar.close()
        return RunResult(start, int(self.step.numpy()), logs_np, last_ckpt, eval_metrics)
