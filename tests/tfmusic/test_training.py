"""The shared runner: replica equivalence, resume after a kill, config reload, non-finite guard."""

import dataclasses
import json
import math
import pathlib
import signal
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from tfmusic import config as config_lib
from tfmusic import runtime as runtime_lib
from tfmusic import training
from tests import polling
from tests.tfmusic.toy_task import ToyExperiment, ToyTask, child_command

REPO = pathlib.Path(__file__).resolve().parents[2]


def _train(tmp_path, name, strategy, jit=True, steps=3):
    cfg = config_lib.apply_overrides(ToyExperiment(), [f"trainer.train_steps={steps}", f"runtime.jit_compile={jit}"])
    runner = training.Runner(ToyTask(cfg), cfg, str(tmp_path / name), strategy=strategy)
    result = runner.train()
    return [v.numpy() for v in runner.task.model.trainable_variables], result, runner


@pytest.mark.parametrize("jit", [True, False])
def test_two_replicas_match_one_replica_on_same_global_batch(tmp_path, two_cpu_strategy, jit):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    w1, r1, _ = _train(tmp_path, "one", one, jit=jit)
    w2, r2, runner2 = _train(tmp_path, "two", two_cpu_strategy, jit=jit)
    assert runner2.strategy.num_replicas_in_sync == 2
    assert r1.final_step == r2.final_step == 3
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    # the loss is the global-batch mean, not a per-replica one
    assert r1.logs["fit/loss"] == pytest.approx(r2.logs["fit/loss"], abs=1e-5)
    # and training moved the weights at all (so equality above is not trivial)
    _, _, fresh = _train(tmp_path, "fresh", one, steps=1)
    fresh.task.build()
    assert any(
        np.abs(a - b).max() > 1e-3 for a, b in zip(w1, [v.numpy() for v in fresh.task.model.trainable_variables])
    )


