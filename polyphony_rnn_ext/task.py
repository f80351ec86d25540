"""Training the Polyphony RNN: :class:`events_rnn.task.EventsRnnTask` bound to the Polyphony RNN family."""

from __future__ import annotations

from events_rnn.task import EventsRnnTask
from polyphony_rnn_ext import bundle as bundle_lib


class PolyphonyRnnTask(EventsRnnTask):
    """The Polyphony RNN's task (``config``: a :class:`polyphony_rnn_ext.config.PolyphonyRnnExperiment`);
    the no-event class of its metrics is ``STEP_END``."""

    family = bundle_lib.FAMILY
