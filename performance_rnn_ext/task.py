"""Training the Performance RNN: :class:`events_rnn.task.EventsRnnTask` bound to the Performance RNN family."""

from __future__ import annotations

from events_rnn.task import EventsRnnTask
from performance_rnn_ext import bundle as bundle_lib


class PerformanceRnnTask(EventsRnnTask):
    """The Performance RNN's task (``config``: a :class:`performance_rnn_ext.config.PerformanceRnnExperiment`);
    the no-event class of its metrics is the longest time shift (1 s), note-seq's default event."""

    family = bundle_lib.FAMILY
