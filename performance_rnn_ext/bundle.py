"""Performance RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to Magenta's Performance RNN configs.

The id must fit the variables' widths (e.g. ``performance`` 356 / 356, ``performance_with_dynamics``
388 / 388, ``multiconditioned_performance_with_dynamics`` 408 / 388); every variable is ported strictly.
Magenta's Performance RNN configs have no attention (``--hparams attn_length=N`` adds it, as in Magenta).
"""
from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from events_rnn.model import EventSequenceRnnModel, build_model
from performance_rnn_ext import config as config_lib


def config_for_spec(generator_id: str, spec: ModelSpec, attn_length: Optional[int] = None,
                    description: str = "") -> config_lib.PerformanceRnnConfig:
    """Magenta's config for ``generator_id`` with the spec's layer sizes and attention."""
    hp = _core.hparams_for_spec(config_lib.MODEL_PRESETS.get(generator_id).hparams, spec, attn_length)
    return config_lib.PerformanceRnnConfig(config_id=generator_id, hparams=hp, description=description)


def _widths(config_id: str) -> Tuple[int, int]:
    enc = config_lib.make_encoder_decoder(config_id)
    return int(enc.input_size), int(enc.num_classes)


#: The Performance RNN as the bundle core sees it.
FAMILY = ModelFamily(name="Performance RNN", config_ids=config_lib.CONFIG_IDS, widths=_widths,
                     config_for_spec=config_for_spec,
                     build_model=lambda config, keep: build_model(config, dropout_keep_prob=keep,
                                                                  name="performance_rnn"))


def load_bundle(path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
                ) -> Tuple[EventSequenceRnnModel, config_lib.PerformanceRnnConfig, MagBundle]:
    """(model with the bundle's weights, its config, the parsed bundle) of a Performance RNN ``.mag``."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def write_bundle(model: EventSequenceRnnModel, config: config_lib.PerformanceRnnConfig, path: str,
                 description: str = "", global_step: int = 0, naming: str = "kernel",
                 include_metagraph: bool = True) -> str:
    """Write ``model`` as a Magenta Performance RNN ``.mag`` at ``path`` (with the generation metagraph)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)
