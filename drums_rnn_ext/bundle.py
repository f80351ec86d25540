"""Drums RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to ``one_drum`` and ``drum_kit``.

``drum_kit`` bundles must hold attention variables (Magenta's config has ``attn_length`` 32); the
id must fit the variables' widths (2 / 2 or 518 / 512); every variable is ported strictly.
"""

from __future__ import annotations

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from drums_rnn_ext import config as config_lib

#: The Drums RNN as the bundle core sees it; its methods are this module's functions.
FAMILY = _core.preset_family(
    "Drums RNN", config_lib.DrumsRnnConfig, config_lib.MODEL_PRESETS, "drums_rnn", ("drum_kit",)
)
#: ``(generator_id, spec, attn_length=None, description="") ->`` Magenta's config for ``generator_id`` with the
#: spec's layer sizes and attention; ``_widths(config_id) -> (input_size, num_classes)``.
config_for_spec, _widths = FAMILY.config_for_spec, FAMILY.widths
#: ``load_bundle(path, attn_length=None, dropout_keep_prob=1.0)`` -> (model with the bundle's weights, its config,
#: the parsed bundle) of a Drums RNN ``.mag``; ``write_bundle(model, config, path, description="", global_step=0,
#: naming="kernel", include_metagraph=True)`` writes ``model`` as one (with the generation metagraph), returns ``path``.
load_bundle, write_bundle = FAMILY.load_bundle, FAMILY.write_bundle
