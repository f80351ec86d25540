"""Magenta's Improv RNN (``basic_improv``, ``attention_improv``, ``chord_pitches_improv``): melodies over chords
on the shared events-RNN core (:mod:`events_rnn`)."""

# The names the command lines list, here so that ``--help`` imports nothing heavy;
# tests/test_commands.py checks them against the config and preset modules.
#: Magenta's config ids of this family.
CONFIG_IDS = ("basic_improv", "attention_improv", "chord_pitches_improv")
#: ``<model>_train --preset`` names (the configs and small test presets).
TRAIN_PRESETS = ("attention_improv", "basic_improv", "chord_pitches_improv", "tiny", "tiny_attention")
#: Magenta's ``improv_rnn_generate --backing_chords`` default.
DEFAULT_BACKING_CHORDS = "C G Am F C G F C"
