"""Polyphony RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to the ``polyphony`` config.

A bundle whose ``generator_details.id`` is not ``polyphony``, or whose variables are not 259 inputs
and 259 classes, is refused with a :class:`events_rnn.bundle.BundleError` naming the file; every
variable is ported strictly (:func:`events_rnn.convert_magenta.convert_weights`).
"""

from __future__ import annotations

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from polyphony_rnn_ext import config as config_lib

#: The Polyphony RNN as the bundle core sees it; its methods are this module's functions.
FAMILY = _core.preset_family("Polyphony RNN", config_lib.PolyphonyRnnConfig, config_lib.MODEL_PRESETS, "polyphony_rnn")
#: ``(generator_id, spec, attn_length=None, description="") ->`` Magenta's config for ``generator_id`` with the
#: spec's layer sizes (and attention, if any); ``_widths(config_id) -> (259, 259)``.
config_for_spec, _widths = FAMILY.config_for_spec, FAMILY.widths
#: ``load_bundle(path, attn_length=None, dropout_keep_prob=1.0)`` -> (model with the bundle's weights, its config,
#: the parsed bundle) of a ``polyphony`` ``.mag``; ``write_bundle(model, config, path, description="",
#: global_step=0, naming="kernel", include_metagraph=True)`` writes ``model`` as one (with the generation
#: metagraph), returns ``path``; ``warm_start_from_bundle(model, path, config_id=None)`` loads every variable of
#: ``model`` from one, strictly (Magenta's warm start).
load_bundle, write_bundle = FAMILY.load_bundle, FAMILY.write_bundle
warm_start_from_bundle = FAMILY.warm_start_from_bundle
