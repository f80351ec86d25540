"""Magenta's Improv RNN (``basic_improv``, ``attention_improv``, ``chord_pitches_improv``): melodies over chords
on the shared events-RNN core (:mod:`events_rnn`)."""
