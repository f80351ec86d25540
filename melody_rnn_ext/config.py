"""Melody RNN configs: Magenta's four ``default_configs`` as frozen dataclasses, and experiment presets.

* :class:`MelodyRnnHParams`: Magenta's hyperparameters (``batch_size`` 128, ``rnn_layer_sizes``
  (128, 128), ``dropout_keep_prob`` 0.5, ``clip_norm`` 5, ``attn_length`` 0, ``learning_rate``
  0.001) plus ``attention_layout``: where the attention wrapper sits when ``attn_length > 0``,
  ``first_layer`` (Magenta since May 2017: around the first LSTM only) or ``whole_stack``
  (older bundles: around the whole ``MultiRNNCell``).
* :class:`MelodyRnnConfig`: a config id (which names the encoding, see
  :mod:`melody_rnn_ext.encodings`, and becomes ``generator_details.id`` in a ``.mag``), the
  hparams and the generator description. Pitch range, key, input size, class count and the
  "no event" label are read from the encoding, so they cannot disagree with it.
* :data:`MODEL_PRESETS`: ``basic_rnn``, ``mono_rnn``, ``lookback_rnn``, ``attention_rnn``
  (``clip_norm`` 3, ``attn_length`` 40) exactly as Magenta's ``melody_rnn_model.default_configs``,
  plus ``tiny`` / ``tiny_attention`` / ``tiny_attention_whole_stack`` for tests (16-unit layers,
  batch 8, learning rate 0.01, attention window 5; the config ids keep the real encodings).
* :class:`MelodyRnnExperiment` ``(model, data, warm_start, trainer, runtime)`` and
  :data:`PRESETS` of whole runs with the same names.

``hparams.batch_size`` keeps Magenta's value; training batches come from
``trainer.global_batch_size`` (the presets set both to 128).
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

from events_rnn.config import ATTENTION_LAYOUTS, WarmStartConfig  # noqa: F401 (re-exported)
from events_rnn.config import EventsRnnDataConfig, EventsRnnHParams, default_trainer, register_experiment_presets
from events_rnn.family_config import EventsRnnExperiment
from melody_rnn_ext import encodings
from tfmusic import config as config_lib
from tfmusic import training


#: Magenta's ``GeneratorDetails.description`` of each config.
DESCRIPTIONS = {
    "basic_rnn": "Melody RNN with one-hot encoding.",
    "mono_rnn": "Monophonic RNN with one-hot encoding.",
    "lookback_rnn": "Melody RNN with lookback encoding.",
    "attention_rnn": "Melody RNN with lookback encoding and attention.",
}


@dataclasses.dataclass(frozen=True)
class MelodyRnnHParams(EventsRnnHParams):
    """Magenta's Melody RNN hyperparameters.

    Attributes:
      batch_size: Magenta's training batch (128); this toolkit trains with
        ``trainer.global_batch_size``.
      rnn_layer_sizes: units of each LSTM layer, bottom first.
      dropout_keep_prob: probability of keeping each LSTM layer's output during training
        (TF1 ``DropoutWrapper(output_keep_prob=...)`` around every layer).
      clip_norm: gradients are clipped to this global norm.
      attn_length: attention window in steps (0 = no attention).
      learning_rate: Adam's learning rate.
      attention_layout: ``first_layer`` (current Magenta) or ``whole_stack`` (older bundles).
    """

    # Magenta's melody_rnn defaults; the rest (and the value checks) are EventsRnnHParams'
    batch_size: int = 128
    dropout_keep_prob: float = 0.5
    clip_norm: float = 5.0


@dataclasses.dataclass(frozen=True)
class MelodyRnnConfig:
    """One Melody RNN: which encoding (``config_id``), its hyperparameters and description.

    Attributes:
      config_id: ``basic_rnn``, ``mono_rnn``, ``lookback_rnn`` or ``attention_rnn``: the
        encoding (:mod:`melody_rnn_ext.encodings`) and the ``generator_details.id`` of bundles.
      hparams: :class:`MelodyRnnHParams`.
      description: ``generator_details.description``; "" means Magenta's text for the config id
        (see :attr:`generator_description`).
    """

    config_id: str = "basic_rnn"
    hparams: MelodyRnnHParams = MelodyRnnHParams()
    description: str = ""

    def __post_init__(self):
        if self.config_id not in encodings.CONFIG_IDS:
            raise ValueError(f"model.config_id {self.config_id!r} is not one of {', '.join(encodings.CONFIG_IDS)}")
        # Magenta's MelodyRnnConfig checks on the (encoding-fixed) pitch range and key.
        lo, hi = encodings.note_range(self.config_id)
        if lo < 0 or hi > 128 or hi - lo < 12:
            raise ValueError(f"{self.config_id}: note range [{lo}, {hi}) must lie in [0, 128] and span >= 12")
        key = self.transpose_to_key
        if key is not None and not 0 <= key <= 11:
            raise ValueError(f"{self.config_id}: transpose_to_key must be in 0..11 or None, got {key}")

    @property
    def generator_description(self) -> str:
        """The description bundles carry: ``description``, or Magenta's text for the config id."""
        return self.description or DESCRIPTIONS[self.config_id]

    # Everything below is read from the encoding, the single source of truth.
    @property
    def min_note(self) -> int:
        """Lowest MIDI pitch of the encoding (inclusive)."""
        return encodings.note_range(self.config_id)[0]

    @property
    def max_note(self) -> int:
        """Highest MIDI pitch of the encoding (exclusive)."""
        return encodings.note_range(self.config_id)[1]

    @property
    def transpose_to_key(self) -> Optional[int]:
        """Key melodies are transposed into before encoding (None: no transposition)."""
        return encodings.encoding_spec(self.config_id).transpose_to_key

    @property
    def input_size(self) -> int:
        """Floats per input step (38 / 130 / 121 / 74)."""
        return encodings.input_size(self.config_id)

    @property
    def num_classes(self) -> int:
        """Softmax classes (38 / 130 / 40 / 40)."""
        return encodings.num_classes(self.config_id)

    @property
    def no_event_label(self) -> int:
        """The class Magenta's event / no-event accuracies split on."""
        return encodings.no_event_label(self.config_id)


