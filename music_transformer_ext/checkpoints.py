"""tensor2tensor checkpoints <-> :class:`~music_transformer_ext.model.MusicTransformer`, by variable name.

t2t's ``transformer`` names its variables (``tensor2tensor/models/transformer.py``,
``layers/common_attention.py``, ``layers/common_layers.py``, ``layers/modalities.py``)::

  transformer/symbol_modality_{V}_{H}/shared/weights_{i}            [V/n, H]  (n = symbol_modality_num_shards)
      (or .../target_emb/weights_{i} and .../softmax/weights_{i} when not shared; .../input_emb for inputs)
  transformer/body/target_space_embedding/kernel                   [32, H]   (encoder only)
  transformer/body/{encoder,decoder}/layer_{l}/
      self_attention/layer_prepostprocess/layer_norm/layer_norm_{scale,bias}   [H]
      self_attention/multihead_attention/{q,k}/kernel                          [H, key_channels]
      self_attention/multihead_attention/v/kernel                              [H, value_channels]
      self_attention/multihead_attention/output_transform/kernel               [value_channels, H]
      self_attention/multihead_attention/dot_product_self_attention_relative_v2/
          key_relative_embeddings      [heads, M, key_channels/heads]  ([M, d] if heads share it)
          value_relative_embeddings    (only with add_relative_to_values)
      encdec_attention/...             (decoder of an encoder-decoder; same names, no relative tables)
      ffn/layer_prepostprocess/layer_norm/layer_norm_{scale,bias}             [H]
      ffn/conv1/{kernel [H, F], bias [F]}, ffn/conv2/{kernel [F, H], bias [H]}
  transformer/body/{encoder,decoder}/layer_prepostprocess/layer_norm/layer_norm_{scale,bias}
  global_step; optimizer slots ``<var>/Adafactor`` (and ``<var>/Adafactor_1``: TF1's slot creator
  names the factored row/column accumulators of a >= 2-D variable that way), ``<var>/Adam[_1]``.

* :func:`port_t2t_checkpoint` reads a checkpoint (V2 prefix or folder, or a V1 file) and converts it
  with :mod:`music_transformer_ext.convert_t2t`: the architecture inferred from names and shapes
  (``convert_config``; the attention type from the presence of relative embeddings), the model built,
  and every weight ported strictly (``convert_weights``): every checkpoint variable is used (optimizer
  slots and ``global_step`` are ignored by name), every Keras weight is assigned, and a
  :class:`~tfmusic.tf1_checkpoints.PortingError` names whatever does not fit.
* :func:`save_as_t2t` writes a model's weights back under t2t's names (a V2 checkpoint).
* :func:`write_t2t_fixture` writes a checkpoint with t2t's exact names and shapes for a config,
  random values and Adafactor slots: what a released checkpoint looks like, for tests.
"""

from __future__ import annotations

import glob
import os
import re
import tempfile
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from music_transformer_ext.config import MusicTransformerConfig
from music_transformer_ext.model import MusicTransformer, TransformerStack
from tfmusic import files
from tfmusic import tf1_checkpoints

ROOT = "transformer"
#: The scope of a layer's relative-position tables under its attention block.
RELATIVE_SCOPE = "multihead_attention/dot_product_self_attention_relative_v2"


# --------------------------------------------------------------------------- names and shapes


def modality_name(vocab_size: int, hidden_size: int) -> str:
    """t2t's symbol modality scope name, ``symbol_modality_{vocab}_{hidden}``."""
    return f"symbol_modality_{vocab_size}_{hidden_size}"


