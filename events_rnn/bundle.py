"""Magenta ``.mag`` bundles of any events-RNN model: read, load (strictly), write them back.

A ``.mag`` file is a serialized ``note_seq.protobuf.generator_pb2.GeneratorBundle``
(``note_seq/protobuf/generator.proto``): ``generator_details`` (``id`` = the config, e.g.
``attention_rnn`` or ``polyphony``, and a description), ``bundle_details.description``,
``checkpoint_file[0]`` = the bytes of a single-file TF1 (V1) checkpoint, and ``metagraph_file`` =
the generation graph Magenta imports with ``tf.train.import_meta_graph``. Every Magenta RNN model
(``models/shared/events_rnn_graph.py``) has the same variables; only the widths differ.

Reading (:func:`read_bundle`, :func:`load_bundle`) never imports the metagraph: the checkpoint's
variables go through the converter, :mod:`events_rnn.convert_magenta` (``convert_config``: the
architecture inferred from names and shapes, the ``generator_details.id`` checked against the
family's configs; ``convert_weights``: every variable ported strictly, a missing, extra or misshapen
variable being a :class:`tfmusic.tf1_checkpoints.PortingError` naming it and the file). The
converter's names that the family packages use (:class:`ModelFamily`, :class:`ModelSpec`,
:class:`BundleError`, :func:`infer_model_spec`, ...) are importable from here too.

Writing (:func:`write_bundle`) produces the same format from a Keras model: the exact TF1
names and shapes (plus ``global_step``) as V1 checkpoint bytes, and a metagraph of Magenta's
generation graph for batch size 1 (``inputs``, ``temperature``, ``softmax``, ``initial_state``,
``final_state`` collections and a V1 saver), so Magenta's own ``<model>_generate --bundle_file``
can load what we write. The file is replaced atomically.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from events_rnn.attention import attention_wrapper_step
from events_rnn.convert_magenta import (
    BundleError,
    ModelFamily,
    ModelSpec,
    check_generator_id,
    convert_config,
    hparams_for_spec,
    infer_model_spec,
    load_variables,
    spec_of_model,
)
from events_rnn import convert_magenta
from events_rnn.model import NAMINGS, OUTPUT_SCOPE, RNN_SCOPE, EventSequenceRnnModel, tf1_lstm_step
from tfmusic import files
from tfmusic.tf1_checkpoints import read_checkpoint, write_v1_checkpoint


@dataclasses.dataclass(frozen=True)
class MagBundle:
    """A parsed ``.mag`` file.

    Attributes:
      path: where it was read from.
      generator_id: ``generator_details.id`` (the Magenta config name).
      generator_description: ``generator_details.description``.
      bundle_description: ``bundle_details.description``.
      variables: the checkpoint's ``{TF1 name: array}``.
      metagraph_size: bytes of ``metagraph_file`` (never parsed or imported).
    """

    path: str
    generator_id: str
    generator_description: str
    bundle_description: str
    variables: Dict[str, np.ndarray]
    metagraph_size: int


# --------------------------------------------------------------------------- reading


def read_bundle(path: str) -> MagBundle:
    """Parse the ``.mag`` file at ``path`` and read its checkpoint (the metagraph is not touched).

    Raises:
      BundleError: naming ``path`` when it is missing, not a GeneratorBundle, has no generator id,
        or holds no (or a sharded) checkpoint.
      tfmusic.tf1_checkpoints.CheckpointReadError: when checkpoint_file[0] is not a checkpoint.
    """
    from google.protobuf.message import DecodeError
    from note_seq.protobuf import generator_pb2

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BundleError(f"{path}: cannot read bundle file ({e.strerror or e})") from e
    bundle = generator_pb2.GeneratorBundle()
    try:
        bundle.ParseFromString(data)
    except DecodeError as e:
        raise BundleError(f"{path}: not a Magenta .mag bundle (GeneratorBundle proto does not parse: {e})") from e
    if not bundle.generator_details.id:
        raise BundleError(f"{path}: not a Magenta .mag bundle (no generator_details.id)")
    if len(bundle.checkpoint_file) != 1:
        raise BundleError(
            f"{path}: expected exactly one checkpoint_file (a single-file V1 checkpoint), "
            f"found {len(bundle.checkpoint_file)}"
        )
    variables = read_checkpoint(bundle.checkpoint_file[0], name=f"{path} (checkpoint_file[0])")
    return MagBundle(
        path=path,
        generator_id=bundle.generator_details.id,
        generator_description=bundle.generator_details.description,
        bundle_description=bundle.bundle_details.description,
        variables=variables,
        metagraph_size=len(bundle.metagraph_file),
    )


def read_bundle_config(family: ModelFamily, path: str, attn_length: Optional[int] = None):
    """(config, :class:`MagBundle`) of a ``.mag``: its id checked against ``family`` and its variables,
    Magenta's hparams for the id with the bundle's layer sizes and attention layout
    (:func:`events_rnn.convert_magenta.convert_config`)."""
    bundle = read_bundle(path)
    config = convert_config(
        family, bundle.variables, bundle.generator_id, bundle.path, attn_length, bundle.generator_description
    )
    return config, bundle


def load_bundle(family: ModelFamily, path: str, attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0):
    """Read a ``.mag``, infer and check its architecture, build ``family``'s Keras model and port every variable.

    Returns (model with the bundle's weights, its config, the parsed bundle). ``dropout_keep_prob``
    is the built model's (1.0 for generation; the config keeps Magenta's value for training).
    """
    bundle = read_bundle(path)
    model, config, _ = load_variables(
        family,
        bundle.variables,
        bundle.generator_id,
        bundle.path,
        attn_length,
        dropout_keep_prob,
        bundle.generator_description,
    )
    return model, config, bundle


def warm_start_from_bundle(
    family: ModelFamily, model: EventSequenceRnnModel, path: str, config_id: Optional[str] = None
) -> MagBundle:
    """Load every variable of an existing ``model`` from the bundle at ``path`` (Magenta's warm start).

    Raises :class:`BundleError` when the bundle's architecture or id (if ``config_id`` is given)
    differs from the model's, :class:`PortingError` on any variable misfit.
    """
    bundle = read_bundle(path)
    spec = infer_model_spec(bundle.variables, source=bundle.path)
    check_generator_id(family, bundle.generator_id, spec, bundle.path)
    if config_id is not None and bundle.generator_id != config_id:
        raise BundleError(f"{bundle.path}: bundle is {bundle.generator_id!r}, the model being trained is {config_id!r}")
    ours = spec_of_model(model, spec.naming)
    if ours != spec:
        raise BundleError(f"{bundle.path}: bundle architecture {spec} differs from the model's {ours}")
    convert_magenta.convert_weights(bundle.variables, model, source=bundle.path, naming=spec.naming)
    return bundle


# --------------------------------------------------------------------------- the TF1 step, by names


def tf1_step_fn(
    spec: ModelSpec, attn_length: int, get: Callable[[str], tf.Tensor], forget_bias: float = 1.0
) -> Callable[[tf.Tensor, Tuple[tf.Tensor, ...]], Tuple[tf.Tensor, Tuple[tf.Tensor, ...]]]:
    """Magenta's cell (without dropout) as a function of its TF1 variables.

    ``get(name)`` returns the tensor of TF1 variable ``name``. The returned function maps
    (inputs [B, in], flat state) -> (top output [B, out], new flat state), the state in the order
    of :attr:`EventSequenceRnnModel.state_size`. Used to build the generation metagraph.
    """
    w, b = NAMINGS[spec.naming]

    def lstm(scope):
        return lambda x, s: tf1_lstm_step(x, s, get(f"{scope}/{w}"), get(f"{scope}/{b}"), forget_bias)

    def wrapper(scope, cell_fn, num_cell_states, attn_size):
        def fn(x, s):
            return attention_wrapper_step(
                x,
                s,
                cell_fn,
                num_cell_states,
                attn_length,
                attn_size,
                get(f"{scope}/{w}"),
                get(f"{scope}/{b}"),
                get(f"{scope}/attention/attn_w"),
                get(f"{scope}/attention/attn_v"),
                get(f"{scope}/attention/{w}"),
                get(f"{scope}/attention/{b}"),
                get(f"{scope}/attn_output_projection/{w}"),
                get(f"{scope}/attn_output_projection/{b}"),
            )

        return fn

    multi = (
        f"{RNN_SCOPE}/attention_cell_wrapper/multi_rnn_cell"
        if spec.attention_layout == "whole_stack"
        else f"{RNN_SCOPE}/multi_rnn_cell"
    )
    cells, counts = [], []
    for i, units in enumerate(spec.rnn_layer_sizes):
        if i == 0 and spec.attention_layout == "first_layer":
            scope = f"{multi}/cell_0/attention_cell_wrapper"
            cells.append(wrapper(scope, lstm(f"{scope}/basic_lstm_cell"), 2, units))
            counts.append(4)
        else:
            cells.append(lstm(f"{multi}/cell_{i}/basic_lstm_cell"))
            counts.append(2)

    def multi_fn(x, s):
        s, new, k = tuple(s), [], 0
        for cell, n in zip(cells, counts):
            x, st = cell(x, s[k : k + n])
            new.extend(st)
            k += n
        return x, tuple(new)

    if spec.attention_layout == "whole_stack":
        return wrapper(f"{RNN_SCOPE}/attention_cell_wrapper", multi_fn, 2 * len(cells), spec.rnn_layer_sizes[-1])
    return multi_fn


def state_sizes(spec: ModelSpec, attn_length: int) -> Tuple[int, ...]:
    """Flat state widths of a spec (as :attr:`EventSequenceRnnModel.state_size`)."""
    sizes: List[int] = []
    for i, units in enumerate(spec.rnn_layer_sizes):
        sizes += [units, units]
        if i == 0 and spec.attention_layout == "first_layer":
            sizes += [units, units * attn_length]
    if spec.attention_layout == "whole_stack":
        top = spec.rnn_layer_sizes[-1]
        sizes += [top, top * attn_length]
    return tuple(sizes)


# --------------------------------------------------------------------------- writing


def bundle_variables(
    model: EventSequenceRnnModel, global_step: int = 0, naming: str = "kernel"
) -> Dict[str, np.ndarray]:
    """The model's variables as ``{TF1 name: float32 array}``, plus ``global_step`` (int64 scalar)."""
    out = {name: np.asarray(v.numpy(), np.float32) for name, v in model.tf1_variables(naming).items()}
    out["global_step"] = np.asarray(global_step, np.int64)
    return out


def generation_metagraph(
    spec: ModelSpec, attn_length: int, shapes: Dict[str, Tuple[int, ...]], batch_size: int = 1
) -> bytes:
    """A serialized MetaGraphDef of Magenta's generation graph (``events_rnn_graph`` in ``generate`` mode).

    Placeholders ``inputs`` [batch, None, input_size] and ``temperature`` []; zero ``initial_state``
    tensors (feedable); the RNN run over time; ``softmax`` = softmax(logits / temperature)
    [batch, T, classes]; the flat ``final_state``. Each goes in the collection of that name (states
    flattened, as Magenta does), with a V1 ``Saver`` over the model variables ``shapes`` names.
    """
    graph = tf.Graph()
    with graph.as_default():
        tf_vars = {
            name: tf.compat.v1.Variable(tf.zeros(shape, tf.float32), name=name) for name, shape in shapes.items()
        }
        get = lambda name: tf_vars[name].value()
        inputs = tf.compat.v1.placeholder(tf.float32, [batch_size, None, spec.input_size], name="inputs")
        temperature = tf.compat.v1.placeholder(tf.float32, [], name="temperature")
        initial_state = tuple(
            tf.zeros([batch_size, n], tf.float32, name=f"initial_state_{i}")
            for i, n in enumerate(state_sizes(spec, attn_length))
        )
        step = tf1_step_fn(spec, attn_length, get)
        out_size = spec.rnn_layer_sizes[-1]
        x_tm = tf.transpose(inputs, [1, 0, 2])
        steps = tf.shape(x_tm)[0]
        outputs = tf.TensorArray(tf.float32, size=steps, element_shape=[batch_size, out_size])

        def body(t, out_ta, state):
            out, new = step(x_tm[t], state)
            return t + 1, out_ta.write(t, out), tuple(new)

        _, outputs, final_state = tf.compat.v1.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), outputs, initial_state)
        )
        outputs = tf.transpose(outputs.stack(), [1, 0, 2])
        logits_flat = tf.matmul(tf.reshape(outputs, [-1, out_size]), get(f"{OUTPUT_SCOPE}/weights")) + get(
            f"{OUTPUT_SCOPE}/biases"
        )
        softmax_flat = tf.nn.softmax(logits_flat / temperature)
        softmax = tf.reshape(softmax_flat, [batch_size, -1, spec.num_classes], name="softmax")
        tf.compat.v1.add_to_collection("inputs", inputs)
        tf.compat.v1.add_to_collection("temperature", temperature)
        tf.compat.v1.add_to_collection("softmax", softmax)
        for s in initial_state:
            tf.compat.v1.add_to_collection("initial_state", s)
        for s in final_state:
            tf.compat.v1.add_to_collection("final_state", tf.identity(s))
        saver = tf.compat.v1.train.Saver(tf_vars, sharded=False, write_version=tf.compat.v1.train.SaverDef.V1)
        meta = saver.export_meta_graph()
    return meta.SerializeToString()


