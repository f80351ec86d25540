"""Magenta's Polyphony RNN (``polyphony``) on the shared events-RNN core (:mod:`events_rnn`)."""

# The names the command lines list, here so that ``--help`` imports nothing heavy;
# tests/test_commands.py checks them against the config and preset modules.
#: Magenta's config ids of this family.
CONFIG_IDS = ("polyphony",)
#: ``<model>_train --preset`` names (the configs and small test presets).
TRAIN_PRESETS = ("polyphony", "tiny")
