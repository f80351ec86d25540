"""GANSynth networks: configs and presets, layer facts, shapes at every stage, the schedule, the GP."""

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf import config as gcfg
from gansynth_tf import gan
from gansynth_tf import layers as L
from gansynth_tf.discriminator import Discriminator, DiscriminatorBlock, build_discriminator
from gansynth_tf.generator import Generator, GeneratorBlock, build_generator
from tfmusic import config as config_lib


# --------------------------------------------------------------------------- configs


def test_reference_preset_has_the_papers_values():
    cfg = gcfg.PRESETS.get("mel_prog_hires")
    m, d, t = cfg.model, cfg.data, cfg.trainer
    assert (m.latent_size, m.kernel_size, m.fmap_base, m.fmap_decay, m.fmap_max) == (256, 3, 4096, 1.0, 256)
    assert (m.start_shape, m.num_resolutions, m.scale_base, m.final_shape) == ((2, 16), 7, 2, (128, 1024))
    assert (m.gradient_penalty_weight, m.gradient_penalty_target, m.real_score_penalty_weight) == (10.0, 1.0, 0.001)
    assert (m.generator_ac_loss_weight, m.discriminator_ac_loss_weight) == (10.0, 10.0)
    assert (m.generator_learning_rate, m.discriminator_learning_rate, m.adam_beta1, m.adam_beta2) == (
        8e-4,
        8e-4,
        0.0,
        0.99,
    )
    assert (m.stable_stage_num_images, m.transition_stage_num_images, m.total_num_images) == (
        800_000,
        800_000,
        11_000_000,
    )
    assert m.progressive and m.output_activation == "tanh"
    assert d.spectral.spec_shape == (128, 1024) and d.spectral.mel and d.spectral.ifreq
    assert d.spectral.frame_length == 2048 and d.spectral.frame_step == 512
    assert (d.min_pitch, d.max_pitch, d.num_pitches) == (24, 84, 61)
    assert t.global_batch_size == 8 and t.train_steps == 11_000_000 // 8
    # The paper's row name is the same config.
    assert gcfg.PRESETS.get("if_mel_h") == cfg


def test_presets_cover_representation_resolution_and_progressive():
    names = gcfg.PRESETS.names()
    for rep in ("phase", "if", "mel"):
        for prog in ("prog", "noprog"):
            for res in ("hires", "lores"):
                assert f"{rep}_{prog}_{res}" in names
    assert {"phase", "if", "if_mel", "phase_h", "if_h", "if_mel_h", "tiny"} <= set(names)
    lores = gcfg.PRESETS.get("if_prog_lores")
    assert lores.model.start_shape == (4, 8) and lores.model.final_shape == (256, 512)
    assert lores.data.spectral.spec_shape == (256, 512) and not lores.data.spectral.mel and lores.data.spectral.ifreq
    phase = gcfg.PRESETS.get("phase_h")
    assert not phase.data.spectral.ifreq and not phase.data.spectral.mel
    noprog = gcfg.PRESETS.get("mel_noprog_hires")
    assert not noprog.model.progressive and noprog.model.total_num_images == 4_000_000
    assert noprog.trainer.train_steps == 500_000
    tiny = gcfg.PRESETS.get("tiny")
    assert tiny.model.num_resolutions == 3 and tiny.model.final_shape == tiny.data.spectral.spec_shape == (8, 16)


