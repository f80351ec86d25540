"""Magenta's Drums RNN (``one_drum``, ``drum_kit``) on the shared events-RNN core (:mod:`events_rnn`)."""
