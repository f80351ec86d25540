"""The Melody RNN as a Keras model: :class:`events_rnn.model.EventSequenceRnnModel` named ``melody_rnn``.

The TF1-exact LSTM stack, attention wrapper and TF1 naming live in :mod:`events_rnn.model` (shared
by every events-RNN model); they are re-exported here so ``melody_rnn_ext.model`` keeps working.
"""

from __future__ import annotations

from typing import Optional

import keras
import tensorflow as tf  # noqa: F401  (re-exported for callers that import it from here)

from events_rnn.model import (
    ATTENTION_LAYOUTS,
    NAMINGS,
    OUTPUT_SCOPE,
    RNN_SCOPE,  # noqa: F401
    EventSequenceRnnModel,
    State,
    TF1LSTMCell,
    TF1MultiRNNCell,
    keras_lstm_to_tf1,
    tf1_lstm_step,
    tf1_lstm_to_keras,
)
from events_rnn import model as _core


@keras.saving.register_keras_serializable(package="melody_rnn_ext")
class MelodyRnnModel(EventSequenceRnnModel):
    """Magenta's Melody RNN: an :class:`events_rnn.model.EventSequenceRnnModel` named ``melody_rnn`` by
    default (see there for arguments, call and TF1 names)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("name", "melody_rnn")
        super().__init__(*args, **kwargs)


def build_model(config, dropout_keep_prob: Optional[float] = None, name: str = "melody_rnn") -> MelodyRnnModel:
    """The model of a :class:`melody_rnn_ext.config.MelodyRnnConfig` (dropout from its hparams unless given)."""
    return _core.build_model(config, dropout_keep_prob, name=name, model_class=MelodyRnnModel)
