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


#: ``read_bundle_config(path, attn_length=None)`` -> (the :class:`MelodyRnnConfig` a ``.mag`` describes (id
#: checked, sizes inferred), the bundle); ``load_bundle(path, attn_length=None, dropout_keep_prob=1.0)`` reads a
#: ``.mag``, checks it is a Melody RNN, builds the Keras model and ports every variable strictly: (model with the
#: bundle's weights, its config, the parsed bundle); ``warm_start_from_bundle(model, path, config_id=None)`` loads
#: every variable of ``model`` from the bundle (Magenta's warm start), strictly; ``write_bundle(model, config,
#: path, description="", global_step=0, naming="kernel", include_metagraph=True)`` writes ``model`` as a Magenta
#: ``.mag`` at ``path`` (see :func:`events_rnn.bundle.write_bundle`).
read_bundle_config, load_bundle = FAMILY.read_bundle_config, FAMILY.load_bundle
warm_start_from_bundle, write_bundle = FAMILY.warm_start_from_bundle, FAMILY.write_bundle
