"""The one run sequence every ``*_train`` command follows around :class:`tfmusic.training.Runner`.

A command first decides its config with :func:`tfmusic.config.plan_run_config` (its own presets and
flags) and checks its data, writing nothing; then::

    strategy = experiment.start(plan)                      # config.json written, then the strategy
    summary = experiment.runtime_summary(strategy, cfg, MyTask.xla_family)  # "1 replica(s), XLA off (auto: ...)"
    experiment.announce(prog, model_dir, plan.resumed, f"...; {summary}")
    task = MyTask(cfg, ...)                                # the family's tfmusic.training.Task
    outcome = experiment.run(task, cfg, model_dir, strategy, prog=prog, refuse=(PortingError,))

:func:`run` builds the :class:`~tfmusic.training.Runner`, restores the run's own checkpoint or, for
a new run, lets the task start from its warm start (:meth:`~tfmusic.training.Task.initialize`),
trains (or only evaluates), and prints the report every command prints::

    PROG: steps 0 -> 300; checkpoint RUN/ckpt-300
      metrics/loss = 2.31
      ...

An error the command refuses with (a bundle that does not fit, say) is raised as :class:`RunRefused`
carrying the one-line message; the command prints it and exits 2.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Optional, Tuple, Type, Union

from tfmusic import training

#: What :func:`run` turns into :class:`RunRefused`: exception types (the message is ``str(e)``), or a
#: function ``exception -> message`` returning None for an exception that is not a refusal.
Refusals = Union[Tuple[Type[BaseException], ...], Callable[[BaseException], Optional[str]]]


class RunRefused(Exception):
    """The run could not start: building its task's models, the runner or its warm start raised an
    error the command refuses with. ``str()`` is the one-line message (without the command's name)."""


@dataclasses.dataclass
class Outcome:
    """What :func:`run` did.

    Attributes:
      task, runner, strategy: what trained (for exports and evaluations after the run).
      result: the :class:`~tfmusic.training.RunResult` of training; None when only evaluated.
      step: the step the weights are at now.
      eval_metrics: the last evaluation's metrics (None when the task has no evaluation).
    """

    task: training.Task
    runner: training.Runner
    strategy: Any
    result: Optional[training.RunResult]
    step: int
    eval_metrics: Optional[Dict[str, float]]


def start(plan) -> Any:
    """Writes the run's config (:meth:`tfmusic.config.RunPlan.write`) and returns the strategy of its
    ``runtime`` branch. The strategy comes before any other TensorFlow op of the command
    (``MultiWorkerMirroredStrategy``'s rule), so build datasets and tasks after this."""
    from tfmusic import runtime as runtime_lib

    plan.write()
    return runtime_lib.make_strategy(plan.config.runtime)


def runtime_summary(strategy, config, family: str = "generic") -> str:
    """``"2 replica(s), XLA on"`` or ``"1 replica(s), XLA off (auto: CPU, events RNN)"``: the part of a
    start line that says where the run trains; ``family`` is the task's ``xla_family``, for what
    ``runtime.jit_compile=auto`` resolves to (:func:`tfmusic.runtime.resolve_jit_compile`)."""
    from tfmusic import runtime as runtime_lib

    xla = runtime_lib.describe_jit_compile(config, family, runtime_lib.device_type(strategy))
    return f"{strategy.num_replicas_in_sync} replica(s), {xla}"


def announce(prog: str, model_dir: str, resumed: bool, details: str) -> None:
    """Prints the start line ``PROG: starting|resuming MODEL_DIR (DETAILS)``."""
    print(f"{prog}: {'resuming' if resumed else 'starting'} {model_dir} ({details})", flush=True)


def report(prog: str, result: training.RunResult, logs: Optional[Dict[str, float]] = None) -> None:
    """Prints ``PROG: steps A -> B; checkpoint C`` and the last logs (``logs``, default
    ``result.logs``), one ``  name = value`` line each, sorted by name."""
    logs = result.logs if logs is None else logs
    print(f"{prog}: steps {result.start_step} -> {result.final_step}; checkpoint {result.checkpoint}")
    for key in sorted(logs):
        print(f"  {key} = {logs[key]:.4g}")


def _refusal(refuse: Refusals, error: BaseException) -> Optional[str]:
    if isinstance(refuse, tuple):
        return str(error) if isinstance(error, refuse) else None
    return refuse(error)


def run(
    task: training.Task,
    config: Any,
    model_dir: str,
    strategy: Any = None,
    *,
    prog: Optional[str] = None,
    refuse: Refusals = (),
    stop_after: Optional[int] = None,
    train: bool = True,
) -> Outcome:
    """Trains ``task`` in ``model_dir``: Runner, restore or warm start, training, report.

    Args:
      task: the family's task, not yet built.
      config: the run's full config (with ``trainer`` and ``runtime``), as saved in ``model_dir``.
      model_dir: the run folder.
      strategy: the strategy from :func:`start` (None: made from ``config.runtime`` here).
      prog: the command's name: prints what :meth:`~tfmusic.training.Task.initialize` loaded and the
        report (:func:`report`, with the task's :meth:`~tfmusic.training.Task.reduce_logs`); None
        prints nothing.
      refuse: errors of building the runner (the task's models) and of restoring or warm-starting
        that the command refuses with: raised as :class:`RunRefused`. Errors of training are not.
      stop_after: train at most this many steps in this call (``--max_steps_this_run``).
      train: False only restores (or warm-starts) and evaluates (``--eval``).

    Raises:
      RunRefused: see ``refuse``.
    """
    try:
        runner = training.Runner(task, config, model_dir, strategy=strategy)
        step = runner.restore()
    except Exception as e:  # noqa: BLE001 - re-raised unless the command refuses it
        message = _refusal(refuse, e)
        if message is None:
            raise
        raise RunRefused(message) from e
    if prog and runner.initialized_from:
        print(f"{prog}: {runner.initialized_from}", flush=True)
    if prog and runner.resumed_with:
        print(f"{prog}: {runner.resumed_with}", flush=True)
    if not train:
        metrics = runner.evaluate()
        return Outcome(task, runner, runner.strategy, None, step, metrics)
    result = runner.train(stop_after=stop_after)
    if prog:
        report(prog, result, task.reduce_logs(result.logs))
    return Outcome(task, runner, runner.strategy, result, result.final_step, result.eval_metrics)
