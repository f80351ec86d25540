"""Improv RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to ``basic_improv``, ``attention_improv`` and
``chord_pitches_improv``.

``attention_improv`` bundles must hold attention variables (Magenta's config has ``attn_length`` 40); the
id must fit the variables' widths (87 / 38, 123 / 40, 75 / 38); every variable is ported strictly.
"""

from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from events_rnn.model import EventSequenceRnnModel
from improv_rnn_ext import config as config_lib


#: The Improv RNN as the bundle core sees it.
FAMILY = _core.preset_family(
    "Improv RNN",
    config_lib.ImprovRnnConfig,
    config_lib.MODEL_PRESETS,
    config_lib.CONFIG_IDS,
    config_lib.make_encoder_decoder,
    "improv_rnn",
    attention_ids=("attention_improv",),
)
#: ``(generator_id, spec, attn_length=None, description="") ->`` Magenta's config for ``generator_id`` with the
#: spec's layer sizes and attention.
config_for_spec = FAMILY.config_for_spec
_widths = FAMILY.widths


def load_bundle(
    path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
) -> Tuple[EventSequenceRnnModel, config_lib.ImprovRnnConfig, MagBundle]:
    """(model with the bundle's weights, its config, the parsed bundle) of a Improv RNN ``.mag``."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def write_bundle(
    model: EventSequenceRnnModel,
    config: config_lib.ImprovRnnConfig,
    path: str,
    description: str = "",
    global_step: int = 0,
    naming: str = "kernel",
    include_metagraph: bool = True,
) -> str:
    """Write ``model`` as a Magenta Improv RNN ``.mag`` at ``path`` (with the generation metagraph)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)