def test_cpu_zoo_hf_is_cpu_zoo_on_16x1024_specgrams_at_the_same_cost():
    zoo, hf = gcfg.PRESETS.get("cpu_zoo"), gcfg.PRESETS.get("cpu_zoo_hf")
    assert zoo.data.spectral.spec_shape == zoo.model.final_shape == (32, 512)
    assert hf.data.spectral.spec_shape == hf.model.final_shape == (16, 1024)
    assert hf.data.spectral.frame_length == 2048 and hf.data.spectral.frame_step == 1024
    assert hf.data.spectral.audio_length == zoo.data.spectral.audio_length == 16384

    def channels_by_pixels(m):
        shapes = [(m.start_shape[0] * 2**i, m.start_shape[1] * 2**i) for i in range(m.num_resolutions)]
        return {a * b: m.num_filters(i + 1) for i, (a, b) in enumerate(shapes)}

    # the same channels at every pixel count the two share (cpu_zoo has one more block, 1x16)
    shared = channels_by_pixels(hf.model)
    assert {k: v for k, v in channels_by_pixels(zoo.model).items() if k in shared} == shared
    assert shared[16 * 1024] == 8
    # everything else is cpu_zoo's: losses, optimiser, batch, schedule, data
    strip = dict(start_shape=(1, 1), num_resolutions=1, fmap_base=1)
    assert dataclasses.replace(hf.model, **strip) == dataclasses.replace(zoo.model, **strip)
    assert hf.trainer == zoo.trainer and hf.runtime == zoo.runtime
    assert dataclasses.replace(hf.data, spectral=zoo.data.spectral) == zoo.data


def test_configs_validate_and_take_overrides():
    cfg = gcfg.get_preset("mel_prog_hires", ["model.generator_learning_rate=1e-4", "trainer.global_batch_size=16"])
    assert cfg.model.generator_learning_rate == 1e-4 and cfg.trainer.global_batch_size == 16
    with pytest.raises(ValueError, match="spec_shape"):
        gcfg.get_preset("mel_prog_hires", ["model.start_shape=4,8"])
    with pytest.raises(ValueError):
        gcfg.GANConfig(output_activation="relu")
    # JSON round trip (what the runner writes beside checkpoints).
    assert config_lib.from_dict(gcfg.GANSynthExperiment, config_lib.to_dict(cfg)) == cfg


def test_num_filters_follows_magentas_formula():
    m = gcfg.GANConfig()
    assert [m.num_filters(b) for b in range(8)] == [256, 256, 256, 256, 256, 128, 64, 32]
    assert gcfg.GANConfig(fmap_base=512, fmap_max=128).num_filters(3) == 64


# --------------------------------------------------------------------------- full-size parameter counts


def _expected_generator_params(m, num_pitches):
    cond = m.latent_size + num_pitches
    h, w = m.start_shape
    k = m.kernel_size
    total = 0
    prev = None
    for b in range(1, m.num_resolutions + 1):
        f = m.num_filters(b)
        conv0 = (h * w * cond * f) if b == 1 else (k * k * prev * f)
        total += conv0 + f + k * k * f * f + f + f * 2 + 2  # conv0, conv1, to_rgb
        prev = f
    return total


def _expected_discriminator_params(m, num_pitches):
    h, w = m.start_shape
    k = m.kernel_size
    total = 0
    for b in range(1, m.num_resolutions + 1):
        f, f_next = m.num_filters(b), m.num_filters(b - 1)
        total += 2 * f + f  # from_rgb
        c_in = f + 1 if b == 1 else f
        total += k * k * c_in * f + f  # conv0 (block 1 sees the minibatch-stddev channel)
        total += ((h * w) if b == 1 else (k * k)) * f * f_next + f_next  # conv1
    f0 = m.num_filters(0)
    return total + (f0 + 1) + (f0 * num_pitches + num_pitches)


