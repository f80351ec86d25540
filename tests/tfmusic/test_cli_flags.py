"""The flags several commands share (tfmusic.cli_flags): names, aliases, destinations and defaults."""

import argparse

import pytest

from tfmusic import cli_flags


def _parser():
    return argparse.ArgumentParser(prog="prog")


def test_train_steps_flag_aliases_and_destination():
    p = _parser()
    action = cli_flags.add_train_steps_flag(p, "total steps")
    assert action.option_strings == ["--num_training_steps", "--num_steps", "--train_steps"]
    assert p.parse_args([]).num_training_steps is None
    for flag in action.option_strings:
        assert p.parse_args([flag, "7"]).num_training_steps == 7


@pytest.mark.parametrize(
    "name, order",
    [
        ("num_steps", ["--num_steps", "--num_training_steps", "--train_steps"]),
        ("train_steps", ["--train_steps", "--num_training_steps", "--num_steps"]),
    ],
)
def test_train_steps_flag_named_first(name, order):
    p = _parser()
    action = cli_flags.add_train_steps_flag(p, "steps", name=name, default=1500)
    assert action.option_strings == order
    assert vars(p.parse_args([]))[name] == 1500
    assert vars(p.parse_args(["--num_training_steps", "3"]))[name] == 3


def test_train_steps_flag_refuses_other_names():
    with pytest.raises(ValueError, match="steps"):
        cli_flags.add_train_steps_flag(_parser(), "steps", name="steps")


def test_overrides_flag_collects_in_order():
    p = _parser()
    cli_flags.add_overrides_flag(p, "override a field")
    assert p.parse_args([]).overrides == []
    assert p.parse_args(["--set", "a.b=1", "--set", "c=2"]).overrides == ["a.b=1", "c=2"]
    assert "--set A.B=VALUE" in p.format_help()
    q = _parser()
    cli_flags.add_overrides_flag(q, "overrides", metavar=None)
    assert "--set OVERRIDES" in q.format_help()


def test_model_dir_and_max_steps_flags():
    p = _parser()
    cli_flags.add_model_dir_flag(p)
    cli_flags.add_max_steps_flag(p, "stop early")
    args = p.parse_args(["--run_dir", "runs/x", "--max_steps_this_run", "5"])
    assert (args.model_dir, args.max_steps_this_run) == ("runs/x", 5)
    assert p.parse_args(["--model_dir", "y"]).max_steps_this_run is None
    with pytest.raises(SystemExit):
        p.parse_args([])  # the run folder is required
