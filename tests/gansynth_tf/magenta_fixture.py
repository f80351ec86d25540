"""A Magenta GANSynth checkpoint folder in the released format, written by TF1 itself, and a
NumPy transcription of Magenta's generator to check ported weights against.

:func:`write_magenta_folder` builds, with ``tf.compat.v1`` in graph mode, every variable Magenta's
``model.Model`` creates, under Magenta's exact scopes (``Generator/progressive_gan_generator/
progressive_gan_block_B/conv0/conv2d/kernel`` ...), then lets TF1's own ``AdamOptimizer`` make its
slots and beta powers under ``progressive_gan_train_ops`` and TF1's own
``ExponentialMovingAverage.apply`` make the generator's shadows, sets the shadows to values that
differ from the raw weights (so a test can tell which were taken), and saves with a default
``tf.compat.v1.train.Saver`` into ``stage_NNNNN/`` beside an ``experiment.json`` of Magenta's flags.

:func:`reference_generator` is Magenta's ``networks.generator`` + ``generator_fn_specgram``
(``simple_arch=False``) + ``SpecgramsPrespecifiedNormalizer.denormalize_op`` in float64 NumPy,
read straight from ``lib/networks.py`` and ``lib/layers.py``: pixel norm (epsilon 1e-8), equalised
learning rate (``he_initializer_scale``: ``sqrt(2 / ((1 + slope^2) * fan_in))``, slope 0 for the
convolutions, 1 for ``to_rgb``), leaky ReLU 0.2, nearest upscaling, the alpha blend of all blocks.
"""

from __future__ import annotations

import json
import math
import os
from typing import Dict, Mapping, Optional

import numpy as np
import tensorflow as tf

from gansynth_tf.convert_magenta import MAGENTA_DEFAULTS

GEN = "Generator/progressive_gan_generator"
DIS = "Discriminator/progressive_gan_discriminator"

#: A small model in Magenta's flag vocabulary: 3 resolutions from 2x4 (8x16 mel-IF specgrams of 64
#: samples), latent 8, 16 channels per block (min(128 / 2^b, 16); the released model has 32 to 256), the 61 NSynth pitches.
SMALL_FLAGS = {
    **MAGENTA_DEFAULTS,  # every flag, as model.set_flags has it, in Magenta's order
    "train_root_dir": "/cns/gansynth/acoustic_only",
    "train_data_path": "/cns/nsynth-train.tfrecord",
    "audio_length": 64,
    "generator_ac_loss_weight": 10.0,
    "discriminator_ac_loss_weight": 10.0,
    "generator_learning_rate": 0.0008,
    "discriminator_learning_rate": 0.0008,
    "fake_batch_size": 61,
    "batch_size_schedule": [4],
    "stable_stage_num_images": 16,
    "transition_stage_num_images": 16,
    "total_num_images": 88,
    "save_summaries_num_images": 10000,
    "latent_vector_size": 8,
    "start_height": 2,
    "start_width": 4,
    "num_resolutions": 3,
    "fmap_base": 128,
    "fmap_max": 16,
}
NUM_PITCHES = 61


def num_filters(block_id: int, flags: Mapping) -> int:
    """``networks.num_filters``."""
    return int(min(flags["fmap_base"] / math.pow(2.0, block_id * flags["fmap_decay"]), flags["fmap_max"]))


