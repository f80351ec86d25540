"""Training any events-RNN model through the shared runner (:class:`tfmusic.training.Runner`), and its metrics.

:class:`EventsRnnTask` follows Magenta's ``events_rnn_graph`` (train mode) and ``events_rnn_train``:

* loss: softmax cross-entropy over every step inside a sequence's length, averaged over all such
  steps of the *global* batch (Magenta's ``reduce_mean`` over the flattened, unpadded steps). The
  input pipeline attaches the batch's step counts, so each replica divides its sum by the global
  count and the replicas' sum is exactly the global mean (one worker; with several workers the
  count is the worker's times the number of workers).
* metrics, as Magenta's: ``loss``, ``perplexity`` = exp(loss), ``accuracy`` (argmax = label),
  ``event_accuracy`` (accuracy on steps whose label is not the encoding's no-event class),
  ``no_event_accuracy`` (on the no-event steps). Logged as ``metrics/<name>``. Logs are summed
  over replicas, so with R > 1 replicas ``perplexity`` is the step-weighted mean of the replicas'
  perplexities (exp(loss) exactly with one replica); :meth:`EventsRnnTask.reduce_logs` recomputes
  exp(loss) from the reduced logs.
* optimizer: Adam (TF1's defaults: betas 0.9 / 0.999, epsilon 1e-8) at ``hparams.learning_rate``.
* gradient clipping as Magenta's ``slim.learning.create_train_op(clip_gradient_norm=clip_norm)``:
  *each* gradient tensor is clipped to norm ``clip_norm`` separately (``clip_by_norm`` per
  variable, not by global norm). Implemented with Keras' per-variable ``clipnorm``, set to
  ``clip_norm / replicas`` because Keras clips each replica's share before summing them (the
  runner hands every replica the summed gradient divided by the replica count).
* dropout masks come from stateless seeds (step, replica slot), so runs are replica-safe.
* warm start (``warm_start.bundle_path``): every model variable is restored from a ``.mag``
  bundle of the task's :class:`events_rnn.bundle.ModelFamily` (strictly: any misfit raises, so
  is a bundle of another family or config), the optimizer starts fresh
  (:meth:`EventsRnnTask.initialize`); a run resuming from its own checkpoint restores that instead
  and never reads the bundle again. ``warm_start.frozen_layers`` are left untrained.

:func:`evaluate` computes the same metrics over a whole dataset (Magenta's eval mode);
:meth:`EventsRnnTask.evaluate`, the runner's evaluation hook, computes them over ``data.eval_data_path``.

The experiment given to a task is any frozen dataclass with ``model`` (a family config with
``config_id``, ``hparams``, ``input_size`` and ``no_event_label``), ``data``
(:class:`events_rnn.config.EventsRnnDataConfig`), ``warm_start``
(:class:`events_rnn.config.WarmStartConfig`), ``trainer``, ``runtime`` and ``seed``; each model
package binds the task to its family by subclassing :class:`EventsRnnTask` with ``family`` set.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

import keras
import numpy as np
import tensorflow as tf

from events_rnn import bundle as bundle_lib
from events_rnn.model import EventSequenceRnnModel
from tfmusic import runtime as runtime_lib
from tfmusic import training

#: ``(input_context, batch_size) -> Dataset`` of endless batches (inputs [B, T, in] float32,
#: labels [B, T] int64, lengths [B] int32), ``batch_size`` examples per worker.
DatasetFn = Callable[[tf.distribute.InputContext, int], tf.data.Dataset]

PHASE = "metrics"
METRICS = ("loss", "perplexity", "accuracy", "event_accuracy", "no_event_accuracy")
#: Large enough never to clip: makes the runner log the gradient's global norm (``metrics/grad_norm``).
_LOG_ONLY_CLIP = 1e30
#: The checkpoint item holding the model (every weight: the model tracks its list-held cells).
MODEL_ITEM = "model"

_no_autograph = tf.autograph.experimental.do_not_convert


def step_statistics(
    logits: tf.Tensor, labels: tf.Tensor, lengths: tf.Tensor, no_event_label: int
) -> Dict[str, tf.Tensor]:
    """Sums over the valid steps of a batch (steps ``t < lengths[b]``).

    Args:
      logits: [B, T, C] float; labels: [B, T] int; lengths: [B] int.
      no_event_label: the class counted as "no event".
    Returns:
      float32 scalars: ``cross_entropy`` (sum of -log p(label)), ``correct``, ``steps``,
      ``event_correct``, ``events``, ``no_event_correct``, ``no_events``.
    """
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.int64)
    mask = tf.sequence_mask(lengths, tf.shape(labels)[1], dtype=tf.float32)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    correct = tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32) * mask
    event = tf.cast(tf.not_equal(labels, no_event_label), tf.float32) * mask
    no_event = mask - event
    return {
        "cross_entropy": tf.reduce_sum(ce * mask),
        "correct": tf.reduce_sum(correct),
        "steps": tf.reduce_sum(mask),
        "event_correct": tf.reduce_sum(correct * event),
        "events": tf.reduce_sum(event),
        "no_event_correct": tf.reduce_sum(correct * no_event),
        "no_events": tf.reduce_sum(no_event),
    }


def metrics_from_sums(sums: Dict[str, float]) -> Dict[str, float]:
    """Magenta's metrics from :func:`step_statistics` sums (NaN where a denominator is 0)."""
    div = lambda a, b: float(a) / float(b) if b else float("nan")
    loss = div(sums["cross_entropy"], sums["steps"])
    return {
        "loss": loss,
        "perplexity": math.exp(loss) if math.isfinite(loss) else float("nan"),
        "accuracy": div(sums["correct"], sums["steps"]),
        "event_accuracy": div(sums["event_correct"], sums["events"]),
        "no_event_accuracy": div(sums["no_event_correct"], sums["no_events"]),
        "steps": float(sums["steps"]),
    }