def test_full_preset_parameter_counts():
    cfg = gcfg.PRESETS.get("mel_prog_hires")
    g = build_generator(cfg.model, cfg.data.num_pitches)
    d = build_discriminator(cfg.model, cfg.data.num_pitches)
    print(f"\nGANSynth mel_prog_hires parameters: generator {g.count_params():,}, discriminator {d.count_params():,}")
    assert g.count_params() == _expected_generator_params(cfg.model, 61) == 7_311_246
    assert d.count_params() == _expected_discriminator_params(cfg.model, 61) == 6_831_230
    shapes = {v.path: tuple(v.shape) for v in g.weights}
    assert shapes["generator/progressive_gan_block_1/conv0/kernel"] == (2, 16, 317, 256)
    assert shapes["generator/progressive_gan_block_7/to_rgb/kernel"] == (1, 1, 32, 2)
    dshapes = {v.path: tuple(v.shape) for v in d.weights}
    assert dshapes["discriminator/progressive_gan_block_1/conv1/kernel"] == (2, 16, 256, 256)
    assert dshapes["discriminator/classification_logits/kernel"] == (256, 61)
    # every layer is named, nothing is left with a Keras default name
    names = [v.path for v in g.weights + d.weights]
    assert len(set(names)) == len(names)
    assert not any(part.startswith(("equalized_conv2d", "dense", "conv2d")) for n in names for part in n.split("/"))


# --------------------------------------------------------------------------- shapes at every stage


@pytest.mark.parametrize("preset", ["mel_prog_hires", "mel_prog_lores"])
def test_shapes_at_every_stage_at_real_sizes(preset):
    cfg = gcfg.get_preset(preset, ["model.fmap_max=4", "model.minibatch_stddev_group_size=0"])
    m = cfg.model
    g = build_generator(m, cfg.data.num_pitches)
    d = build_discriminator(m, cfg.data.num_pitches)
    rng = np.random.default_rng(0)
    z = tf.constant(rng.normal(size=(2, m.latent_size)), tf.float32)
    pitch = tf.one_hot([0, 60], cfg.data.num_pitches)
    outs = g.block_outputs((z, pitch))
    assert [tuple(o.shape[1:3]) for o in outs] == [m.resolution(b) for b in range(1, 8)]
    expected = {
        "mel_prog_hires": [(2, 16), (4, 32), (8, 64), (16, 128), (32, 256), (64, 512), (128, 1024)],
        "mel_prog_lores": [(4, 8), (8, 16), (16, 32), (32, 64), (64, 128), (128, 256), (256, 512)],
    }[preset]
    assert [m.resolution(b) for b in range(1, 8)] == expected
    final = tuple(cfg.data.spectral.spec_shape)
    for progress in (0.0, 2.5, 6.0):
        y = g((z, pitch), progress=progress)
        assert tuple(y.shape) == (2,) + final + (2,) and y.dtype == tf.float32
        assert float(tf.reduce_max(tf.abs(y))) <= 1.0
        logits, classes = d(y, progress=progress)
        assert tuple(logits.shape) == (2,) and tuple(classes.shape) == (2, 61)
        assert np.all(np.isfinite(logits.numpy()))
    # At a stable stage the output is that stage's block, nearest-upscaled; mid-transition the mean of two.
    np.testing.assert_allclose(g((z, pitch), progress=2.0).numpy(), L.upscale(outs[2], 16).numpy(), atol=1e-6)
    np.testing.assert_allclose(
        g((z, pitch), progress=2.5).numpy(),
        (0.5 * L.upscale(outs[2], 16) + 0.5 * L.upscale(outs[3], 8)).numpy(),
        atol=1e-6,
    )


def test_discriminator_sees_only_the_current_resolution():
    cfg = gcfg.PRESETS.get("tiny")
    d = build_discriminator(cfg.model, cfg.data.num_pitches)
    x = tf.random.stateless_uniform([4, 8, 16, 2], seed=[1, 2], minval=-1, maxval=1)
    coarse = L.upscale(L.downscale(x, 4), 4)  # what stage 0 (2x4) can see
    a0 = d(x, progress=0.0)[0].numpy()
    np.testing.assert_allclose(a0, d(coarse, progress=0.0)[0].numpy(), atol=1e-5)
    # At the final stage the fine detail matters.
    assert np.abs(d(x, progress=2.0)[0].numpy() - d(coarse, progress=2.0)[0].numpy()).max() > 1e-4


