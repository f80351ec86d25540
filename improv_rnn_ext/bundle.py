"""Improv RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to ``basic_improv``, ``attention_improv`` and
``chord_pitches_improv``.

``attention_improv`` bundles must hold attention variables (Magenta's config has ``attn_length`` 40); the
id must fit the variables' widths (87 / 38, 123 / 40, 75 / 38); every variable is ported strictly.
"""
from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from events_rnn.model import EventSequenceRnnModel, build_model
from improv_rnn_ext import config as config_lib


def config_for_spec(generator_id: str, spec: ModelSpec, attn_length: Optional[int] = None,
                    description: str = "") -> config_lib.ImprovRnnConfig:
    """Magenta's config for ``generator_id`` with the spec's layer sizes and attention."""
    hp = _core.hparams_for_spec(config_lib.MODEL_PRESETS.get(generator_id).hparams, spec, attn_length)
    return config_lib.ImprovRnnConfig(config_id=generator_id, hparams=hp, description=description)


def _widths(config_id: str) -> Tuple[int, int]:
    enc = config_lib.make_encoder_decoder(config_id)
    return int(enc.input_size), int(enc.num_classes)


#: The Improv RNN as the bundle core sees it.
FAMILY = ModelFamily(name="Improv RNN", config_ids=config_lib.CONFIG_IDS, widths=_widths,
                     config_for_spec=config_for_spec,
                     build_model=lambda config, keep: build_model(config, dropout_keep_prob=keep, name="improv_rnn"),
                     attention_ids=("attention_improv",))


def load_bundle(path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
                ) -> Tuple[EventSequenceRnnModel, config_lib.ImprovRnnConfig, MagBundle]:
    """(model with the bundle's weights, its config, the parsed bundle) of a Improv RNN ``.mag``."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def write_bundle(model: EventSequenceRnnModel, config: config_lib.ImprovRnnConfig, path: str, description: str = "",
                 global_step: int = 0, naming: str = "kernel", include_metagraph: bool = True) -> str:
    """Write ``model`` as a Magenta Improv RNN ``.mag`` at ``path`` (with the generation metagraph)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)
