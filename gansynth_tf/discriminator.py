"""GANSynth's progressive discriminator with its auxiliary pitch classifier.

Mirror of the generator (Magenta's ``networks.discriminator`` plus
``discriminator_fn_specgram``), every block built up front:

* block b has a 1x1 ``from_rgb`` convolution from the input box-downscaled to its
  resolution (He slope 0, leaky ReLU 0.2);
* blocks N..2: two 3x3 convolutions (channels of block b, then of block b-1), 2x box
  downscale, then ``x = a * from_rgb_{b-1}(input) + (1 - a) * x`` with
  ``a = discriminator_alpha(b - 1, progress)``: the input enters at the current stage's
  resolution and fades to the next block during a transition;
* block 1: minibatch standard deviation (+1 channel), a 3x3 convolution, a ``valid``
  convolution with the start-shape kernel to 1x1 with ``num_filters(0)`` channels
  (``last_conv``), then ``logits`` (1 unit) and ``classification_logits``
  (num_pitches units), equalized dense layers with He slope 1.

Input float [B, frames, freq, 2]; output ``(logits float32 [B], classification_logits
float32 [B, num_pitches])``.
"""

from __future__ import annotations

import keras
from keras import ops

from gansynth_tf import layers as L
from gansynth_tf.generator import block_name


@keras.saving.register_keras_serializable(package="gansynth_tf")
class DiscriminatorBlock(L.ProgressiveBlock):
    """One discriminator resolution.

    ``from_input(x)``: the input at this block's resolution [B, H, W, channels] -> features
    [B, H, W, filters]. ``call(x)`` for block b > 1: features [B, H, W, filters] -> features
    of the block below [B, H/2, W/2, next_filters]; for block 1: features [B, h, w, filters]
    -> last features [B, next_filters] (after the minibatch stddev and the valid conv).

    Args:
      block_id: 1-based block index.
      filters: channels of ``from_rgb`` and ``conv0``.
      next_filters: channels of ``conv1`` (``num_filters(block_id - 1)``).
      minibatch_stddev_group_size: block 1's :class:`MinibatchStddev` group size.
      **kwargs: :class:`gansynth_tf.layers.ProgressiveBlock`'s shape settings (``start_shape``,
        ``kernel_size``, ``scale_base``, as in the generator) and Keras' (``name``).
    """

    def __init__(
        self,
        block_id: int,
        filters: int,
        next_filters: int,
        *,
        minibatch_stddev_group_size: int = 0,
        **kwargs,
    ):
        super().__init__(block_id, filters, **kwargs)
        self.next_filters = int(next_filters)
        self.minibatch_stddev_group_size = int(minibatch_stddev_group_size)
        conv = dict(he_slope=0.0, activation="leaky_relu")
        self.from_rgb = L.EqualizedConv2D(self.filters, 1, name="from_rgb", **conv)
        self.conv0 = L.EqualizedConv2D(self.filters, self.kernel_size, name="conv0", **conv)
        if self.block_id == 1:
            self.minibatch_stddev = L.MinibatchStddev(self.minibatch_stddev_group_size, name="minibatch_stddev")
            self.conv1 = L.EqualizedConv2D(self.next_filters, self.start_shape, padding="valid", name="conv1", **conv)
        else:
            self.conv1 = L.EqualizedConv2D(self.next_filters, self.kernel_size, name="conv1", **conv)
            self.downscale = L.Downscale2D(self.scale_base, name="downscale")

    def build(self, input_shape):
        """``input_shape``: the specgram input at this block's resolution [B, H, W, channels]."""
        b, h, w, _ = input_shape
        self.from_rgb.build(input_shape)
        feat = (b, h, w, self.filters)
        if self.block_id == 1:
            self.minibatch_stddev.build(feat)
            self.conv0.build((b, h, w, self.filters + 1))
        else:
            self.conv0.build(feat)
        self.conv1.build((b, h, w, self.filters))

    def from_input(self, x):
        return self.from_rgb(x)

    def call(self, x):
        if self.block_id == 1:
            x = self.minibatch_stddev(x)
            x = self.conv1(self.conv0(x))
            return ops.reshape(x, (-1, self.next_filters))
        return self.downscale(self.conv1(self.conv0(x)))

    def get_config(self):
        return {
            **super().get_config(),
            "next_filters": self.next_filters,
            "minibatch_stddev_group_size": self.minibatch_stddev_group_size,
        }


