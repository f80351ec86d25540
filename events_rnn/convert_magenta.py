"""Magenta's events-RNN checkpoints -> this toolkit's config and Keras weights: the converter.

Every Magenta RNN model (``models/shared/events_rnn_graph.py``) has the same TF1 variables, whether
they come from a ``.mag`` bundle's checkpoint (:mod:`events_rnn.bundle` reads the file) or from a
run folder of Magenta's ``<model>_train`` (:mod:`events_rnn.magenta_run`); only the widths differ:

* :func:`convert_config`: the family's frozen config for the variables. The architecture is inferred
  from the names and shapes (:func:`infer_model_spec`): layer sizes, input width, class count, the
  attention layout (around the first cell: ``rnn/multi_rnn_cell/cell_0/attention_cell_wrapper/...``;
  around the whole stack, older bundles: ``rnn/attention_cell_wrapper/multi_rnn_cell/...``) and the
  variable naming of the TF version that wrote it (``kernel``/``bias`` since TF 1.2,
  ``weights``/``biases`` before). The config id (a bundle's ``generator_details.id``, a run's
  ``--config``) must be one of the family's (:class:`ModelFamily`) whose encoding has the variables'
  input width and class count. ``attn_length`` is stored in no variable (it only sizes the state); it
  comes from the id's Magenta config (else 40) unless given.
* :func:`convert_weights`: every variable ported with :class:`tfmusic.tf1_checkpoints.WeightPorter`,
  strictly: a missing, extra or misshapen variable is a :class:`tfmusic.tf1_checkpoints.PortingError`
  naming it and the file (``error.report`` lists them). ``global_step`` and Adam slots are ignored by name.
* :func:`load_variables`: both, and the model built between them.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from events_rnn.model import NAMINGS, OUTPUT_SCOPE, RNN_SCOPE, EventSequenceRnnModel
from tfmusic.tf1_checkpoints import PortingError, PortReport, WeightPorter, variable_shape

#: Foreign variables deliberately not ported: the step counter and Adam's slots and powers.
IGNORED_VARIABLES = (r"^global_step$", r".*/Adam(_\d+)?$", r"^beta[12]_power(_\d+)?$")
#: Magenta's attention window (``attention_rnn``'s ``attn_length``).
DEFAULT_ATTN_LENGTH = 40


class BundleError(ValueError):
    """A file that is not a usable ``.mag`` bundle, or whose generator id contradicts its variables."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """The architecture a checkpoint's variables describe.

    Attributes:
      input_size, num_classes: input width and softmax classes.
      rnn_layer_sizes: LSTM widths, bottom first.
      attention_layout: ``none``, ``first_layer`` or ``whole_stack``.
      naming: ``kernel`` (TF >= 1.2) or ``weights`` (TF 1.0 / 1.1) leaf names of the RNN's linear maps.
    """

    input_size: int
    num_classes: int
    rnn_layer_sizes: Tuple[int, ...]
    attention_layout: str
    naming: str

    @property
    def has_attention(self) -> bool:
        return self.attention_layout != "none"


# --------------------------------------------------------------------------- the architecture


def variable_naming(variables: Dict[str, np.ndarray], source: str = "checkpoint") -> str:
    """``kernel`` (TF >= 1.2) or ``weights`` (TF 1.0 / 1.1): the leaf names of the variables' LSTM maps.

    Raises:
      PortingError: naming ``source`` when there are no BasicLSTMCell variables.
    """
    if any(n.endswith("basic_lstm_cell/kernel") for n in variables):
        return "kernel"
    if any(n.endswith("basic_lstm_cell/weights") for n in variables):
        return "weights"
    raise PortingError(
        f"{source}: no BasicLSTMCell variables (.../basic_lstm_cell/kernel); "
        "not an events-RNN (Magenta RNN model) checkpoint"
    )


def infer_model_spec(variables: Dict[str, np.ndarray], source: str = "checkpoint") -> ModelSpec:
    """Infer the architecture from TF1 variable names and shapes (see the module docstring).

    Raises:
      PortingError: naming ``source`` when the variables are no events RNN (no LSTM cells, cell
        indices with gaps, a kernel that is not [in + units, 4 units], no ``fully_connected``).
    """
    names = list(variables)
    naming = variable_naming(variables, source)
    w, b = NAMINGS[naming]
    if any(n.startswith(f"{RNN_SCOPE}/attention_cell_wrapper/") for n in names):
        layout, multi = "whole_stack", f"{RNN_SCOPE}/attention_cell_wrapper/multi_rnn_cell"
    else:
        multi = f"{RNN_SCOPE}/multi_rnn_cell"
        layout = (
            "first_layer" if any(n.startswith(f"{multi}/cell_0/attention_cell_wrapper/") for n in names) else "none"
        )
    indices = sorted({int(m.group(1)) for n in names for m in [re.match(rf"^{re.escape(multi)}/cell_(\d+)/", n)] if m})
    if not indices:
        raise PortingError(f"{source}: no LSTM layers under {multi}/cell_K")
    if indices != list(range(len(indices))):
        raise PortingError(
            f"{source}: LSTM layers under {multi} are numbered {indices}, expected 0..{len(indices) - 1}"
        )
    sizes = []
    for i in indices:
        scope = f"{multi}/cell_{i}"
        if i == 0 and layout == "first_layer":
            scope += "/attention_cell_wrapper"
        shape = variable_shape(variables, f"{scope}/basic_lstm_cell/{w}", source)
        if len(shape) != 2 or shape[1] % 4:
            raise PortingError(
                f"{source}: {scope}/basic_lstm_cell/{w} has shape {shape}, expected [in + units, 4 units]"
            )
        sizes.append(shape[1] // 4)
    if layout == "whole_stack":
        input_size = variable_shape(variables, f"{RNN_SCOPE}/attention_cell_wrapper/{w}", source)[-1]
    elif layout == "first_layer":
        input_size = variable_shape(variables, f"{multi}/cell_0/attention_cell_wrapper/{w}", source)[-1]
    else:
        input_size = variable_shape(variables, f"{multi}/cell_0/basic_lstm_cell/{w}", source)[0] - sizes[0]
    out_shape = variable_shape(variables, f"{OUTPUT_SCOPE}/weights", source)
    if len(out_shape) != 2:
        raise PortingError(f"{source}: {OUTPUT_SCOPE}/weights has shape {out_shape}, expected [units, classes]")
    return ModelSpec(
        input_size=int(input_size),
        num_classes=int(out_shape[1]),
        rnn_layer_sizes=tuple(sizes),
        attention_layout=layout,
        naming=naming,
    )


@dataclasses.dataclass(frozen=True)
class ModelFamily:
    """What the bundle code needs to know about one model package (Melody RNN, Polyphony RNN, ...).

    Attributes:
      name: human name for messages, e.g. ``Polyphony RNN``.
      config_ids: the Magenta config ids (``generator_details.id`` values) of the family.
      widths: ``config_id -> (input_size, num_classes)`` of its encoding.
      config_for_spec: ``(config_id, spec, attn_length or None, description) -> config``: Magenta's
        config for the id with the spec's layer sizes and attention.
      build_model: ``(config, dropout_keep_prob) -> EventSequenceRnnModel``.
      attention_ids: ids whose Magenta config has attention (a bundle of them must hold it).

    Its methods are :mod:`events_rnn.bundle`'s functions bound to the family (what a family's ``bundle``
    module exports under the same names).
    """

    name: str
    config_ids: Tuple[str, ...]
    widths: Callable[[str], Tuple[int, int]]
    config_for_spec: Callable[..., object]
    build_model: Callable[..., EventSequenceRnnModel]
    attention_ids: Tuple[str, ...] = ()

    def read_bundle_config(self, path: str, attn_length: Optional[int] = None):
        """(config, parsed bundle) of a ``.mag`` of the family (:func:`events_rnn.bundle.read_bundle_config`)."""
        from events_rnn import bundle

        return bundle.read_bundle_config(self, path, attn_length)

    def load_bundle(self, path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0):
        """(model with the bundle's weights, its config, the parsed bundle) of a ``.mag`` of the family
        (:func:`events_rnn.bundle.load_bundle`)."""
        from events_rnn import bundle

        return bundle.load_bundle(self, path, attn_length, dropout_keep_prob)

    def warm_start_from_bundle(self, model: EventSequenceRnnModel, path: str, config_id: Optional[str] = None):
        """Load every variable of ``model`` from a ``.mag`` of the family, strictly (Magenta's warm start;
        :func:`events_rnn.bundle.warm_start_from_bundle`); returns the parsed bundle."""
        from events_rnn import bundle

        return bundle.warm_start_from_bundle(self, model, path, config_id)

    def write_bundle(self, model, config, path, description="", global_step=0, naming="kernel", include_metagraph=True):
        """Write ``model`` as a Magenta ``.mag`` of the family at ``path`` (with the generation metagraph unless
        ``include_metagraph`` is false; :func:`events_rnn.bundle.write_bundle`); returns ``path``."""
        from events_rnn import bundle

        return bundle.write_bundle(self, model, config, path, description, global_step, naming, include_metagraph)


def check_generator_id(family: ModelFamily, generator_id: str, spec: ModelSpec, source: str) -> None:
    """Raise :class:`BundleError` unless ``generator_id`` names a config of ``family`` whose encoding has
    the spec's input width and class count (and, for ``family.attention_ids``, unless it has attention).

    Attention in another config is accepted: Magenta lets ``--hparams attn_length=N`` add it to any.
    """
    if generator_id not in family.config_ids:
        raise BundleError(
            f"{source}: generator id {generator_id!r} is not a {family.name} config ({', '.join(family.config_ids)})"
        )
    want_in, want_classes = family.widths(generator_id)
    if (want_in, want_classes) != (spec.input_size, spec.num_classes):
        matches = [c for c in family.config_ids if tuple(family.widths(c)) == (spec.input_size, spec.num_classes)]
        hint = f" (they fit {', '.join(matches)})" if matches else ""
        raise BundleError(
            f"{source}: generator id {generator_id!r} means {want_in} inputs and {want_classes} classes, but the "
            f"checkpoint's variables have {spec.input_size} inputs and {spec.num_classes} classes{hint}"
        )
    if generator_id in family.attention_ids and not spec.has_attention:
        raise BundleError(
            f"{source}: generator id {generator_id!r} but the checkpoint holds no attention_cell_wrapper variables"
        )


def hparams_for_spec(hparams, spec: ModelSpec, attn_length: Optional[int] = None):
    """``hparams`` (a frozen dataclass with ``rnn_layer_sizes``, ``attn_length``, ``attention_layout``)
    with the spec's layer sizes and attention (``attn_length``: given, else the hparams', else 40)."""
    if spec.has_attention:
        length = attn_length or hparams.attn_length or DEFAULT_ATTN_LENGTH
        return dataclasses.replace(
            hparams,
            rnn_layer_sizes=spec.rnn_layer_sizes,
            attn_length=int(length),
            attention_layout=spec.attention_layout,
        )
    return dataclasses.replace(hparams, rnn_layer_sizes=spec.rnn_layer_sizes, attn_length=0)


def spec_of_model(model: EventSequenceRnnModel, naming: str = "kernel") -> ModelSpec:
    """The :class:`ModelSpec` of a Keras model."""
    return ModelSpec(model.input_size, model.num_classes, model.rnn_layer_sizes, model.layout, naming)


def convert_config(
    family: ModelFamily,
    variables: Dict[str, np.ndarray],
    config_id: str,
    source: str = "checkpoint",
    attn_length: Optional[int] = None,
    description: str = "",
):
    """``family``'s frozen config for TF1-named ``variables`` (a bundle's or a Magenta run's checkpoint).

    ``config_id`` (a bundle's ``generator_details.id``, a run's ``--config``) is checked against the
    variables; the config is Magenta's for the id with the variables' layer sizes and attention layout
    (``attn_length``: given, else the id's, else 40).

    Raises:
      PortingError: variables that are no events RNN. BundleError: an id that contradicts them.
    """
    return _config_and_spec(family, variables, config_id, source, attn_length, description)[0]


def _config_and_spec(family, variables, config_id, source, attn_length, description):
    spec = infer_model_spec(variables, source=source)
    check_generator_id(family, config_id, spec, source)
    return family.config_for_spec(config_id, spec, attn_length, description), spec


def convert_weights(
    variables: Dict[str, np.ndarray],
    model: EventSequenceRnnModel,
    source: str = "checkpoint",
    naming: Optional[str] = None,
) -> PortReport:
    """Assign every model variable from ``variables`` (TF1 names) and prove nothing is left over.

    ``naming``: the TF1 naming of the RNN's linear maps (``kernel`` or ``weights``; default: the one
    the variables use). Returns the :class:`~tfmusic.tf1_checkpoints.PortReport`.

    Raises:
      PortingError: naming ``source`` and every missing, misshapen or unused variable
        (``global_step`` and Adam slots excepted); ``error.report`` lists them.
    """
    porter = WeightPorter(variables, model.weights, ignore=IGNORED_VARIABLES, source=source)
    for name, variable in model.tf1_variables(naming or variable_naming(variables, source)).items():
        porter.port(variable, name)
    return porter.finish()


def load_variables(
    family: ModelFamily,
    variables: Dict[str, np.ndarray],
    generator_id: str,
    source: str,
    attn_length: Optional[int] = None,
    dropout_keep_prob: float = 1.0,
    description: str = "",
):
    """Build ``family``'s model for TF1-named ``variables`` (a bundle's or a Magenta run's checkpoint)
    and port them strictly (:func:`convert_config`, then :func:`convert_weights`); ``generator_id`` is
    checked against them. Returns (model, config, spec)."""
    config, spec = _config_and_spec(family, variables, generator_id, source, attn_length, description)
    model = family.build_model(config, dropout_keep_prob)
    convert_weights(variables, model, source=source, naming=spec.naming)
    return model, config, spec
