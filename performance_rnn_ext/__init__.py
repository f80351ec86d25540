"""Magenta's Performance RNN (``performance``, ``performance_with_dynamics``, conditioned variants) on the
shared events-RNN core (:mod:`events_rnn`)."""

# The names the command lines list, here so that ``--help`` imports nothing heavy;
# tests/test_commands.py checks them against the config and preset modules.
#: Magenta's config ids of this family.
CONFIG_IDS = (
    "performance",
    "performance_with_dynamics",
    "performance_with_dynamics_and_modulo_encoding",
    "density_conditioned_performance_with_dynamics",
    "pitch_conditioned_performance_with_dynamics",
    "multiconditioned_performance_with_dynamics",
    "optional_multiconditioned_performance_with_dynamics",
)
#: ``<model>_train --preset`` names (the configs and small test presets).
TRAIN_PRESETS = (
    "density_conditioned_performance_with_dynamics",
    "multiconditioned_performance_with_dynamics",
    "optional_multiconditioned_performance_with_dynamics",
    "performance",
    "performance_with_dynamics",
    "performance_with_dynamics_and_modulo_encoding",
    "pitch_conditioned_performance_with_dynamics",
    "tiny",
    "tiny_conditioned",
)


def load(run_dir, config_id=None):
    """The trained Performance RNN of a training run folder or a ``.mag``, as a ``PerformanceGenerator``:
    see :func:`performance_rnn_ext.generate.load`. Imports TensorFlow."""
    from performance_rnn_ext.generate import load as _load

    return _load(run_dir, config_id)