# --------------------------------------------------------------------------- schedule


def test_fade_in_schedule_at_known_image_counts():
    sched = gan.ProgressiveSchedule.from_config(gcfg.GANConfig())
    assert sched.min_total_num_images == 10_400_000
    table = [  # images, progress, stage, fade alpha
        (0, 0.0, 0, 1.0),
        (799_999, 0.0, 0, 1.0),
        (800_000, 0.0, 1, 0.0),
        (1_000_000, 0.25, 1, 0.25),
        (1_200_000, 0.5, 1, 0.5),
        (1_600_000, 1.0, 2, 1.0),
        (2_800_000, 1.5, 3, 0.5),
        (5_000_000, 3.0, 6, 1.0),
        (9_400_000, 5.75, 11, 0.75),
        (10_000_000, 6.0, 12, 1.0),
        (10_400_000, 6.0, 12, 1.0),
        (11_000_000, 6.0, 12, 1.0),
    ]
    for images, progress, stage, alpha in table:
        assert float(sched.progress(images)) == pytest.approx(progress, abs=1e-6), images
        assert int(sched.stage(images)) == stage, images
        assert float(sched.fade_alpha(images)) == pytest.approx(alpha, abs=1e-6), images
    assert int(sched.resolution_index(1_200_000)) == 2 and int(sched.resolution_index(0)) == 1
    flat = gan.ProgressiveSchedule.from_config(gcfg.GANConfig(progressive=False))
    assert float(flat.progress(0)) == 6.0 and int(flat.stage(0)) == 12


def test_block_weights_sum_to_one_and_match_the_progress():
    for p in np.linspace(0.0, 6.0, 25):
        alphas = [float(L.generator_alpha(b, p)) for b in range(1, 8)]
        assert sum(alphas) == pytest.approx(1.0, abs=1e-6)
        assert all(a >= 0 for a in alphas)
    assert [float(L.generator_alpha(b, 1.25)) for b in (1, 2, 3)] == pytest.approx([0.0, 0.75, 0.25])
    assert [float(L.discriminator_alpha(b, 1.25)) for b in (1, 2, 3)] == pytest.approx([0.0, 0.75, 1.0])


# --------------------------------------------------------------------------- layer facts


def test_pixel_norm_gives_unit_mean_square():
    x = tf.random.stateless_normal([3, 4, 5, 16], seed=[0, 1]) * 7.0 + 2.0
    y = L.PixelNorm(name="pn")(x)
    np.testing.assert_allclose(tf.reduce_mean(tf.square(y), -1).numpy(), 1.0, rtol=1e-5)


def test_equalized_learning_rate_scales_at_run_time():
    keras.utils.set_random_seed(0)
    conv = L.EqualizedConv2D(64, 3, he_slope=0.0, name="c")
    x = tf.random.stateless_normal([2, 6, 6, 64], seed=[2, 3])
    y = conv(x)
    assert conv.runtime_scale == pytest.approx(math.sqrt(2.0 / (3 * 3 * 64)))
    stored = conv.kernel.numpy()
    assert np.std(stored) == pytest.approx(1.0, abs=0.03)  # N(0, 1) weights
    expected = tf.nn.conv2d(x, stored * conv.runtime_scale, 1, "SAME")
    np.testing.assert_allclose(y.numpy(), expected.numpy(), atol=1e-4)
    # A linear head (He slope 1) uses sqrt(1 / fan_in); without weight scaling the init carries it.
    head = L.EqualizedConv2D(2, 1, he_slope=1.0, name="h")
    head.build((None, 4, 4, 32))
    assert head.runtime_scale == pytest.approx(math.sqrt(1.0 / 32))
    plain = L.EqualizedConv2D(64, 3, use_weight_scaling=False, name="p")
    plain.build((None, 6, 6, 64))
    assert plain.runtime_scale == 1.0 and np.std(plain.kernel.numpy()) == pytest.approx(math.sqrt(2 / 576), rel=0.05)
    dense = L.EqualizedDense(10, he_slope=1.0, name="d")
    dense.build((None, 1, 1, 50))
    assert dense.runtime_scale == pytest.approx(math.sqrt(1.0 / 50))