def shard_sizes(vocab_size: int, num_shards: int) -> List[int]:
    """Rows of each embedding shard as t2t splits them (the first ``vocab % n`` get one more)."""
    return [vocab_size // num_shards + (1 if i < vocab_size % num_shards else 0) for i in range(num_shards)]


def _stack_shapes(prefix: str, config: MusicTransformerConfig, num_layers: int, encdec: bool) -> Dict[str, tuple]:
    h, f = config.hidden_size, config.filter_size
    kc, vc, heads = config.key_channels, config.value_channels, config.num_heads
    out: Dict[str, tuple] = {}

    def norm(scope):
        out[f"{scope}/layer_prepostprocess/layer_norm/layer_norm_scale"] = (h,)
        out[f"{scope}/layer_prepostprocess/layer_norm/layer_norm_bias"] = (h,)

    def attention(scope, relative):
        norm(scope)
        mha = f"{scope}/multihead_attention"
        out[f"{mha}/q/kernel"] = (h, kc)
        out[f"{mha}/k/kernel"] = (h, kc)
        out[f"{mha}/v/kernel"] = (h, vc)
        out[f"{mha}/output_transform/kernel"] = (vc, h)
        if relative:
            m = config.max_relative_position
            lead = () if config.heads_share_relative_embedding else (heads,)
            out[f"{scope}/{RELATIVE_SCOPE}/key_relative_embeddings"] = lead + (m, kc // heads)
            if config.add_relative_to_values:
                out[f"{scope}/{RELATIVE_SCOPE}/value_relative_embeddings"] = lead + (m, vc // heads)

    for i in range(num_layers):
        layer = f"{prefix}/layer_{i}"
        attention(f"{layer}/self_attention", config.relative)
        if encdec:
            attention(f"{layer}/encdec_attention", False)
        norm(f"{layer}/ffn")
        out[f"{layer}/ffn/conv1/kernel"] = (h, f)
        out[f"{layer}/ffn/conv1/bias"] = (f,)
        out[f"{layer}/ffn/conv2/kernel"] = (f, h)
        out[f"{layer}/ffn/conv2/bias"] = (h,)
    norm(prefix)
    return out


def t2t_variable_shapes(config: MusicTransformerConfig, num_shards: int = 1) -> Dict[str, tuple]:
    """Every model variable t2t's ``transformer`` creates for ``config``: ``{name: shape}``.

    ``num_shards`` is t2t's ``symbol_modality_num_shards`` (1 for ``transformer_tpu`` and
    score2perf's sets, 16 for ``transformer_base``). Optimizer slots and ``global_step`` excluded.
    """
    h = config.hidden_size
    out: Dict[str, tuple] = {}

    def tables(vocab, scopes):
        mod = f"{ROOT}/{modality_name(vocab, h)}"
        for scope in scopes:
            for i, rows in enumerate(shard_sizes(vocab, num_shards)):
                out[f"{mod}/{scope}/weights_{i}"] = (rows, h)

    shared = config.shared_embedding_and_softmax
    tables(config.vocab_size, ["shared"] if shared else ["target_emb", "softmax"])
    if config.conditioned:
        tables(config.input_vocab_size, ["shared"] if shared else ["input_emb"])
        if config.use_target_space_embedding:
            out[f"{ROOT}/body/target_space_embedding/kernel"] = (32, h)
        out.update(_stack_shapes(f"{ROOT}/body/encoder", config, config.encoder_layers, encdec=False))
    out.update(_stack_shapes(f"{ROOT}/body/decoder", config, config.num_layers, encdec=config.conditioned))
    return out


def adafactor_slot_shapes(name: str, shape: Sequence[int]) -> Dict[str, tuple]:
    """t2t's Adafactor slots of one variable (beta1 = 0, factored for >= 2-D): ``{slot name: shape}``.

    TF1's slot creator names them ``<var>/Adafactor`` (row accumulator ``shape[:-1]``, or the full
    accumulator of a 1-D variable) and ``<var>/Adafactor_1`` (column accumulator
    ``shape[:-2] + shape[-1:]``).
    """
    shape = tuple(shape)
    if len(shape) >= 2:
        return {f"{name}/Adafactor": shape[:-1], f"{name}/Adafactor_1": shape[:-2] + shape[-1:]}
    return {f"{name}/Adafactor": shape}


def _attention_map(scope: str, block) -> Dict[str, object]:
    mha = block.multihead_attention
    prefix = f"{scope}/{block.name}"
    norm = f"{prefix}/{block.layer_prepostprocess.name}/{block.layer_prepostprocess.layer_norm.name}"
    out = {
        f"{norm}/layer_norm_scale": block.layer_prepostprocess.layer_norm.layer_norm_scale,
        f"{norm}/layer_norm_bias": block.layer_prepostprocess.layer_norm.layer_norm_bias,
    }
    base = f"{prefix}/{mha.name}"
    for dense in (mha.q, mha.k, mha.v, mha.output_transform):
        out[f"{base}/{dense.name}/kernel"] = dense.kernel
    if mha.relative is not None:
        rel = f"{base}/{mha.relative.name}"
        out[f"{rel}/key_relative_embeddings"] = mha.relative.key_relative_embeddings
        if mha.relative.value_relative_embeddings is not None:
            out[f"{rel}/value_relative_embeddings"] = mha.relative.value_relative_embeddings
    return out


def _stack_map(scope: str, stack: TransformerStack) -> Dict[str, object]:
    prefix = f"{scope}/{stack.name}"
    out: Dict[str, object] = {}
    for layer in stack.stack_layers:
        lp = f"{prefix}/{layer.name}"
        out.update(_attention_map(lp, layer.self_attention))
        if layer.encdec_attention is not None:
            out.update(_attention_map(lp, layer.encdec_attention))
        ffn = layer.ffn
        fp = f"{lp}/{ffn.name}"
        norm = f"{fp}/{ffn.layer_prepostprocess.name}/{ffn.layer_prepostprocess.layer_norm.name}"
        out[f"{norm}/layer_norm_scale"] = ffn.layer_prepostprocess.layer_norm.layer_norm_scale
        out[f"{norm}/layer_norm_bias"] = ffn.layer_prepostprocess.layer_norm.layer_norm_bias
        for dense in (ffn.conv1, ffn.conv2):
            out[f"{fp}/{dense.name}/kernel"] = dense.kernel
            out[f"{fp}/{dense.name}/bias"] = dense.bias
    final = stack.layer_prepostprocess
    norm = f"{prefix}/{final.name}/{final.layer_norm.name}"
    out[f"{norm}/layer_norm_scale"] = final.layer_norm.layer_norm_scale
    out[f"{norm}/layer_norm_bias"] = final.layer_norm.layer_norm_bias
    return out


def keras_t2t_map(model: MusicTransformer) -> Dict[str, object]:
    """``{t2t variable name: Keras variable}`` for every weight of ``model`` (embedding tables as
    ``.../weights_0``, unsharded), walked from the sublayers, which carry t2t's scope names."""
    out: Dict[str, object] = {}
    for modality in (model.target_modality, model.input_modality):
        if modality is None:
            continue
        tables = [modality.embedding]
        if modality.softmax is not None and modality.softmax is not modality.embedding:
            tables.append(modality.softmax)
        for table in tables:
            out[f"{ROOT}/{modality.name}/{table.name}/weights_0"] = table.weights_0
    body = f"{ROOT}/{model.body.name}"
    if model.body.target_space_embedding is not None:
        tse = model.body.target_space_embedding
        out[f"{body}/{tse.name}/kernel"] = tse.kernel
    if model.body.encoder is not None:
        out.update(_stack_map(body, model.body.encoder))
    out.update(_stack_map(body, model.body.decoder))
    return out


# --------------------------------------------------------------------------- checkpoint files


def resolve_checkpoint(path: str) -> str:
    """A checkpoint path prefix (or V1 file) for ``path``: a folder resolves to its newest
    checkpoint (the ``checkpoint`` state file, else the highest ``*.ckpt-N.index``).

    Raises :class:`~tfmusic.tf1_checkpoints.CheckpointReadError` naming ``path`` when none is found.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest and (os.path.exists(latest + ".index") or os.path.exists(latest)):
            return latest
        candidates = glob.glob(os.path.join(path, "*.index"))
        if not candidates:
            raise tf1_checkpoints.CheckpointReadError(f"{path}: no TensorFlow checkpoint in this folder")

        def step(p):
            m = re.search(r"-(\d+)\.index$", p)
            return int(m.group(1)) if m else -1

        return max(candidates, key=step)[: -len(".index")]
    if os.path.exists(path + ".index") or os.path.isfile(path):
        return path
    raise tf1_checkpoints.CheckpointReadError(f"{path}: no such checkpoint (neither {path}.index nor a file)")


def write_v2_checkpoint(variables: Mapping[str, np.ndarray], prefix: str, update_state: bool = True) -> str:
    """Write ``{name: array}`` as a TF V2 checkpoint ``prefix.index`` + ``prefix.data-00000-of-00001``.

    The files are written under a temporary prefix and renamed into place (data first, index
    last), so a crash never leaves a readable half-checkpoint; with ``update_state`` the folder's
    ``checkpoint`` state file then names ``prefix`` (as TF1's ``Saver`` writes it). Returns ``prefix``.
    """
    prefix = os.fspath(prefix)
    folder = os.path.dirname(os.path.abspath(prefix))
    os.makedirs(folder, exist_ok=True)
    names = sorted(variables)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp_ckpt_") as tmp:
        tmp_prefix = os.path.join(tmp, "ckpt")
        tf.raw_ops.SaveV2(
            prefix=tmp_prefix,
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            tensors=[tf.constant(np.asarray(variables[n])) for n in names],
        )
        data = sorted(glob.glob(tmp_prefix + ".data-*"))
        for src in data:
            os.replace(src, prefix + src[len(tmp_prefix) :])
        os.replace(tmp_prefix + ".index", prefix + ".index")
    if update_state:
        base = os.path.basename(prefix)
        files.atomic_write_text(
            os.path.join(folder, "checkpoint"),
            f'model_checkpoint_path: "{base}"\nall_model_checkpoint_paths: "{base}"\n',
        )
    return prefix


def _write(variables: Mapping[str, np.ndarray], path: str, fmt: str) -> str:
    if fmt == "v2":
        return write_v2_checkpoint(variables, path)
    if fmt == "v1":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return tf1_checkpoints.write_v1_checkpoint(dict(variables), path)
    raise ValueError(f"checkpoint format {fmt!r}: expected 'v2' or 'v1'")


def _shard(name: str, value: np.ndarray, num_shards: int) -> Dict[str, np.ndarray]:
    if num_shards == 1 or not name.endswith("/weights_0"):
        return {name: value}
    base = name[: -len("weights_0")]
    out, start = {}, 0
    for i, rows in enumerate(shard_sizes(value.shape[0], num_shards)):
        out[f"{base}weights_{i}"] = value[start : start + rows]
        start += rows
    return out


def save_as_t2t(model: MusicTransformer, path: str, global_step: int = 0, num_shards: int = 1, fmt: str = "v2") -> str:
    """Write ``model``'s weights under t2t's names (plus ``global_step``) at ``path``.

    Args:
      model: a :class:`MusicTransformer`.
      path: checkpoint prefix, e.g. ``out/model.ckpt-1000``.
      global_step: value of the ``global_step`` variable t2t expects.
      num_shards: split embedding tables into t2t's ``weights_0..n-1`` shards.
      fmt: ``v2`` (t2t's own format) or ``v1`` (single file).

    Returns the prefix written.
    """
    variables: Dict[str, np.ndarray] = {}
    for name, var in keras_t2t_map(model).items():
        variables.update(_shard(name, np.asarray(var.numpy(), np.float32), num_shards))
    variables["global_step"] = np.asarray(global_step, np.int64)
    return _write(variables, path, fmt)


# --------------------------------------------------------------------------- fixtures


def fixture_variables(
    config: MusicTransformerConfig,
    seed: int = 0,
    num_shards: int = 1,
    optimizer_slots: bool = True,
    global_step: int = 100000,
) -> Dict[str, np.ndarray]:
    """Random float32 arrays under t2t's exact names and shapes for ``config`` (what
    :func:`write_t2t_fixture` writes).

    Values are drawn like t2t's initialisers but perturbed so nothing is trivially 1 or 0:
    tables N(0, H^-0.5), kernels uniform fan-avg, layer-norm scales 1 + N(0, 0.1), biases
    N(0, 0.1), relative tables N(0, d^-0.5). ``optimizer_slots`` adds Adafactor accumulators
    (positive) for every variable; ``global_step`` is an int64 scalar.
    """
    rng = np.random.default_rng(seed)
    out: Dict[str, np.ndarray] = {}
    for name, shape in sorted(t2t_variable_shapes(config, num_shards).items()):
        leaf = name.rsplit("/", 1)[-1]
        if leaf.startswith("weights_") or leaf == "kernel" and "target_space" in name:
            value = rng.normal(0.0, config.hidden_size**-0.5, shape)
        elif leaf.endswith("relative_embeddings"):
            value = rng.normal(0.0, shape[-1] ** -0.5, shape)
        elif leaf == "kernel":
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            value = rng.uniform(-limit, limit, shape)
        elif leaf == "layer_norm_scale":
            value = 1.0 + rng.normal(0.0, 0.1, shape)
        else:  # layer_norm_bias, dense biases
            value = rng.normal(0.0, 0.1, shape)
        out[name] = value.astype(np.float32)
    if optimizer_slots:
        for name in sorted(out):
            for slot, shape in adafactor_slot_shapes(name, out[name].shape).items():
                out[slot] = rng.uniform(1e-8, 1e-4, shape).astype(np.float32)
    out["global_step"] = np.asarray(global_step, np.int64)
    return out


def write_t2t_fixture(
    config: MusicTransformerConfig,
    path: str,
    seed: int = 0,
    num_shards: int = 1,
    optimizer_slots: bool = True,
    global_step: int = 100000,
    fmt: str = "v2",
) -> str:
    """Write a checkpoint shaped like one t2t trains for ``config``; returns its path prefix.

    ``path`` is a prefix (``dir/model.ckpt-100000``) or a folder (the prefix is then
    ``model.ckpt-{global_step}`` inside it). ``fmt="v2"`` writes t2t's own format (``.index`` +
    ``.data-00000-of-00001`` and a ``checkpoint`` state file), ``"v1"`` one file.
    """
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(os.sep):
        path = os.path.join(path, f"model.ckpt-{global_step}")
    variables = fixture_variables(config, seed, num_shards, optimizer_slots, global_step)
    return _write(variables, path, fmt)


def read_t2t_variables(path: Union[str, bytes]) -> Tuple[Dict[str, np.ndarray], str]:
    """``({name: array}, resolved path)`` of a t2t checkpoint (folder, V2 prefix, V1 file or bytes)."""
    if isinstance(path, (bytes, bytearray)):
        return tf1_checkpoints.read_checkpoint(path), "<checkpoint bytes>"
    resolved = resolve_checkpoint(path)
    return tf1_checkpoints.read_checkpoint(resolved), resolved


def port_t2t_checkpoint(
    path: Union[str, bytes], config: Optional[MusicTransformerConfig] = None, relative_method: str = "blocked"
) -> MusicTransformer:
    """A :class:`MusicTransformer` holding a t2t checkpoint's weights.

    Args:
      path: a checkpoint folder (its newest checkpoint), a V2 prefix (``model.ckpt-N``), a V1 file,
        or V1 bytes.
      config: the expected architecture; None infers it
        (:func:`music_transformer_ext.convert_t2t.convert_config`). Fields names cannot
        reveal (heads of dot-product attention, ``pos``, dropouts, ``max_length``) come from it.
      relative_method: passed to the model (``blocked``, ``skew`` or ``naive``).

    Raises:
      CheckpointReadError: unreadable path. PortingError: the checkpoint does not fit (message lists
      every missing, misshapen, unused or unassigned variable).
    """
    from music_transformer_ext import convert_t2t  # the converter imports this module's names

    variables, source = read_t2t_variables(path)
    resolved_config = convert_t2t.convert_config(variables, base=config, source=source)
    model = MusicTransformer(resolved_config, relative_method=relative_method)
    convert_t2t.convert_weights(variables, model, source=source)
    return model
