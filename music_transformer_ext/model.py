"""The Music Transformer as a Keras model, laid out in tensor2tensor's variable scopes.

:class:`MusicTransformer` (name ``transformer``) is t2t's ``transformer`` model:

* ``symbol_modality_{V}_{H}``: the target embedding table (``shared/weights_0`` when it is also
  the softmax, else ``target_emb/weights_0`` and ``softmax/weights_0``); an embedded id is
  ``table[id] * sqrt(H)``, zeroed for PAD (id 0) as t2t's symbol modality does; logits are
  ``x @ table^T``. A conditioned model has ``symbol_modality_{Vin}_{H}`` for ``inputs``
  (``shared/weights_0`` or ``input_emb/weights_0``).
* ``body/decoder``: targets shifted right by one position (position 0 sees a zero vector),
  plus t2t's sinusoidal timing signal when ``pos == "timing"``, dropout, then ``layer_i`` each
  with ``self_attention`` (causal), [``encdec_attention``], ``ffn``; every sublayer is
  pre-normalised (``layer_prepostprocess/layer_norm``, t2t's ``"n"``) and followed by dropout
  and the residual add (``"da"``); a final ``layer_prepostprocess/layer_norm``.
* ``body/encoder`` (conditioned only): embedded inputs + ``body/target_space_embedding`` row +
  timing, the same layers without causality and with a PAD mask, final norm.
* ``ffn`` is t2t's ``dense_relu_dense``: ``conv1`` (filter_size, ReLU, bias), relu dropout,
  ``conv2`` (hidden, bias).

Inputs: ``targets [B, L]`` int ids (a tensor, or ``{"targets": ..., "inputs": [B, S]}``);
output: logits ``[B, L, V]`` float32 where position ``t`` predicts ``targets[:, t]`` from
``targets[:, :t]``.

Incremental decoding: :meth:`MusicTransformer.init_cache` and :meth:`MusicTransformer.decode_step`
with fixed-size tensors, so ``tf.function(model.decode_step, jit_compile=True)`` compiles once.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Union

import keras
import tensorflow as tf

from music_transformer_ext import attention as attention_lib
from music_transformer_ext.config import MusicTransformerConfig
from tfmusic import config as config_lib

Cache = Dict[str, Any]  # lists of per-layer tensors, and memory_bias


class LayerNorm(attention_lib.ConfigurableLayer):
    """t2t's ``layer_norm`` (scope ``layer_norm``): ``(x - mean) * rsqrt(var + eps) * scale + bias``
    over the last axis, weights ``layer_norm_scale`` (ones) and ``layer_norm_bias`` (zeros)."""

    config_attributes = ("epsilon",)

    def __init__(self, epsilon: float = 1e-6, name: str = "layer_norm", **kwargs):
        super().__init__(name=name, **kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        depth = input_shape[-1]
        self.layer_norm_scale = self.add_weight(name="layer_norm_scale", shape=(depth,), initializer="ones")
        self.layer_norm_bias = self.add_weight(name="layer_norm_bias", shape=(depth,), initializer="zeros")
        self.built = True

    def call(self, x):
        x32 = tf.cast(x, tf.float32)
        mean = tf.reduce_mean(x32, axis=-1, keepdims=True)
        variance = tf.reduce_mean(tf.square(x32 - mean), axis=-1, keepdims=True)
        out = (x32 - mean) * tf.math.rsqrt(variance + self.epsilon)
        out = out * tf.cast(self.layer_norm_scale, tf.float32) + tf.cast(self.layer_norm_bias, tf.float32)
        return tf.cast(out, x.dtype)


class LayerPrepostprocess(attention_lib.ConfigurableLayer):
    """t2t's ``layer_preprocess`` with sequence ``"n"`` (scope ``layer_prepostprocess``): a layer norm."""

    config_attributes = ("epsilon",)

    def __init__(self, epsilon: float = 1e-6, name: str = "layer_prepostprocess", **kwargs):
        super().__init__(name=name, **kwargs)
        self.epsilon = epsilon
        self.layer_norm = LayerNorm(epsilon, name="layer_norm")

    def build(self, input_shape):
        self.layer_norm.build(input_shape)
        self.built = True

    def call(self, x):
        return self.layer_norm(x)


