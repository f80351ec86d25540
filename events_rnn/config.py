"""Hyperparameters every events-RNN model shares: Magenta's ``EventSequenceRnnConfig`` HParams.

:class:`EventsRnnHParams` defaults are ``events_rnn_model.EventSequenceRnnConfig``'s own
(``batch_size`` 64, ``rnn_layer_sizes`` (128, 128), ``dropout_keep_prob`` 1.0, ``attn_length`` 0,
``clip_norm`` 3, ``learning_rate`` 0.001); each model's ``default_configs`` override some of them
(e.g. ``polyphony``: batch 64, (256, 256, 256), keep 0.5, clip 5). ``attention_layout`` says where
the attention wrapper sits when ``attn_length > 0`` (``first_layer``: current Magenta;
``whole_stack``: older bundles). Magenta's ``residual_connections`` and ``use_cudnn`` are not
supported (no released bundle uses them), so they are absent rather than silently ignored.
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
            raise ValueError(f"hparams.attention_layout must be one of {ATTENTION_LAYOUTS}, "
                             f"got {self.attention_layout!r}")
