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


def load(run_dir, config_id=None, chords=DEFAULT_BACKING_CHORDS, steps_per_chord=16):
    """The trained Improv RNN of a training run folder or a ``.mag``, as an ``ImprovGenerator`` over
    ``chords``: see :func:`improv_rnn_ext.generate.load`. Imports TensorFlow."""
    from improv_rnn_ext.generate import load as _load

    return _load(run_dir, config_id, chords, steps_per_chord)