def _as_config(config: Union[MusicTransformerConfig, Mapping[str, Any]]) -> MusicTransformerConfig:
    if isinstance(config, MusicTransformerConfig):
        return config
    return config_lib.from_dict(MusicTransformerConfig, config)


class ConfiguredLayer(attention_lib.ConfigurableLayer):
    """A layer built from a :class:`MusicTransformerConfig` (attribute ``config``) and the
    settings named in ``config_attributes``; its Keras config carries both."""

    def __init__(self, config: MusicTransformerConfig, name: str, **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config

    def get_config(self):
        return {**super().get_config(), "config": config_lib.to_dict(self.config)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "config": _as_config(config["config"])})


def _attention_from_config(config: MusicTransformerConfig, attention_type: str, relative_method: str):
    return attention_lib.MultiHeadAttention(
        config.hidden_size,
        config.num_heads,
        config.key_channels,
        config.value_channels,
        attention_type=attention_type,
        max_relative_position=config.max_relative_position,
        heads_share_relative_embedding=config.heads_share_relative_embedding,
        add_relative_to_values=config.add_relative_to_values,
        dropout=config.attention_dropout,
        relative_method=relative_method,
        name="multihead_attention",
    )


class AttentionBlock(ConfiguredLayer):
    """``x + dropout(attention(layer_norm(x)))``, scope ``self_attention`` or ``encdec_attention``."""

    config_attributes = ("attention_type", "relative_method")

    def __init__(
        self,
        config: MusicTransformerConfig,
        attention_type: str = "dot_product",
        relative_method: str = "skew",
        name: str = "self_attention",
        **kwargs,
    ):
        super().__init__(config, name=name, **kwargs)
        self._keep_config_attributes(locals())
        self.layer_prepostprocess = LayerPrepostprocess(config.norm_epsilon)
        self.multihead_attention = _attention_from_config(config, attention_type, relative_method)
        self.dropout = keras.layers.Dropout(config.layer_prepostprocess_dropout, name="residual_dropout")

    def build(self, input_shape):
        self.layer_prepostprocess.build(input_shape)
        self.multihead_attention.build(input_shape)
        self.built = True

    def call(self, x, memory=None, bias=None, training=False):
        y = self.multihead_attention(self.layer_prepostprocess(x), memory=memory, bias=bias, training=training)
        return x + self.dropout(y, training=training)

    def step(self, x, cache_k, cache_v, position, layer=None, training=False):
        """Incremental self-attention: ``x [B, 1, C]`` -> ``(x + y, cache_k, cache_v)`` (see
        :meth:`MultiHeadAttention.step`)."""
        y, cache_k, cache_v = self.multihead_attention.step(
            self.layer_prepostprocess(x), cache_k, cache_v, position, layer=layer, training=training
        )
        return x + self.dropout(y, training=training), cache_k, cache_v

    def step_memory(self, x, k, v, bias, training=False):
        """Incremental encoder-decoder attention over cached encoder keys/values."""
        y = self.multihead_attention.attend_projected(self.layer_prepostprocess(x), k, v, bias, training=training)
        return x + self.dropout(y, training=training)


class FeedForwardBlock(ConfiguredLayer):
    """``x + dropout(conv2(relu_dropout(relu(conv1(layer_norm(x))))))``, scope ``ffn``."""

    def __init__(self, config: MusicTransformerConfig, name: str = "ffn", **kwargs):
        super().__init__(config, name=name, **kwargs)
        init = attention_lib.t2t_dense_initializer
        self.layer_prepostprocess = LayerPrepostprocess(config.norm_epsilon)
        self.conv1 = keras.layers.Dense(config.filter_size, activation="relu", kernel_initializer=init(), name="conv1")
        self.relu_dropout = keras.layers.Dropout(config.relu_dropout, name="relu_dropout")
        self.conv2 = keras.layers.Dense(config.hidden_size, kernel_initializer=init(), name="conv2")
        self.dropout = keras.layers.Dropout(config.layer_prepostprocess_dropout, name="residual_dropout")

    def build(self, input_shape):
        self.layer_prepostprocess.build(input_shape)
        self.conv1.build(input_shape)
        self.conv2.build(tuple(input_shape[:-1]) + (self.config.filter_size,))
        self.built = True

    def call(self, x, training=False):
        h = self.relu_dropout(self.conv1(self.layer_prepostprocess(x)), training=training)
        return x + self.dropout(self.conv2(h), training=training)


