"""Magenta's Performance RNN (``performance``, ``performance_with_dynamics``, conditioned variants) on the
shared events-RNN core (:mod:`events_rnn`)."""
