"""The four Melody RNN encodings, built from note-seq's encoder/decoders as Magenta's configs build them.

Magenta's ``melody_rnn_model.default_configs`` pairs each config id with an event-sequence
encoder/decoder and a pitch range that melodies are squashed into before encoding:

============== ================================================ ========= ===== =========== =======
config         encoder/decoder                                  notes     key   input size  classes
============== ================================================ ========= ===== =========== =======
basic_rnn      OneHot(MelodyOneHotEncoding(48, 84))             [48, 84)  C     38          38
mono_rnn       OneHot(MelodyOneHotEncoding(0, 128))             [0, 128)  none  130         130
lookback_rnn   Lookback(MelodyOneHotEncoding(48, 84))           [48, 84)  C     121         40
attention_rnn  KeyMelodyEncoderDecoder(min_note=48, max_note=84) [48, 84)  C     74          40
============== ================================================ ========= ===== =========== =======

The melody event values are note-seq's: ``-2`` no event (hold), ``-1`` note off, ``0..127`` note
on. In the one-hot melody encoding class ``0`` is "no event" and ``1`` "note off"; the lookback and
key-melody encodings add "repeat the event 1 / 2 bars ago" classes (see :func:`no_event_label`).

This module holds only the encodings (no TensorFlow import); the SequenceExample layout lives in
:mod:`melody_rnn_ext.data`.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

from note_seq import encoder_decoder as _ed
from note_seq import melody_encoder_decoder as _med

CONFIG_IDS: Tuple[str, ...] = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")

DEFAULT_MIN_NOTE = 48
DEFAULT_MAX_NOTE = 84
DEFAULT_TRANSPOSE_TO_KEY = 0
STEPS_PER_QUARTER = 4  # Magenta's EventSequenceRnnConfig default, used by the Quantizer stage


class UnknownConfigError(ValueError):
    """A config id that is none of :data:`CONFIG_IDS`."""

    def __init__(self, config_id: str):
        self.config_id = config_id
        super().__init__(f"unknown Melody RNN config {config_id!r}; expected one of {', '.join(CONFIG_IDS)}")


@dataclasses.dataclass(frozen=True)
class MelodyEncodingSpec:
    """How a config turns a melody into model data.

    Attributes:
      config_id: one of :data:`CONFIG_IDS`.
      encoding: ``"one_hot"``, ``"lookback"`` or ``"key_melody"`` (which note-seq encoder/decoder).
      min_note: lowest MIDI pitch encoded (inclusive).
      max_note: highest MIDI pitch encoded (exclusive).
      transpose_to_key: key (0 = C .. 11 = B) that ``Melody.squash`` transposes into, or ``None``
        for no transposition (mono_rnn).
      steps_per_quarter: quantization resolution of the melodies (4 = sixteenth notes).
    """

    config_id: str
    encoding: str
    min_note: int
    max_note: int
    transpose_to_key: Optional[int]
    steps_per_quarter: int = STEPS_PER_QUARTER


_SPECS = {
    "basic_rnn": MelodyEncodingSpec(
        "basic_rnn", "one_hot", DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE, DEFAULT_TRANSPOSE_TO_KEY
    ),
    "mono_rnn": MelodyEncodingSpec("mono_rnn", "one_hot", 0, 128, None),
    "lookback_rnn": MelodyEncodingSpec(
        "lookback_rnn", "lookback", DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE, DEFAULT_TRANSPOSE_TO_KEY
    ),
    "attention_rnn": MelodyEncodingSpec(
        "attention_rnn", "key_melody", DEFAULT_MIN_NOTE, DEFAULT_MAX_NOTE, DEFAULT_TRANSPOSE_TO_KEY
    ),
}


def encoding_spec(config_id: str) -> MelodyEncodingSpec:
    """The :class:`MelodyEncodingSpec` of ``config_id``; raises :class:`UnknownConfigError`."""
    try:
        return _SPECS[config_id]
    except KeyError:
        raise UnknownConfigError(config_id) from None


def make_encoder_decoder(config_id: str) -> _ed.EventSequenceEncoderDecoder:
    """A fresh note-seq ``EventSequenceEncoderDecoder`` for ``config_id``, exactly as Magenta builds it.

    Returns:
      ``OneHotEventSequenceEncoderDecoder`` (basic_rnn, mono_rnn), ``LookbackEventSequenceEncoderDecoder``
      (lookback_rnn) or ``KeyMelodyEncoderDecoder`` (attention_rnn). Its ``encode(melody)`` gives
      ``(inputs, labels)``: ``len(melody) - 1`` float vectors of length ``input_size`` and as many int
      labels in ``[0, num_classes)``, label ``i`` being the class of event ``i + 1``.
    """
    spec = encoding_spec(config_id)
    if spec.encoding == "one_hot":
        return _ed.OneHotEventSequenceEncoderDecoder(
            _med.MelodyOneHotEncoding(min_note=spec.min_note, max_note=spec.max_note)
        )
    if spec.encoding == "lookback":
        return _ed.LookbackEventSequenceEncoderDecoder(
            _med.MelodyOneHotEncoding(min_note=spec.min_note, max_note=spec.max_note)
        )
    from melody_rnn_ext.key_melody import KeyMelodyEncoderDecoder  # note-seq's, with a one-pass encode

    return KeyMelodyEncoderDecoder(min_note=spec.min_note, max_note=spec.max_note)


def input_size(config_id: str) -> int:
    """Length of one input vector (floats per step) for ``config_id``."""
    return int(make_encoder_decoder(config_id).input_size)


def num_classes(config_id: str) -> int:
    """Number of output classes (softmax size) for ``config_id``."""
    return int(make_encoder_decoder(config_id).num_classes)


def note_range(config_id: str) -> Tuple[int, int]:
    """``(min_note, max_note)``: the MIDI pitch range ``[min_note, max_note)`` of ``config_id``."""
    spec = encoding_spec(config_id)
    return spec.min_note, spec.max_note


def no_event_label(config_id: str) -> int:
    """The class index Magenta counts as "no event" for ``config_id``: the encoder/decoder's
    ``default_event_label`` (0 for basic, mono and lookback; 36 for attention_rnn's key-melody
    classes). Magenta's ``event_accuracy`` / ``no_event_accuracy`` split the labels on it."""
    return int(make_encoder_decoder(config_id).default_event_label)


