"""Polyphony RNN ``.mag`` bundles: :mod:`events_rnn.bundle` bound to the ``polyphony`` config.

A bundle whose ``generator_details.id`` is not ``polyphony``, or whose variables are not 259 inputs
and 259 classes, is refused with a :class:`events_rnn.bundle.BundleError` naming the file; every
variable is ported strictly (:func:`events_rnn.convert_magenta.convert_weights`).
"""

from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn.bundle import BundleError, MagBundle, ModelFamily, ModelSpec  # noqa: F401
from events_rnn.model import EventSequenceRnnModel, build_model
from polyphony_rnn_ext import config as config_lib


def config_for_spec(
    generator_id: str, spec: ModelSpec, attn_length: Optional[int] = None, description: str = ""
) -> config_lib.PolyphonyRnnConfig:
    """Magenta's config for ``generator_id`` with the spec's layer sizes (and attention, if any)."""
    hp = _core.hparams_for_spec(config_lib.MODEL_PRESETS.get(generator_id).hparams, spec, attn_length)
    return config_lib.PolyphonyRnnConfig(config_id=generator_id, hparams=hp, description=description)


def _widths(config_id: str) -> Tuple[int, int]:
    config = config_lib.PolyphonyRnnConfig(config_id=config_id)
    return config.input_size, config.num_classes


def _build(config, keep: float) -> EventSequenceRnnModel:
    return build_model(config, dropout_keep_prob=keep, name="polyphony_rnn")


#: The Polyphony RNN as the bundle core sees it.
FAMILY = ModelFamily(
    name="Polyphony RNN",
    config_ids=config_lib.CONFIG_IDS,
    widths=_widths,
    config_for_spec=config_for_spec,
    build_model=_build,
)


def load_bundle(
    path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
) -> Tuple[EventSequenceRnnModel, config_lib.PolyphonyRnnConfig, MagBundle]:
    """(model with the bundle's weights, its config, the parsed bundle) of a ``polyphony`` ``.mag``."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def write_bundle(
    model: EventSequenceRnnModel,
    config: config_lib.PolyphonyRnnConfig,
    path: str,
    description: str = "",
    global_step: int = 0,
    naming: str = "kernel",
    include_metagraph: bool = True,
) -> str:
    """Write ``model`` as a Magenta ``polyphony`` ``.mag`` at ``path`` (with the generation metagraph)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)


def warm_start_from_bundle(model: EventSequenceRnnModel, path: str, config_id: Optional[str] = None) -> MagBundle:
    """Load every variable of ``model`` from a ``polyphony`` bundle, strictly (Magenta's warm start)."""
    return _core.warm_start_from_bundle(FAMILY, model, path, config_id)
