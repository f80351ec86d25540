"""Improv RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to ``basic_improv``, ``attention_improv`` and
``chord_pitches_improv``.

``attention_improv`` bundles must hold attention variables (Magenta's config has ``attn_length`` 40); the
id must fit the variables' widths (87 / 38, 123 / 40, 75 / 38); every variable is ported strictly.
"""

from __future__ import annotations

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from improv_rnn_ext import config as config_lib

#: The Improv RNN as the bundle core sees it; its methods are this module's functions.
FAMILY = _core.preset_family(
    "Improv RNN", config_lib.ImprovRnnConfig, config_lib.MODEL_PRESETS, "improv_rnn", ("attention_improv",)
)
#: ``(generator_id, spec, attn_length=None, description="") ->`` Magenta's config for ``generator_id`` with the
#: spec's layer sizes and attention; ``_widths(config_id) -> (input_size, num_classes)``.
config_for_spec, _widths = FAMILY.config_for_spec, FAMILY.widths
#: ``load_bundle(path, attn_length=None, dropout_keep_prob=1.0)`` -> (model with the bundle's weights, its config,
#: the parsed bundle) of a Improv RNN ``.mag``; ``write_bundle(model, config, path, description="", global_step=0,
#: naming="kernel", include_metagraph=True)`` writes ``model`` as one (with the generation metagraph), returns ``path``.
load_bundle, write_bundle = FAMILY.load_bundle, FAMILY.write_bundle
