"""Flags that several commands share, each defined once: a training run's folder (``--model_dir``, alias
``--run_dir``), ``--set`` (config overrides), the total step count (``--num_training_steps`` with its aliases
``--num_steps`` / ``--train_steps``) and ``--max_steps_this_run``.

Each command keeps its own help text (what the flag sets in its config); the flag names, destinations, types
and defaults are these. This module imports only the standard library (a command's ``--help`` stays instant).
"""

from __future__ import annotations

import argparse
from typing import Optional

#: The names of the total-step flag; the one a command lists first is its ``args`` attribute.
TRAIN_STEPS_FLAGS = ("num_training_steps", "num_steps", "train_steps")
#: ``--set``'s metavar in the training commands (a dotted config field).
OVERRIDE_METAVAR = "A.B=VALUE"


def add_model_dir_flag(
    parser: argparse.ArgumentParser, help: str = "run folder (created; resumed if it holds a run)"
) -> argparse.Action:
    """``--model_dir`` (alias ``--run_dir``; ``args.model_dir``, required): the training run's folder."""
    return parser.add_argument("--model_dir", "--run_dir", dest="model_dir", required=True, help=help)


def add_overrides_flag(
    parser: argparse.ArgumentParser, help: str, metavar: Optional[str] = OVERRIDE_METAVAR
) -> argparse.Action:
    """``--set FIELD=VALUE``, repeatable, collected in order into ``args.overrides`` (default ``[]``).

    ``metavar``: how ``--help`` names the value (None: argparse's default, ``OVERRIDES``).
    """
    return parser.add_argument("--set", dest="overrides", action="append", default=[], metavar=metavar, help=help)


def add_train_steps_flag(
    parser: argparse.ArgumentParser,
    help: str,
    name: str = TRAIN_STEPS_FLAGS[0],
    default: Optional[int] = None,
) -> argparse.Action:
    """The total step count as ``--<name>`` (stored as ``args.<name>``), the other names of
    :data:`TRAIN_STEPS_FLAGS` its aliases (in that order); an int, ``default`` when not given."""
    if name not in TRAIN_STEPS_FLAGS:
        raise ValueError(f"{name!r} is not one of {TRAIN_STEPS_FLAGS}")
    names = [name] + [n for n in TRAIN_STEPS_FLAGS if n != name]
    return parser.add_argument(*(f"--{n}" for n in names), dest=name, type=int, default=default, help=help)


def add_max_steps_flag(parser: argparse.ArgumentParser, help: str) -> argparse.Action:
    """``--max_steps_this_run N`` (``args.max_steps_this_run``, default None): stop this process after ``N`` steps."""
    return parser.add_argument("--max_steps_this_run", type=int, default=None, help=help)
