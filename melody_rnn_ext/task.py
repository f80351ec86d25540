"""Training the Melody RNN: :class:`events_rnn.task.EventsRnnTask` bound to the Melody RNN family.

Loss, Magenta's metrics, per-variable clipping, stateless dropout seeds, warm start and
:func:`evaluate` are the shared core's (:mod:`events_rnn.task`, re-exported here).
"""

from __future__ import annotations

from events_rnn.task import (
    METRICS,
    PHASE,
    DatasetFn,
    EventsRnnTask,
    evaluate,  # noqa: F401
    metrics_from_sums,
    pad_time,
    sequence_example_dataset_fn,
    step_statistics,
)
from melody_rnn_ext import bundle as bundle_lib


class MelodyRnnTask(EventsRnnTask):
    """The Melody RNN's task: :class:`events_rnn.task.EventsRnnTask` with the Melody RNN family
    (``config`` is a :class:`melody_rnn_ext.config.MelodyRnnExperiment`)."""

    family = bundle_lib.FAMILY