def test_checkpoints_carry_config_and_resume(tmp_path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    model_dir = tmp_path / "run"
    cfg, resumed = config_lib.resolve_run_config(str(model_dir), ToyExperiment(), ["model.hidden=7"])
    assert not resumed
    runner = training.Runner(ToyTask(cfg), cfg, str(model_dir), strategy=one)
    assert runner.train(stop_after=2).final_step == 2
    assert (model_dir / "ckpt-2.config.json").exists()
    saved = json.loads((model_dir / "ckpt-2.config.json").read_text())
    assert saved["model"]["hidden"] == 7
    # a restart that passes the default config still gets the saved one back
    cfg2, resumed2 = config_lib.resolve_run_config(str(model_dir), ToyExperiment(), [])
    assert resumed2 and cfg2 == cfg
    runner2 = training.Runner(ToyTask(cfg2), cfg2, str(model_dir), strategy=one)
    result = runner2.train()
    assert (result.start_step, result.final_step) == (2, 4)
    assert runner2.task.model.get_layer("hidden").kernel.shape == (5, 7)
    assert sorted(p.name for p in model_dir.glob("ckpt-*.config.json")) == ["ckpt-2.config.json", "ckpt-4.config.json"]
    assert (model_dir / "train").is_dir()
    assert list((model_dir / "train").glob("events.out.tfevents.*"))


def _events(log_dir):
    """[(step, tag, value)] of every summary in ``log_dir``'s event files, read back with
    tf.compat.v1.train.summary_iterator, in the order they were written; value: the float of scalars,
    the text of text summaries."""
    timed = []
    for path in pathlib.Path(log_dir).glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for v in event.summary.value:
                data = tf.make_ndarray(v.tensor) if v.HasField("tensor") else None
                if data is not None and data.dtype == object:
                    data = data.item().decode() if data.ndim == 0 else [d.decode() for d in data.ravel()]
                elif data is not None:
                    data = float(data)
                timed.append((event.wall_time, len(timed), (event.step, v.tag, data)))
    # By each summary's own time: neither the file names (writers opened in the same second sort by a
    # counter, as text) nor the files' first records (whole seconds) order two writers of one second.
    return [item for _, _, item in sorted(timed, key=lambda t: t[:2])]


def test_tensorboard_gets_the_config_as_text_and_eval_metrics_beside_training(tmp_path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    model_dir = tmp_path / "run"
    cfg, _ = config_lib.resolve_run_config(
        str(model_dir), ToyExperiment(), ["model.hidden=7", "trainer.train_steps=2", "trainer.summary_every=1"]
    )
    training.Runner(ToyTask(cfg), cfg, str(model_dir), strategy=one).train()
    events = _events(model_dir / "train")
    config_events = [(step, text) for step, tag, text in events if tag == "config"]
    assert [step for step, _ in config_events] == [0]
    shown = config_events[0][1]
    assert all(line.startswith("    ") for line in shown.splitlines())  # a Markdown code block
    assert json.loads(shown) == json.loads((model_dir / "config.json").read_text())
    assert {"fit/loss", "perf/steps_per_sec"} <= {tag for _, tag, _ in events}
    # an evaluation lands under eval/ in the same logs, at its step; bookkeeping and NaN are left out
    tags = training.write_eval_summaries(
        str(model_dir),
        {"loss": 0.5, "accuracy": 0.75, "global_step": 2, "note": "text", "perplexity": float("nan")},
        step=2,
    )
    assert tags == ["eval/loss", "eval/accuracy"]
    events = _events(model_dir / "train")
    assert (2, "eval/loss", 0.5) in events and (2, "eval/accuracy", 0.75) in events
    assert not [t for _, t, _ in events if t in ("eval/global_step", "eval/note", "eval/perplexity")]
    # a resumed start writes the config it runs with, at the step it resumes from
    cfg2, resumed = config_lib.resolve_run_config(str(model_dir), ToyExperiment(), ["trainer.train_steps=3"])
    training.Runner(ToyTask(cfg2), cfg2, str(model_dir), strategy=one).train()
    config_events = [(step, json.loads(text)) for step, tag, text in _events(model_dir / "train") if tag == "config"]
    assert resumed and [step for step, _ in config_events] == [0, 2]
    assert config_events[1][1]["trainer"]["train_steps"] == 3


@pytest.mark.slow
def test_killed_run_resumes_from_last_saved_step_with_same_config(tmp_path):
    model_dir = tmp_path / "killed"
    cmd, env = child_command(model_dir, "trainer.train_steps=100000", "trainer.checkpoint_every=5", "model.hidden=9")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # the manager deletes old checkpoints as new ones land: wait for "some checkpoint at step >= 10",
        # never for one exact file, which can come and go between two polls
        reached = polling.wait_for_checkpoint(model_dir, 10, proc, timeout=300)
        assert reached >= 10, proc.communicate(timeout=5)[0] if proc.poll() is not None else "no checkpoint in time"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    manager_state = tf.train.get_checkpoint_state(str(model_dir))
    last_saved = int(manager_state.model_checkpoint_path.rsplit("-", 1)[1])
    assert last_saved >= 10 and last_saved % 5 == 0
    # restart with no overrides beyond a smaller step budget: config comes back from disk
    out = subprocess.run(
        cmd[:4] + ["--set", f"trainer.train_steps={last_saved + 3}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    start = [line for line in out.stdout.splitlines() if line.startswith("START")][0].split()
    assert start[1] == str(last_saved) and start[2] == "resumed"
    assert f"END {last_saved + 3}" in out.stdout
    saved = config_lib.load_json(ToyExperiment, str(model_dir / "config.json"))
    assert saved.model.hidden == 9 and saved.trainer.checkpoint_every == 5


def test_nonfinite_loss_stops_without_checkpoint(tmp_path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    cfg = config_lib.apply_overrides(
        ToyExperiment(),
        ["model.learning_rate=1e30", "model.clip_norm=1e30", "trainer.train_steps=50", "trainer.checkpoint_every=1"],
    )

    class Exploding(ToyTask):
        def phases(self):
            (phase,) = super().phases()
            inner = phase.loss_fn

            def loss_fn(batch):
                loss, logs = inner(batch)
                return loss * tf.constant(1e38), logs

            return [dataclasses.replace(phase, loss_fn=loss_fn)]

    runner = training.Runner(Exploding(cfg), cfg, str(tmp_path / "nan"), strategy=one)
    with pytest.raises(training.NonFiniteError, match="non-finite"):
        runner.train()
    for path in (
        tf.train.get_checkpoint_state(str(tmp_path / "nan")).all_model_checkpoint_paths
        if tf.train.get_checkpoint_state(str(tmp_path / "nan"))
        else []
    ):
        reader = tf.train.load_checkpoint(path)
        for name in reader.get_variable_to_shape_map():
            value = reader.get_tensor(name)
            if np.issubdtype(np.asarray(value).dtype, np.floating):
                assert np.all(np.isfinite(value)), (path, name)


class _RowsTask(ToyTask):
    """The toy task on chosen rows of its data, some of them poisoned with NaN."""

    def __init__(self, config, rows, nan_rows=()):
        super().__init__(config)
        self.rows, self.nan_rows = list(rows), list(nan_rows)

    def build_inputs(self, ctx):
        from tests.tfmusic.toy_task import toy_data

        x, y = toy_data()
        x = x.copy()
        x[self.nan_rows] = np.nan
        bs = ctx.get_per_replica_batch_size(self.config.trainer.global_batch_size)
        return tf.data.Dataset.from_tensor_slices((x[self.rows], y[self.rows])).repeat().batch(bs, drop_remainder=True)


@pytest.mark.parametrize("jit", [True, False])
def test_skip_mode_drops_exactly_the_nonfinite_steps(tmp_path, jit):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    cfg = config_lib.apply_overrides(
        ToyExperiment(),
        [
            "trainer.train_steps=7",
            "trainer.checkpoint_every=1",
            "trainer.on_nonfinite=skip",
            f"runtime.jit_compile={jit}",
        ],
    )
    # Batch 0 (rows 0..7) holds a NaN row: skipping it must equal training on rows 8..63 alone.
    skipping = training.Runner(_RowsTask(cfg, range(64), nan_rows=[5]), cfg, str(tmp_path / "skip"), strategy=one)
    result = skipping.train()
    clean = training.Runner(_RowsTask(cfg, range(8, 64)), cfg, str(tmp_path / "clean"), strategy=one)
    clean.train()
    assert result.final_step == 7 and skipping.skipped_steps == 1
    assert int(skipping.task.optimizer.iterations.numpy()) == 7
    for a, b in zip(skipping.task.model.trainable_variables, clean.task.model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert all(math.isfinite(v) for v in result.logs.values())


def test_skip_mode_gives_up_after_consecutive_nonfinite_steps(tmp_path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    cfg = config_lib.apply_overrides(
        ToyExperiment(), ["trainer.train_steps=5", "trainer.on_nonfinite=skip", "trainer.max_consecutive_skips=3"]
    )
    runner = training.Runner(
        _RowsTask(cfg, range(64), nan_rows=list(range(64))), cfg, str(tmp_path / "allnan"), strategy=one
    )
    with pytest.raises(training.NonFiniteError, match="3 steps in a row"):
        runner.train()
    assert runner.manager.latest_checkpoint is None


def test_skip_mode_matches_fused_step_on_finite_data_with_two_replicas(tmp_path, two_cpu_strategy):
    cfg = config_lib.apply_overrides(ToyExperiment(), ["trainer.train_steps=3"])
    fused = training.Runner(ToyTask(cfg), cfg, str(tmp_path / "fused"), strategy=two_cpu_strategy)
    fused.train()
    cfg_skip = config_lib.apply_overrides(cfg, ["trainer.on_nonfinite=skip"])
    split = training.Runner(ToyTask(cfg_skip), cfg_skip, str(tmp_path / "split"), strategy=two_cpu_strategy)
    split.train()
    for a, b in zip(fused.task.model.trainable_variables, split.task.model.trainable_variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_strategy_selection_from_environment(monkeypatch):
    cfg = runtime_lib.RuntimeConfig()
    assert runtime_lib.resolve_distribution(cfg, environ={}) in ("one_device", "mirrored")
    tf_config = json.dumps(
        {"cluster": {"worker": ["localhost:1", "localhost:2"]}, "task": {"type": "worker", "index": 0}}
    )
    assert runtime_lib.resolve_distribution(cfg, environ={"TF_CONFIG": tf_config}) == "multi_worker"
    assert (
        runtime_lib.resolve_distribution(runtime_lib.RuntimeConfig(devices=("/cpu:0", "/cpu:1")), environ={})
        == "mirrored"
    )
    strategy = runtime_lib.make_strategy(
        runtime_lib.RuntimeConfig(distribution="mirrored", devices=("/cpu:0", "/cpu:1"))
    )
    assert strategy.num_replicas_in_sync == 2
    with pytest.raises(ValueError, match="not valid JSON"):
        runtime_lib.tf_config_task_count({"TF_CONFIG": "{oops"})
    with pytest.raises(ValueError, match="distribution"):
        runtime_lib.RuntimeConfig(distribution="tpu_pod")


def test_max_minutes_stops_with_a_checkpoint_and_the_rerun_goes_on(tmp_path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    model_dir = tmp_path / "sliced"
    # a deadline already past: the first step ends this start, with a checkpoint off the regular schedule
    cfg = config_lib.apply_overrides(
        ToyExperiment(),
        [
            "trainer.train_steps=50",
            "trainer.checkpoint_every=20",
            "trainer.max_minutes=1e-9",
            "runtime.jit_compile=false",
        ],
    )
    result = training.Runner(ToyTask(cfg), cfg, str(model_dir), strategy=one).train()
    assert (result.start_step, result.final_step) == (0, 1)
    assert result.checkpoint and result.checkpoint.endswith("ckpt-1")
    # the next start resumes from it; without a limit it reaches train_steps
    cfg2 = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, max_minutes=0.0))
    result2 = training.Runner(ToyTask(cfg2), cfg2, str(model_dir), strategy=one).train()
    assert (result2.start_step, result2.final_step) == (1, 50)
    with pytest.raises(ValueError, match="max_minutes must be >= 0"):
        config_lib.apply_overrides(ToyExperiment(), ["trainer.max_minutes=-1"])


class _WarmStartedToy(ToyTask):
    """A toy whose new runs start from a "foreign" constant kernel, and whose evaluation is the MSE on fixed data."""

    def __init__(self, config, fail=None):
        super().__init__(config)
        self.initialized = 0
        self.fail = fail

    def initialize(self, step):
        self.initialized += 1
        if self.fail:
            raise ValueError(self.fail)
        self.model.get_layer("hidden").kernel.assign(tf.fill(self.model.get_layer("hidden").kernel.shape, 0.25))
        return "started from the constant kernel"

    def evaluate(self):
        from tests.tfmusic.toy_task import toy_data

        x, y = toy_data(16, seed=1)
        return {"mse": float(np.mean((self.model(x).numpy() - y) ** 2)), "global_step": 99}


def test_initialize_starts_a_new_run_and_never_a_resumed_one(tmp_path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    model_dir = str(tmp_path / "run")
    cfg = config_lib.apply_overrides(ToyExperiment(), ["trainer.train_steps=2", "runtime.jit_compile=false"])
    runner = training.Runner(_WarmStartedToy(cfg), cfg, model_dir, strategy=one)
    assert runner.task.initialized == 0  # not at build
    assert runner.restore() == 0 and runner.task.initialized == 1
    assert runner.initialized_from == "started from the constant kernel"
    np.testing.assert_array_equal(runner.task.model.get_layer("hidden").kernel.numpy(), 0.25)
    assert runner.restore() == 0 and runner.task.initialized == 1  # once per runner
    assert runner.train().final_step == 2 and runner.task.initialized == 1
    # the resumed run restores its own checkpoint: the warm start is not called (it would fail here)
    cfg2 = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=3))
    resumed = training.Runner(_WarmStartedToy(cfg2, fail="the foreign source moved"), cfg2, model_dir, strategy=one)
    result = resumed.train()
    assert (result.start_step, result.final_step) == (2, 3)
    assert resumed.task.initialized == 0 and resumed.initialized_from is None


def test_evaluation_hook_writes_eval_scalars_every_eval_every_steps_and_at_the_end(tmp_path):
    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    model_dir = tmp_path / "run"
    cfg = config_lib.apply_overrides(
        ToyExperiment(), ["trainer.train_steps=5", "trainer.eval_every=2", "runtime.jit_compile=false"]
    )
    runner = training.Runner(_WarmStartedToy(cfg), cfg, str(model_dir), strategy=one)
    result = runner.train()
    evals = [(step, value) for step, tag, value in _events(model_dir / "train") if tag == "eval/mse"]
    assert [step for step, _ in evals] == [2, 4, 5]  # every 2 steps, then the final step
    assert result.eval_metrics["mse"] == pytest.approx(evals[-1][1]) and evals[0][1] > evals[-1][1]
    assert not [tag for _, tag, _ in _events(model_dir / "train") if tag == "eval/global_step"]
    # the last step already evaluated: not twice; a task without an evaluation writes none
    cfg2 = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, train_steps=6))
    runner2 = training.Runner(_WarmStartedToy(cfg2), cfg2, str(model_dir), strategy=one)
    assert runner2.train().eval_metrics is not None
    assert [s for s, tag, _ in _events(model_dir / "train") if tag == "eval/mse"] == [2, 4, 5, 6]
    plain = training.Runner(ToyTask(cfg), cfg, str(tmp_path / "plain"), strategy=one).train()
    assert plain.eval_metrics is None and not [t for _, t, _ in _events(tmp_path / "plain" / "train") if "eval" in t]
    with pytest.raises(ValueError, match="eval_every must be >= 0"):
        config_lib.apply_overrides(ToyExperiment(), ["trainer.eval_every=-1"])


def test_experiment_run_reports_and_refuses_a_failing_warm_start(tmp_path, capsys):
    from tfmusic import experiment

    one = tf.distribute.OneDeviceStrategy("/cpu:0")
    cfg = config_lib.apply_overrides(ToyExperiment(), ["trainer.train_steps=2", "runtime.jit_compile=false"])
    with pytest.raises(experiment.RunRefused, match="^bad bundle$"):
        experiment.run(_WarmStartedToy(cfg, fail="bad bundle"), cfg, str(tmp_path / "bad"), one, refuse=(ValueError,))
    assert not config_lib.has_checkpoint(str(tmp_path / "bad"))
    with pytest.raises(ValueError, match="bad bundle"):  # not a refusal of this command: raised as it is
        experiment.run(_WarmStartedToy(cfg, fail="bad bundle"), cfg, str(tmp_path / "bad"), one, refuse=(OSError,))
    outcome = experiment.run(_WarmStartedToy(cfg), cfg, str(tmp_path / "run"), one, prog="toy_train")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "toy_train: started from the constant kernel"
    assert out[1] == f"toy_train: steps 0 -> 2; checkpoint {tmp_path / 'run' / 'ckpt-2'}"
    assert out[2].startswith("  fit/grad_norm = ") and out[3].startswith("  fit/loss = ")
    assert outcome.step == 2 and outcome.eval_metrics == outcome.result.eval_metrics
    # train=False only restores (no warm start on a run with a checkpoint) and evaluates
    only = experiment.run(_WarmStartedToy(cfg, fail="not read"), cfg, str(tmp_path / "run"), one, train=False)
    assert (
        only.result is None
        and only.step == 2
        and only.eval_metrics["mse"] == pytest.approx(outcome.eval_metrics["mse"])
    )


def test_reapply_learning_rate_sets_a_constant_rate_and_leaves_a_schedule_alone():
    import keras

    variables = [tf.Variable([1.0, 2.0])]
    constant = keras.optimizers.Adam(0.05)
    constant.build(variables)
    assert training.reapply_learning_rate(constant, 0.05, "lr") is None
    assert training.reapply_learning_rate(constant, 0.01, "lr") == "lr 0.01 from the config (the checkpoint held 0.05)"
    assert float(constant.learning_rate.numpy()) == pytest.approx(0.01)
    scheduled = keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.05, 10, 0.5))
    scheduled.build(variables)
    assert training.reapply_learning_rate(scheduled, 0.01, "lr") is None
