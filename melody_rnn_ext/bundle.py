"""Melody RNN ``.mag`` bundles: :mod:`events_rnn.bundle` for the four Melody RNN configs.

Reading, the TF1 step and writing (with Magenta's generation metagraph) are the shared core's
(:mod:`events_rnn.bundle`), architecture inference and strict porting its converter's
(:mod:`events_rnn.convert_magenta`), both re-exported here; this
module only binds them to :data:`FAMILY` (the config ids, their encodings' widths, Magenta's
hparams per id, ``attention_rnn`` requiring attention) and keeps the functions' Melody RNN
signatures.
"""

from __future__ import annotations

from typing import Optional, Tuple

from events_rnn import bundle as _core
from events_rnn import convert_magenta
from events_rnn.bundle import (
    MagBundle,  # noqa: F401
    bundle_variables,
    generation_metagraph,
    read_bundle,
    state_sizes,
    tf1_step_fn,
)
from events_rnn.convert_magenta import (
    DEFAULT_ATTN_LENGTH,
    IGNORED_VARIABLES,
    BundleError,
    ModelFamily,
    ModelSpec,
    infer_model_spec,
    spec_of_model,
)
from events_rnn.model import NAMINGS, OUTPUT_SCOPE, RNN_SCOPE, tf1_lstm_step  # noqa: F401
from tfmusic.tf1_checkpoints import PortingError, WeightPorter, read_checkpoint, write_v1_checkpoint  # noqa: F401
from melody_rnn_ext import config as config_lib
from melody_rnn_ext import encodings
from melody_rnn_ext.model import MelodyRnnModel, build_model


def config_for_spec(
    generator_id: str, spec: ModelSpec, attn_length: Optional[int] = None, description: str = ""
) -> config_lib.MelodyRnnConfig:
    """A :class:`MelodyRnnConfig`: Magenta's preset for ``generator_id`` with the spec's layer sizes and
    attention (``attn_length``: given, else the preset's, else 40)."""
    hp = convert_magenta.hparams_for_spec(config_lib.MODEL_PRESETS.get(generator_id).hparams, spec, attn_length)
    return config_lib.MelodyRnnConfig(config_id=generator_id, hparams=hp, description=description)


def _widths(config_id: str) -> Tuple[int, int]:
    return encodings.input_size(config_id), encodings.num_classes(config_id)


#: The Melody RNN as the bundle core sees it.
FAMILY = ModelFamily(
    name="Melody RNN",
    config_ids=encodings.CONFIG_IDS,
    widths=_widths,
    config_for_spec=config_for_spec,
    build_model=lambda config, keep: build_model(config, dropout_keep_prob=keep),
    attention_ids=("attention_rnn",),
)


def check_generator_id(generator_id: str, spec: ModelSpec, source: str) -> None:
    """Raise :class:`BundleError` unless ``generator_id`` is a Melody RNN config fitting ``spec``
    (see :func:`events_rnn.convert_magenta.check_generator_id`)."""
    convert_magenta.check_generator_id(FAMILY, generator_id, spec, source)


def read_bundle_config(path: str, attn_length: Optional[int] = None) -> Tuple[config_lib.MelodyRnnConfig, MagBundle]:
    """The :class:`MelodyRnnConfig` a ``.mag`` describes (id checked, sizes inferred), and the bundle."""
    return _core.read_bundle_config(FAMILY, path, attn_length)


def load_bundle(
    path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
) -> Tuple[MelodyRnnModel, config_lib.MelodyRnnConfig, MagBundle]:
    """Read a ``.mag``, check it is a Melody RNN, build the Keras model and port every variable strictly.

    Returns (model with the bundle's weights, its config, the parsed bundle)."""
    return _core.load_bundle(FAMILY, path, attn_length, dropout_keep_prob)


def warm_start_from_bundle(model: MelodyRnnModel, path: str, config_id: Optional[str] = None) -> MagBundle:
    """Load every variable of ``model`` from the bundle at ``path`` (Magenta's warm start), strictly."""
    return _core.warm_start_from_bundle(FAMILY, model, path, config_id)


def write_bundle(
    model: MelodyRnnModel,
    config: config_lib.MelodyRnnConfig,
    path: str,
    description: str = "",
    global_step: int = 0,
    naming: str = "kernel",
    include_metagraph: bool = True,
) -> str:
    """Write ``model`` as a Magenta ``.mag`` at ``path`` (see :func:`events_rnn.bundle.write_bundle`)."""
    return _core.write_bundle(FAMILY, model, config, path, description, global_step, naming, include_metagraph)