def pad_time(inputs, labels, lengths, multiple: int):
    """Zero-pad the time axis of a batch to a multiple of ``multiple`` steps (fewer XLA shapes)."""
    t = tf.shape(labels)[1]
    extra = (-t) % multiple
    inputs = tf.pad(inputs, [[0, 0], [0, extra], [0, 0]])
    labels = tf.pad(labels, [[0, 0], [0, extra]])
    return inputs, labels, lengths


def evaluate(
    model: EventSequenceRnnModel,
    dataset: Iterable,
    no_event_label: int,
    max_batches: Optional[int] = None,
    pad_to_multiple: int = 64,
    jit_compile: bool = True,
) -> Dict[str, float]:
    """Magenta's eval metrics over a dataset of (inputs, labels, lengths) batches, without dropout.

    Returns ``loss``, ``perplexity``, ``accuracy``, ``event_accuracy``, ``no_event_accuracy`` and
    ``steps`` (number of valid steps), all accumulated over every step of every batch.
    """

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    @_no_autograph
    def batch_sums(inputs, labels, lengths):
        return step_statistics(model(inputs, training=False), labels, lengths, no_event_label)

    totals: Dict[str, float] = {}
    for i, (inputs, labels, lengths) in enumerate(dataset):
        if max_batches is not None and i >= max_batches:
            break
        inputs, labels, lengths = pad_time(
            tf.convert_to_tensor(inputs, tf.float32),
            tf.convert_to_tensor(labels, tf.int64),
            tf.convert_to_tensor(lengths, tf.int32),
            pad_to_multiple,
        )
        for k, v in batch_sums(inputs, labels, lengths).items():
            totals[k] = totals.get(k, 0.0) + float(v.numpy())
    if not totals:
        raise ValueError("evaluate: the dataset yielded no batches")
    return metrics_from_sums(totals)


def evaluate_file(model: EventSequenceRnnModel, config: Any, pattern: str, max_batches: Optional[int] = None):
    """:func:`evaluate` of ``model`` over every SequenceExample of ``pattern`` (file or glob), in batches
    of ``min(config.trainer.global_batch_size, 64)``, at most ``max_batches`` of them; the encoding,
    padding and XLA switch are ``config``'s (an experiment, see the module docstring)."""
    from events_rnn import data

    batch = min(config.trainer.global_batch_size, 64)
    ds = data.make_sequence_example_dataset(pattern, config.model.input_size, batch, shuffle=False)
    return evaluate(
        model,
        ds,
        config.model.no_event_label,
        max_batches=max_batches,
        pad_to_multiple=config.data.pad_to_multiple,
        jit_compile=runtime_lib.resolve_jit_compile(config, runtime_lib.EVENTS_RNN),
    )


