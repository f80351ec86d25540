"""Frozen-dataclass configs: overrides, presets, JSON round trip, clear errors."""

import dataclasses
from typing import Optional, Tuple

import pytest

from tfmusic import config as config_lib


@dataclasses.dataclass(frozen=True)
class Inner:
    layers: Tuple[int, ...] = (128, 128)
    rate: float = 0.5
    name: str = "basic_rnn"
    attn: Optional[int] = None
    on: bool = False


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: Inner = Inner()
    steps: int = 10


def test_overrides_parse_by_field_type_and_leave_original_alone():
    base = Outer()
    cfg = config_lib.apply_overrides(
        base,
        [
            "inner.layers=[64, 32]",
            "inner.rate=1e-3",
            "steps=7",
            "inner.name=attention_rnn",
            "inner.attn=40",
            "inner.on=true",
        ],
    )
    assert cfg == Outer(Inner((64, 32), 1e-3, "attention_rnn", 40, True), 7)
    assert base == Outer()
    assert config_lib.apply_overrides(base, ["inner.layers=256,256,256"]).inner.layers == (256, 256, 256)
    assert config_lib.apply_overrides(cfg, ["inner.attn=none"]).inner.attn is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ("inner.nope=1", "no field 'nope'"),
        ("steps=ten", "expected an int"),
        ("inner.on=maybe", "bool"),
        ("steps", "a.b=value"),
        ("steps.x=1", "not a config"),
    ],
)
def test_bad_overrides_name_the_problem(bad, message):
    with pytest.raises(config_lib.ConfigError, match=message):
        config_lib.apply_overrides(Outer(), [bad])


def test_json_round_trip_and_unknown_fields(tmp_path):
    cfg = config_lib.apply_overrides(Outer(), ["inner.layers=[3,4]", "inner.attn=5"])
    path = tmp_path / "c.json"
    config_lib.save_json(cfg, str(path))
    assert config_lib.load_json(Outer, str(path)) == cfg
    path.write_text('{"inner": {"layerz": [1]}}')
    with pytest.raises(config_lib.ConfigError, match="c.json.*layerz"):
        config_lib.load_json(Outer, str(path))
    path.write_text("{not json")
    with pytest.raises(config_lib.ConfigError, match="not valid JSON"):
        config_lib.load_json(Outer, str(path))
    assert config_lib.diff(Outer(), cfg) == {"inner.attn": (None, 5), "inner.layers": ([128, 128], [3, 4])}


def test_presets():
    reg = config_lib.PresetRegistry("toy")
    reg.add("small", lambda: Outer(steps=1))

    @reg.register("big")
    def _big():
        return Outer(steps=1000)

    assert reg.names() == ("big", "small")
    assert reg.get("big").steps == 1000
    with pytest.raises(config_lib.ConfigError, match="known: big, small"):
        reg.get("huge")
    with pytest.raises(config_lib.ConfigError, match="twice"):
        reg.add("small", Outer)


def test_resolve_run_config_reloads_saved(tmp_path):
    cfg, resumed = config_lib.resolve_run_config(str(tmp_path), Outer(), ["steps=3"])
    assert not resumed and cfg.steps == 3
    # a start that failed before its first checkpoint binds nothing: the next start takes its own flags
    other, resumed = config_lib.resolve_run_config(str(tmp_path), Outer(), ["steps=4"])
    assert not resumed and other.steps == 4 and config_lib.load_json(Outer, str(tmp_path / "config.json")).steps == 4
    cfg, _ = config_lib.resolve_run_config(str(tmp_path), Outer(), ["steps=3"])
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')  # the runner's first save
    again, resumed = config_lib.resolve_run_config(str(tmp_path), Outer(), [])
    assert resumed and again == cfg
    longer, _ = config_lib.resolve_run_config(str(tmp_path), Outer(), ["steps=9"])
    assert longer.steps == 9 and config_lib.load_json(Outer, str(tmp_path / "config.json")).steps == 9


def test_plan_writes_nothing_until_asked(tmp_path):
    run = tmp_path / "run"
    plan = config_lib.plan_run_config(str(run), Outer(), ["steps=3"])
    assert not plan.resumed and plan.config.steps == 3 and not run.exists()
    plan.write()
    assert config_lib.load_json(Outer, str(run / "config.json")).steps == 3


def test_a_resume_whose_flags_contradict_the_run_names_both_values(tmp_path):
    flags = {
        "--config": config_lib.RunFlag("basic_rnn", given=True, field="inner.name"),
        "--preset": config_lib.RunFlag("small", given=False),
    }  # left out: the default is recorded
    config_lib.resolve_run_config(str(tmp_path), Outer(), ["steps=3"], flags)
    assert (tmp_path / config_lib.RUN_FLAGS_FILENAME).exists()
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(config_lib.ConfigError, match="inner.name basic_rnn, but --config attention_rnn"):
        config_lib.plan_run_config(
            str(tmp_path), Outer(), [], {"--config": config_lib.RunFlag("attention_rnn", field="inner.name")}
        )
    with pytest.raises(config_lib.ConfigError, match="--preset small, but --preset big"):
        config_lib.plan_run_config(str(tmp_path), Outer(), [], {"--preset": config_lib.RunFlag("big")})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    # flags that agree, flags left out, and --set overrides resume
    plan = config_lib.plan_run_config(
        str(tmp_path),
        Outer(),
        ["steps=5", "inner.rate=0.25"],
        {
            "--config": config_lib.RunFlag("basic_rnn", field="inner.name"),
            "--preset": config_lib.RunFlag("small"),
            "--other": config_lib.RunFlag("x", given=False),
        },
    )
    assert plan.resumed and plan.config.steps == 5 and plan.config.inner.rate == 0.25
    # a run without a record of a flag (started by an older version) is not checked for it
    (tmp_path / config_lib.RUN_FLAGS_FILENAME).unlink()
    assert config_lib.plan_run_config(str(tmp_path), Outer(), [], {"--preset": config_lib.RunFlag("big")}).resumed