def test_minibatch_stddev_adds_one_channel_with_the_group_stddev():
    x = tf.random.stateless_normal([4, 3, 5, 6], seed=[4, 5])
    y = L.MinibatchStddev(name="mbs")(x)
    assert tuple(y.shape) == (4, 3, 5, 7)
    np.testing.assert_array_equal(y[..., :6].numpy(), x.numpy())
    expected = np.mean(np.sqrt(np.var(x.numpy(), axis=0) + 1e-6))
    np.testing.assert_allclose(y[..., 6].numpy(), expected, rtol=1e-5)
    grouped = L.MinibatchStddev(group_size=2, name="mbs2")(x)
    for g in range(2):
        part = x.numpy()[2 * g : 2 * g + 2]
        np.testing.assert_allclose(
            grouped[2 * g : 2 * g + 2, ..., 6].numpy(), np.mean(np.sqrt(np.var(part, axis=0) + 1e-6)), rtol=1e-5
        )
    same = L.MinibatchStddev(name="mbs3")(tf.ones([4, 2, 2, 3]))
    np.testing.assert_allclose(same[..., 3].numpy(), math.sqrt(1e-6), rtol=1e-4)


def test_generator_output_is_tanh_bounded():
    cfg = gcfg.PRESETS.get("tiny")
    g = build_generator(cfg.model, cfg.data.num_pitches)
    for block in g.blocks:  # blow the heads up: tanh must still bound the output
        block.to_rgb.kernel.assign(block.to_rgb.kernel * 1000.0)
    y = g((tf.random.normal([4, 8]), tf.one_hot([0, 1, 2, 3], 4)), progress=1.5).numpy()
    assert np.abs(y).max() <= 1.0 and np.abs(y).max() > 0.99