def sequence_example_dataset_fn(config: Any, file_pattern: Optional[str] = None, shuffle: bool = True) -> DatasetFn:
    """A :data:`DatasetFn` over Magenta SequenceExample TFRecords (``data.train_data_path`` by default):
    sharded by input pipeline, shuffled, repeated forever, full batches only."""
    from events_rnn import data

    pattern = file_pattern or config.data.train_data_path
    if not pattern:
        raise FileNotFoundError("no training data: set data.train_data_path (SequenceExample TFRecords)")

    def dataset_fn(ctx, batch_size):
        return data.make_sequence_example_dataset(
            pattern,
            config.model.input_size,
            batch_size,
            shuffle=shuffle,
            shuffle_buffer=config.data.shuffle_buffer,
            repeat=True,
            seed=config.seed,
            drop_remainder=True,
            input_context=ctx,
        )

    return dataset_fn


def restore_model(model: EventSequenceRnnModel, prefix: str) -> None:
    """Restore ``model``'s weights from the :data:`MODEL_ITEM` of a training checkpoint ``prefix`` (a
    ``ckpt-N`` of :class:`EventsRnnTask`; the optimizer's state and other items are left in the file).

    Raises ``ValueError`` naming ``prefix`` when the checkpoint lacks some of the model's weights.
    """
    status = tf.train.Checkpoint(**{MODEL_ITEM: model}).restore(prefix).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{prefix}: the checkpoint lacks some of the model's weights ({first})") from None


