"""GANSynth training through tfmusic.training.Runner: the tiny preset on synthetic specgrams.

One XLA-compiled run (losses, schedule logs, checkpoints, media summaries), one two-replica
run compared with a one-replica run on the same global batch and then resumed mid-stage,
and the mixed-bfloat16 dtypes.
"""

import glob
import math
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gansynth_tf import config as gcfg
from gansynth_tf import gan
from tfmusic import training


def _task(cfg, **kwargs):
    fn = gan.synthetic_dataset_fn(32, cfg.data.spectral.spec_shape, cfg.data.num_pitches, seed=0)
    return gan.GANSynthTask(cfg, fn, **kwargs)


def _summary_tags(model_dir):
    tags = set()
    for path in glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags.add(value.tag)
    return tags


def _summary_descriptions(model_dir):
    """{tag: description} of the run's summaries (tf.compat.v1.train.summary_iterator)."""
    out = {}
    for path in glob.glob(os.path.join(model_dir, "train", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.metadata.summary_description:
                    out[value.tag] = value.metadata.summary_description
    return out


def test_note_names():
    assert [gan.note_name(p) for p in (24, 60, 61, 69, 84)] == ["C1", "C4", "C#4", "A4", "C6"]


def test_synthetic_specgrams_are_normalised_and_pitch_dependent():
    specs, one_hot = gan.synthetic_specgrams(8, (8, 16), 4, seed=1)
    assert specs.shape == (8, 8, 16, 2) and one_hot.shape == (8, 4)
    assert specs.min() >= -1 and specs.max() <= 1
    pitches = one_hot.argmax(1)
    lo, hi = np.argmin(pitches), np.argmax(pitches)
    peak_bin = lambda s: np.argmax(s[0, :, 0])
    assert pitches[lo] < pitches[hi] and peak_bin(specs[lo]) < peak_bin(specs[hi])


@pytest.mark.slow
def test_tiny_preset_trains_with_xla_checkpoints_and_writes_media(tmp_path):
    from gansynth_tf.normalizer import SpecgramNormalizer
    from gansynth_tf.specgrams import SpecgramsHelper

    cfg = gcfg.get_preset("tiny", ["trainer.train_steps=6", "trainer.media_every=3", "runtime.jit_compile=true"])
    task = _task(
        cfg,
        specgrams_helper=SpecgramsHelper(cfg.data.spectral),
        normalizer=SpecgramNormalizer.prespecified(*cfg.data.prespecified_normalizer),
        num_media_examples=2,
    )
    model_dir = str(tmp_path / "xla")
    runner = training.Runner(task, cfg, model_dir, strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    initial = [v.numpy() for v in task.generator.weights]
    result = runner.train()
    assert (result.start_step, result.final_step) == (0, 6)
    logs = result.logs
    assert all(math.isfinite(v) for v in logs.values()), logs
    for key in (
        "d/loss",
        "g/loss",
        "d/gradient_penalty",
        "d/real_class_accuracy",
        "d/fake_class_accuracy",
        "g/fake_class_accuracy",
        "d/wasserstein",
        "d/real_score_penalty",
        "g/fake_ac_loss",
    ):
        assert key in logs
    assert 0.0 <= logs["d/real_class_accuracy"] <= 1.0
    # Last step started at 5 * 4 = 20 images: a quarter into the first transition (16 stable, 16 fading).
    assert logs["schedule/images_seen"] == 20
    assert logs["schedule/progress"] == pytest.approx(0.25)
    assert logs["schedule/fade_alpha"] == pytest.approx(0.25)
    assert logs["schedule/stage"] == 1
    assert int(task.input_state.images_seen.numpy()) == 24
    assert os.path.exists(os.path.join(model_dir, "ckpt-6.index"))
    assert os.path.exists(os.path.join(model_dir, "ckpt-6.config.json"))
    assert any(np.abs(a - v.numpy()).max() > 1e-4 for a, v in zip(initial, task.generator.weights))
    # The EMA moved towards the trained weights but is not equal to them.
    ema = task.ema.averages
    assert any(np.abs(e.numpy() - v.numpy()).max() > 1e-6 for e, v in zip(ema, task.generator.weights))
    tags = _summary_tags(model_dir)
    # media labelled with their pitch: one summary per pitch, its tag and description name it
    lo, hi = cfg.data.min_pitch, cfg.data.max_pitch
    media = {
        f"generated/{kind}/pitch_{p:02d}"
        for kind in ("audio", "log_magnitude", "ifreq", "rainbowgram")
        for p in (lo, hi)
    }
    assert {"d/loss", "g/loss", "schedule/fade_alpha", "config"} | media <= tags, tags
    descriptions = _summary_descriptions(model_dir)
    assert descriptions[f"generated/audio/pitch_{lo:02d}"].startswith(f"MIDI pitch {lo} ({gan.note_name(lo)})")
    assert descriptions[f"generated/rainbowgram/pitch_{hi:02d}"].startswith(f"MIDI pitch {hi} ")
    # Sampling API: MIDI pitches -> normalised specgrams from the smoothed generator.
    specs = task.generate(np.zeros([2, cfg.model.latent_size], np.float32), [60, 63])
    assert specs.shape == (2, 8, 16, 2) and float(tf.reduce_max(tf.abs(specs))) <= 1.0
    with pytest.raises(ValueError, match="pitches"):
        task.generate(np.zeros([1, cfg.model.latent_size], np.float32), [20])


@pytest.mark.slow
def test_two_replicas_match_one_replica_then_resume_mid_stage(tmp_path, two_cpu_strategy):
    # Global batch 8 on two replicas of 4; minibatch-stddev groups of 4 so a group never spans replicas.
    # Adam's first steps are sign-like (m / sqrt(v) = +-1); a large epsilon makes the updates
    # proportional to the gradients, so equal weights mean equal gradients, not just equal signs.
    overrides = [
        "trainer.global_batch_size=8",
        "trainer.train_steps=2",
        "model.minibatch_stddev_group_size=4",
        "runtime.jit_compile=false",
        "model.adam_epsilon=1.0",
    ]
    cfg = gcfg.get_preset("tiny", overrides)

    one = training.Runner(_task(cfg), cfg, str(tmp_path / "one"), strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    r1 = one.train()
    two_dir = str(tmp_path / "two")
    two = training.Runner(_task(cfg), cfg, two_dir, strategy=two_cpu_strategy)
    r2 = two.train()
    assert two.strategy.num_replicas_in_sync == 2 and r1.final_step == r2.final_step == 2
    for key in r1.logs:
        assert r2.logs[key] == pytest.approx(r1.logs[key], abs=1e-4), key

    def weights(task):
        return [v.numpy() for v in task.generator.weights + task.discriminator.weights] + [
            np.asarray(v.numpy()) for v in task.ema.averages
        ]

    w1, w2 = weights(one.task), weights(two.task)
    assert len(w1) == len(w2)
    fresh = _task(cfg)
    fresh.build()
    moved = np.array([np.abs(a - b).max() for a, b in zip(w1, weights(fresh))])
    diffs = np.array([np.abs(a - b).max() for a, b in zip(w1, w2)])
    print(
        f"\nweights moved up to {moved.max():.3g} ({(moved > 1e-5).sum()} of {moved.size} arrays moved); "
        f"one vs two replicas differ up to {diffs.max():.3g}"
    )
    # Training moved the weights of the active blocks (higher blocks get no gradient at stage 0).
    assert moved.max() > 1e-4 and (moved > 1e-5).sum() >= 10
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, atol=1e-6, rtol=1e-4)

    # Resume the two-replica run from its step-2 checkpoint (16 images in: the fade-in starts) to step 4.
    cfg4 = gcfg.get_preset("tiny", overrides[:1] + overrides[2:] + ["trainer.train_steps=4"])
    resumed = training.Runner(_task(cfg4), cfg4, two_dir, strategy=two_cpu_strategy)
    assert resumed.restore() == 2
    for a, b in zip(w2, weights(resumed.task)):
        np.testing.assert_array_equal(a, b)
    r3 = resumed.train()
    assert (r3.start_step, r3.final_step) == (2, 4)
    assert all(math.isfinite(v) for v in r3.logs.values()), r3.logs
    # The last step started at 3 * 8 = 24 images: halfway through the first fade-in.
    assert r3.logs["schedule/progress"] == pytest.approx(0.5)
    assert r3.logs["schedule/stage"] == 1
    assert int(resumed.task.input_state.images_seen.numpy()) == 32
    assert os.path.exists(os.path.join(two_dir, "ckpt-4.index"))


def test_mixed_bfloat16_keeps_outputs_and_losses_float32():
    cfg = gcfg.get_preset("tiny", ["runtime.precision=mixed_bfloat16"])
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        task = _task(cfg)
        task.build()
        g, d = task.generator, task.discriminator
        assert g.blocks[1].conv0.compute_dtype == "bfloat16" and g.blocks[1].conv0.kernel.dtype == "float32"
        assert g.blocks[1].to_rgb.compute_dtype == "float32"
        batch = next(iter(task.build_inputs(tf.distribute.InputContext())))
        task.progress_var.assign(1.5)
        fake = g((batch["z_g"], batch["fake_pitch_g"]), progress=1.5)
        logits, classes = d(fake, progress=1.5)
        assert fake.dtype == logits.dtype == classes.dtype == tf.float32
        for phase in task.phases():
            loss, logs = phase.loss_fn(batch)
            assert loss.dtype == tf.float32 and math.isfinite(float(loss))
            assert all(v.dtype == tf.float32 for v in logs.values())
    finally:
        keras.mixed_precision.set_global_policy(previous)


@pytest.mark.slow
def test_a_resumed_run_trains_at_the_learning_rates_of_its_config(tmp_path):
    # Keras optimizers checkpoint their rate: without Task.after_restore a resumed run would keep
    # the old one and silently ignore `--set model.generator_learning_rate=...`.
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    base = ["trainer.global_batch_size=4", "runtime.jit_compile=false"]
    cfg = gcfg.get_preset("tiny", base + ["trainer.train_steps=1"])
    run_dir = str(tmp_path / "run")
    training.Runner(_task(cfg), cfg, run_dir, strategy=one).train()
    lowered = base + [
        "trainer.train_steps=2",
        "model.generator_learning_rate=0.0001",
        "model.discriminator_learning_rate=0.0002",
    ]
    cfg2 = gcfg.get_preset("tiny", lowered)
    resumed = training.Runner(_task(cfg2), cfg2, run_dir, strategy=one)
    assert resumed.restore() == 1
    assert float(resumed.task.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
    assert float(resumed.task.d_optimizer.learning_rate.numpy()) == pytest.approx(2e-4)
    old = f"{cfg.model.generator_learning_rate:g}"
    assert resumed.resumed_with == (
        f"model.generator_learning_rate 0.0001 from the config (the checkpoint held {old}); "
        f"model.discriminator_learning_rate 0.0002 from the config (the checkpoint held {old})"
    )
    assert resumed.train().final_step == 2
    # the next start restores the new rate itself: nothing to say
    again = training.Runner(_task(cfg2), cfg2, run_dir, strategy=one)
    assert again.restore() == 2 and again.resumed_with is None
    assert float(again.task.g_optimizer.learning_rate.numpy()) == pytest.approx(1e-4)