class TransformerLayer(ConfiguredLayer):
    """One ``layer_i``: ``self_attention``, ``encdec_attention`` (decoder of a conditioned model), ``ffn``."""

    config_attributes = ("self_attention_type", "encdec", "relative_method")

    def __init__(
        self,
        config: MusicTransformerConfig,
        self_attention_type: str,
        encdec: bool = False,
        relative_method: str = "skew",
        name: str = "layer_0",
        **kwargs,
    ):
        super().__init__(config, name=name, **kwargs)
        self._keep_config_attributes(locals())
        self.self_attention = AttentionBlock(config, self_attention_type, relative_method, name="self_attention")
        self.encdec_attention = AttentionBlock(config, "dot_product", name="encdec_attention") if encdec else None
        self.ffn = FeedForwardBlock(config, name="ffn")

    def build(self, input_shape):
        self.self_attention.build(input_shape)
        if self.encdec_attention is not None:
            self.encdec_attention.build(input_shape)
        self.ffn.build(input_shape)
        self.built = True

    def call(self, x, self_bias=None, memory=None, memory_bias=None, training=False):
        x = self.self_attention(x, bias=self_bias, training=training)
        if self.encdec_attention is not None:
            x = self.encdec_attention(x, memory=memory, bias=memory_bias, training=training)
        return self.ffn(x, training=training)


class TransformerStack(ConfiguredLayer):
    """t2t's ``transformer_encoder`` / ``transformer_decoder`` (scope ``encoder`` / ``decoder``):
    ``layer_0 .. layer_{n-1}`` then a final ``layer_prepostprocess/layer_norm``."""

    config_attributes = ("num_layers", "self_attention_type", "encdec", "relative_method")

    def __init__(
        self,
        config: MusicTransformerConfig,
        num_layers: int,
        self_attention_type: str,
        encdec: bool = False,
        relative_method: str = "skew",
        name: str = "decoder",
        **kwargs,
    ):
        super().__init__(config, name=name, **kwargs)
        self._keep_config_attributes(locals())
        self.stack_layers = [
            TransformerLayer(config, self_attention_type, encdec, relative_method, name=f"layer_{i}")
            for i in range(num_layers)
        ]
        # Keras 3 keeps a list of layers out of TensorFlow's object graph, so a tf.train.Checkpoint
        # of the model would silently skip them; an attribute per layer puts them in it.
        for i, layer in enumerate(self.stack_layers):
            setattr(self, f"layer_{i}", layer)
        self.layer_prepostprocess = LayerPrepostprocess(config.norm_epsilon)

    def build(self, input_shape):
        for layer in self.stack_layers:
            layer.build(input_shape)
        self.layer_prepostprocess.build(input_shape)
        self.built = True

    def call(self, x, self_bias=None, memory=None, memory_bias=None, training=False):
        for layer in self.stack_layers:
            x = layer(x, self_bias=self_bias, memory=memory, memory_bias=memory_bias, training=training)
        return self.layer_prepostprocess(x)


