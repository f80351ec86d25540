"""TF1's ``AttentionCellWrapper``: moved to :mod:`events_rnn.attention` (shared by every events-RNN model).

Re-exported here so ``melody_rnn_ext.attention`` keeps working.
"""

from events_rnn.attention import (
    AttentionCellWrapper,
    AttentionReader,
    State,
    TF1Linear,  # noqa: F401
    attention_read,
    attention_wrapper_step,
    tf1_linear,
)
