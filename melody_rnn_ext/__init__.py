"""Melody RNN in Keras: Magenta's melody_rnn configs, encodings, data pipeline, model and .mag bundles."""

# The names the command lines list, here so that ``--help`` imports nothing heavy;
# tests/test_commands.py checks them against the config and preset modules.
#: Magenta's config ids of this family.
CONFIG_IDS = ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")
#: ``<model>_train --preset`` names (the configs and small test presets).
TRAIN_PRESETS = (
    "attention_rnn",
    "basic_rnn",
    "lookback_rnn",
    "mono_rnn",
    "tiny",
    "tiny_attention",
    "tiny_attention_whole_stack",
)


def load(run_dir, config_id=None):
    """The trained Melody RNN of a training run folder (this toolkit's or Magenta's) or a ``.mag``, as a
    ``MelodyGenerator``: see :func:`melody_rnn_ext.generate.load`. Imports TensorFlow."""
    from melody_rnn_ext.generate import load as _load

    return _load(run_dir, config_id)
