"""Performance RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to Magenta's Performance RNN configs.

The id must fit the variables' widths (e.g. ``performance`` 356 / 356, ``performance_with_dynamics``
388 / 388, ``multiconditioned_performance_with_dynamics`` 408 / 388); every variable is ported strictly.
Magenta's Performance RNN configs have no attention (``--hparams attn_length=N`` adds it, as in Magenta).
"""

from __future__ import annotations

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from performance_rnn_ext import config as config_lib

#: The Performance RNN as the bundle core sees it; its methods are this module's functions.
FAMILY = _core.preset_family(
    "Performance RNN", config_lib.PerformanceRnnConfig, config_lib.MODEL_PRESETS, "performance_rnn"
)
#: ``(generator_id, spec, attn_length=None, description="") ->`` Magenta's config for ``generator_id`` with the
#: spec's layer sizes and attention; ``_widths(config_id) -> (input_size, num_classes)``.
config_for_spec, _widths = FAMILY.config_for_spec, FAMILY.widths
#: ``load_bundle(path, attn_length=None, dropout_keep_prob=1.0)`` -> (model with the bundle's weights, its config,
#: the parsed bundle) of a Performance RNN ``.mag``; ``write_bundle(model, config, path, description="", global_step=0,
#: naming="kernel", include_metagraph=True)`` writes ``model`` as one (with the generation metagraph), returns ``path``.
load_bundle, write_bundle = FAMILY.load_bundle, FAMILY.write_bundle
