"""Magenta's Drums RNN (``one_drum``, ``drum_kit``) on the shared events-RNN core (:mod:`events_rnn`)."""

# The names the command lines list, here so that ``--help`` imports nothing heavy;
# tests/test_commands.py checks them against the config and preset modules.
#: Magenta's config ids of this family.
CONFIG_IDS = ("one_drum", "drum_kit")
#: ``<model>_train --preset`` names (the configs and small test presets).
TRAIN_PRESETS = ("drum_kit", "one_drum", "tiny", "tiny_kit")


def load(run_dir, config_id=None):
    """The trained Drums RNN of a training run folder or a ``.mag``, as a ``DrumsGenerator``: see
    :func:`drums_rnn_ext.generate.load`. Imports TensorFlow."""
    from drums_rnn_ext.generate import load as _load

    return _load(run_dir, config_id)
