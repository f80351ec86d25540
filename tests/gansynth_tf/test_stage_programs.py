"""Per-stage step programs of progressive GANSynth training.

At each progressive stage the networks can run only the blocks whose weight can be non-zero in
that stage (``stage=``, :func:`gansynth_tf.layers.stage_blocks`) with the same outputs and
gradients as the full networks, and the runner compiles one step program per stage
(:meth:`gansynth_tf.gan.GANSynthTask.step_variant`) that trains to the same weights as the single
all-blocks program.
"""

import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf import config as gcfg
from gansynth_tf import gan
from gansynth_tf import layers as L
from gansynth_tf.discriminator import build_discriminator
from gansynth_tf.generator import build_generator
from tfmusic import training


def _progress_values(stage):
    """Progress values inside ``stage``: its one value when stable, several along a transition."""
    whole, transition = divmod(stage, 2)
    if not transition:
        return [float(whole)]
    return [whole + f for f in (0.0, 0.25, 0.5, 0.999)]


def test_stage_blocks():
    assert L.stage_blocks(None, 4) == (1, 4)
    assert [L.stage_blocks(s, 4) for s in range(7)] == [(1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 4), (4, 4)]
    with pytest.raises(ValueError, match="stage"):
        L.stage_blocks(7, 4)
    # The blocks outside the range have weight exactly 0 at every progress of the stage.
    n = 4
    for stage in range(2 * n - 1):
        lo, hi = L.stage_blocks(stage, n)
        for p in _progress_values(stage):
            for b in range(1, n + 1):
                g = float(L.generator_alpha(b, p))
                d = float(L.discriminator_alpha(b, p))
                if not lo <= b <= hi:
                    assert g == 0.0, (stage, p, b)
                if b < lo:
                    assert d == 0.0, (stage, p, b)
                if b >= hi:
                    assert d == 1.0, (stage, p, b)


def test_schedule_stage_of_matches_stage():
    cfg = gcfg.get_preset("tiny")
    schedule = gan.ProgressiveSchedule.from_config(cfg.model)
    for images in range(0, schedule.min_total_num_images + 40, 4):
        assert schedule.stage_of(images) == int(schedule.stage(images)), images


def test_stage_restricted_networks_equal_full_ones():
    cfg = gcfg.get_preset("tiny")
    m = cfg.model
    num_pitches = cfg.data.num_pitches
    tf.random.set_seed(1)
    g = build_generator(m, num_pitches)
    d = build_discriminator(m, num_pitches)
    rng = np.random.default_rng(0)
    batch = 4
    z = tf.constant(rng.normal(size=(batch, m.latent_size)), tf.float32)
    pitch = tf.one_hot(rng.integers(0, num_pitches, batch), num_pitches)
    real = tf.constant(rng.uniform(-1, 1, size=(batch,) + tuple(cfg.data.spectral.spec_shape) + (2,)), tf.float32)
    n = m.num_resolutions

    def run(progress, stage):
        with tf.GradientTape(persistent=True) as tape:
            fake = g((z, pitch), progress=progress, stage=stage)
            blended = L.blend_resolutions(real, progress, n, m.scale_base, stage=stage)
            logits, classes = d(blended + fake, progress=progress, stage=stage)
            g_loss = tf.reduce_sum(fake * real)
            d_loss = tf.reduce_sum(logits) + tf.reduce_sum(classes * classes)
        g_grads = tape.gradient(g_loss, g.trainable_variables)
        d_grads = tape.gradient(d_loss, d.trainable_variables)
        zeros = lambda gs, vs: [np.zeros(v.shape) if x is None else x.numpy() for x, v in zip(gs, vs)]
        return (
            [fake.numpy(), blended.numpy(), logits.numpy(), classes.numpy()],
            zeros(g_grads, g.trainable_variables) + zeros(d_grads, d.trainable_variables),
        )

    for stage in range(2 * n - 1):
        for p in _progress_values(stage):
            full_out, full_grads = run(tf.constant(p), None)
            part_out, part_grads = run(tf.constant(p), stage)
            for a, b in zip(full_out, part_out):
                np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7, err_msg=f"stage {stage} progress {p}")
            for a, b in zip(full_grads, part_grads):
                np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7, err_msg=f"stage {stage} progress {p}")