class EmbeddingTable(attention_lib.ConfigurableLayer):
    """One symbol-modality table (scope ``shared`` / ``target_emb`` / ``input_emb`` / ``softmax``):
    weight ``weights_0 [vocab, hidden]`` initialised N(0, hidden^-0.5) as t2t does."""

    config_attributes = ("vocab_size", "hidden_size")

    def __init__(self, vocab_size: int, hidden_size: int, name: str = "shared", **kwargs):
        super().__init__(name=name, **kwargs)
        self._keep_config_attributes(locals())

    def build(self, input_shape=None):
        self.weights_0 = self.add_weight(
            name="weights_0",
            shape=(self.vocab_size, self.hidden_size),
            initializer=keras.initializers.RandomNormal(stddev=self.hidden_size**-0.5),
        )
        self.built = True

    def embed(self, ids: tf.Tensor) -> tf.Tensor:
        """``ids [...]`` -> ``table[ids] * sqrt(hidden)``, zero where ``ids == 0``: ``[..., hidden]``."""
        ids = tf.cast(ids, tf.int32)
        emb = tf.cast(tf.gather(self.weights_0, ids), self.compute_dtype) * (self.hidden_size**0.5)
        return emb * tf.cast(tf.not_equal(ids, 0), emb.dtype)[..., None]

    def logits(self, x: tf.Tensor) -> tf.Tensor:
        """``x [..., hidden]`` -> ``x @ table^T``: float32 ``[..., vocab]``."""
        return tf.matmul(tf.cast(x, tf.float32), tf.cast(self.weights_0, tf.float32), transpose_b=True)


class SymbolModality(attention_lib.ConfigurableLayer):
    """t2t's symbol modality scope ``symbol_modality_{vocab}_{hidden}``.

    ``shared=True``: one table ``shared`` used for the embedding and (targets) the softmax.
    ``shared=False``: ``target_emb`` + ``softmax`` for targets, ``input_emb`` for inputs.
    """

    config_attributes = ("vocab_size", "hidden_size", "shared", "targets")

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        shared: bool,
        targets: bool = True,
        name: Optional[str] = None,
        **kwargs,
    ):
        super().__init__(name=name or f"symbol_modality_{vocab_size}_{hidden_size}", **kwargs)
        self._keep_config_attributes(locals())
        if shared:
            self.embedding = EmbeddingTable(vocab_size, hidden_size, name="shared")
            self.softmax = self.embedding if targets else None
        else:
            self.embedding = EmbeddingTable(vocab_size, hidden_size, name="target_emb" if targets else "input_emb")
            self.softmax = EmbeddingTable(vocab_size, hidden_size, name="softmax") if targets else None

    def build(self, input_shape=None):
        self.embedding.build()
        if self.softmax is not None and self.softmax is not self.embedding:
            self.softmax.build()
        self.built = True

    def embed(self, ids):
        return self.embedding.embed(ids)

    def logits(self, x):
        return self.softmax.logits(x)


class TargetSpaceEmbedding(attention_lib.ConfigurableLayer):
    """t2t's ``body/target_space_embedding``: weight ``kernel [32, hidden]``; the encoder adds one row."""

    config_attributes = ("hidden_size",)

    def __init__(self, hidden_size: int, name: str = "target_space_embedding", **kwargs):
        super().__init__(name=name, **kwargs)
        self.hidden_size = hidden_size

    def build(self, input_shape=None):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(32, self.hidden_size),
            initializer=keras.initializers.RandomNormal(stddev=self.hidden_size**-0.5),
        )
        self.built = True

    def row(self, target_space_id: int) -> tf.Tensor:
        """Row ``target_space_id`` as ``[1, 1, hidden]``."""
        return tf.reshape(tf.cast(self.kernel[target_space_id], self.compute_dtype), [1, 1, self.hidden_size])


class Body(ConfiguredLayer):
    """t2t's ``body`` scope: ``decoder``, and for a conditioned model ``encoder`` and ``target_space_embedding``."""

    config_attributes = ("relative_method",)

    def __init__(self, config: MusicTransformerConfig, relative_method: str = "skew", name: str = "body", **kwargs):
        super().__init__(config, name=name, **kwargs)
        self.relative_method = relative_method
        self.encoder = None
        self.target_space_embedding = None
        if config.conditioned:
            self.encoder = TransformerStack(
                config, config.encoder_layers, config.self_attention_type, relative_method="skew", name="encoder"
            )
            if config.use_target_space_embedding:
                self.target_space_embedding = TargetSpaceEmbedding(config.hidden_size)
        self.decoder = TransformerStack(
            config,
            config.num_layers,
            config.self_attention_type,
            encdec=config.conditioned,
            relative_method=relative_method,
            name="decoder",
        )

    def build(self, input_shape=None):
        shape = (None, None, self.config.hidden_size)
        if self.encoder is not None:
            self.encoder.build(shape)
        if self.target_space_embedding is not None:
            self.target_space_embedding.build()
        self.decoder.build(shape)
        self.built = True


