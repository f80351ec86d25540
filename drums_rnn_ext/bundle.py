"""Drums RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to ``one_drum`` and ``drum_kit``.

``drum_kit`` bundles must hold attention variables (Magenta's config has ``attn_length`` 32); the
id must fit the variables' widths (2 / 2 or 518 / 512); every variable is ported strictly.
"""
from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from events_rnn.model import EventSequenceRnnModel, build_model
from drums_rnn_ext import config as config_lib


def config_for_spec(generator_id: str, spec: ModelSpec, attn_length: Optional[int] = None,
                    description: str = "") -> config_lib.DrumsRnnConfig:
    """Magenta's config for ``generator_id`` with the spec's layer sizes and attention."""
    hp = _core.hparams_for_spec(config_lib.MODEL_PRESETS.get(generator_id).hparams, spec, attn_length)
    return config_lib.DrumsRnnConfig(config_id=generator_id, hparams=hp, description=description)


def _widths(config_id: str) -> Tuple[int, int]:
    enc = config_lib.make_encoder_decoder(config_id)
    return int(enc.input_size), int(enc.num_classes)


#: The Drums RNN as the bundle core sees it.
FAMILY = ModelFamily(name="Drums RNN", config_ids=config_lib.CONFIG_IDS, widths=_widths,
                     config_for_spec=config_for_spec,
                     build_model=lambda config, keep: build_model(config, dropout_keep_prob=keep, name="drums_rnn"),
                     attention_ids=("drum_kit",))


def load_bundle(path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
                ) -> Tuple[EventSequenceRnnModel, config_lib.DrumsRnnConfig, MagBundle]:
    """(model with the bundle's weights, its config, the parsed bundle) of a Drums RNN ``.mag``."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def write_bundle(model: EventSequenceRnnModel, config: config_lib.DrumsRnnConfig, path: str, description: str = "",
                 global_step: int = 0, naming: str = "kernel", include_metagraph: bool = True) -> str:
    """Write ``model`` as a Magenta Drums RNN ``.mag`` at ``path`` (with the generation metagraph)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)
