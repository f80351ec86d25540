"""Music Transformer model configs: one frozen dataclass, with the t2t / Magenta / paper presets.

:class:`MusicTransformerConfig` holds what tensor2tensor calls the model hparams, under the
same names where one exists (``hidden_size``, ``filter_size``, ``num_heads``,
``attention_key_channels``, ``self_attention_type``, ``max_relative_position``, ...), so a
t2t hparams set reads across field by field.

What tensor2tensor's source says (``tensor2tensor/models/transformer.py``,
``tensor2tensor/layers/common_hparams.py``), checked for these presets:

* ``transformer_base_v1``: hidden 512, filter 2048, 8 heads, 6 layers, ``pos="timing"``
  (sinusoids added to the embeddings), ``self_attention_type="dot_product"``,
  ``shared_embedding_and_softmax_weights=True``, ``symbol_modality_num_shards=16``,
  ``use_target_space_embedding=True``, label smoothing 0.1, ``norm_epsilon`` 1e-6 (basic_params1).
* ``transformer_base_v2``: layer pre/post-processing ``"n"`` / ``"da"`` (layer norm before each
  sublayer; dropout then residual add after it), dropouts 0.1 (prepostprocess, attention, relu).
* ``transformer_base`` = ``transformer_base_v3``: v2 with Adam beta2 0.997 and the schedule
  ``constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size`` (constant 2.0, warmup 8000).
* ``transformer_tpu`` = ``transformer_base`` + ``update_hparams_for_tpu``: Adafactor with
  ``rsqrt_decay`` (warmup 10000) and ``symbol_modality_num_shards=1`` (so the embedding is one
  ``weights_0`` variable); the architecture is unchanged: hidden 512, filter 2048, 8 heads,
  dot-product attention, sinusoidal timing signal, embedding shared with the softmax.
* ``common_hparams.basic_params1``: ``max_relative_position=0``,
  ``heads_share_relative_embedding=False`` and ``add_relative_to_values=False``: by default
  each head has its own relative embeddings, ``[num_heads, max_relative_position, depth/head]``.

Magenta's ``score2perf_hparams.py`` sets (e.g. ``t_rel_len2048_h384_att512_fs1024_n8_dropout10``)
start from ``transformer_base`` and change: ``shared_embedding_and_softmax_weights=False``,
``symbol_modality_num_shards=1``, label smoothing 0, dropouts 0.1 (or as named),
``max_relative_position = int(length / 2)`` (1024 for length 2048), hidden 384, attention *key*
channels 512 (value channels stay at hidden, 384), filter 1024, 8 layers,
``self_attention_type="dot_product_relative_v2"``. They leave ``pos="timing"``: the sinusoidal
timing signal is still added under relative attention.

The released piano checkpoints are loaded by Magenta's notebook with ``transformer_tpu`` and
``num_hidden_layers=16``; the melody-conditioned one reads a melody vocabulary of 92 ids
(``TextMelodyEncoderAbsolute``: 2 reserved + 2 events + 88 pitches) through a 16-layer encoder.
"""

from __future__ import annotations

import dataclasses

from tfmusic import config as config_lib

ATTENTION_TYPES = ("dot_product", "dot_product_relative_v2")
POSITION_TYPES = ("timing", "none")


