"""Drums RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to ``one_drum`` and ``drum_kit``.

``drum_kit`` bundles must hold attention variables (Magenta's config has ``attn_length`` 32); the
id must fit the variables' widths (2 / 2 or 518 / 512); every variable is ported strictly.
"""

from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from events_rnn.model import EventSequenceRnnModel
from drums_rnn_ext import config as config_lib


#: The Drums RNN as the bundle core sees it.
FAMILY = _core.preset_family(
    "Drums RNN",
    config_lib.DrumsRnnConfig,
    config_lib.MODEL_PRESETS,
    config_lib.CONFIG_IDS,
    config_lib.make_encoder_decoder,
    "drums_rnn",
    attention_ids=("drum_kit",),
)
#: ``(generator_id, spec, attn_length=None, description="") ->`` Magenta's config for ``generator_id`` with the
#: spec's layer sizes and attention.
config_for_spec = FAMILY.config_for_spec
_widths = FAMILY.widths


def load_bundle(
    path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
) -> Tuple[EventSequenceRnnModel, config_lib.DrumsRnnConfig, MagBundle]:
    """(model with the bundle's weights, its config, the parsed bundle) of a Drums RNN ``.mag``."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def write_bundle(
    model: EventSequenceRnnModel,
    config: config_lib.DrumsRnnConfig,
    path: str,
    description: str = "",
    global_step: int = 0,
    naming: str = "kernel",
    include_metagraph: bool = True,
) -> str:
    """Write ``model`` as a Magenta Drums RNN ``.mag`` at ``path`` (with the generation metagraph)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)
