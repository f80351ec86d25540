"""Hyperparameters every events-RNN model shares: Magenta's ``EventSequenceRnnConfig`` HParams.

:class:`EventsRnnHParams` defaults are ``events_rnn_model.EventSequenceRnnConfig``'s own
(``batch_size`` 64, ``rnn_layer_sizes`` (128, 128), ``dropout_keep_prob`` 1.0, ``attn_length`` 0,
``clip_norm`` 3, ``learning_rate`` 0.001); each model's ``default_configs`` override some of them
(e.g. ``polyphony``: batch 64, (256, 256, 256), keep 0.5, clip 5). ``attention_layout`` says where
the attention wrapper sits when ``attn_length > 0`` (``first_layer``: current Magenta;
``whole_stack``: older bundles). Magenta's ``residual_connections`` and ``use_cudnn`` are not
supported (no released bundle uses them), so they are absent rather than silently ignored.

:class:`EventsRnnDataConfig` (SequenceExample files, shuffling, padding) and :class:`WarmStartConfig`
(fine-tuning a ``.mag``) are the parts of every family's training experiment that do not depend on the model.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

ATTENTION_LAYOUTS = ("first_layer", "whole_stack")


@dataclasses.dataclass(frozen=True)
class EventsRnnHParams:
    """Magenta's events-RNN hyperparameters (see the module docstring).

    Attributes:
      batch_size: Magenta's training batch.
      rnn_layer_sizes: units of each LSTM layer, bottom first.
      dropout_keep_prob: probability of keeping each LSTM layer's output during training.
      clip_norm: each gradient tensor is clipped to this norm (slim's ``clip_gradient_norm``).
      attn_length: attention window in steps (0 = no attention).
      learning_rate: Adam's learning rate.
      attention_layout: ``first_layer`` or ``whole_stack``.
    """

    batch_size: int = 64
    rnn_layer_sizes: Tuple[int, ...] = (128, 128)
    dropout_keep_prob: float = 1.0
    clip_norm: float = 3.0
    attn_length: int = 0
    learning_rate: float = 0.001
    attention_layout: str = "first_layer"

    def __post_init__(self):
        object.__setattr__(self, "rnn_layer_sizes", tuple(int(s) for s in self.rnn_layer_sizes))
        if not self.rnn_layer_sizes or min(self.rnn_layer_sizes) <= 0:
            raise ValueError(f"hparams.rnn_layer_sizes must be one or more positive ints, got {self.rnn_layer_sizes}")
        if self.batch_size <= 0:
            raise ValueError(f"hparams.batch_size must be positive, got {self.batch_size}")
        if not 0.0 < self.dropout_keep_prob <= 1.0:
            raise ValueError(f"hparams.dropout_keep_prob must be in (0, 1], got {self.dropout_keep_prob}")
        if self.clip_norm <= 0:
            raise ValueError(f"hparams.clip_norm must be positive, got {self.clip_norm}")
        if self.attn_length < 0:
            raise ValueError(f"hparams.attn_length must be >= 0, got {self.attn_length}")
        if self.learning_rate <= 0:
            raise ValueError(f"hparams.learning_rate must be positive, got {self.learning_rate}")
        if self.attention_layout not in ATTENTION_LAYOUTS:
            raise ValueError(
                f"hparams.attention_layout must be one of {ATTENTION_LAYOUTS}, got {self.attention_layout!r}"
            )


@dataclasses.dataclass(frozen=True)
class EventsRnnDataConfig:
    """Training data: SequenceExample TFRecords as ``<model>_create_dataset`` (or Magenta) writes them.

    Attributes:
      train_data_path: TFRecord file or glob of training SequenceExamples ("" until set).
      eval_data_path: TFRecord file or glob of evaluation SequenceExamples (optional).
      shuffle_buffer: examples in the shuffle buffer.
      pad_to_multiple: batches are padded in time to a multiple of this many steps, so the
        XLA-compiled step is traced for few distinct shapes.
    """

    train_data_path: str = ""
    eval_data_path: str = ""
    shuffle_buffer: int = 2048
    pad_to_multiple: int = 64

    def __post_init__(self):
        if self.shuffle_buffer < 1:
            raise ValueError("data.shuffle_buffer must be >= 1")
        if self.pad_to_multiple < 1:
            raise ValueError("data.pad_to_multiple must be >= 1")


@dataclasses.dataclass(frozen=True)
class WarmStartConfig:
    """Fine-tuning from a ``.mag`` bundle (Magenta's warm start).

    Attributes:
      bundle_path: ``.mag`` file whose every model variable initialises the model ("" = from
        scratch). The optimizer starts fresh. A run that resumes from its own checkpoint ignores it.
      frozen_layers: layers kept fixed: ``cell_K`` (the K-th LSTM layer, with its attention
        wrapper in the ``first_layer`` layout), ``attention`` (the attention wrapper's own
        variables), ``fully_connected`` (the output layer).
      magenta_checkpoint: a checkpoint of Magenta's own ``<model>_train`` (``RUN/train/model.ckpt-N``)
        this run continues: weights, Adam slots and step are restored from it before the run's first
        step, as long as the run has no checkpoint of its own ("" = none; see
        :mod:`events_rnn.magenta_run`).
    """

    bundle_path: str = ""
    frozen_layers: Tuple[str, ...] = ()
    magenta_checkpoint: str = ""


def default_trainer(batch_size: int, **overrides):
    """Magenta-like trainer settings for a family's experiment: global batch ``batch_size`` (the config's
    ``hparams.batch_size``), 20,000 steps, a checkpoint every 1,000 (3 kept), summaries every 10."""
    from tfmusic import training

    values = dict(
        train_steps=20_000, global_batch_size=batch_size, checkpoint_every=1000, max_checkpoints=3, summary_every=10
    )
    values.update(overrides)
    return training.TrainerConfig(**values)


def register_experiment_presets(presets, experiment_class: type, model_presets, magenta_ids, test_ids) -> None:
    """Fill ``presets`` (a ``tfmusic.config.PresetRegistry``) with one ``experiment_class`` per model preset.

    ``magenta_ids``: Magenta's configs, trained as Magenta does (global batch = ``hparams.batch_size``).
    ``test_ids``: tiny presets for tests: 40 steps, checkpoints every 20, shuffle buffer 64, time padded
    to multiples of 16, one device, no progress bar.
    """
    from tfmusic import runtime as runtime_lib

    def magenta(name):
        model = model_presets.get(name)
        return experiment_class(model=model, trainer=default_trainer(model.hparams.batch_size))

    def tiny(name):
        model = model_presets.get(name)
        return experiment_class(
            model=model,
            data=EventsRnnDataConfig(shuffle_buffer=64, pad_to_multiple=16),
            trainer=default_trainer(
                model.hparams.batch_size,
                train_steps=40,
                checkpoint_every=20,
                max_checkpoints=2,
                summary_every=5,
                progress=False,
            ),
            runtime=runtime_lib.RuntimeConfig(distribution="one_device"),
        )

    for name in magenta_ids:
        presets.add(name, lambda n=name: magenta(n))
    for name in test_ids:
        presets.add(name, lambda n=name: tiny(n))