@dataclasses.dataclass(frozen=True)
class MusicTransformerConfig:
    """Architecture of a (conditioned or unconditioned) Music Transformer, in t2t's terms.

    Attributes:
      vocab_size: target (performance event) vocabulary, 310 for score2perf's encoding; id 0 is
        PAD (its embedding is zero, as t2t's symbol modality makes it) and 1 is EOS.
      num_layers: decoder layers (t2t ``num_hidden_layers``).
      encoder_layers: encoder layers; 0 builds the decoder-only language model, > 0 the
        encoder-decoder that conditions on ``inputs`` (the melody-conditioned model).
      input_vocab_size: the encoder's vocabulary (92: score2perf's absolute-timed melody encoding).
      hidden_size: model width (embedding, residual stream).
      filter_size: inner width of each feed-forward block (``ffn/conv1``).
      num_heads: attention heads.
      attention_key_channels / attention_value_channels: total query/key and value widths
        over all heads; 0 means ``hidden_size`` (t2t's convention).
      self_attention_type: ``dot_product`` or ``dot_product_relative_v2`` (t2t's relative
        attention computed with the skewing trick; the decoder's self-attention only).
      max_relative_position: relative distances 0..max-1 get an embedding; farther ones
        contribute nothing (t2t pads the embedding table with zeros on the left).
      heads_share_relative_embedding: one relative table ``[max_rel, depth/head]`` for all heads
        instead of ``[num_heads, max_rel, depth/head]`` (t2t default False).
      add_relative_to_values: also add relative embeddings to the attention output (t2t's
        ``value_relative_embeddings``; default False).
      pos: ``timing`` adds t2t's sinusoidal signal to the embedded inputs; ``none`` adds nothing.
      layer_prepostprocess_dropout, attention_dropout, relu_dropout: t2t's three dropout rates.
      shared_embedding_and_softmax: one table for the target embedding and the softmax
        (``symbol_modality_V_H/shared/weights_0``) or two (``target_emb`` and ``softmax``).
      use_target_space_embedding: the encoder adds row ``target_space_id`` of a
        ``[32, hidden]`` table to its input (t2t's ``body/target_space_embedding``).
      target_space_id: which row (0: t2t's ``SpaceID.GENERIC``, what score2perf problems use).
      norm_epsilon: layer-norm epsilon (t2t 1e-6).
      max_length: longest sequence the incremental decoder's cache holds (events).
    """

    vocab_size: int = 310
    num_layers: int = 6
    encoder_layers: int = 0
    input_vocab_size: int = 92
    hidden_size: int = 512
    filter_size: int = 2048
    num_heads: int = 8
    attention_key_channels: int = 0
    attention_value_channels: int = 0
    self_attention_type: str = "dot_product"
    max_relative_position: int = 0
    heads_share_relative_embedding: bool = False
    add_relative_to_values: bool = False
    pos: str = "timing"
    layer_prepostprocess_dropout: float = 0.1
    attention_dropout: float = 0.1
    relu_dropout: float = 0.1
    shared_embedding_and_softmax: bool = True
    use_target_space_embedding: bool = True
    target_space_id: int = 0
    norm_epsilon: float = 1e-6
    max_length: int = 2048

    def __post_init__(self):
        if self.self_attention_type not in ATTENTION_TYPES:
            raise ValueError(f"self_attention_type {self.self_attention_type!r} not in {ATTENTION_TYPES}")
        if self.pos not in POSITION_TYPES:
            raise ValueError(f"pos {self.pos!r} not in {POSITION_TYPES}")
        for name in ("vocab_size", "num_layers", "hidden_size", "filter_size", "num_heads", "max_length"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.encoder_layers < 0:
            raise ValueError(f"encoder_layers must be >= 0, got {self.encoder_layers}")
        if self.encoder_layers and self.input_vocab_size <= 0:
            raise ValueError("input_vocab_size must be positive for a conditioned model")
        for name in ("key_channels", "value_channels"):
            total = getattr(self, name)
            if total % self.num_heads:
                raise ValueError(f"attention {name} {total} is not divisible by num_heads {self.num_heads}")
        if self.relative and self.max_relative_position <= 0:
            raise ValueError("dot_product_relative_v2 needs max_relative_position > 0")
        for name in ("layer_prepostprocess_dropout", "attention_dropout", "relu_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0 <= self.target_space_id < 32:
            raise ValueError(f"target_space_id must be in [0, 32), got {self.target_space_id}")

    @property
    def key_channels(self) -> int:
        """Total query/key width (``attention_key_channels or hidden_size``)."""
        return self.attention_key_channels or self.hidden_size

    @property
    def value_channels(self) -> int:
        """Total value width (``attention_value_channels or hidden_size``)."""
        return self.attention_value_channels or self.hidden_size

    @property
    def relative(self) -> bool:
        """Whether the decoder's self-attention uses relative position embeddings."""
        return self.self_attention_type == "dot_product_relative_v2"

    @property
    def conditioned(self) -> bool:
        """Whether the model has an encoder over ``inputs``."""
        return self.encoder_layers > 0


PRESETS: config_lib.PresetRegistry[MusicTransformerConfig] = config_lib.PresetRegistry("music_transformer")

# Each preset names only what differs from :class:`MusicTransformerConfig`'s defaults, which are t2t's
# ``transformer_base`` (= ``transformer_tpu``'s architecture): vocabulary 310, 6 layers, hidden 512,
# filter 2048, 8 heads, dot-product attention, timing signal, embedding shared with the softmax,
# dropouts 0.1, ``max_length`` 2048.


def relative_attention(max_relative_position: int) -> dict:
    """The fields of t2t's relative self-attention (``dot_product_relative_v2``) over distances
    ``0 .. max_relative_position - 1``, as keyword arguments of :class:`MusicTransformerConfig`."""
    return dict(self_attention_type="dot_product_relative_v2", max_relative_position=max_relative_position)


@PRESETS.register("unconditional_16")
def unconditional_16() -> MusicTransformerConfig:
    """Magenta's released ``unconditional_model_16``: ``transformer_tpu`` with 16 decoder layers."""
    return MusicTransformerConfig(num_layers=16, max_length=4096)


@PRESETS.register("melody_conditioned_16")
def melody_conditioned_16() -> MusicTransformerConfig:
    """Magenta's released ``melody_conditioned_model_16``: a 16-layer encoder over the 92-id melody
    vocabulary and a 16-layer decoder, ``transformer_tpu`` otherwise."""
    return dataclasses.replace(unconditional_16(), encoder_layers=16, input_vocab_size=92)


@PRESETS.register("score2perf_baseline")
def score2perf_baseline() -> MusicTransformerConfig:
    """Magenta's ``t_len2048_h384_att512_fs1024_n8_dropout15`` family without relative attention: 8 layers,
    hidden 384, key channels 512, filter 1024, embedding and softmax not shared, timing signal kept
    (dropout 0.1 here, as the relative preset)."""
    return MusicTransformerConfig(
        num_layers=8, hidden_size=384, filter_size=1024, attention_key_channels=512, shared_embedding_and_softmax=False
    )


@PRESETS.register("score2perf_relative")
def score2perf_relative() -> MusicTransformerConfig:
    """Magenta's ``t_rel_len2048_h384_att512_fs1024_n8_dropout10``: the baseline's architecture with
    relative attention, ``max_relative_position = 2048 / 2``."""
    return dataclasses.replace(score2perf_baseline(), **relative_attention(1024))


#: JSB presets use ``music_transformer_ext.jsb``'s serialisation: PAD, EOS, REST and pitches 36..81 (49 ids).
JSB_VOCAB_SIZE = 49


@PRESETS.register("jsb_baseline")
def jsb_baseline() -> MusicTransformerConfig:
    """The paper's JSB Chorales baseline Transformer: 5 layers, hidden 256, ffn 1024, 8 heads."""
    return MusicTransformerConfig(vocab_size=JSB_VOCAB_SIZE, num_layers=5, hidden_size=256, filter_size=1024)


@PRESETS.register("jsb_relative")
def jsb_relative() -> MusicTransformerConfig:
    """The paper's JSB Chorales relative Transformer: the baseline's 5 layers and 8 heads with
    hidden 512, ffn 512 and 256 relative positions."""
    return dataclasses.replace(jsb_baseline(), hidden_size=512, filter_size=512, **relative_attention(256))


@PRESETS.register("tiny")
def tiny() -> MusicTransformerConfig:
    """A 2-layer relative model for tests on CPU (hidden 32, 4 heads, 16 relative positions)."""
    return MusicTransformerConfig(
        num_layers=2, hidden_size=32, filter_size=64, num_heads=4, max_length=128, **relative_attention(16)
    )


@PRESETS.register("tiny_conditioned")
def tiny_conditioned() -> MusicTransformerConfig:
    """A 2+2-layer encoder-decoder for tests (dot-product attention, as the released conditioned model)."""
    return dataclasses.replace(tiny(), encoder_layers=2, self_attention_type="dot_product", max_relative_position=0)


def get(name: str) -> MusicTransformerConfig:
    """The preset ``name`` (see :data:`PRESETS`); an unknown name raises with the known ones."""
    return PRESETS.get(name)
