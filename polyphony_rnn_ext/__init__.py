"""Magenta's Polyphony RNN (``polyphony``) on the shared events-RNN core (:mod:`events_rnn`)."""

# The names the command lines list, here so that ``--help`` imports nothing heavy;
# tests/test_commands.py checks them against the config and preset modules.
#: Magenta's config ids of this family.
CONFIG_IDS = ("polyphony",)
#: ``<model>_train --preset`` names (the configs and small test presets).
TRAIN_PRESETS = ("polyphony", "tiny")


def load(run_dir, config_id=None):
    """The trained Polyphony RNN of a training run folder or a ``.mag``, as a ``PolyphonyGenerator``: see
    :func:`polyphony_rnn_ext.generate.load`. Imports TensorFlow."""
    from polyphony_rnn_ext.generate import load as _load

    return _load(run_dir, config_id)
