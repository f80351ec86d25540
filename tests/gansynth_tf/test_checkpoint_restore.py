"""The generator and discriminator restore on their own from a training checkpoint.

Keras 3 keeps layers held in a Python list out of TensorFlow's object graph; before the
networks named their blocks as attributes, ``tf.train.Checkpoint(generator=g).restore(...)``
matched nothing, raised nothing, and left every block at its random initial weights (the
Runner's own resume worked only because the optimizers also reference the variables).
"""

import numpy as np
import tensorflow as tf

from gansynth_tf import config as gcfg
from gansynth_tf import gan
from gansynth_tf import synthesize as S
from gansynth_tf.discriminator import build_discriminator
from gansynth_tf.generator import build_generator
from tfmusic import training


def _assert_same(a_weights, b_weights):
    assert len(a_weights) == len(b_weights)
    for a, b in zip(a_weights, b_weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_networks_checkpoint_every_block(tmp_path):
    cfg = gcfg.get_preset("tiny")
    g = build_generator(cfg.model, cfg.data.num_pitches)
    d = build_discriminator(cfg.model, cfg.data.num_pitches)
    path = tf.train.Checkpoint(generator=g, discriminator=d).save(str(tmp_path / "nets"))
    names = {n for n, _ in tf.train.list_variables(path)}
    for b in range(1, cfg.model.num_resolutions + 1):
        assert f"generator/progressive_gan_block_{b}/conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE" in names
        assert f"discriminator/progressive_gan_block_{b}/conv0/kernel/.ATTRIBUTES/VARIABLE_VALUE" in names
    g2 = build_generator(cfg.model, cfg.data.num_pitches)
    d2 = build_discriminator(cfg.model, cfg.data.num_pitches)
    assert any(np.abs(a.numpy() - b.numpy()).max() > 1e-3 for a, b in zip(g.weights, g2.weights))
    tf.train.Checkpoint(generator=g2, discriminator=d2).restore(path).assert_consumed()
    _assert_same([v.numpy() for v in g.weights], [v.numpy() for v in g2.weights])
    _assert_same([v.numpy() for v in d.weights], [v.numpy() for v in d2.weights])


def test_raw_weights_load_from_a_run_folder(tmp_path):
    cfg = gcfg.get_preset("tiny", ["trainer.train_steps=2", "runtime.jit_compile=false"])
    task = gan.GANSynthTask(cfg, gan.synthetic_dataset_fn(16, cfg.data.spectral.spec_shape, cfg.data.num_pitches))
    runner = training.Runner(task, cfg, str(tmp_path), strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    runner.train()
    trained = [v.numpy() for v in task.generator.weights]

    raw = S.GANSynthSynthesizer.from_model_dir(tmp_path, use_ema=False)
    assert not raw.uses_ema
    _assert_same(trained, [v.numpy() for v in raw.generator.weights])
    ema = S.GANSynthSynthesizer.from_model_dir(tmp_path)
    _assert_same([v.numpy() for v in task.ema.averages], [v.numpy() for v in ema.generator.weights])

    d = build_discriminator(cfg.model, cfg.data.num_pitches)
    tf.train.Checkpoint(discriminator=d).restore(raw.checkpoint).expect_partial().assert_existing_objects_matched()
    _assert_same([v.numpy() for v in task.discriminator.weights], [v.numpy() for v in d.weights])
