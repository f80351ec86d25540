"""GANSynth's progressive generator: (latent, one-hot pitch) -> normalised specgram.

Layout (Magenta's ``networks.generator`` with ``simple_arch=False``), every block built
up front:

* input: ``concat(z [B, latent], one_hot_pitch [B, num_pitches])`` as a 1x1 image,
  pixel-normalised, zero-padded to (2h-1, 2w-1) and convolved ``valid`` with an (h, w)
  kernel into the start resolution (h, w) (``progressive_gan_block_1/conv0``), then a
  3x3 convolution (``conv1``);
* blocks 2..N: nearest x2 upscale, two 3x3 convolutions;
* every convolution: equalized learning rate (He slope 0), leaky ReLU 0.2, pixel norm;
* every block has a 1x1 ``to_rgb`` convolution to 2 channels (He slope 1) and tanh.

The output is ``sum_b generator_alpha(b, progress) * upscale(to_rgb_b, 2^(N-b))`` at
the final resolution: a blend of the two levels of detail around ``progress``, with no
Python branching on it, so one compiled step serves every stage. Blocks whose weight is
0 still run (their gradients are 0), unless ``stage=`` names the progressive stage
``progress`` lies in: then only the blocks up to the highest one that stage blends run, and
only the ``to_rgb`` heads whose weight can be non-zero in it (:func:`gansynth_tf.layers.stage_blocks`),
with the same result (the terms left out are exactly 0); one compiled program per stage.

Output: float32 [B, frames, freq, 2] in (-1, 1), the normalised (mel) log magnitude and IF.
"""

from __future__ import annotations

from typing import Tuple

import keras
import tensorflow as tf
from keras import ops

from gansynth_tf import layers as L


block_name = L.block_name


@keras.saving.register_keras_serializable(package="gansynth_tf")
class GeneratorBlock(L.ProgressiveBlock):
    """One generator resolution: features in -> (features out, its specgram at that resolution).

    Block 1 takes the conditioning vector [B, cond] and makes a (h, w) image; block b > 1
    takes the previous block's features [B, H, W, C] and doubles H and W.

    Args:
      block_id: 1-based block index.
      filters: channels of both convolutions.
      num_channels: channels of the ``to_rgb`` output.
      output_activation: ``tanh`` or ``linear``.
      **kwargs: :class:`gansynth_tf.layers.ProgressiveBlock`'s shape settings (``start_shape``: (h, w)
        of block 1's output, used by block 1 only; ``kernel_size``: 3x3 convolutions' size;
        ``scale_base``: upscaling factor of blocks > 1) and Keras' (``name``).
    """

    def __init__(
        self,
        block_id: int,
        filters: int,
        *,
        num_channels: int = 2,
        output_activation: str = "tanh",
        **kwargs,
    ):
        super().__init__(block_id, filters, **kwargs)
        self.num_channels = int(num_channels)
        self.output_activation = output_activation
        conv = dict(he_slope=0.0, activation="leaky_relu_pixel_norm")
        if self.block_id == 1:
            self.pixel_norm = L.PixelNorm(name="input_pixel_norm")
            self.conv0 = L.EqualizedConv2D(self.filters, self.start_shape, padding="valid", name="conv0", **conv)
        else:
            self.upscale = L.Upscale2D(self.scale_base, name="upscale")
            self.conv0 = L.EqualizedConv2D(self.filters, self.kernel_size, name="conv0", **conv)
        self.conv1 = L.EqualizedConv2D(self.filters, self.kernel_size, name="conv1", **conv)
        # The specgram head stays float32 under mixed precision: it is the network's output.
        self.to_rgb = L.EqualizedConv2D(
            self.num_channels,
            1,
            he_slope=1.0,
            activation=None if output_activation == "linear" else output_activation,
            name="to_rgb",
            dtype="float32",
        )

    def build(self, input_shape):
        h, w = self.start_shape
        if self.block_id == 1:
            cond = int(input_shape[-1])
            self.pixel_norm.build((None, 1, 1, cond))
            self.conv0.build((None, 2 * h - 1, 2 * w - 1, cond))
            out = (None, h, w, self.filters)
        else:
            _, ih, iw, ic = input_shape
            self.upscale.build(input_shape)
            self.conv0.build((None, ih * self.scale_base, iw * self.scale_base, ic))
            out = (None, ih * self.scale_base, iw * self.scale_base, self.filters)
        self.conv1.build(out)
        self.to_rgb.build(out)

    def features(self, x):
        """Block input -> features [B, H, W, filters]."""
        if self.block_id == 1:
            h, w = self.start_shape
            x = ops.reshape(x, (-1, 1, 1, x.shape[-1]))
            x = self.pixel_norm(x)
            x = ops.pad(x, ((0, 0), (h - 1, h - 1), (w - 1, w - 1), (0, 0)))
        else:
            x = self.upscale(x)
        return self.conv1(self.conv0(x))

    def call(self, x):
        feats = self.features(x)
        return feats, self.to_rgb(feats)

    def get_config(self):
        return {**super().get_config(), "num_channels": self.num_channels, "output_activation": self.output_activation}


