"""Training the Drums RNN: :class:`events_rnn.task.EventsRnnTask` bound to the Drums RNN family."""

from __future__ import annotations

from drums_rnn_ext import bundle as bundle_lib
from events_rnn.task import EventsRnnTask


class DrumsRnnTask(EventsRnnTask):
    """The Drums RNN's task (``config``: a :class:`drums_rnn_ext.config.DrumsRnnExperiment`); the no-event
    class of its metrics is "no drums" (0)."""

    family = bundle_lib.FAMILY
