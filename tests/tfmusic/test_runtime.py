"""runtime.jit_compile: the ``auto`` rule per device type and family, explicit values, config files, errors."""

import dataclasses
import json

import pytest
import tensorflow as tf

from tfmusic import config as config_lib
from tfmusic import experiment
from tfmusic import runtime as runtime_lib
from tfmusic import training
from tests.tfmusic.toy_task import ToyExperiment, ToyTask

FAMILIES = [runtime_lib.EVENTS_RNN, runtime_lib.MUSIC_TRANSFORMER, runtime_lib.GANSYNTH, runtime_lib.GENERIC]

#: The rule on a CPU, as measured by bench/bench_xla.py (bench/results/xla.md).
CPU_RULE = {
    runtime_lib.EVENTS_RNN: False,
    runtime_lib.MUSIC_TRANSFORMER: False,
    runtime_lib.GANSYNTH: False,
    runtime_lib.GENERIC: False,
}


def test_auto_is_the_default():
    assert runtime_lib.RuntimeConfig().jit_compile == "auto"


@pytest.mark.parametrize("family", FAMILIES)
def test_auto_on_cpu_follows_the_measured_rule(family):
    cfg = runtime_lib.RuntimeConfig()
    assert runtime_lib.resolve_jit_compile(cfg, family, "CPU") is CPU_RULE[family]
    assert runtime_lib.resolve_jit_compile(cfg, family, "cpu") is CPU_RULE[family]  # case does not matter


@pytest.mark.parametrize("device", ["GPU", "TPU"])
@pytest.mark.parametrize("family", FAMILIES)
def test_auto_on_accelerators_is_xla(family, device):
    assert runtime_lib.resolve_jit_compile(runtime_lib.RuntimeConfig(), family, device) is True


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("device", ["CPU", "GPU"])
@pytest.mark.parametrize("family", FAMILIES)
def test_explicit_values_win(family, device, value):
    cfg = runtime_lib.RuntimeConfig(jit_compile=value)
    assert runtime_lib.resolve_jit_compile(cfg, family, device) is value
    # an experiment config holding the runtime branch works the same
    assert runtime_lib.resolve_jit_compile(ToyExperiment(runtime=cfg), family, device) is value


def test_without_a_device_the_machine_decides():
    expected = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    assert runtime_lib.device_type() == expected
    cfg = runtime_lib.RuntimeConfig()
    assert runtime_lib.resolve_jit_compile(cfg, runtime_lib.EVENTS_RNN) is runtime_lib.resolve_jit_compile(
        cfg, runtime_lib.EVENTS_RNN, expected
    )
    assert runtime_lib.device_type(tf.distribute.OneDeviceStrategy("/cpu:0")) == "CPU"


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="unknown XLA family 'lstm'"):
        runtime_lib.resolve_jit_compile(runtime_lib.RuntimeConfig(), "lstm", "CPU")


def test_description_says_what_auto_resolved_to():
    auto = runtime_lib.RuntimeConfig()
    assert runtime_lib.describe_jit_compile(auto, runtime_lib.EVENTS_RNN, "CPU") == "XLA off (auto: CPU, events RNN)"
    assert runtime_lib.describe_jit_compile(auto, runtime_lib.EVENTS_RNN, "gpu") == "XLA on (auto: GPU, events RNN)"
    assert runtime_lib.describe_jit_compile(runtime_lib.RuntimeConfig(jit_compile=True), runtime_lib.EVENTS_RNN) == (
        "XLA on"
    )
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    cfg = ToyExperiment()
    assert experiment.runtime_summary(strategy, cfg, runtime_lib.EVENTS_RNN) == (
        "1 replica(s), XLA off (auto: CPU, events RNN)"
    )
    off = config_lib.apply_overrides(cfg, ["runtime.jit_compile=false"])
    assert experiment.runtime_summary(strategy, off, runtime_lib.GANSYNTH) == "1 replica(s), XLA off"


@pytest.mark.parametrize(
    "text, value",
    [("auto", "auto"), ("true", True), ("on", True), ("1", True), ("false", False), ("off", False), ("0", False)],
)
def test_set_reads_auto_and_booleans(text, value):
    cfg = config_lib.apply_overrides(ToyExperiment(), [f"runtime.jit_compile={text}"])
    assert cfg.runtime.jit_compile == value and type(cfg.runtime.jit_compile) is type(value)


@pytest.mark.parametrize("text", ["maybe", "Auto2", "", "2"])
def test_set_refuses_other_values(text):
    with pytest.raises(config_lib.ConfigError, match=r"runtime\.jit_compile=.*cannot read .* as bool or 'auto'"):
        config_lib.apply_overrides(ToyExperiment(), [f"runtime.jit_compile={text}"])