def write_bundle(
    family: ModelFamily,
    model: EventSequenceRnnModel,
    config,
    path: str,
    description: str = "",
    global_step: int = 0,
    naming: str = "kernel",
    include_metagraph: bool = True,
) -> str:
    """Write ``model`` as a Magenta ``.mag`` bundle at ``path`` (atomically); returns ``path``.

    Args:
      family: the model's family (checks ``config.config_id`` against the model's widths).
      model: the Keras model (its architecture must be ``config``'s).
      config: gives ``generator_details`` (``config_id``, ``generator_description``).
      description: ``bundle_details.description``.
      global_step: stored as the checkpoint's ``global_step``.
      naming: ``kernel`` (TF >= 1.2 names, what current Magenta reads) or ``weights`` (TF 1.0 / 1.1).
      include_metagraph: add Magenta's generation graph (:func:`generation_metagraph`); without it
        ``metagraph_file`` is empty and only this toolkit can read the bundle.
    """
    spec = spec_of_model(model, naming)
    check_generator_id(family, config.config_id, spec, f"write_bundle({path})")
    want = family.config_for_spec(config.config_id, spec, model.attn_length or None, "")
    if tuple(config.hparams.rnn_layer_sizes) != spec.rnn_layer_sizes or config.hparams.attn_length != model.attn_length:
        raise BundleError(
            f"write_bundle({path}): config {config.hparams} does not describe the model {spec} "
            f"(attn_length {model.attn_length}); expected e.g. {want.hparams}"
        )
    return write_bundle_file(
        model, config.config_id, config.generator_description, path, description, global_step, naming, include_metagraph
    )