def variable_shapes(flags: Mapping, num_blocks: Optional[int] = None) -> Dict[str, tuple]:
    """Magenta's GANSynth network variables and their shapes (``networks.py``, ``network_functions.py``)."""
    n = num_blocks or flags["num_resolutions"]
    k, sh, sw = flags["kernel_size"], flags["start_height"], flags["start_width"]
    nf = lambda b: num_filters(b, flags)
    shapes = {}

    def conv(scope, kh, kw, cin, cout):
        shapes[f"{scope}/conv2d/kernel"] = (kh, kw, cin, cout)
        shapes[f"{scope}/bias"] = (cout,)

    cond = flags["latent_vector_size"] + NUM_PITCHES
    for b in range(1, n + 1):
        s = f"{GEN}/progressive_gan_block_{b}"
        if b == 1:
            conv(f"{s}/conv0", sh, sw, cond, nf(1))
        else:
            conv(f"{s}/conv0", k, k, nf(b - 1), nf(b))
        conv(f"{s}/conv1", k, k, nf(b), nf(b))
        conv(f"{s}/to_rgb", 1, 1, nf(b), 2)
    for b in range(n, 0, -1):
        s = f"{DIS}/progressive_gan_block_{b}"
        conv(f"{s}/from_rgb", 1, 1, 2, nf(b))
        if b > 1:
            conv(f"{s}/conv0", k, k, nf(b), nf(b))
            conv(f"{s}/conv1", k, k, nf(b), nf(b - 1))
    s = f"{DIS}/progressive_gan_block_1"
    conv(f"{s}/conv0", k, k, nf(1) + 1, nf(1))
    conv(f"{s}/conv1", sh, sw, nf(1), nf(0))
    shapes[f"{s}/logits/dense/kernel"] = (nf(0), 1)
    shapes[f"{s}/logits/bias"] = (1,)
    shapes["Discriminator/discriminator_cond/classification_logits/dense/kernel"] = (nf(0), NUM_PITCHES)
    shapes["Discriminator/discriminator_cond/classification_logits/bias"] = (NUM_PITCHES,)
    return shapes


def write_magenta_folder(
    path: str,
    flags: Mapping = SMALL_FLAGS,
    stage_id: Optional[int] = None,
    global_step: int = 88,
    seed: int = 0,
    ema_offset: float = 0.05,
    with_ema: bool = True,
) -> Dict[str, np.ndarray]:
    """Write ``path/experiment.json`` and ``path/stage_{stage_id:05d}/model.ckpt-{global_step}``.

    Returns the saved ``{name: array}`` (network variables, their EMA shadows). ``stage_id``
    defaults to the final stage ``2 * num_resolutions - 2``.
    """
    if stage_id is None:
        stage_id = 2 * flags["num_resolutions"] - 2
    num_blocks = (stage_id + 1) // 2 + 1
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "experiment.json"), "w") as f:
        json.dump(dict(flags), f)
    rng = np.random.default_rng(seed)
    shapes = variable_shapes(flags, num_blocks)
    v1 = tf.compat.v1
    graph = tf.Graph()
    saved = {}
    with graph.as_default():
        tf_vars = {}
        for name, shape in shapes.items():
            scope, leaf = name.rsplit("/", 1)
            std = 0.2 if leaf == "bias" else 1.0  # weights ~ N(0, 1), as Magenta initialises them
            with v1.variable_scope(scope, reuse=v1.AUTO_REUSE):
                tf_vars[name] = v1.get_variable(leaf, initializer=(rng.standard_normal(shape) * std).astype(np.float32))
        step = v1.train.get_or_create_global_step()  # int64 'global_step': Magenta's current_image_id
        tf.Variable(0.0, trainable=False)  # model.Model's unnamed train_time variable ('Variable')
        gen_vars = [v for n, v in tf_vars.items() if n.startswith("Generator/")]
        dis_vars = [v for n, v in tf_vars.items() if n.startswith("Discriminator/")]
        with v1.variable_scope("progressive_gan_train_ops"):
            g_loss = tf.add_n([tf.reduce_sum(tf.square(v)) for v in gen_vars])
            d_loss = tf.add_n([tf.reduce_sum(tf.square(v)) for v in dis_vars])
            v1.train.AdamOptimizer(8e-4, 0.0, 0.99).minimize(g_loss, var_list=gen_vars)
            v1.train.AdamOptimizer(8e-4, 0.0, 0.99).minimize(d_loss, var_list=dis_vars)
        ema = v1.train.ExponentialMovingAverage(decay=0.999)
        if with_ema:
            ema.apply(gen_vars)
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            sess.run(step.assign(global_step))
            if with_ema:
                for v in gen_vars:
                    shadow = ema.average(v)
                    noise = (rng.standard_normal(v.shape.as_list()) * ema_offset).astype(np.float32)
                    sess.run(shadow.assign(v + noise))
            stage_dir = os.path.join(path, f"stage_{stage_id:05d}")
            os.makedirs(stage_dir, exist_ok=True)
            saver.save(sess, os.path.join(stage_dir, "model.ckpt"), global_step=global_step)
            for v in v1.global_variables():
                saved[v.op.name] = sess.run(v)
    return saved


# --------------------------------------------------------------------------- NumPy reference


