"""Training the Melody RNN through the shared runner: metrics, XLA, resume, replicas, warm start, freezing."""

import dataclasses
import os

import numpy as np
import pytest
import tensorflow as tf

from melody_rnn_ext import bundle as bundle_lib
from melody_rnn_ext import config as config_lib
from melody_rnn_ext import data, encodings
from melody_rnn_ext import task as task_lib
from melody_rnn_ext.model import build_model
from tfmusic import config as run_config
from tfmusic import training


def write_melodies(path, config_id="basic_rnn", count=40, seed=0, min_len=17, max_len=32):
    """SequenceExamples of patterned melodies (arpeggios with holds and rests), encoded by the real encoder.
    Lengths 16..31 steps: one 32-step padding bucket, so XLA compiles the step once."""
    import note_seq

    rng = np.random.default_rng(seed)
    enc = encodings.make_encoder_decoder(config_id)
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(count):
            base = int(rng.integers(55, 70))
            pattern = [base, -2, base + 4, -2, base + 7, -1, base + 12, -2]
            events = (pattern * 8)[: int(rng.integers(min_len, max_len + 1))]
            inputs, labels = encodings.squash_and_encode(config_id, note_seq.Melody(events), enc)
            writer.write(data.make_sequence_example(inputs, labels).SerializeToString())
    return path


@pytest.fixture(scope="module")
def melodies(tmp_path_factory):
    return write_melodies(str(tmp_path_factory.mktemp("data") / "training_melodies.tfrecord"))


def eval_batches(path, config_id="basic_rnn", batch_size=16):
    return data.make_sequence_example_dataset(path, encodings.input_size(config_id), batch_size, shuffle=False)


def test_step_statistics_are_magentas_metrics():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 4)).astype(np.float32)
    labels = rng.integers(0, 4, size=(3, 5))
    labels[0, :3] = np.argmax(logits[0, :3], -1)  # some correct predictions
    lengths = np.array([5, 3, 1])
    no_event = 0
    sums = {k: float(v) for k, v in task_lib.step_statistics(logits, labels, lengths, no_event).items()}
    mask = np.arange(5)[None] < lengths[:, None]
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -np.take_along_axis(logp, labels[..., None], -1)[..., 0]
    correct = (logits.argmax(-1) == labels) & mask
    event = (labels != no_event) & mask
    assert sums["steps"] == mask.sum() == 9
    np.testing.assert_allclose(sums["cross_entropy"], ce[mask].sum(), rtol=1e-5)
    assert sums["correct"] == correct.sum() and sums["events"] == event.sum()
    assert sums["event_correct"] == (correct & event).sum()
    assert sums["no_event_correct"] == (correct & ~event).sum() and sums["no_events"] == (mask & ~event).sum()
    metrics = task_lib.metrics_from_sums(sums)
    np.testing.assert_allclose(metrics["perplexity"], np.exp(ce[mask].mean()), rtol=1e-5)
    assert metrics["event_accuracy"] == (correct & event).sum() / event.sum()


@pytest.mark.slow
def test_tiny_trains_with_xla_then_resumes(tmp_path, melodies):
    cfg = config_lib.get_preset(
        "tiny",
        [
            f"data.train_data_path={melodies}",
            "trainer.train_steps=30",
            "trainer.checkpoint_every=20",
            "runtime.jit_compile=true",  # auto would be off on a CPU; this test is about the XLA step
        ],
    )
    assert cfg.runtime.jit_compile is True
    model_dir = str(tmp_path / "run")
    task = task_lib.MelodyRnnTask(cfg)
    runner = training.Runner(task, cfg, model_dir)
    before = task_lib.evaluate(task.model, eval_batches(melodies), task.no_event_label, jit_compile=False)
    result = runner.train(stop_after=20)
    after = task_lib.evaluate(task.model, eval_batches(melodies), task.no_event_label, jit_compile=False)
    assert (result.start_step, result.final_step) == (0, 20)
    assert after["loss"] < before["loss"] - 0.5, (before, after)
    assert after["accuracy"] > before["accuracy"]
    logs = task.reduce_logs(result.logs)
    assert {f"metrics/{m}" for m in task_lib.METRICS} <= set(logs)
    np.testing.assert_allclose(logs["metrics/perplexity"], np.exp(logs["metrics/loss"]), rtol=1e-6)
    # One replica: the logged perplexity already is exp(loss).
    np.testing.assert_allclose(result.logs["metrics/perplexity"], np.exp(result.logs["metrics/loss"]), rtol=1e-4)
    for m in ("accuracy", "event_accuracy", "no_event_accuracy"):
        assert 0.0 <= logs[f"metrics/{m}"] <= 1.0
    assert os.path.exists(os.path.join(model_dir, "ckpt-20.index"))
    saved = [v.numpy() for v in task.model.weights]

    # A new process rebuilds everything from the run folder and resumes at step 20 (here without XLA,
    # an explicit override on resume, to spare a second compilation).
    cfg2, resumed = run_config.resolve_run_config(model_dir, cfg, ["runtime.jit_compile=false"])
    assert resumed and run_config.diff(cfg, cfg2) == {"runtime.jit_compile": (True, False)}
    task2 = task_lib.MelodyRnnTask(cfg2)
    runner2 = training.Runner(task2, cfg2, model_dir)
    assert runner2.restore() == 20
    for a, b in zip(task2.model.weights, saved):
        np.testing.assert_array_equal(a.numpy(), b)
    assert int(task2.optimizer.iterations.numpy()) == 20
    result2 = runner2.train()
    assert (result2.start_step, result2.final_step) == (20, 30)