def write_bundle_file(
    model: EventSequenceRnnModel,
    generator_id: str,
    generator_description: str,
    path: str,
    description: str = "",
    global_step: int = 0,
    naming: str = "kernel",
    include_metagraph: bool = True,
) -> str:
    """Write ``model`` as a ``.mag`` with the given ``generator_details`` (no config checks; see
    :func:`write_bundle`); atomically; returns ``path``."""
    from note_seq.protobuf import generator_pb2

    spec = spec_of_model(model, naming)
    variables = bundle_variables(model, global_step, naming)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = write_v1_checkpoint(variables, os.path.join(tmp, "model.ckpt"))
        with open(ckpt, "rb") as f:
            checkpoint_bytes = f.read()
    metagraph = b""
    if include_metagraph:
        shapes = {k: v.shape for k, v in variables.items() if k != "global_step"}
        metagraph = generation_metagraph(spec, model.attn_length, shapes)
    bundle = generator_pb2.GeneratorBundle()
    bundle.generator_details.id = generator_id
    bundle.generator_details.description = generator_description
    if description:
        bundle.bundle_details.description = description
    bundle.checkpoint_file.append(checkpoint_bytes)
    bundle.metagraph_file = metagraph
    files.atomic_write_bytes(path, bundle.SerializeToString())
    return path