def squash_and_encode(config_id: str, melody, encoder_decoder=None) -> Tuple[List[List[float]], List[int]]:
    """Squashes a copy of ``melody`` into the config's range and key, then encodes it.

    Args:
      config_id: one of :data:`CONFIG_IDS`.
      melody: a ``note_seq.Melody`` (not modified).
      encoder_decoder: optional encoder/decoder to reuse (from :func:`make_encoder_decoder`).

    Returns:
      ``(inputs, labels)`` as note-seq's ``encode`` returns them.
    """
    import copy

    spec = encoding_spec(config_id)
    melody = copy.deepcopy(melody)
    melody.squash(spec.min_note, spec.max_note, spec.transpose_to_key)
    enc = encoder_decoder if encoder_decoder is not None else make_encoder_decoder(config_id)
    return enc.encode(melody)


def decode_labels(config_id: str, first_event: int, labels: Sequence[int], encoder_decoder=None):
    """Rebuilds a melody from its first event and its labels (the inverse of encoding).

    Args:
      config_id: one of :data:`CONFIG_IDS`.
      first_event: the melody's first event value (-2, -1 or a MIDI pitch); labels never hold it.
      labels: class indices, label ``i`` being event ``i + 1``.

    Returns:
      a ``note_seq.Melody`` of ``len(labels) + 1`` events.
    """
    import note_seq

    enc = encoder_decoder if encoder_decoder is not None else make_encoder_decoder(config_id)
    melody = note_seq.Melody([int(first_event)])
    for label in labels:
        melody.append(enc.class_index_to_event(int(label), melody))
    return melody