MODEL_PRESETS: config_lib.PresetRegistry[MelodyRnnConfig] = config_lib.PresetRegistry("melody_rnn model")


def _magenta(config_id: str, **hparams) -> MelodyRnnConfig:
    return MelodyRnnConfig(config_id=config_id, hparams=MelodyRnnHParams(**hparams))


MODEL_PRESETS.add("basic_rnn", lambda: _magenta("basic_rnn"))
MODEL_PRESETS.add("mono_rnn", lambda: _magenta("mono_rnn"))
MODEL_PRESETS.add("lookback_rnn", lambda: _magenta("lookback_rnn"))
MODEL_PRESETS.add("attention_rnn", lambda: _magenta("attention_rnn", attn_length=40, clip_norm=3.0))
MODEL_PRESETS.add("tiny", lambda: _magenta("basic_rnn", batch_size=8, rnn_layer_sizes=(16, 16), learning_rate=0.01))
MODEL_PRESETS.add(
    "tiny_attention",
    lambda: _magenta(
        "attention_rnn", batch_size=8, rnn_layer_sizes=(16, 12), attn_length=5, clip_norm=3.0, learning_rate=0.01
    ),
)
MODEL_PRESETS.add(
    "tiny_attention_whole_stack",
    lambda: _magenta(
        "attention_rnn",
        batch_size=8,
        rnn_layer_sizes=(16, 12),
        attn_length=5,
        clip_norm=3.0,
        learning_rate=0.01,
        attention_layout="whole_stack",
    ),
)


# --------------------------------------------------------------------------- experiments


#: Training data and warm start are the shared core's (:mod:`events_rnn.config`).
MelodyRnnDataConfig = EventsRnnDataConfig


@dataclasses.dataclass(frozen=True)
class MelodyRnnExperiment(EventsRnnExperiment):
    """A whole Melody RNN run: ``model``, ``data``, ``warm_start``, ``trainer``, ``runtime``, ``seed``."""

    model: MelodyRnnConfig = MelodyRnnConfig()
    trainer: training.TrainerConfig = default_trainer(128)


def make_experiment(model: MelodyRnnConfig, **trainer_overrides) -> MelodyRnnExperiment:
    """An experiment around ``model`` whose global batch is ``model.hparams.batch_size``."""
    return MelodyRnnExperiment(model=model, trainer=default_trainer(model.hparams.batch_size, **trainer_overrides))


#: Whole runs of the model presets' names (see :func:`events_rnn.config.register_experiment_presets`).
PRESETS: config_lib.PresetRegistry[MelodyRnnExperiment] = config_lib.PresetRegistry("melody_rnn")
register_experiment_presets(
    PRESETS,
    MelodyRnnExperiment,
    MODEL_PRESETS,
    ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn"),
    ("tiny", "tiny_attention", "tiny_attention_whole_stack"),
)


def get_preset(name: str, overrides: Sequence[str] = ()) -> MelodyRnnExperiment:
    """Experiment preset ``name`` with ``a.b=value`` overrides applied."""
    return config_lib.apply_overrides(PRESETS.get(name), overrides)
