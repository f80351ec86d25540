"""Building blocks of the progressive GAN (Karras et al. 2018) as GANSynth uses them.

Layers (each a Keras layer whose constructor arguments are its config):

* :class:`PixelNorm`: ``x / sqrt(mean_c(x^2) + eps)`` over the channel axis.
* :class:`EqualizedConv2D` / :class:`EqualizedDense`: weights drawn from N(0, 1) and
  multiplied at run time by the He constant ``sqrt(2 / ((1 + slope^2) * fan_in))``
  (the "equalized learning rate" trick), bias initialised to zero.
* :class:`Upscale2D` (nearest neighbour) and :class:`Downscale2D` (box average) by an
  integer factor on both spatial axes.
* :class:`MinibatchStddev`: appends one channel holding the average over features of
  the standard deviation over a group of examples.

Progressive-growing helpers (pure tensor functions; ``progress`` is a float scalar in
``[0, num_blocks - 1]``, an integer at a stable stage and fractional during a fade-in):

* :func:`generator_alpha` / :func:`discriminator_alpha`: the per-block weights.
* :func:`blend_resolutions`: a full-resolution image seen at the current level of detail
  (box-downscaled, nearest-upscaled, the two neighbouring levels mixed).
* :func:`stage_blocks`: the blocks whose weight can be non-zero in a progressive stage (the
  networks' ``stage=`` argument runs only those).

Tensors are NHWC: [batch, frames (height), freq bins (width), channels].
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf
from keras import ops

IntPair = Union[int, Tuple[int, int], Sequence[int]]


def he_scale(fan_in: int, slope: float) -> float:
    """The He constant ``sqrt(2 / ((1 + slope^2) * fan_in))``.

    ``slope`` is the negative slope of the ReLU-like activation the layer feeds
    (0 for a ReLU: ``sqrt(2 / fan_in)``; 1 for a linear output: ``sqrt(1 / fan_in)``).
    """
    return math.sqrt(2.0 / ((1.0 + slope**2) * fan_in))


def _pair(value: IntPair) -> Tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"expected an int or a pair, got {value!r}")
    return value


# --------------------------------------------------------------------------- tensor helpers


def upscale(x: tf.Tensor, scale: int) -> tf.Tensor:
    """Nearest-neighbour upscaling [B, H, W, C] -> [B, H*scale, W*scale, C] (static H, W, C)."""
    scale = int(scale)
    if scale == 1:
        return x
    _, h, w, c = x.shape
    y = ops.expand_dims(ops.expand_dims(x, 2), 4)  # [B, H, 1, W, 1, C]
    y = ops.broadcast_to(y, (ops.shape(x)[0], h, scale, w, scale, c))
    return ops.reshape(y, (-1, h * scale, w * scale, c))


def downscale(x: tf.Tensor, scale: int) -> tf.Tensor:
    """Box (average) downscaling [B, H, W, C] -> [B, H/scale, W/scale, C] (H, W divisible)."""
    scale = int(scale)
    if scale == 1:
        return x
    _, h, w, c = x.shape
    if h % scale or w % scale:
        raise ValueError(f"cannot downscale {h}x{w} by {scale}")
    y = ops.reshape(x, (-1, h // scale, scale, w // scale, scale, c))
    return ops.mean(y, axis=(2, 4))


def pixel_norm(x: tf.Tensor, epsilon: float = 1e-8) -> tf.Tensor:
    """``x / sqrt(mean(x^2 over channels) + epsilon)``: unit mean square per pixel."""
    return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + epsilon)


def generator_alpha(block_id: int, progress) -> tf.Tensor:
    """Weight of generator block ``block_id``'s (upscaled) output at ``progress``.

    A triangle peaking at 1 when ``progress == block_id - 1``: block b is fully on at its
    stable stage, fades in during the transition before it and out during the one after.
    The weights of all blocks sum to 1 for every progress.
    """
    progress = ops.convert_to_tensor(progress, "float32")
    return ops.maximum(0.0, ops.minimum(progress - (block_id - 2), block_id - progress))


def discriminator_alpha(block_id: int, progress) -> tf.Tensor:
    """Weight of the from-input path of discriminator block ``block_id`` at ``progress``.

    1 while ``progress <= block_id - 1`` (the input enters at this block), falling
    linearly to 0 at ``progress == block_id`` (the features come from the block above).
    """
    progress = ops.convert_to_tensor(progress, "float32")
    return ops.clip(block_id - progress, 0.0, 1.0)


def scale_factor(block_id: int, num_blocks: int, scale_base: int = 2) -> int:
    """How much smaller block ``block_id``'s resolution is than the final one."""
    if not 1 <= block_id <= num_blocks:
        raise ValueError(f"block_id must be in [1, {num_blocks}], got {block_id}")
    return scale_base ** (num_blocks - block_id)