@pytest.mark.parametrize("value", ["maybe", 1, None, [True]])
def test_other_values_are_refused_in_files_and_constructors(value):
    data = config_lib.to_dict(ToyExperiment())
    data["runtime"]["jit_compile"] = value
    with pytest.raises(config_lib.ConfigError, match=r"runtime\.jit_compile"):
        config_lib.from_dict(ToyExperiment, data)
    with pytest.raises(ValueError, match="runtime.jit_compile"):
        runtime_lib.RuntimeConfig(jit_compile=value)


@pytest.mark.parametrize("value", ["auto", True, False])
def test_config_file_round_trip(tmp_path, value):
    cfg = dataclasses.replace(ToyExperiment(), runtime=runtime_lib.RuntimeConfig(jit_compile=value))
    path = str(tmp_path / "config.json")
    config_lib.save_json(cfg, path)
    assert json.loads(open(path).read())["runtime"]["jit_compile"] == value
    loaded = config_lib.load_json(ToyExperiment, path)
    assert loaded == cfg and type(loaded.runtime.jit_compile) is type(value)


@pytest.mark.parametrize("saved", [True, False])
def test_old_runs_resume_with_their_boolean(tmp_path, saved):
    """A run folder written before ``auto`` existed ("jit_compile": true/false) resumes unchanged."""
    data = config_lib.to_dict(ToyExperiment())
    data["runtime"]["jit_compile"] = saved
    (tmp_path / "config.json").write_text(json.dumps(data, indent=2))
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')
    plan = config_lib.plan_run_config(str(tmp_path), ToyExperiment())
    assert plan.resumed and plan.config.runtime.jit_compile is saved
    for device in ("CPU", "GPU"):
        assert runtime_lib.resolve_jit_compile(plan.config, runtime_lib.EVENTS_RNN, device) is saved
    plan.write()  # nothing changed: the file is left as it was
    assert json.loads((tmp_path / "config.json").read_text())["runtime"]["jit_compile"] is saved
    # --set still switches a resumed run to auto
    plan = config_lib.plan_run_config(str(tmp_path), ToyExperiment(), ["runtime.jit_compile=auto"])
    assert plan.config.runtime.jit_compile == "auto"


@pytest.mark.parametrize(
    "family, value, expected",
    [
        (runtime_lib.EVENTS_RNN, "auto", CPU_RULE[runtime_lib.EVENTS_RNN]),
        (runtime_lib.GENERIC, "auto", CPU_RULE[runtime_lib.GENERIC]),
        (runtime_lib.EVENTS_RNN, "true", True),
        (runtime_lib.GENERIC, "true", True),
        (runtime_lib.GENERIC, "false", False),
    ],
)
def test_runner_resolves_for_its_tasks_family(tmp_path, family, value, expected):
    class Task(ToyTask):
        xla_family = family

    cfg = config_lib.apply_overrides(ToyExperiment(), [f"runtime.jit_compile={value}"])
    runner = training.Runner(Task(cfg), cfg, str(tmp_path), strategy=tf.distribute.OneDeviceStrategy("/cpu:0"))
    assert runner.jit_compile is expected


def test_model_families_declare_theirs():
    from events_rnn.task import EventsRnnTask
    from gansynth_tf.gan import GANSynthTask
    from melody_rnn_ext.task import MelodyRnnTask
    from music_transformer_ext.task import MusicTransformerTask

    assert ToyTask.xla_family == runtime_lib.GENERIC
    assert EventsRnnTask.xla_family == MelodyRnnTask.xla_family == runtime_lib.EVENTS_RNN
    assert MusicTransformerTask.xla_family == runtime_lib.MUSIC_TRANSFORMER
    assert GANSynthTask.xla_family == runtime_lib.GANSYNTH


def test_a_train_command_refuses_a_mistyped_value(tmp_path, capsys):
    from melody_rnn_ext import train_cli

    run = tmp_path / "run"
    argv = ["--preset", "tiny", "--run_dir", str(run), "--sequence_example_file", str(tmp_path / "x.tfrecord")]
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(argv + ["--set", "runtime.jit_compile=maybe"])
    assert exit_info.value.code == 2
    assert "runtime.jit_compile=maybe: cannot read 'maybe' as bool or 'auto'" in capsys.readouterr().err
    assert not run.exists()


def test_a_train_command_says_what_auto_chose(tmp_path, capsys):
    from melody_rnn_ext import train_cli
    from tests.melody_rnn_ext.test_task import write_melodies

    data = write_melodies(str(tmp_path / "training_melodies.tfrecord"), count=8)
    run = tmp_path / "run"
    argv = ["--preset", "tiny", "--run_dir", str(run), "--sequence_example_file", data, "--num_training_steps", "1"]
    assert train_cli.main(argv) == 0
    device = runtime_lib.device_type()
    expected = "XLA on (auto: GPU, events RNN)" if device == "GPU" else "XLA off (auto: CPU, events RNN)"
    assert f"1 replica(s), {expected}" in capsys.readouterr().out
    assert json.loads((run / "config.json").read_text())["runtime"]["jit_compile"] == "auto"
