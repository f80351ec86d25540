"""tensor2tensor checkpoints -> this toolkit's Music Transformer: the converter.

The variables of a t2t ``transformer`` checkpoint (names and shapes in
:mod:`music_transformer_ext.checkpoints`, which reads and writes the files):

* :func:`convert_config`: the :class:`~music_transformer_ext.config.MusicTransformerConfig` the
  variables describe, inferred from their names and shapes (the attention type from the presence of
  relative embeddings), or a given config checked against them.
* :func:`convert_weights`: every weight ported strictly into a built
  :class:`~music_transformer_ext.model.MusicTransformer`: every checkpoint variable is used (optimizer
  slots and ``global_step`` are ignored by name), every Keras weight is assigned, and a
  :class:`~tfmusic.tf1_checkpoints.PortingError` names whatever does not fit (``error.report`` lists it).

:func:`music_transformer_ext.checkpoints.port_t2t_checkpoint` reads a checkpoint and does both.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from music_transformer_ext.checkpoints import RELATIVE_SCOPE, ROOT, keras_t2t_map, modality_name
from music_transformer_ext.config import MusicTransformerConfig
from music_transformer_ext.model import MusicTransformer
from tfmusic.tf1_checkpoints import PortingError, PortReport, WeightPorter, variable_shape

#: Foreign names deliberately left unused: the step counter and optimizer state.
IGNORE_PATTERNS: Tuple[str, ...] = (
    r"^global_step$",
    r".*/Adafactor(_\d+)?$",
    r".*/[Aa]dafactor_v[rc]?$",
    r".*/Adam(_\d+)?$",
    r"(^|.*/)beta[12]_power(_\d+)?$",
    r".*/Momentum$",
)
_MODALITY = re.compile(r"^transformer/symbol_modality_(\d+)_(\d+)/(shared|target_emb|softmax|input_emb)/weights_(\d+)$")
_LAYER = re.compile(r"^transformer/body/(encoder|decoder)/layer_(\d+)/")


# --------------------------------------------------------------------------- inference of the architecture


def _layer_count(variables, stack: str, source: str) -> int:
    indices = {int(m.group(2)) for n in variables for m in [_LAYER.match(n)] if m and m.group(1) == stack}
    if not indices:
        return 0
    if indices != set(range(len(indices))):
        missing = sorted(set(range(max(indices) + 1)) - indices)
        raise PortingError(f"{source}: {stack} layers are not numbered 0..{max(indices)} (missing {missing})")
    return len(indices)


def _modalities(variables, source) -> Dict[Tuple[int, int], Dict[str, int]]:
    """``{(vocab, hidden): {scope: number of shards}}`` of the symbol modality tables."""
    found: Dict[Tuple[int, int], Dict[str, set]] = {}
    for name in variables:
        m = _MODALITY.match(name)
        if m:
            key = (int(m.group(1)), int(m.group(2)))
            found.setdefault(key, {}).setdefault(m.group(3), set()).add(int(m.group(4)))
    out: Dict[Tuple[int, int], Dict[str, int]] = {}
    for key, scopes in found.items():
        out[key] = {}
        for scope, shards in scopes.items():
            if shards != set(range(len(shards))):
                raise PortingError(f"{source}: {modality_name(*key)}/{scope} shards are not weights_0..{max(shards)}")
            out[key][scope] = len(shards)
    return out


def convert_config(
    variables: Mapping[str, np.ndarray], base: Optional[MusicTransformerConfig] = None, source: str = "checkpoint"
) -> MusicTransformerConfig:
    """The architecture a t2t checkpoint holds, from its variable names and shapes.

    Read from the checkpoint: vocabularies and hidden size (modality tables), decoder / encoder
    layer counts, ``filter_size``, key / value channels, whether the embedding is shared with the
    softmax, the target-space embedding, and the attention type: ``dot_product_relative_v2`` when
    ``key_relative_embeddings`` exist (their shape gives ``max_relative_position``, heads sharing,
    and the head count), ``dot_product`` otherwise. What names and shapes cannot tell (the head count
    of plain dot-product attention, ``pos``, dropouts, ``max_length``) comes from ``base``, or
    t2t's defaults (8 heads, timing signal) without it. With ``base``, any structural field that
    disagrees with the checkpoint raises :class:`PortingError` naming it.

    Of two modalities (a conditioned model), the targets' is the one with a ``softmax`` table, or
    the vocabulary of ``base.vocab_size``, or else the larger vocabulary.
    """
    modalities = _modalities(variables, source)
    if not modalities:
        raise PortingError(f"{source}: no transformer/symbol_modality_*/.../weights_* table; not a t2t transformer")
    num_layers = _layer_count(variables, "decoder", source)
    encoder_layers = _layer_count(variables, "encoder", source)
    if num_layers == 0:
        raise PortingError(f"{source}: no transformer/body/decoder/layer_0 variables")
    if encoder_layers == 0 and len(modalities) > 1:
        raise PortingError(
            f"{source}: {len(modalities)} symbol modalities but no encoder: "
            + ", ".join(modality_name(*k) for k in sorted(modalities))
        )
    if encoder_layers and len(modalities) == 1:
        raise PortingError(
            f"{source}: an encoder-decoder whose inputs and targets share one modality "
            f"({modality_name(*next(iter(modalities)))}) is not supported"
        )
    if len(modalities) > 2:
        raise PortingError(
            f"{source}: more than two symbol modalities: " + ", ".join(modality_name(*k) for k in sorted(modalities))
        )
    keys = sorted(modalities)
    if len(keys) == 1:
        target_key, input_key = keys[0], None
    else:
        with_softmax = [k for k in keys if "softmax" in modalities[k]]
        if len(with_softmax) == 1:
            target_key = with_softmax[0]
        elif base is not None and sum(k[0] == base.vocab_size for k in keys) == 1:
            target_key = next(k for k in keys if k[0] == base.vocab_size)
        else:
            target_key = max(keys)
        input_key = next(k for k in keys if k != target_key)
    vocab_size, hidden = target_key
    if input_key is not None and input_key[1] != hidden:
        raise PortingError(
            f"{source}: modality widths differ ({modality_name(*target_key)}, {modality_name(*input_key)})"
        )
    target_scopes = set(modalities[target_key])
    if target_scopes == {"shared"}:
        shared = True
    elif target_scopes == {"target_emb", "softmax"}:
        shared = False
    else:
        raise PortingError(
            f"{source}: {modality_name(*target_key)} has tables {sorted(target_scopes)}; expected "
            "'shared' or 'target_emb' + 'softmax'"
        )

    mha = f"{ROOT}/body/decoder/layer_0/self_attention/multihead_attention"
    key_channels = variable_shape(variables, f"{mha}/q/kernel", source)[-1]
    value_channels = variable_shape(variables, f"{mha}/v/kernel", source)[-1]
    filter_size = variable_shape(variables, f"{ROOT}/body/decoder/layer_0/ffn/conv1/kernel", source)[-1]
    rel_key = f"{ROOT}/body/decoder/layer_0/self_attention/{RELATIVE_SCOPE}/key_relative_embeddings"
    rel_value = f"{ROOT}/body/decoder/layer_0/self_attention/{RELATIVE_SCOPE}/value_relative_embeddings"
    default = base or MusicTransformerConfig()
    num_heads = default.num_heads
    fields = dict(
        self_attention_type="dot_product",
        max_relative_position=0,
        heads_share_relative_embedding=False,
        add_relative_to_values=False,
    )
    if rel_key in variables:
        shape = variable_shape(variables, rel_key, source)
        if len(shape) == 3:
            num_heads, max_rel, depth = shape
            heads_share = False
        elif len(shape) == 2:
            max_rel, depth = shape
            heads_share = True
            if key_channels % depth:
                raise PortingError(f"{source}: {rel_key} depth {depth} does not divide key channels {key_channels}")
            num_heads = key_channels // depth
        else:
            raise PortingError(f"{source}: {rel_key} has shape {shape}; expected [heads, M, d] or [M, d]")
        fields = dict(
            self_attention_type="dot_product_relative_v2",
            max_relative_position=int(max_rel),
            heads_share_relative_embedding=heads_share,
            add_relative_to_values=rel_value in variables,
        )
    inferred = dict(
        vocab_size=int(vocab_size),
        hidden_size=int(hidden),
        num_layers=num_layers,
        encoder_layers=encoder_layers,
        filter_size=int(filter_size),
        num_heads=int(num_heads),
        attention_key_channels=0 if key_channels == hidden else int(key_channels),
        attention_value_channels=0 if value_channels == hidden else int(value_channels),
        shared_embedding_and_softmax=shared,
        **fields,
    )
    if input_key is not None:
        inferred["input_vocab_size"] = int(input_key[0])
        inferred["use_target_space_embedding"] = f"{ROOT}/body/target_space_embedding/kernel" in variables
    if base is not None:
        mismatched = []
        for key, value in inferred.items():
            if key in ("attention_key_channels", "attention_value_channels"):
                ours = getattr(base, "key_channels" if "key" in key else "value_channels")
                theirs = value or hidden
                if ours != theirs:
                    mismatched.append(f"{key.replace('attention_', '')}: checkpoint {theirs}, config {ours}")
                continue
            if key == "input_vocab_size" and not base.conditioned:
                continue  # reported as an encoder_layers mismatch
            if getattr(base, key) != value:
                mismatched.append(f"{key}: checkpoint {value}, config {getattr(base, key)}")
        if mismatched:
            raise PortingError(
                f"{source}: the checkpoint does not fit the given config: " + "; ".join(sorted(set(mismatched)))
            )
        return base
    try:
        return dataclasses.replace(default, **inferred)
    except ValueError as e:
        raise PortingError(f"{source}: inferred an invalid config ({e})") from e


# --------------------------------------------------------------------------- porting


def _fit(value: np.ndarray, shape: tuple) -> np.ndarray:
    """Drop leading singleton axes (old t2t stored dense FFN kernels as ``[1, in, out]`` convs)."""
    value = np.asarray(value)
    while value.ndim > len(shape) and value.shape[0] == 1:
        value = value[0]
    return value


def convert_weights(
    variables: Mapping[str, np.ndarray],
    model: MusicTransformer,
    source: str = "checkpoint",
    ignore: Sequence[str] = IGNORE_PATTERNS,
) -> PortReport:
    """Assign t2t-named ``variables`` to ``model`` strictly; returns the
    :class:`~tfmusic.tf1_checkpoints.PortReport`.

    Every Keras weight must receive a value of its exact shape, every foreign variable must be used
    unless it matches ``ignore`` (optimizer slots, ``global_step``). Sharded embedding tables
    (``weights_0..n-1``) are concatenated. Raises :class:`PortingError` listing all problems:
    missing names, shape mismatches, unused checkpoint variables, unassigned Keras weights
    (``error.report`` holds them).
    """
    porter = WeightPorter(variables, model.trainable_weights, ignore=ignore, source=source)
    for name, var in keras_t2t_map(model).items():
        shape = tuple(var.shape)
        if name.endswith("/weights_0"):
            base = name[: -len("0")]
            shards = sorted(
                (int(n[len(base) :]), n) for n in variables if n.startswith(base) and n[len(base) :].isdigit()
            )
            if not shards:
                porter.mark_missing(name)
            elif [i for i, _ in shards] != list(range(len(shards))):
                porter.mark_missing(f"{base}{{0..{shards[-1][0]}}} (shards not contiguous)")
            else:
                value = np.concatenate([np.asarray(porter.get(n)) for _, n in shards], axis=0)
                label = name if len(shards) == 1 else f"{base}0..{len(shards) - 1}"
                porter.assign(var, value, label)
            continue
        porter.port(var, name, lambda v, s=shape: _fit(v, s))
    return porter.finish()
