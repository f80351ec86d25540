"""Training the Improv RNN: :class:`events_rnn.task.EventsRnnTask` bound to the Improv RNN family."""

from __future__ import annotations

from improv_rnn_ext import bundle as bundle_lib
from events_rnn.task import EventsRnnTask


class ImprovRnnTask(EventsRnnTask):
    """The Improv RNN's task (``config``: a :class:`improv_rnn_ext.config.ImprovRnnExperiment`); the no-event
    class of its metrics is the melody's "no event" (hold)."""

    family = bundle_lib.FAMILY