def preset_family(
    name: str, config_class: type, model_presets, model_name: str, attention_ids: Tuple[str, ...] = ()
) -> ModelFamily:
    """The :class:`ModelFamily` of a family whose model config mixes in
    :class:`events_rnn.family_config.FamilyConfigMixin` (``config_class(config_id, hparams, description)``):
    its config ids and widths from the class (``_config_ids``, ``_make_encoder_decoder(config_id)``),
    ``config_for_spec`` from the id's preset in ``model_presets`` (hparams fitted by :func:`hparams_for_spec`),
    Keras models named ``model_name``."""
    from events_rnn.model import build_model

    make_encoder_decoder = config_class._make_encoder_decoder

    def widths(config_id: str) -> Tuple[int, int]:
        enc = make_encoder_decoder(config_id)
        return int(enc.input_size), int(enc.num_classes)

    def config_for_spec(generator_id: str, spec: ModelSpec, attn_length: Optional[int] = None, description: str = ""):
        """Magenta's config for ``generator_id`` with the spec's layer sizes and attention."""
        hp = hparams_for_spec(model_presets.get(generator_id).hparams, spec, attn_length)
        return config_class(config_id=generator_id, hparams=hp, description=description)

    return ModelFamily(
        name=name,
        config_ids=tuple(config_class._config_ids),
        widths=widths,
        config_for_spec=config_for_spec,
        build_model=lambda config, keep: build_model(config, dropout_keep_prob=keep, name=model_name),
        attention_ids=attention_ids,
    )
