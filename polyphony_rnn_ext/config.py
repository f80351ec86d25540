"""Polyphony RNN configs: Magenta's ``polyphony_model.default_configs`` as frozen dataclasses.

Magenta has one config, ``polyphony`` ("Polyphonic RNN"): note-seq's
``OneHotEventSequenceEncoderDecoder(PolyphonyOneHotEncoding())`` (259 inputs, 259 classes, see
:mod:`polyphony_rnn_ext.polyphony_lib`), 4 steps per quarter, and hparams ``batch_size`` 64,
``rnn_layer_sizes`` (256, 256, 256), ``dropout_keep_prob`` 0.5, ``clip_norm`` 5,
``learning_rate`` 0.001 (``attn_length`` 0 from ``EventSequenceRnnConfig``).
:data:`MODEL_PRESETS` also holds ``tiny`` (16-unit layers) for tests; its id stays ``polyphony``.
:class:`PolyphonyRnnExperiment` and :data:`PRESETS` are whole training runs (``polyphony_rnn_train``).
"""
from __future__ import annotations

import dataclasses
from typing import Tuple

from events_rnn.config import (EventsRnnDataConfig, EventsRnnHParams, WarmStartConfig, default_trainer,
                               register_experiment_presets)
from polyphony_rnn_ext import polyphony_lib
from tfmusic import config as config_lib
from tfmusic import runtime as runtime_lib
from tfmusic import training

CONFIG_IDS: Tuple[str, ...] = ("polyphony",)
DESCRIPTIONS = {"polyphony": "Polyphonic RNN"}
STEPS_PER_QUARTER = polyphony_lib.STEPS_PER_QUARTER


def polyphony_hparams(**overrides) -> EventsRnnHParams:
    """Magenta's ``polyphony`` hparams, with ``overrides``."""
    values = dict(batch_size=64, rnn_layer_sizes=(256, 256, 256), dropout_keep_prob=0.5, clip_norm=5.0,
                  learning_rate=0.001)
    values.update(overrides)
    return EventsRnnHParams(**values)


@dataclasses.dataclass(frozen=True)
class PolyphonyRnnConfig:
    """One Polyphony RNN.

    Attributes:
      config_id: ``polyphony`` (the encoding, and ``generator_details.id`` of bundles).
      hparams: :class:`events_rnn.config.EventsRnnHParams`.
      description: ``generator_details.description`` ("" = Magenta's text).
    """

    config_id: str = "polyphony"
    hparams: EventsRnnHParams = polyphony_hparams()
    description: str = ""

    def __post_init__(self):
        if self.config_id not in CONFIG_IDS:
            raise ValueError(f"model.config_id {self.config_id!r} is not one of {', '.join(CONFIG_IDS)}")

    @property
    def generator_description(self) -> str:
        """``description``, or Magenta's text for the config id."""
        return self.description or DESCRIPTIONS[self.config_id]

    @property
    def steps_per_quarter(self) -> int:
        """Quantization resolution (4: sixteenth notes)."""
        return STEPS_PER_QUARTER

    def encoder_decoder(self):
        """A fresh note-seq encoder/decoder of the config."""
        return polyphony_lib.make_encoder_decoder()

    @property
    def input_size(self) -> int:
        """Floats per input step (259)."""
        return int(self.encoder_decoder().input_size)

    @property
    def num_classes(self) -> int:
        """Softmax classes (259)."""
        return int(self.encoder_decoder().num_classes)

    @property
    def no_event_label(self) -> int:
        """The class Magenta's event / no-event accuracies split on (``STEP_END`` = 2)."""
        return int(self.encoder_decoder().default_event_label)


MODEL_PRESETS: config_lib.PresetRegistry[PolyphonyRnnConfig] = config_lib.PresetRegistry("polyphony_rnn model")
MODEL_PRESETS.add("polyphony", lambda: PolyphonyRnnConfig())
MODEL_PRESETS.add("tiny", lambda: PolyphonyRnnConfig(hparams=polyphony_hparams(
    batch_size=8, rnn_layer_sizes=(16, 16), learning_rate=0.01)))


@dataclasses.dataclass(frozen=True)
class PolyphonyRnnExperiment:
    """A whole Polyphony RNN training run: ``model``, ``data``, ``warm_start``, ``trainer``, ``runtime``, ``seed``
    (see :mod:`events_rnn.task`)."""

    model: PolyphonyRnnConfig = PolyphonyRnnConfig()
    data: EventsRnnDataConfig = EventsRnnDataConfig()
    warm_start: WarmStartConfig = WarmStartConfig()
    trainer: training.TrainerConfig = default_trainer(64)
    runtime: runtime_lib.RuntimeConfig = runtime_lib.RuntimeConfig()
    seed: int = 0


#: Whole runs: ``polyphony`` (Magenta's) and ``tiny`` (tests).
PRESETS: config_lib.PresetRegistry[PolyphonyRnnExperiment] = config_lib.PresetRegistry("polyphony_rnn")
register_experiment_presets(PRESETS, PolyphonyRnnExperiment, MODEL_PRESETS, CONFIG_IDS, ("tiny",))