def _he_scale(kernel_shape, slope):
    return np.sqrt(2.0 / ((1.0 + slope**2) * np.prod(kernel_shape[:-1])))


def _conv2d(x, kernel, padding):
    kh, kw = kernel.shape[:2]
    if padding == "SAME":
        ph, pw = kh - 1, kw - 1
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    ho, wo = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    out = np.zeros((x.shape[0], ho, wo, kernel.shape[3]), x.dtype)
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("bhwc,co->bhwo", x[:, i : i + ho, j : j + wo], kernel[i, j])
    return out


def _custom_conv2d(x, w, scope, padding="SAME", slope=1.0, activation=None):
    kernel = np.asarray(w[f"{scope}/conv2d/kernel"], x.dtype)
    scale = x.dtype.type(_he_scale(kernel.shape, slope))
    y = scale * _conv2d(x, kernel, padding) + np.asarray(w[f"{scope}/bias"], x.dtype)
    return activation(y) if activation else y


def _pixel_norm(x, epsilon=1e-8):
    return x / np.sqrt(np.mean(np.square(x), axis=3, keepdims=True) + x.dtype.type(epsilon))


def _leaky_relu(x):
    return np.where(x >= 0, x, x.dtype.type(0.2) * x)


def _upscale(x, scale):
    return x.repeat(scale, axis=1).repeat(scale, axis=2) if scale > 1 else x


def reference_generator(
    weights: Mapping[str, np.ndarray],
    flags: Mapping,
    noise: np.ndarray,
    one_hot: np.ndarray,
    progress: float,
    num_blocks: Optional[int] = None,
    use_ema: bool = True,
    dtype=np.float64,
    normalized: bool = False,
) -> np.ndarray:
    """Magenta's generator output in NumPy: denormalised specgrams [B, H, W, 2] of ``dtype``
    (``normalized=True``: the network's own [-1, 1] output, before the normaliser).

    ``weights``: the checkpoint's variables by name; ``use_ema`` reads ``<name>/ExponentialMovingAverage``
    as ``load_scope``'s custom getter does. ``dtype=np.float32`` computes as TF1 did, in single
    precision, to measure float32's own rounding against the float64 result.
    """
    suffix = "/ExponentialMovingAverage" if use_ema else ""
    w = {
        k[: -len(suffix)] if suffix and k.endswith(suffix) else k: v
        for k, v in weights.items()
        if (k.endswith(suffix) if suffix else True)
    }
    n_res = flags["num_resolutions"]
    n = num_blocks or n_res
    sh, sw = flags["start_height"], flags["start_width"]
    act = lambda y: _pixel_norm(_leaky_relu(y))
    to_rgb_act = np.tanh if flags["to_rgb_activation"] == "tanh" else None
    z = np.concatenate([noise, one_hot], axis=1).astype(dtype)
    x = _pixel_norm(z[:, None, None, :])
    x = np.pad(x, ((0, 0), (sh - 1, sh - 1), (sw - 1, sw - 1), (0, 0)))
    b1 = f"{GEN}/progressive_gan_block_1"
    x = _custom_conv2d(x, w, f"{b1}/conv0", "VALID", 0.0, act)
    x = _custom_conv2d(x, w, f"{b1}/conv1", "SAME", 0.0, act)
    lods = [x]
    for b in range(2, n + 1):
        s = f"{GEN}/progressive_gan_block_{b}"
        x = _upscale(x, flags["scale_base"])
        x = _custom_conv2d(x, w, f"{s}/conv0", "SAME", 0.0, act)
        x = _custom_conv2d(x, w, f"{s}/conv1", "SAME", 0.0, act)
        lods.append(x)
    out = np.zeros((), dtype)
    for b in range(1, n + 1):
        lod = _custom_conv2d(lods[b - 1], w, f"{GEN}/progressive_gan_block_{b}/to_rgb", "SAME", 1.0, to_rgb_act)
        lod = _upscale(lod, flags["scale_base"] ** (n_res - b))
        alpha = dtype(max(0.0, min(progress - (b - 2), b - progress)))
        out = out + lod * alpha
    if normalized:
        return out
    a = np.array([flags["mag_normalizer_a"], flags["p_normalizer_a"]], dtype)
    bb = np.array([flags["mag_normalizer_b"], flags["p_normalizer_b"]], dtype)
    return (out - bb) / a
