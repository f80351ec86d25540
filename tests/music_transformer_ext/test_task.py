"""Language-model training through tfmusic.training.Runner: XLA steps, falling loss, exact resume,
fine-tuning from a ported t2t checkpoint, replica invariance, the loss and the schedule."""

import dataclasses
import math
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from music_transformer_ext import checkpoints as K
from music_transformer_ext import config as C
from music_transformer_ext import task as T
from music_transformer_ext.model import MusicTransformer
from tfmusic import runtime as runtime_lib
from tfmusic import training
from tfmusic.tf1_checkpoints import PortingError


def synthetic_dataset_fn(
    num_examples: int,
    sequence_length: int,
    vocab_size: int,
    alphabet: int = 12,
    seed: int = 0,
    input_length: int = 0,
    input_vocab_size: int = 92,
) -> T.DatasetFn:
    """Deterministic learnable token data: example ``i`` is ``2 + (a + b*t) mod alphabet``
    with per-example ``a``, ``b`` (ids stay clear of PAD 0 and EOS 1). With ``input_length`` each
    example also has random ``inputs`` (a few trailing PADs)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, alphabet, num_examples)
    b = rng.integers(1, 4, num_examples)
    t = np.arange(sequence_length)
    targets = (2 + (a[:, None] + b[:, None] * t[None]) % alphabet).astype(np.int32)
    if targets.max() >= vocab_size:
        raise ValueError(f"alphabet {alphabet} does not fit vocab_size {vocab_size}")
    data = {"targets": targets}
    if input_length:
        inputs = rng.integers(2, input_vocab_size, (num_examples, input_length)).astype(np.int32)
        inputs[:, -2:] = 0
        data["inputs"] = inputs

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices(data)
        return ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)

    return dataset_fn


def _one():
    return tf.distribute.OneDeviceStrategy("/cpu:0")


def _experiment(steps=8, jit=True, model=None, **fields):
    model = model or dataclasses.replace(
        C.get("tiny"), max_length=64, layer_prepostprocess_dropout=0.0, attention_dropout=0.0, relu_dropout=0.0
    )
    return T.experiment_for(
        model,
        data=T.DataConfig(sequence_length=32, input_length=8),
        optimizer=T.OptimizerConfig(schedule="constant*linear_warmup", learning_rate_constant=3e-3, warmup_steps=2),
        trainer=training.TrainerConfig(
            train_steps=steps, global_batch_size=8, checkpoint_every=4, summary_every=1, progress=False
        ),
        runtime=runtime_lib.RuntimeConfig(distribution="one_device", jit_compile=jit),
        **fields,
    )


def _weights(runner):
    return [v.numpy() for v in runner.task.model.trainable_variables]


@pytest.mark.slow
def test_tiny_trains_with_xla_loss_falls_and_resume_continues_exactly(tmp_path):
    cfg = _experiment(steps=8)
    data = synthetic_dataset_fn(64, 32, 310, seed=0)
    straight = training.Runner(T.MusicTransformerTask(cfg, data), cfg, str(tmp_path / "straight"), strategy=_one())
    first = straight.train(stop_after=1)
    final = straight.train()
    assert final.final_step == 8
    assert final.logs["lm/loss"] < first.logs["lm/loss"] - 0.5, (first.logs, final.logs)
    assert first.logs["lm/loss"] == pytest.approx(math.log(310), abs=0.6)  # starts near uniform
    assert 0.0 < first.logs["lm/learning_rate"] < final.logs["lm/learning_rate"] == pytest.approx(3e-3)

    # a new run in a folder holding only the step-4 checkpoint resumes from it
    interrupted = tmp_path / "interrupted"
    interrupted.mkdir()
    for path in (tmp_path / "straight").glob("ckpt-4*"):
        shutil.copy(path, interrupted / path.name)
    shutil.copy(tmp_path / "straight" / "config.json", interrupted / "config.json")
    (interrupted / "checkpoint").write_text('model_checkpoint_path: "ckpt-4"\nall_model_checkpoint_paths: "ckpt-4"\n')
    resumed_runner = training.Runner(T.MusicTransformerTask(cfg, data), cfg, str(interrupted), strategy=_one())
    resumed = resumed_runner.train()
    assert (resumed.start_step, resumed.final_step) == (4, 8)
    # same weights as the uninterrupted run: model, optimizer state and data position were restored
    for a, b in zip(_weights(straight), _weights(resumed_runner)):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert resumed.logs["lm/loss"] == pytest.approx(final.logs["lm/loss"], abs=1e-4)


def test_fine_tune_starts_from_a_ported_t2t_checkpoint(tmp_path):
    model_cfg = _experiment().model
    prefix = K.write_t2t_fixture(model_cfg, str(tmp_path / "t2t" / "model.ckpt-5"), seed=9)
    cfg = _experiment(steps=2, jit=False, init_checkpoint=str(tmp_path / "t2t"))
    data = synthetic_dataset_fn(16, 32, 310)
    runner = training.Runner(T.MusicTransformerTask(cfg, data), cfg, str(tmp_path / "run"), strategy=_one())
    task = runner.task
    assert task.ported_from is None  # ported by initialize(), which a new run's restore() calls
    assert runner.restore() == 0
    assert task.ported_from == prefix
    fixture = K.fixture_variables(model_cfg, seed=9)
    name = "transformer/body/decoder/layer_1/ffn/conv2/kernel"
    ported = K.keras_t2t_map(task.model)[name]
    np.testing.assert_array_equal(ported.numpy(), fixture[name])
    runner.train()
    assert np.abs(ported.numpy() - fixture[name]).max() > 0  # fine-tuning moved it
    out = task.export_t2t(str(tmp_path / "export" / "model.ckpt-2"), global_step=2)
    again = K.port_t2t_checkpoint(out, config=model_cfg)
    np.testing.assert_array_equal(K.keras_t2t_map(again)[name].numpy(), ported.numpy())

    wrong = _experiment(
        steps=2, jit=False, model=dataclasses.replace(model_cfg, num_layers=3), init_checkpoint=str(tmp_path / "t2t")
    )
    with pytest.raises(PortingError, match="num_layers: checkpoint 2, config 3"):
        training.Runner(T.MusicTransformerTask(wrong, data), wrong, str(tmp_path / "wrong"), strategy=_one()).restore()


@pytest.mark.slow
def test_two_replicas_take_the_same_step_as_one(tmp_path, two_cpu_strategy):
    cfg = _experiment(steps=2, jit=False)
    data = synthetic_dataset_fn(32, 32, 310, seed=1)
    one = training.Runner(T.MusicTransformerTask(cfg, data), cfg, str(tmp_path / "one"), strategy=_one())
    two = training.Runner(T.MusicTransformerTask(cfg, data), cfg, str(tmp_path / "two"), strategy=two_cpu_strategy)
    r1, r2 = one.train(), two.train()
    assert r1.logs["lm/loss"] == pytest.approx(r2.logs["lm/loss"], abs=1e-5)
    assert r1.logs["lm/learning_rate"] == pytest.approx(r2.logs["lm/learning_rate"], rel=1e-6)
    for a, b in zip(_weights(one), _weights(two)):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.slow
def test_conditioned_task_trains_on_inputs(tmp_path):
    model = dataclasses.replace(C.get("tiny_conditioned"), max_length=64)
    cfg = _experiment(steps=2, jit=False, model=model)
    data = synthetic_dataset_fn(16, 40, 310, input_length=10)  # cropped to 32 / 8 by the task
    runner = training.Runner(T.MusicTransformerTask(cfg, data), cfg, str(tmp_path / "cond"), strategy=_one())
    batch = next(iter(runner.task.build_inputs(tf.distribute.InputContext())))
    assert batch["targets"].shape == (8, 32) and batch["inputs"].shape == (8, 8)
    before = runner.task.model.body.encoder.stack_layers[0].ffn.conv1.kernel.numpy()
    result = runner.train()
    assert math.isfinite(result.logs["lm/loss"])
    assert np.abs(runner.task.model.body.encoder.stack_layers[0].ffn.conv1.kernel.numpy() - before).max() > 0


def test_cross_entropy_ignores_pad_and_smooths_like_t2t():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 7)).astype(np.float32)
    targets = np.array([[3, 4, 0, 0, 2], [1, 6, 5, 0, 3]], np.int32)
    loss, nll, weights = (x.numpy() for x in T.sequence_cross_entropy(logits, targets, label_smoothing=0.1))
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    np.testing.assert_allclose(nll, -np.take_along_axis(logp, targets[..., None], -1)[..., 0], rtol=1e-5)
    np.testing.assert_array_equal(weights, targets != 0)
    conf, low = 0.9, 0.1 / 6
    soft = np.full((2, 5, 7), low)
    np.put_along_axis(soft, targets[..., None], conf, -1)
    const = -(conf * np.log(conf) + 6 * low * np.log(low))
    np.testing.assert_allclose(loss, -(soft * logp).sum(-1) - const, rtol=1e-5, atol=1e-6)
    # a perfect prediction of the smoothed distribution costs nothing
    perfect, _, _ = T.sequence_cross_entropy(np.log(soft).astype(np.float32), targets, label_smoothing=0.1)
    np.testing.assert_allclose(perfect.numpy(), 0.0, atol=1e-5)


def test_schedule_follows_t2t_factors():
    s = T.T2TLearningRateSchedule("constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size", 2.0, 8000, 512)
    for step in (0, 99, 7999, 31999):
        n = step + 1
        want = 2.0 * min(1.0, n / 8000) / math.sqrt(max(n, 8000)) / math.sqrt(512)
        assert float(s(step)) == pytest.approx(want, rel=1e-5)
    tpu = T.T2TLearningRateSchedule("rsqrt_decay", 1.0, 10000, 512)
    assert float(tpu(0)) == pytest.approx(0.01) and float(tpu(39999)) == pytest.approx(0.005)
    assert T.T2TLearningRateSchedule(**s.get_config()).get_config() == s.get_config()
    with pytest.raises(ValueError, match="cosine"):
        T.OptimizerConfig(schedule="constant*cosine")
    assert isinstance(T.make_optimizer(T.OptimizerConfig(name="adafactor"), 512), keras.optimizers.Adafactor)
    assert isinstance(T.make_optimizer(T.OptimizerConfig(), 512), keras.optimizers.Adam)


def test_evaluate_reports_token_weighted_nll():
    model = MusicTransformer(dataclasses.replace(C.get("tiny"), max_length=64))
    targets = np.random.default_rng(2).integers(2, 310, (3, 12)).astype(np.int32)
    targets[2, 6:] = 0
    stats = T.evaluate(model, [{"targets": targets[:2]}, {"targets": targets[2:]}], jit_compile=False)
    assert stats["tokens"] == 30
    logits = model(targets).numpy()
    logp = logits - np.log(np.exp(logits.astype(np.float64)).sum(-1, keepdims=True))
    nll = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    assert stats["nll_per_token"] == pytest.approx(nll[targets != 0].mean(), rel=1e-5)


def test_training_batches_have_a_static_length_so_the_decoder_runs_blocked(tmp_path, monkeypatch):
    from music_transformer_ext import attention

    calls = []
    blocked = attention.blocked_causal_relative_attention

    def spy(q, *args, **kwargs):
        calls.append((tuple(q.shape), len(kwargs["blocks"])))
        return blocked(q, *args, **kwargs)

    monkeypatch.setattr(attention, "blocked_causal_relative_attention", spy)
    length = 2 * attention.MIN_ROWS_PER_BLOCK
    model = dataclasses.replace(C.get("tiny"), max_length=length)  # relative attention
    cfg = dataclasses.replace(
        _experiment(steps=1, jit=False, model=model), data=T.DataConfig(sequence_length=length, input_length=8)
    )
    runner = training.Runner(
        T.MusicTransformerTask(cfg, synthetic_dataset_fn(16, length, 310)), cfg, str(tmp_path), strategy=_one()
    )
    assert runner.train().final_step == 1
    # each decoder layer's self-attention traced through the row blocks, on the whole [B, H, L, d] batch
    assert len(calls) >= model.num_layers
    assert {(shape[0], shape[2], blocks) for shape, blocks in calls} == {(8, length, 2)}
