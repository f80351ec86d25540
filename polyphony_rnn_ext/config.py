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

from events_rnn.config import EventsRnnHParams, default_trainer, register_experiment_presets
from events_rnn.family_config import EventsRnnExperiment, FamilyConfigMixin
from polyphony_rnn_ext import polyphony_lib
from tfmusic import config as config_lib
from tfmusic import training

CONFIG_IDS: Tuple[str, ...] = ("polyphony",)
DESCRIPTIONS = {"polyphony": "Polyphonic RNN"}
STEPS_PER_QUARTER = polyphony_lib.STEPS_PER_QUARTER


def polyphony_hparams(**overrides) -> EventsRnnHParams:
    """Magenta's ``polyphony`` hparams, with ``overrides``."""
    values = dict(
        batch_size=64, rnn_layer_sizes=(256, 256, 256), dropout_keep_prob=0.5, clip_norm=5.0, learning_rate=0.001
    )
    values.update(overrides)
    return EventsRnnHParams(**values)


@dataclasses.dataclass(frozen=True)
class PolyphonyRnnConfig(FamilyConfigMixin):
    """One Polyphony RNN (259 inputs, 259 classes; ``no_event_label`` is the class Magenta's event / no-event
    accuracies split on, ``STEP_END`` = 2; see :class:`events_rnn.family_config.FamilyConfigMixin`).

    Attributes:
      config_id: ``polyphony`` (the encoding, and ``generator_details.id`` of bundles).
      hparams: :class:`events_rnn.config.EventsRnnHParams`.
      description: ``generator_details.description`` ("" = Magenta's text).
    """

    config_id: str = "polyphony"
    hparams: EventsRnnHParams = polyphony_hparams()
    description: str = ""

    _config_ids = CONFIG_IDS
    _descriptions = DESCRIPTIONS
    _make_encoder_decoder = staticmethod(lambda _config_id: polyphony_lib.make_encoder_decoder())

    @property
    def steps_per_quarter(self) -> int:
        """Quantization resolution (4: sixteenth notes)."""
        return STEPS_PER_QUARTER


MODEL_PRESETS: config_lib.PresetRegistry[PolyphonyRnnConfig] = config_lib.PresetRegistry("polyphony_rnn model")
MODEL_PRESETS.add("polyphony", lambda: PolyphonyRnnConfig())
MODEL_PRESETS.add(
    "tiny",
    lambda: PolyphonyRnnConfig(hparams=polyphony_hparams(batch_size=8, rnn_layer_sizes=(16, 16), learning_rate=0.01)),
)


@dataclasses.dataclass(frozen=True)
class PolyphonyRnnExperiment(EventsRnnExperiment):
    """A whole Polyphony RNN training run (see :class:`events_rnn.family_config.EventsRnnExperiment`)."""

    model: PolyphonyRnnConfig = PolyphonyRnnConfig()
    trainer: training.TrainerConfig = default_trainer(64)


#: Whole runs: ``polyphony`` (Magenta's) and ``tiny`` (tests).
PRESETS: config_lib.PresetRegistry[PolyphonyRnnExperiment] = config_lib.PresetRegistry("polyphony_rnn")
register_experiment_presets(PRESETS, PolyphonyRnnExperiment, MODEL_PRESETS, CONFIG_IDS, ("tiny",))