@keras.saving.register_keras_serializable(package="gansynth_tf")
class Discriminator(L.ProgressiveNetwork):
    """The progressive GANSynth discriminator (critic) with a pitch-classification head.

    Args:
      num_pitches: the classifier's width (61).
      minibatch_stddev_group_size: block 1's :class:`gansynth_tf.layers.MinibatchStddev` group size.
      **kwargs: the architecture settings of :class:`gansynth_tf.layers.ProgressiveNetwork` and
        Keras' (``name``).

    Call: ``discriminator(specgrams, progress=None, stage=None)`` with specgrams float [B, frames, freq,
    num_channels] -> (logits float32 [B], classification_logits float32 [B, num_pitches]). ``stage``
    (a Python int, the progressive stage id that ``progress`` lies in; None: any progress) runs only
    that stage's blocks: the input enters at its highest block (blocks above have weight exactly 0)
    and only the ``from_rgb`` paths whose weight can be non-zero in it are added; the output is the same.
    """

    def __init__(self, num_pitches: int = 61, minibatch_stddev_group_size: int = 0, **kwargs):
        kwargs.setdefault("name", "discriminator")
        super().__init__(num_pitches, **kwargs)
        self.minibatch_stddev_group_size = int(minibatch_stddev_group_size)
        self._add_blocks(
            lambda b: DiscriminatorBlock(
                b,
                self.num_filters(b),
                self.num_filters(b - 1),
                minibatch_stddev_group_size=self.minibatch_stddev_group_size,
                name=block_name(b),
                **self.block_shape_kwargs(),
            )
        )
        # Scores and class logits stay float32 under mixed precision.
        self.logits = L.EqualizedDense(1, he_slope=1.0, name="logits", dtype="float32")
        self.classification_logits = L.EqualizedDense(
            self.num_pitches, he_slope=1.0, name="classification_logits", dtype="float32"
        )

    def build(self, input_shape=None):
        """Create every block's weights (no forward pass needed)."""
        for block in self.blocks:
            f = self.scale_base ** (block.block_id - 1)
            block.build((None, self.start_shape[0] * f, self.start_shape[1] * f, self.num_channels))
        self.logits.build((None, self.num_filters(0)))
        self.classification_logits.build((None, self.num_filters(0)))
        self.built = True

    def call(self, x, progress=None, training=None, stage=None):
        progress = self._progress(progress)
        n = self.num_resolutions
        lo, hi = L.stage_blocks(stage, n)
        x0 = ops.cast(x, "float32")
        # The input at every resolution, from the top block down (box averages nest exactly).
        inputs = {n: x0}
        for b in range(n - 1, 0, -1):
            inputs[b] = L.downscale(inputs[b + 1], self.scale_base)
        # Above ``hi`` the from-input weight is exactly 1: the blocks there contribute 0 x their features.
        top = self.blocks[hi - 1]
        h = top.from_input(inputs[hi])
        for b in range(hi, 1, -1):
            h = self.blocks[b - 1](h)
            if b - 1 < lo:  # from-input weight exactly 0 throughout ``stage``
                continue
            below = self.blocks[b - 2]
            alpha = ops.cast(L.discriminator_alpha(b - 1, progress), h.dtype)
            h = alpha * below.from_input(inputs[b - 1]) + (1.0 - alpha) * h
        last = self.blocks[0](h)  # [B, num_filters(0)]
        logits = ops.cast(self.logits(last), "float32")[:, 0]
        class_logits = ops.cast(self.classification_logits(last), "float32")
        return logits, class_logits

    def get_config(self):
        return {**super().get_config(), "minibatch_stddev_group_size": self.minibatch_stddev_group_size}


def build_discriminator(model_config, num_pitches: int, name: str = "discriminator") -> Discriminator:
    """A built :class:`Discriminator` from a :class:`gansynth_tf.config.GANConfig`."""
    d = Discriminator(
        num_pitches=num_pitches,
        minibatch_stddev_group_size=model_config.minibatch_stddev_group_size,
        name=name,
        **L.network_kwargs(model_config),
    )
    d.build()
    return d
