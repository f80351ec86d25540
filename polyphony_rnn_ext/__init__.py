"""Magenta's Polyphony RNN (``polyphony``) on the shared events-RNN core (:mod:`events_rnn`)."""
