"""Drums RNN configs: Magenta's ``drums_rnn_model.default_configs`` as frozen dataclasses.

========= =================================================================== ===== ====== ======= ==============
config    encoder/decoder (note-seq)                                          steps inputs classes hparams
========= =================================================================== ===== ====== ======= ==============
one_drum  OneHot(MultiDrumOneHotEncoding([[39] + range(0, 39) + range(39, 128)])) 2/q   2      2       (128, 128), keep 0.5, clip 5
drum_kit  Lookback(MultiDrumOneHotEncoding(), lookback_distances=[],             4/q   518    512     (256, 256, 256), attn 32,
          binary_counter_bits=6)                                                                       keep 0.5, clip 3
========= =================================================================== ===== ====== ======= ==============

Both: ``batch_size`` 128, ``learning_rate`` 0.001. ``one_drum`` maps every drum to one class
(decoded as a hand clap, 39); ``drum_kit`` uses note-seq's 9 default drum classes (2^9 = 512
combinations per step). :data:`MODEL_PRESETS` adds ``tiny`` / ``tiny_kit`` (16-unit layers) for tests.
:class:`DrumsRnnExperiment` and :data:`PRESETS` are whole training runs (``drums_rnn_train``).
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

from note_seq import constants
from note_seq import drums_encoder_decoder as _dd
from note_seq import encoder_decoder as _ed

from events_rnn.config import EventsRnnHParams
from events_rnn.family_config import FamilyConfigMixin, family_experiment, family_presets

CONFIG_IDS: Tuple[str, ...] = ("one_drum", "drum_kit")
DESCRIPTIONS = {
    "one_drum": "Drums RNN with 2-state encoding.",
    "drum_kit": "Drums RNN with multiple drums and binary counters.",
}
STEPS_PER_QUARTER = {"one_drum": 2, "drum_kit": 4}
_SHARED_HPARAMS = dict(batch_size=128, dropout_keep_prob=0.5, learning_rate=0.001)
HPARAMS = {
    "one_drum": dict(_SHARED_HPARAMS, rnn_layer_sizes=(128, 128), clip_norm=5.0),
    "drum_kit": dict(_SHARED_HPARAMS, rnn_layer_sizes=(256, 256, 256), attn_length=32, clip_norm=3.0),
}


def make_encoder_decoder(config_id: str) -> _ed.EventSequenceEncoderDecoder:
    """note-seq's encoder/decoder of ``config_id``, exactly as Magenta's config builds it."""
    if config_id == "one_drum":
        one_class = [39] + list(range(constants.MIN_MIDI_PITCH, 39)) + list(range(39, constants.MAX_MIDI_PITCH + 1))
        return _ed.OneHotEventSequenceEncoderDecoder(_dd.MultiDrumOneHotEncoding([one_class]))
    if config_id == "drum_kit":
        return _ed.LookbackEventSequenceEncoderDecoder(
            _dd.MultiDrumOneHotEncoding(), lookback_distances=[], binary_counter_bits=6
        )
    raise ValueError(f"unknown Drums RNN config {config_id!r}; expected one of {', '.join(CONFIG_IDS)}")


@dataclasses.dataclass(frozen=True)
class DrumsRnnConfig(
    FamilyConfigMixin, config_ids=CONFIG_IDS, descriptions=DESCRIPTIONS, encoder_decoder=make_encoder_decoder
):
    """One Drums RNN: ``config_id`` (encoding and bundle id), ``hparams``, ``description`` ("" = Magenta's).

    ``input_size`` is 2 (one_drum) or 518 (drum_kit), ``num_classes`` 2 or 512, ``no_event_label`` the
    "no drums" class (0); see :class:`events_rnn.family_config.FamilyConfigMixin`."""

    config_id: str = "drum_kit"
    hparams: EventsRnnHParams = EventsRnnHParams(**HPARAMS["drum_kit"])
    description: str = ""

    @property
    def steps_per_quarter(self) -> int:
        """Quantization resolution (one_drum 2, drum_kit 4)."""
        return STEPS_PER_QUARTER[self.config_id]


#: A whole Drums RNN training run, trained at the model's Magenta batch (128); see
#: :func:`events_rnn.family_config.family_experiment`.
DrumsRnnExperiment = family_experiment("DrumsRnnExperiment", DrumsRnnConfig, __name__)


#: Models (MODEL_PRESETS) and whole runs (PRESETS): ``one_drum``, ``drum_kit`` (Magenta's) and
#: ``tiny`` / ``tiny_kit`` (tests).
MODEL_PRESETS, PRESETS = family_presets(
    "drums_rnn",
    DrumsRnnExperiment,
    HPARAMS.get,
    {"tiny": ("one_drum", {}), "tiny_kit": ("drum_kit", {"rnn_layer_sizes": (16, 12), "attn_length": 5})},
)