@keras.saving.register_keras_serializable(package="gansynth_tf")
class Generator(L.ProgressiveNetwork):
    """The progressive GANSynth generator with every block built.

    Args:
      num_pitches: one-hot pitch depth (61 for MIDI 24..84).
      latent_size: latent vector size (256).
      output_activation: see :class:`GeneratorBlock`.
      **kwargs: the architecture settings of :class:`gansynth_tf.layers.ProgressiveNetwork`
        (start_shape (2, 16) -> 128x1024 after 7 blocks) and Keras' (``name``).

    Call: ``generator((z, one_hot_pitch), progress=None, stage=None)`` with z float [B, latent_size],
    one_hot_pitch float [B, num_pitches], progress a float scalar in [0, num_resolutions - 1]
    (None: the last, full-resolution stage) -> float32 [B, frames, freq, num_channels]. ``stage``
    (a Python int, the progressive stage id that ``progress`` lies in; None: any progress) runs only
    that stage's blocks (:func:`gansynth_tf.layers.stage_blocks`); the output is the same.
    """

    def __init__(self, num_pitches: int = 61, latent_size: int = 256, output_activation: str = "tanh", **kwargs):
        kwargs.setdefault("name", "generator")
        super().__init__(num_pitches, **kwargs)
        self.latent_size = int(latent_size)
        self.output_activation = output_activation
        self._add_blocks(
            lambda b: GeneratorBlock(
                b,
                self.num_filters(b),
                num_channels=self.num_channels,
                output_activation=self.output_activation,
                name=block_name(b),
                **self.block_shape_kwargs(),
            )
        )

    @property
    def output_shape_hw(self) -> Tuple[int, int]:
        """(frames, freq) of the output."""
        f = self.scale_base ** (self.num_resolutions - 1)
        return (self.start_shape[0] * f, self.start_shape[1] * f)

    def build(self, input_shape=None):
        """Create every block's weights (no forward pass needed)."""
        shape = (None, self.latent_size + self.num_pitches)
        for block in self.blocks:
            block.build(shape)
            h, w = (
                block.start_shape if block.block_id == 1 else (shape[1] * self.scale_base, shape[2] * self.scale_base)
            )
            shape = (None, h, w, block.filters)
        self.built = True

    def block_outputs(self, inputs, stage=None):
        """Every block's specgram at its own resolution: list of float32 [B, h_b, w_b, channels].

        With ``stage`` (:func:`gansynth_tf.layers.stage_blocks` -> (lo, hi)): the blocks up to ``hi``
        run, and the entries of blocks below ``lo`` (whose weight is 0 in that stage) are None."""
        lo, hi = L.stage_blocks(stage, self.num_resolutions)
        z, pitch = inputs
        x = ops.concatenate([ops.cast(z, self.compute_dtype), ops.cast(pitch, self.compute_dtype)], axis=-1)
        outs = []
        for block in self.blocks[:hi]:
            if block.block_id < lo:
                x, rgb = block.features(x), None
            else:
                x, rgb = block(x)
                rgb = ops.cast(rgb, "float32")
            outs.append(rgb)
        return outs

    def call(self, inputs, progress=None, training=None, stage=None):
        progress = self._progress(progress)
        out = None
        n = self.num_resolutions
        for block, rgb in zip(self.blocks, self.block_outputs(inputs, stage)):
            if rgb is None:  # weight exactly 0 throughout ``stage``
                continue
            rgb = L.upscale(rgb, L.scale_factor(block.block_id, n, self.scale_base))
            term = L.generator_alpha(block.block_id, progress) * rgb
            out = term if out is None else out + term
        return out

    def get_config(self):
        return {**super().get_config(), "latent_size": self.latent_size, "output_activation": self.output_activation}


def build_generator(model_config, num_pitches: int, name: str = "generator") -> Generator:
    """A built :class:`Generator` from a :class:`gansynth_tf.config.GANConfig`."""
    g = Generator(
        num_pitches=num_pitches,
        latent_size=model_config.latent_size,
        output_activation=model_config.output_activation,
        name=name,
        **L.network_kwargs(model_config),
    )
    g.build()
    return g


def generate_specgrams(generator: Generator, latents, one_hot_pitches, progress=None) -> tf.Tensor:
    """Normalised specgrams float32 [B, frames, freq, 2] for latents [B, latent] and one-hot
    pitches [B, num_pitches] (progress None: full resolution)."""
    return generator(
        (tf.convert_to_tensor(latents, tf.float32), tf.convert_to_tensor(one_hot_pitches, tf.float32)),
        progress=progress,
        training=False,
    )