def test_resampling_is_nearest_and_box():
    x = tf.reshape(tf.range(8, dtype=tf.float32), [1, 2, 4, 1])
    up = L.upscale(x, 2).numpy()[0, ..., 0]
    np.testing.assert_array_equal(up[:2, :2], [[0, 0], [0, 0]])
    np.testing.assert_array_equal(up[2:, 6:], [[7, 7], [7, 7]])
    np.testing.assert_array_equal(L.downscale(L.upscale(x, 2), 2).numpy(), x.numpy())
    np.testing.assert_allclose(L.downscale(x, 2).numpy()[0, ..., 0], [[(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4]])


@pytest.mark.parametrize(
    "layer",
    [
        L.PixelNorm(epsilon=1e-6, name="pn"),
        L.EqualizedConv2D(8, (2, 3), padding="valid", he_slope=0.5, activation="leaky_relu_pixel_norm", name="c"),
        L.EqualizedDense(5, he_slope=1.0, use_weight_scaling=False, name="d"),
        L.Upscale2D(4, name="u"),
        L.Downscale2D(2, name="dn"),
        L.MinibatchStddev(4, name="m"),
        GeneratorBlock(2, 16, start_shape=(2, 4), name="gb"),
        DiscriminatorBlock(1, 8, 16, start_shape=(2, 4), minibatch_stddev_group_size=2),
        Generator(num_pitches=4, latent_size=8, start_shape=(2, 4), num_resolutions=3, fmap_base=32, fmap_max=8),
        Discriminator(num_pitches=4, start_shape=(2, 4), num_resolutions=3, fmap_base=32, fmap_max=8),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_get_config_round_trips(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(again) is type(layer) and again.get_config() == config


# --------------------------------------------------------------------------- gradient penalty


def test_gradient_penalty_of_a_linear_critic_is_norm_minus_one_squared():
    w = tf.constant(np.random.default_rng(1).normal(size=(3, 4, 2)), tf.float32)
    critic = lambda x: tf.reduce_sum(x * w, axis=[1, 2, 3])
    real = tf.random.stateless_normal([5, 3, 4, 2], seed=[0, 0])
    fake = tf.random.stateless_normal([5, 3, 4, 2], seed=[0, 1])
    mix = tf.constant([0.0, 0.3, 0.5, 0.9, 1.0])
    norm = float(tf.norm(w))
    gp = gan.gradient_penalty(critic, real, fake, mix, target=1.0)
    np.testing.assert_allclose(gp.numpy(), (norm - 1.0) ** 2, rtol=1e-5)
    gp2 = gan.gradient_penalty(critic, real, fake, mix, target=2.0)
    np.testing.assert_allclose(gp2.numpy(), (norm / 2.0 - 1.0) ** 2, rtol=1e-5)
    # Under XLA, as the training step runs it.
    compiled = tf.function(lambda r, f, m: gan.gradient_penalty(critic, r, f, m), jit_compile=True)
    np.testing.assert_allclose(compiled(real, fake, mix).numpy(), (norm - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_in_specgram_units_scales_each_channel():
    # Linear critic with weights w on normalised input y = a * x + b: d/dx = a * w per channel.
    w = tf.constant(np.random.default_rng(2).normal(size=(2, 3, 2)), tf.float32)
    critic = lambda y: tf.reduce_sum(y * w, axis=[1, 2, 3])
    real = tf.zeros([2, 2, 3, 2])
    fake = tf.ones([2, 2, 3, 2])
    a = (0.0661371661726, 0.8)
    gp = gan.gradient_penalty(critic, real, fake, tf.constant([0.2, 0.7]), channel_scale=a)
    norm = float(tf.norm(w * tf.constant(a)))
    np.testing.assert_allclose(gp.numpy(), (norm - 1.0) ** 2, rtol=1e-5)
    cfg = gcfg.PRESETS.get("tiny")
    dataset_fn = gan.synthetic_dataset_fn(4, (8, 16), 4)
    assert gan.GANSynthTask(cfg, dataset_fn).gp_channel_scale == a  # the prespecified normaliser
    flat = gcfg.get_preset("tiny", ["model.gradient_penalty_space=normalized"])
    assert gan.GANSynthTask(flat, dataset_fn).gp_channel_scale is None
    with pytest.raises(ValueError, match="normaliser"):
        gan.GANSynthTask(gcfg.get_preset("tiny", ["data.normalizer_path=/x/norm.json"]), dataset_fn)


def test_gradient_penalty_is_taken_between_real_and_fake():
    # critic 0.5 * c * ||x||^2 has gradient c * x: at x = mix * fake (real = 0) the norm is c * mix * ||fake||.
    c = 3.0
    critic = lambda x: 0.5 * c * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])
    fake = tf.random.stateless_normal([3, 2, 2, 2], seed=[7, 7])
    mix = tf.constant([0.1, 0.5, 1.0])
    gp = gan.gradient_penalty(critic, tf.zeros_like(fake), fake, mix)
    norms = np.linalg.norm(fake.numpy().reshape(3, -1), axis=1)
    np.testing.assert_allclose(gp.numpy(), (c * mix.numpy() * norms - 1.0) ** 2, rtol=1e-4)


@pytest.mark.parametrize("progress", [0.0, 0.5, 1.0, 2.25, 5.75, 6.0])
def test_images_at_progress_inverts_progress(progress):
    from gansynth_tf.gan import ProgressiveSchedule

    schedule = ProgressiveSchedule.from_config(gcfg.get_preset("mel_prog_hires").model)
    images = schedule.images_at_progress(progress)
    assert float(schedule.progress(images)) == pytest.approx(progress, abs=1e-6)
    assert float(schedule.progress(max(images - 8, 0))) <= progress