def _train(cfg, per_stage_programs, model_dir):
    fn = gan.synthetic_dataset_fn(32, cfg.data.spectral.spec_shape, cfg.data.num_pitches, seed=0)
    task = gan.GANSynthTask(cfg, fn, per_stage_programs=per_stage_programs)
    runner = training.Runner(task, cfg, model_dir, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    result = runner.train()
    return runner, result


def _state(runner):
    task = runner.task
    return [
        np.asarray(v.numpy())
        for v in task.generator.weights
        + task.discriminator.weights
        + list(task.ema.averages)
        + list(task.g_optimizer.variables)
        + list(task.d_optimizer.variables)
    ]


@pytest.mark.slow
def test_per_stage_programs_train_like_the_single_program(tmp_path):
    # Batch 8 on the tiny schedule (stages of 16 images, 88 in all): 2 steps in each of stages 0..3, 3 in stage 4.
    cfg = gcfg.get_preset(
        "tiny", ["trainer.global_batch_size=8", "trainer.train_steps=11", "runtime.jit_compile=false"]
    )
    per_stage, r1 = _train(cfg, True, str(tmp_path / "per_stage"))
    single, r2 = _train(cfg, False, str(tmp_path / "single"))
    assert r1.final_step == r2.final_step == 11
    assert per_stage.step_variants() == [0, 1, 2, 3, 4]
    assert [per_stage._programs[k].train_step.experimental_get_tracing_count() for k in range(5)] == [1] * 5
    assert single.step_variants() == [None]
    assert single._programs[None].train_step.experimental_get_tracing_count() == 1
    for key in r2.logs:
        assert r1.logs[key] == pytest.approx(r2.logs[key], rel=1e-5, abs=1e-6), key
    a, b = _state(per_stage), _state(single)
    assert len(a) == len(b)
    diffs = [float(np.max(np.abs(x - y))) if x.size else 0.0 for x, y in zip(a, b)]
    print(f"\nper-stage vs single program: state differs up to {max(diffs):.3g}")
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_non_progressive_keeps_one_program():
    cfg = gcfg.get_preset("tiny", ["model.progressive=false"])
    fn = gan.synthetic_dataset_fn(8, cfg.data.spectral.spec_shape, cfg.data.num_pitches, seed=0)
    task = gan.GANSynthTask(cfg, fn)
    assert {task.step_variant(s) for s in (0, 5, 100)} == {None}
    progressive = gan.GANSynthTask(gcfg.get_preset("tiny"), fn)
    assert [progressive.step_variant(s) for s in (0, 3, 4, 8, 12, 16, 21, 1000)] == [0, 0, 1, 2, 3, 4, 4, 4]


@pytest.mark.slow
def test_skip_mode_uses_the_per_stage_programs(tmp_path):
    # on_nonfinite="skip" runs each phase as two compiled calls; they are keyed by stage too.
    overrides = ["trainer.global_batch_size=8", "trainer.train_steps=3", "runtime.jit_compile=false"]
    plain, r1 = _train(gcfg.get_preset("tiny", overrides), True, str(tmp_path / "plain"))
    skip, r2 = _train(gcfg.get_preset("tiny", overrides + ["trainer.on_nonfinite=skip"]), True, str(tmp_path / "skip"))
    assert r1.final_step == r2.final_step == 3 and skip.skipped_steps == 0
    assert plain.step_variants() == skip.step_variants() == [0, 1]
    assert all(skip._programs[k].train_step.experimental_get_tracing_count() == 0 for k in (0, 1))
    for x, y in zip(_state(plain), _state(skip)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