class MusicTransformer(keras.Model):
    """t2t's ``transformer`` (decoder-only, or encoder-decoder when ``config.encoder_layers > 0``).

    Args:
      config: a :class:`MusicTransformerConfig` (or its dict form).
      relative_method: the decoder's relative self-attention: ``blocked`` (t2t's values computed in
        causal query row blocks, the fastest; the full skew at short or dynamic lengths), ``skew``
        (t2t's computation, O(L*D) relative memory) or ``naive`` (O(L^2*D), for comparisons). The
        encoder always uses ``skew``.

    Weights are created in the constructor, so a fresh model can be ported into or saved at once.
    """

    def __init__(
        self,
        config: Union[MusicTransformerConfig, Mapping[str, Any]],
        relative_method: str = "blocked",
        name: str = "transformer",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        self.config = _as_config(config)
        self.relative_method = relative_method
        cfg = self.config
        self.target_modality = SymbolModality(
            cfg.vocab_size, cfg.hidden_size, cfg.shared_embedding_and_softmax, targets=True
        )
        self.input_modality = None
        if cfg.conditioned:
            self.input_modality = SymbolModality(
                cfg.input_vocab_size, cfg.hidden_size, cfg.shared_embedding_and_softmax, targets=False
            )
        self.body = Body(cfg, relative_method)
        self.input_dropout = keras.layers.Dropout(cfg.layer_prepostprocess_dropout, name="input_dropout")
        self.build()

    def build(self, input_shape=None):
        if self.built:
            return
        # t2t creates the inputs' modality first; the order only matters for readability.
        if self.input_modality is not None:
            self.input_modality.build()
        self.target_modality.build()
        self.body.build()
        self.built = True

    # ------------------------------------------------------------------ full sequences

    def _split_features(self, features) -> Tuple[tf.Tensor, Optional[tf.Tensor]]:
        if isinstance(features, Mapping):
            targets = features["targets"]
            inputs = features.get("inputs")
        else:
            targets, inputs = features, None
        if self.config.conditioned and inputs is None:
            raise ValueError("a conditioned MusicTransformer needs features['inputs']")
        if not self.config.conditioned and inputs is not None:
            raise ValueError("this MusicTransformer has no encoder; drop features['inputs']")
        return targets, inputs

    def _add_timing(self, x: tf.Tensor, start=0) -> tf.Tensor:
        if self.config.pos != "timing":
            return x
        length = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        return x + tf.cast(attention_lib.timing_signal(length, self.config.hidden_size, start=start), x.dtype)

    def encode(self, inputs: tf.Tensor, training: bool = False) -> Tuple[tf.Tensor, tf.Tensor]:
        """Encoder over ``inputs [B, S]`` ids -> ``(memory [B, S, H], memory_bias [B, 1, 1, S])``;
        PAD (id 0) positions are masked out of every attention over them."""
        bias = attention_lib.padding_bias(inputs)
        x = self.input_modality.embed(inputs)
        if self.body.target_space_embedding is not None:
            x = x + tf.cast(self.body.target_space_embedding.row(self.config.target_space_id), x.dtype)
        x = self.input_dropout(self._add_timing(x), training=training)
        return self.body.encoder(x, self_bias=bias, training=training), bias

    def decoder_inputs(self, targets: tf.Tensor) -> tf.Tensor:
        """Embedded targets shifted right one step (zeros at position 0), plus timing: ``[B, L, H]``."""
        x = self.target_modality.embed(targets)
        x = tf.pad(x, [[0, 0], [1, 0], [0, 0]])[:, :-1]
        return self._add_timing(x)

    def call(self, features, training: bool = False) -> tf.Tensor:
        """``targets [B, L]`` (or ``{"targets", "inputs"}``) -> logits ``[B, L, V]`` (float32)."""
        targets, inputs = self._split_features(features)
        memory = memory_bias = None
        if inputs is not None:
            memory, memory_bias = self.encode(inputs, training=training)
        x = self.input_dropout(self.decoder_inputs(targets), training=training)
        length = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
        x = self.body.decoder(
            x, self_bias=attention_lib.causal_bias(length), memory=memory, memory_bias=memory_bias, training=training
        )
        return self.target_modality.logits(x)

    # ------------------------------------------------------------------ incremental decoding

    def init_cache(
        self, batch_size: int, inputs: Optional[tf.Tensor] = None, max_length: Optional[int] = None
    ) -> Cache:
        """Empty decoder cache for ``batch_size`` sequences of up to ``max_length`` (config.max_length).

        Returns ``{"k": [N tensors [B, H, T, dk]], "v": [N tensors [B, H, T, dv]]}`` of zeros, one per
        decoder layer (separate tensors, so a step rewrites one row of each in place under XLA). A
        conditioned model also runs its encoder over ``inputs [B, S]`` and adds ``"memory_k"`` /
        ``"memory_v"`` (N tensors ``[B, H, S, d]``) and ``"memory_bias"`` ``[B, 1, 1, S]``.
        """
        cfg = self.config
        length = max_length or cfg.max_length
        heads = cfg.num_heads
        dtype = self.compute_dtype
        cache = {
            "k": [
                tf.zeros([batch_size, heads, length, cfg.key_channels // heads], dtype) for _ in range(cfg.num_layers)
            ],
            "v": [
                tf.zeros([batch_size, heads, length, cfg.value_channels // heads], dtype) for _ in range(cfg.num_layers)
            ],
        }
        if cfg.conditioned:
            if inputs is None:
                raise ValueError("a conditioned MusicTransformer needs inputs to start decoding")
            memory, memory_bias = self.encode(tf.convert_to_tensor(inputs), training=False)
            ks, vs = [], []
            for layer in self.body.decoder.stack_layers:
                k, v = layer.encdec_attention.multihead_attention.project_memory(memory)
                ks.append(k)
                vs.append(v)
            cache.update(memory_k=ks, memory_v=vs, memory_bias=memory_bias)
        return cache

    def decode_step(self, tokens: tf.Tensor, cache: Cache, position, training: bool = False) -> Tuple[tf.Tensor, Cache]:
        """One step of the decoder.

        Args:
          tokens: ``[B]`` int ids, the decoder *input* at ``position``: the target at
            ``position - 1``, or 0 (PAD, an all-zero embedding) at ``position`` 0.
          cache: from :meth:`init_cache` or the previous step.
          position: scalar int (tensor), ``0 <= position < T``.

        Returns:
          ``(logits [B, V] float32, cache)``: the distribution of the target at ``position``
          (equal to ``call(targets)[:, position]``), and the cache with this step's keys/values.
        """
        position = tf.cast(position, tf.int32)
        x = self.target_modality.embed(tf.reshape(tokens, [-1, 1]))
        x = self._add_timing(x, start=position)
        x = self.input_dropout(x, training=training)
        new_k, new_v = [], []
        for i, layer in enumerate(self.body.decoder.stack_layers):
            x, k, v = layer.self_attention.step(x, cache["k"][i], cache["v"][i], position, training=training)
            new_k.append(k)
            new_v.append(v)
            if layer.encdec_attention is not None:
                x = layer.encdec_attention.step_memory(
                    x, cache["memory_k"][i], cache["memory_v"][i], cache["memory_bias"], training=training
                )
            x = layer.ffn(x, training=training)
        x = self.body.decoder.layer_prepostprocess(x)
        logits = self.target_modality.logits(x)[:, 0]
        new_cache = dict(cache)
        new_cache["k"] = new_k
        new_cache["v"] = new_v
        return logits, new_cache

    # ------------------------------------------------------------------ config

    def get_config(self):
        return {"name": self.name, "config": config_lib.to_dict(self.config), "relative_method": self.relative_method}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_model(config: Union[MusicTransformerConfig, str], relative_method: str = "blocked") -> MusicTransformer:
    """A fresh :class:`MusicTransformer` from a config or a preset name (see ``config.PRESETS``)."""
    if isinstance(config, str):
        from music_transformer_ext import config as config_module

        config = config_module.get(config)
    return MusicTransformer(config, relative_method=relative_method)