def _run_steps(cfg, model_dir, melodies, steps, strategy=None):
    task = task_lib.MelodyRnnTask(cfg, dataset_fn=task_lib.sequence_example_dataset_fn(cfg, melodies, shuffle=False))
    runner = training.Runner(task, cfg, model_dir, strategy=strategy)
    logs = []
    iterator = runner.make_iterator()
    for _ in range(steps):
        logs.append({k: float(v) for k, v in runner._train_step(iterator).items()})
    return task, logs


def test_two_replicas_train_like_one(tmp_path, melodies, two_cpu_strategy):
    """Global-batch token mean and per-variable clipping (clip_norm / replicas) make 2 replicas = 1."""
    overrides = [
        f"data.train_data_path={melodies}",
        "model.hparams.dropout_keep_prob=1.0",
        "model.hparams.clip_norm=0.3",
        "runtime.jit_compile=false",
    ]
    cfg = config_lib.get_preset("tiny", overrides)
    one, logs_one = _run_steps(cfg, str(tmp_path / "one"), melodies, 4)
    two, logs_two = _run_steps(cfg, str(tmp_path / "two"), melodies, 4, strategy=two_cpu_strategy)
    for a, b in zip(logs_one, logs_two):
        for key in ("metrics/loss", "metrics/accuracy", "metrics/event_accuracy", "metrics/no_event_accuracy"):
            np.testing.assert_allclose(b[key], a[key], rtol=2e-5, err_msg=key)
    for a, b in zip(one.model.weights, two.model.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=0, atol=2e-5, err_msg=a.path)


def test_warm_start_from_bundle_and_frozen_layers(tmp_path, melodies):
    model_cfg = config_lib.MODEL_PRESETS.get("tiny")
    source = build_model(model_cfg)
    rng = np.random.default_rng(1)
    for v in source.weights:
        v.assign(rng.normal(0, 0.2, tuple(v.shape)).astype(np.float32))
    path = bundle_lib.write_bundle(source, model_cfg, str(tmp_path / "folk.mag"), global_step=5000)
    cfg = config_lib.get_preset(
        "tiny",
        [
            f"data.train_data_path={melodies}",
            f"warm_start.bundle_path={path}",
            "warm_start.frozen_layers=cell_0",
            "runtime.jit_compile=false",
        ],
    )
    task = task_lib.MelodyRnnTask(cfg)
    runner = training.Runner(task, cfg, str(tmp_path / "finetune"))
    assert task.warm_start_bundle is None  # read by initialize(), which a new run's restore() calls
    assert runner.restore() == 0
    assert task.warm_start_bundle.generator_id == "basic_rnn"
    for a, b in zip(task.model.weights, source.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(task.optimizer.iterations.numpy()) == 0 and int(runner.step.numpy()) == 0  # fresh optimizer
    runner.train(stop_after=3)
    names = {v.path: (v.numpy(), s.numpy()) for v, s in zip(task.model.weights, source.weights)}
    for key, (now, then) in names.items():
        if "/cell_0/" in key:
            np.testing.assert_array_equal(now, then, err_msg=key)
        else:
            assert np.abs(now - then).max() > 0, key
    # A bundle of another architecture cannot warm-start this model.
    other_cfg = dataclasses.replace(cfg, model=config_lib.MODEL_PRESETS.get("tiny_attention"))
    other = task_lib.MelodyRnnTask(other_cfg)
    other.build()
    with pytest.raises(bundle_lib.BundleError, match="folk.mag"):
        other.initialize(tf.Variable(0, dtype=tf.int64))