def stage_blocks(stage: Optional[int], num_blocks: int) -> Tuple[int, int]:
    """``(lowest, highest)`` block whose weight can be non-zero somewhere in progressive ``stage``.

    Stage ``2k`` (stable, progress ``k``) and stage ``2k + 1`` (transition, progress in
    ``[k, k + 1)``): the generator's outputs of blocks ``k + 1 .. k + 1 + (stage % 2)`` are
    blended, blocks above have weight exactly 0 and blocks below only feed features upwards
    (their :func:`generator_alpha` is exactly 0); in the discriminator the input enters at the
    highest of them and blocks above it have weight exactly 0. ``stage=None``: every block
    (``(1, num_blocks)``), which is right for any progress.
    """
    if stage is None:
        return 1, int(num_blocks)
    stage = int(stage)
    if not 0 <= stage <= 2 * (num_blocks - 1):
        raise ValueError(f"stage must be in [0, {2 * (num_blocks - 1)}], got {stage}")
    whole, transition = divmod(stage, 2)
    return whole + 1, whole + 1 + transition


def blend_resolutions(
    x: tf.Tensor, progress, num_blocks: int, scale_base: int = 2, stage: Optional[int] = None
) -> tf.Tensor:
    """A full-resolution batch [B, H, W, C] as the networks see it at ``progress``.

    Sum over blocks of ``generator_alpha(b) * upscale(downscale(x, s_b), s_b)``: at a stable
    stage the input at that stage's resolution (nearest-upscaled back), during a
    transition a mix of two neighbouring resolutions. Used on real data so that it
    matches the generator's blended output. With ``stage`` (``progress`` must lie in it) only
    the terms of :func:`stage_blocks` are summed: the others are exactly 0, so the result is the same.
    """
    x = ops.convert_to_tensor(x)
    lo, hi = stage_blocks(stage, num_blocks)
    out = None
    low = x
    for block_id in range(num_blocks, 0, -1):
        s = scale_factor(block_id, num_blocks, scale_base)
        if block_id < num_blocks:
            low = downscale(low, scale_base)
        if block_id > hi:
            continue
        if block_id < lo:
            break
        term = ops.cast(generator_alpha(block_id, progress), x.dtype) * upscale(low, s)
        out = term if out is None else out + term
    return out


# --------------------------------------------------------------------------- layers


