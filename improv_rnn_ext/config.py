"""Improv RNN configs: Magenta's ``improv_rnn_model.default_configs`` as frozen dataclasses.

==================== ===================================================================== ======= ======= =====================
config id            encoder/decoder (note-seq): Conditional(chords, melody)                inputs  classes hparams
==================== ===================================================================== ======= ======= =====================
basic_improv         OneHot(TriadChordOneHotEncoding()), OneHot(MelodyOneHotEncoding(48, 84)) 49+38   38      (64, 64), keep 0.5, clip 5
attention_improv     OneHot(TriadChordOneHotEncoding()), KeyMelodyEncoderDecoder(48, 84)     49+74   40      (128, 128, 128), attn 40,
                                                                                                               keep 0.5, clip 3
chord_pitches_improv PitchChordsEncoderDecoder(), OneHot(MelodyOneHotEncoding(48, 84))       37+38   38      (256, 256, 256), keep 0.5,
                                                                                                               clip 3
==================== ===================================================================== ======= ======= =====================

All: ``batch_size`` 128, ``learning_rate`` 0.001, 4 steps per quarter, melodies squashed into MIDI 48..83
(``min_note`` 48, ``max_note`` 84 exclusive), ``transpose_to_key`` None (octave shifts only).
:data:`MODEL_PRESETS` adds ``tiny`` / ``tiny_attention`` (16-unit layers) for tests.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

import note_seq
from note_seq import encoder_decoder as _ed

from events_rnn.config import EventsRnnHParams
from events_rnn.family_config import FamilyConfigMixin, family_experiment, family_presets

CONFIG_IDS: Tuple[str, ...] = ("basic_improv", "attention_improv", "chord_pitches_improv")
DESCRIPTIONS = {
    "basic_improv": "Basic melody-given-chords RNN with one-hot triad encoding for chords.",
    "attention_improv": "Melody-given-chords RNN with one-hot triad encoding for chords, attention, and binary "
    "counters.",
    "chord_pitches_improv": "Melody-given-chords RNN with chord pitches encoding.",
}
MIN_NOTE, MAX_NOTE = 48, 84
STEPS_PER_QUARTER = 4
_SHARED_HPARAMS = dict(batch_size=128, dropout_keep_prob=0.5, learning_rate=0.001)
HPARAMS = {
    "basic_improv": dict(_SHARED_HPARAMS, rnn_layer_sizes=(64, 64), clip_norm=5.0),
    "attention_improv": dict(_SHARED_HPARAMS, rnn_layer_sizes=(128, 128, 128), attn_length=40, clip_norm=3.0),
    "chord_pitches_improv": dict(_SHARED_HPARAMS, rnn_layer_sizes=(256, 256, 256), clip_norm=3.0),
}


def make_encoder_decoder(config_id: str) -> _ed.ConditionalEventSequenceEncoderDecoder:
    """note-seq's (chords -> melody) encoder/decoder of ``config_id``, exactly as Magenta's config builds it."""
    melody = _ed.OneHotEventSequenceEncoderDecoder(note_seq.MelodyOneHotEncoding(min_note=MIN_NOTE, max_note=MAX_NOTE))
    triads = _ed.OneHotEventSequenceEncoderDecoder(note_seq.TriadChordOneHotEncoding())
    if config_id == "basic_improv":
        return _ed.ConditionalEventSequenceEncoderDecoder(triads, melody)
    if config_id == "attention_improv":
        return _ed.ConditionalEventSequenceEncoderDecoder(
            triads, note_seq.KeyMelodyEncoderDecoder(min_note=MIN_NOTE, max_note=MAX_NOTE)
        )
    if config_id == "chord_pitches_improv":
        return _ed.ConditionalEventSequenceEncoderDecoder(note_seq.PitchChordsEncoderDecoder(), melody)
    raise ValueError(f"unknown Improv RNN config {config_id!r}; expected one of {', '.join(CONFIG_IDS)}")


@dataclasses.dataclass(frozen=True)
class ImprovRnnConfig(
    FamilyConfigMixin, config_ids=CONFIG_IDS, descriptions=DESCRIPTIONS, encoder_decoder=make_encoder_decoder
):
    """One Improv RNN: ``config_id`` (encoding and bundle id), ``hparams``, ``description`` ("" = Magenta's).

    ``input_size`` is 87 (basic), 123 (attention) or 75 (chord_pitches), ``num_classes`` 38 (40 for
    attention_improv), ``no_event_label`` the hold class; see :class:`events_rnn.family_config.FamilyConfigMixin`."""

    config_id: str = "basic_improv"
    hparams: EventsRnnHParams = EventsRnnHParams(**HPARAMS["basic_improv"])
    description: str = ""

    @property
    def steps_per_quarter(self) -> int:
        """Quantization resolution (4: sixteenth notes in 4/4)."""
        return STEPS_PER_QUARTER

    @property
    def note_range(self) -> Tuple[int, int]:
        """(min_note, max_note exclusive) melodies are squashed into: (48, 84)."""
        return MIN_NOTE, MAX_NOTE


#: A whole Improv RNN training run, trained at the model's Magenta batch (128); see
#: :func:`events_rnn.family_config.family_experiment`.
ImprovRnnExperiment = family_experiment("ImprovRnnExperiment", ImprovRnnConfig, __name__)


#: Models (MODEL_PRESETS) and whole runs (PRESETS): Magenta's three configs and ``tiny`` /
#: ``tiny_attention`` (tests).
MODEL_PRESETS, PRESETS = family_presets(
    "improv_rnn",
    ImprovRnnExperiment,
    HPARAMS.get,
    {
        "tiny": ("basic_improv", {}),
        "tiny_attention": ("attention_improv", {"rnn_layer_sizes": (16, 12), "attn_length": 5}),
    },
)