class EventsRnnTask(training.Task):
    """An events-RNN model's :class:`tfmusic.training.Task` (see the module docstring).

    Subclasses set ``family`` (their :class:`events_rnn.bundle.ModelFamily`: builds the model, checks
    warm-start bundles); ``family`` may also be passed to the constructor.

    Args:
      config: the experiment.
      dataset_fn: batches for training; defaults to :func:`sequence_example_dataset_fn` over
        ``config.data.train_data_path``.
      family: overrides the class's ``family``.
      eval_file: SequenceExamples :meth:`evaluate` reads (file or glob); None: ``config.data.eval_data_path``;
        "": no evaluation.
      eval_batches: evaluate on at most this many batches (None: every example).
    Attributes set by :meth:`build`: ``model`` (:class:`EventSequenceRnnModel` with Magenta's dropout),
    ``optimizer``; by :meth:`initialize`: ``warm_start_bundle`` (the :class:`events_rnn.bundle.MagBundle`
    used; None for a resumed run or one without a bundle).
    """

    family: Optional[bundle_lib.ModelFamily] = None
    xla_family = runtime_lib.EVENTS_RNN

    def __init__(
        self,
        config: Any,
        dataset_fn: Optional[DatasetFn] = None,
        family: Optional[bundle_lib.ModelFamily] = None,
        eval_file: Optional[str] = None,
        eval_batches: Optional[int] = None,
    ):
        if family is not None:
            self.family = family
        if self.family is None:
            raise ValueError(f"{type(self).__name__}: no model family (set the class's family or pass family=)")
        self.config = config
        self.dataset_fn = dataset_fn
        self.no_event_label = config.model.no_event_label
        self.global_batch_size = config.trainer.global_batch_size
        self.model: Optional[EventSequenceRnnModel] = None
        self.optimizer = None
        self.warm_start_bundle = None
        self.eval_file = config.data.eval_data_path if eval_file is None else eval_file
        self.eval_batches = eval_batches
        self._step = None

    # ------------------------------------------------------------------ build

    def build(self) -> None:
        hp = self.config.model.hparams
        keras.utils.set_random_seed(self.config.seed)
        self.model = self.family.build_model(self.config.model, hp.dropout_keep_prob)
        if self.config.warm_start.frozen_layers:
            self.model.freeze(self.config.warm_start.frozen_layers)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.optimizer = keras.optimizers.Adam(
            hp.learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8, clipnorm=hp.clip_norm / replicas, name="adam"
        )
        self.optimizer.build(self.model.trainable_variables)

    def initialize(self, step: tf.Variable) -> Optional[str]:
        """A new run with ``warm_start.bundle_path``: every model variable restored from that ``.mag``
        (the optimizer starts fresh). Raises ``BundleError`` / ``PortingError`` when it does not fit."""
        if self.config.warm_start.bundle_path:
            self.warm_start_bundle = bundle_lib.warm_start_from_bundle(
                self.family, self.model, self.config.warm_start.bundle_path, self.config.model.config_id
            )
        return None

    def after_restore(self) -> Optional[str]:
        """A resumed run trains at the config's ``hparams.learning_rate``, not the checkpoint's."""
        return training.reapply_learning_rate(
            self.optimizer, self.config.model.hparams.learning_rate, "hparams.learning_rate"
        )

    def checkpoint_items(self) -> Dict[str, Any]:
        return {MODEL_ITEM: self.model, "optimizer": self.optimizer}

    def evaluate(self) -> Optional[Dict[str, float]]:
        """Magenta's eval metrics (:func:`evaluate`, no dropout) over every example of ``eval_file``
        (at most ``eval_batches`` batches of ``min(global batch, 64)``); None without an eval file."""
        if not self.eval_file:
            return None
        return evaluate_file(self.model, self.config, self.eval_file, self.eval_batches)

    # ------------------------------------------------------------------ inputs

    def build_inputs(self, input_context: tf.distribute.InputContext) -> tf.data.Dataset:
        per_replica = input_context.get_per_replica_batch_size(self.global_batch_size)
        pipelines = input_context.num_input_pipelines
        replicas_here = max(1, input_context.num_replicas_in_sync // pipelines)
        worker_batch = per_replica * replicas_here
        dataset_fn = self.dataset_fn or sequence_example_dataset_fn(self.config)
        ds = dataset_fn(input_context, worker_batch)
        multiple = self.config.data.pad_to_multiple
        no_event = self.no_event_label
        first_slot = input_context.input_pipeline_id * replicas_here

        @_no_autograph
        def prepare(inputs, labels, lengths):
            inputs, labels, lengths = pad_time(
                tf.cast(inputs, tf.float32), tf.cast(labels, tf.int64), tf.cast(lengths, tf.int32), multiple
            )
            mask = tf.sequence_mask(lengths, tf.shape(labels)[1], dtype=tf.float32)
            events = tf.reduce_sum(tf.cast(tf.not_equal(labels, no_event), tf.float32) * mask)
            steps = tf.reduce_sum(mask)
            # Global counts: this worker's, times the number of workers (exact on one worker).
            counts = tf.stack([steps, events, steps - events]) * float(pipelines)
            shape_r = lambda x: tf.reshape(x, tf.concat([[replicas_here, per_replica], tf.shape(x)[1:]], 0))
            return tf.data.Dataset.from_tensor_slices(
                {
                    "inputs": shape_r(inputs),
                    "labels": shape_r(labels),
                    "lengths": shape_r(lengths),
                    "counts": tf.tile(counts[None], [replicas_here, 1]),
                    "slot": tf.range(first_slot, first_slot + replicas_here, dtype=tf.int64),
                }
            )

        ds = ds.flat_map(prepare)
        return ds.prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ step

    def on_step_begin(self, step: tf.Tensor) -> training.Logs:
        self._step = step  # read by the loss for stateless dropout seeds
        return {}

    @_no_autograph
    def _loss(self, batch):
        step = tf.cast(self._step, tf.int64) if self._step is not None else tf.constant(0, tf.int64)
        seed = tf.stack([step, batch["slot"] + tf.constant(self.config.seed * 65_536, tf.int64)])
        logits = self.model(batch["inputs"], training=True, dropout_seed=seed)
        s = step_statistics(logits, batch["labels"], batch["lengths"], self.no_event_label)
        counts = batch["counts"]
        steps_g, events_g, no_events_g = counts[0], counts[1], counts[2]
        safe = lambda x: tf.maximum(x, 1.0)
        loss = s["cross_entropy"] / safe(steps_g)
        local_ppl = tf.exp(s["cross_entropy"] / safe(s["steps"]))
        logs = {
            "perplexity": local_ppl * s["steps"] / safe(steps_g),
            "accuracy": s["correct"] / safe(steps_g),
            "event_accuracy": s["event_correct"] / safe(events_g),
            "no_event_accuracy": s["no_event_correct"] / safe(no_events_g),
        }
        return loss, logs

    def phases(self) -> Sequence[training.GradientPhase]:
        # Clipping is the optimizer's (per variable, as Magenta); the phase's huge global clip only
        # makes the runner log the gradient norm.
        return [
            training.GradientPhase(
                PHASE, self._loss, lambda: self.model.trainable_variables, self.optimizer, clip_norm=_LOG_ONLY_CLIP
            )
        ]

    @staticmethod
    def reduce_logs(logs: Dict[str, float]) -> Dict[str, float]:
        """Logs after the cross-replica sum, with ``metrics/perplexity`` = exp(``metrics/loss``) exactly."""
        out = dict(logs)
        key = f"{PHASE}/loss"
        if key in out:
            out[f"{PHASE}/perplexity"] = float(np.exp(out[key]))
        return out