@keras.saving.register_keras_serializable(package="gansynth_tf")
class PixelNorm(keras.layers.Layer):
    """Normalises each pixel's feature vector to unit mean square (no weights).

    Input/output: [..., channels]; ``y = x / sqrt(mean_c(x^2) + epsilon)``.
    """

    def __init__(self, epsilon: float = 1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return pixel_norm(x, self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


class _EqualizedLayer(keras.layers.Layer):
    """What :class:`EqualizedConv2D` and :class:`EqualizedDense` share: the He-constant settings, the
    activation, and a ``kernel`` drawn from N(0, 1) (times the He constant at run time, or at
    initialisation without ``use_weight_scaling``) with a zero ``bias``."""

    ACTIVATIONS = (None, "linear", "leaky_relu", "tanh", "leaky_relu_pixel_norm")

    def __init__(
        self,
        he_slope: float,
        use_weight_scaling: bool,
        activation: Optional[str],
        leaky_slope: float,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation {activation!r} not in {self.ACTIVATIONS}")
        self.he_slope = float(he_slope)
        self.use_weight_scaling = bool(use_weight_scaling)
        self.activation = activation
        self.leaky_slope = float(leaky_slope)
        self.runtime_scale = 1.0

    def _add_kernel_and_bias(self, kernel_shape: Tuple[int, ...], fan_in: int) -> None:
        """Creates ``kernel`` (``kernel_shape``, last axis the outputs) and ``bias``, and sets ``runtime_scale``."""
        scale = he_scale(fan_in, self.he_slope)
        init_std, self.runtime_scale = (1.0, scale) if self.use_weight_scaling else (scale, 1.0)
        self.kernel = self.add_weight(
            name="kernel", shape=kernel_shape, initializer=keras.initializers.RandomNormal(stddev=init_std)
        )
        self.bias = self.add_weight(name="bias", shape=(kernel_shape[-1],), initializer="zeros")

    def effective_kernel(self):
        """The kernel as applied: stored weights times the run-time scale."""
        return ops.cast(self.kernel, self.compute_dtype) * ops.cast(self.runtime_scale, self.compute_dtype)

    def _bias_and_activate(self, y):
        """``activation(y + bias)``."""
        y = y + ops.cast(self.bias, self.compute_dtype)
        return _activate(y, self.activation, self.leaky_slope)

    def get_config(self):
        return {
            **super().get_config(),
            "he_slope": self.he_slope,
            "use_weight_scaling": self.use_weight_scaling,
            "activation": self.activation,
            "leaky_slope": self.leaky_slope,
        }


@keras.saving.register_keras_serializable(package="gansynth_tf")
class EqualizedConv2D(_EqualizedLayer):
    """2-D convolution with the equalized-learning-rate weight scaling.

    The kernel [kh, kw, c_in, filters] is initialised from N(0, 1) and multiplied in
    every call by ``he_scale(kh * kw * c_in, he_slope)``, so Adam's per-parameter step
    acts equally on all layers (with ``use_weight_scaling=False`` the scale goes into the
    initial values instead, as an ordinary He initialisation).

    Args:
      filters: output channels.
      kernel_size: int or (kh, kw).
      padding: ``"same"`` or ``"valid"``.
      he_slope: slope of the activation the layer feeds, for the He constant (0 for
        (leaky) ReLU layers as GANSynth does, 1 for linear outputs).
      use_weight_scaling: apply the He constant at run time (True) or at initialisation.
      activation: ``None``, ``"leaky_relu"`` (slope 0.2), ``"tanh"``, or ``"leaky_relu_pixel_norm"``
        (leaky ReLU then :func:`pixel_norm`, the generator's convolutions).
      leaky_slope: negative slope of the leaky ReLU.
    Input [B, H, W, c_in] -> output [B, H', W', filters].
    """

    def __init__(
        self,
        filters: int,
        kernel_size: IntPair = 3,
        padding: str = "same",
        he_slope: float = 0.0,
        use_weight_scaling: bool = True,
        activation: Optional[str] = None,
        leaky_slope: float = 0.2,
        **kwargs,
    ):
        super().__init__(he_slope, use_weight_scaling, activation, leaky_slope, **kwargs)
        if padding.lower() not in ("same", "valid"):
            raise ValueError(f"padding must be 'same' or 'valid', got {padding!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size)
        self.padding = padding.lower()

    def build(self, input_shape):
        c_in = int(input_shape[-1])
        kh, kw = self.kernel_size
        self._add_kernel_and_bias((kh, kw, c_in, self.filters), kh * kw * c_in)

    def call(self, x):
        return self._bias_and_activate(ops.conv(x, self.effective_kernel(), strides=1, padding=self.padding))

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        if self.padding == "valid":
            h = None if h is None else h - self.kernel_size[0] + 1
            w = None if w is None else w - self.kernel_size[1] + 1
        return (b, h, w, self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package="gansynth_tf")
class EqualizedDense(_EqualizedLayer):
    """Dense layer with the equalized-learning-rate weight scaling (see :class:`EqualizedConv2D`).

    Inputs of any rank >= 2 are flattened after the batch axis. [B, ...] -> [B, units].
    """

    def __init__(
        self,
        units: int,
        he_slope: float = 1.0,
        use_weight_scaling: bool = True,
        activation: Optional[str] = None,
        leaky_slope: float = 0.2,
        **kwargs,
    ):
        super().__init__(he_slope, use_weight_scaling, activation, leaky_slope, **kwargs)
        self.units = int(units)

    def build(self, input_shape):
        fan_in = int(np.prod([int(d) for d in input_shape[1:]]))
        self._add_kernel_and_bias((fan_in, self.units), fan_in)

    def call(self, x):
        x = ops.reshape(x, (-1, self.kernel.shape[0]))
        return self._bias_and_activate(ops.matmul(x, self.effective_kernel()))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _activate(y, activation, leaky_slope):
    if activation in (None, "linear"):
        return y
    if activation == "tanh":
        return ops.tanh(y)
    y = ops.leaky_relu(y, negative_slope=leaky_slope)
    if activation == "leaky_relu_pixel_norm":
        y = pixel_norm(y)
    return y


class _Resample2D(keras.layers.Layer):
    """Both spatial axes resampled by the integer factor ``scale`` (``_resample`` and ``_size`` say how)."""

    def __init__(self, scale: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x):
        return self._resample(x, self.scale)

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        return (b, None if h is None else self._size(h), None if w is None else self._size(w), c)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@keras.saving.register_keras_serializable(package="gansynth_tf")
class Upscale2D(_Resample2D):
    """Nearest-neighbour upscaling of both spatial axes by ``scale``. [B, H, W, C] -> [B, sH, sW, C]."""

    _resample = staticmethod(upscale)

    def _size(self, n: int) -> int:
        return n * self.scale


@keras.saving.register_keras_serializable(package="gansynth_tf")
class Downscale2D(_Resample2D):
    """Box-average downscaling of both spatial axes by ``scale``. [B, H, W, C] -> [B, H/s, W/s, C]."""

    _resample = staticmethod(downscale)

    def _size(self, n: int) -> int:
        return n // self.scale


@keras.saving.register_keras_serializable(package="gansynth_tf")
class MinibatchStddev(keras.layers.Layer):
    """Appends the minibatch standard deviation as one extra channel.

    For each group of ``group_size`` *consecutive* examples: the standard deviation over
    the group of every feature (population variance, ``sqrt(var + epsilon)``), averaged
    over H, W and C, is broadcast as a new last channel of every example in the group.
    ``group_size=0`` uses the whole (per-replica) batch as one group, as GANSynth does.
    Consecutive grouping means a replica whose batch is one group sees exactly what a
    one-replica run with the same group size sees on the same global batch.

    Input [B, H, W, C] -> output [B, H, W, C + 1]. B must be divisible by the group size.
    """

    def __init__(self, group_size: int = 0, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if group_size < 0:
            raise ValueError(f"group_size must be >= 0, got {group_size}")
        self.group_size = int(group_size)
        self.epsilon = float(epsilon)

    def call(self, x):
        x = ops.convert_to_tensor(x)
        _, h, w, c = x.shape
        batch = x.shape[0]
        group = self.group_size
        if group == 0 or (batch is not None and group >= batch):
            group = batch if batch is not None else ops.shape(x)[0]
        elif batch is not None and batch % group:
            raise ValueError(f"batch {batch} is not divisible by minibatch stddev group size {group}")
        xf = ops.cast(x, "float32")
        grouped = ops.reshape(xf, (-1, group, h, w, c))  # [groups, G, H, W, C]
        var = ops.var(grouped, axis=1)  # population variance
        std = ops.mean(ops.sqrt(var + self.epsilon), axis=(1, 2, 3))  # [groups]
        std = ops.repeat(std, group, axis=0)  # [B], consecutive examples share their group's value
        channel = ops.broadcast_to(ops.reshape(std, (-1, 1, 1, 1)), (ops.shape(x)[0], h, w, 1))
        return ops.concatenate([x, ops.cast(channel, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + 1,)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}


# --------------------------------------------------------------------------- progressive networks


def block_name(block_id: int) -> str:
    """Name of network block ``block_id`` (Magenta's scope names)."""
    return f"progressive_gan_block_{block_id}"


def num_filters(block_id: int, fmap_base: int, fmap_decay: float, fmap_max: int) -> int:
    """``int(min(fmap_base / 2 ** (block_id * fmap_decay), fmap_max))`` (Magenta's ``networks.num_filters``)."""
    return int(min(fmap_base / 2.0 ** (block_id * fmap_decay), fmap_max))


class ProgressiveBlock(keras.layers.Layer):
    """What a generator and a discriminator block share: which block it is and its shape settings.

    Args:
      block_id: 1-based block index (the default layer name is :func:`block_name`).
      filters: channels of the block's first convolutions.
      start_shape: (h, w) of block 1's resolution.
      kernel_size: 3x3 convolutions' size.
      scale_base: resolution factor between neighbouring blocks.
    """

    def __init__(
        self,
        block_id: int,
        filters: int,
        start_shape: Sequence[int] = (2, 16),
        kernel_size: int = 3,
        scale_base: int = 2,
        **kwargs,
    ):
        kwargs.setdefault("name", block_name(block_id))
        super().__init__(**kwargs)
        self.block_id = int(block_id)
        self.filters = int(filters)
        self.start_shape = tuple(int(s) for s in start_shape)
        self.kernel_size = int(kernel_size)
        self.scale_base = int(scale_base)

    def get_config(self):
        return {
            **super().get_config(),
            "block_id": self.block_id,
            "filters": self.filters,
            "start_shape": list(self.start_shape),
            "kernel_size": self.kernel_size,
            "scale_base": self.scale_base,
        }


# The architecture settings the generator and the discriminator share, named as in GANConfig.
NETWORK_FIELDS = (
    "start_shape",
    "num_resolutions",
    "fmap_base",
    "fmap_decay",
    "fmap_max",
    "kernel_size",
    "scale_base",
    "num_channels",
)


def network_kwargs(model_config) -> dict:
    """The :data:`NETWORK_FIELDS` of a :class:`gansynth_tf.config.GANConfig` as constructor arguments."""
    return {name: getattr(model_config, name) for name in NETWORK_FIELDS}


class ProgressiveNetwork(keras.Model):
    """What the generator and the discriminator share: the settings of :data:`NETWORK_FIELDS`,
    the channel schedule and one block per resolution, each tracked under its own name.

    Args:
      num_pitches: one-hot pitch depth (61 for MIDI 24..84).
      start_shape: (frames, freq) of block 1.
      num_resolutions: number of blocks.
      fmap_base, fmap_decay, fmap_max: channel schedule (see :meth:`num_filters`).
      kernel_size, scale_base, num_channels: convolutions' size, resolution factor, specgram channels.
    """

    def __init__(
        self,
        num_pitches: int = 61,
        start_shape: Sequence[int] = (2, 16),
        num_resolutions: int = 7,
        fmap_base: int = 4096,
        fmap_decay: float = 1.0,
        fmap_max: int = 256,
        kernel_size: int = 3,
        scale_base: int = 2,
        num_channels: int = 2,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_pitches = int(num_pitches)
        self.start_shape = tuple(int(s) for s in start_shape)
        self.num_resolutions = int(num_resolutions)
        self.fmap_base = int(fmap_base)
        self.fmap_decay = float(fmap_decay)
        self.fmap_max = int(fmap_max)
        self.kernel_size = int(kernel_size)
        self.scale_base = int(scale_base)
        self.num_channels = int(num_channels)

    def num_filters(self, block_id: int) -> int:
        """``int(min(fmap_base / 2 ** (block_id * fmap_decay), fmap_max))``."""
        return num_filters(block_id, self.fmap_base, self.fmap_decay, self.fmap_max)

    def block_shape_kwargs(self) -> dict:
        """The shape settings every :class:`ProgressiveBlock` takes."""
        return dict(start_shape=self.start_shape, kernel_size=self.kernel_size, scale_base=self.scale_base)

    def _add_blocks(self, make_block) -> None:
        """``self.blocks``: ``make_block(b)`` for b = 1..num_resolutions."""
        self.blocks = [make_block(b) for b in range(1, self.num_resolutions + 1)]
        # Keras 3 leaves layers held in a list out of TensorFlow's object graph, so a
        # tf.train.Checkpoint of this model alone would silently skip (and never restore) the
        # blocks; an attribute per block puts them in it (Keras tracks each layer once).
        for block in self.blocks:
            setattr(self, block.name, block)

    def _progress(self, progress):
        """``progress`` as a float32 scalar (None: the last, full-resolution stage)."""
        if progress is None:
            progress = float(self.num_resolutions - 1)
        return ops.cast(progress, "float32")

    def get_config(self):
        config = {"name": self.name, "num_pitches": self.num_pitches}
        config.update({name: getattr(self, name) for name in NETWORK_FIELDS})
        config["start_shape"] = list(self.start_shape)
        return config
