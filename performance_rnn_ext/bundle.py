"""Performance RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to Magenta's Performance RNN configs.

The id must fit the variables' widths (e.g. ``performance`` 356 / 356, ``performance_with_dynamics``
388 / 388, ``multiconditioned_performance_with_dynamics`` 408 / 388); every variable is ported strictly.
Magenta's Performance RNN configs have no attention (``--hparams attn_length=N`` adds it, as in Magenta).
"""

from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from events_rnn.model import EventSequenceRnnModel
from performance_rnn_ext import config as config_lib


#: The Performance RNN as the bundle core sees it.
FAMILY = _core.preset_family(
    "Performance RNN",
    config_lib.PerformanceRnnConfig,
    config_lib.MODEL_PRESETS,
    config_lib.CONFIG_IDS,
    config_lib.make_encoder_decoder,
    "performance_rnn",
)
#: ``(generator_id, spec, attn_length=None, description="") ->`` Magenta's config for ``generator_id`` with the
#: spec's layer sizes and attention.
config_for_spec = FAMILY.config_for_spec
_widths = FAMILY.widths


def load_bundle(
    path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
) -> Tuple[EventSequenceRnnModel, config_lib.PerformanceRnnConfig, MagBundle]:
    """(model with the bundle's weights, its config, the parsed bundle) of a Performance RNN ``.mag``."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def write_bundle(
    model: EventSequenceRnnModel,
    config: config_lib.PerformanceRnnConfig,
    path: str,
    description: str = "",
    global_step: int = 0,
    naming: str = "kernel",
    include_metagraph: bool = True,
) -> str:
    """Write ``model`` as a Magenta Performance RNN ``.mag`` at ``path`` (with the generation metagraph)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)
