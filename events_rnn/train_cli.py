"""`<model>_train` for every events-RNN model: train from scratch or fine-tune a Magenta ``.mag`` bundle.

A family's command is a :class:`TrainCommand` (its name, :class:`events_rnn.bundle.ModelFamily`,
experiment presets and class, task class), or a function returning one, passed to :func:`main` with
its :class:`TrainCommandLine` (the names ``--help`` lists, importable without TensorFlow, so that the
heavy modules load only after the flags are parsed); the flags are Magenta's ``<model>_train`` ones::

    # from scratch, Magenta's config and hparams
    <model>_train --config CONFIG --run_dir runs/x --sequence_example_file data/training_*.tfrecord \
        [--eval_file data/eval_*.tfrecord] [--num_training_steps 20000] [--hparams "batch_size=64"] [--set a.b=v]

    # fine-tune a bundle: every model variable restored from it, fresh optimizer (Magenta's warm start)
    <model>_train --bundle model.mag --run_dir runs/ft --sequence_example_file ... \
        [--freeze cell_0] [--export_bundle runs/ft/model_ft.mag]

``--preset`` picks a named experiment (``tiny`` etc.) instead of ``--config``'s Magenta preset. With
``--bundle`` the model's sizes and attention layout come from the bundle (its ``generator_details.id``
must agree with ``--config`` when both are given, and be one of the family's: a bundle of another
model is refused) and the other hyperparameters from the preset. A run folder that already holds
``config.json`` resumes (its saved config is reloaded; ``--set`` / ``--num_training_steps`` still
apply on top) and the bundle is then not read again: the run's own checkpoint wins. A ``--config``,
``--preset`` or ``--bundle`` that contradicts the run is refused, naming both values. The training
data is checked before the run folder is touched: a pattern that matches nothing, a text file, empty
files or records that are not the model's SequenceExamples give one line naming the file (exit 2).

Training goes through :class:`tfmusic.training.Runner` (strategy from ``runtime.distribution``,
XLA, TensorBoard logs in ``RUN_DIR/train``, checkpoints ``RUN_DIR/ckpt-N``). With ``--eval_file``
the final model is evaluated on it (Magenta's eval metrics; the task's evaluation hook, also run every
``trainer.eval_every`` steps with ``--set trainer.eval_every=N``) and the numbers are written to
``RUN_DIR/eval_metrics.json`` and, as ``eval/*`` scalars, into the run's TensorBoard logs; ``--eval`` only
evaluates the newest checkpoint.
``--export_bundle OUT.mag`` writes the trained model as a Magenta bundle (with its generation metagraph).

Every family's command also continues a run folder of Magenta's own ``<model>_train``
(``train/checkpoint``, no ``config.json``; :mod:`events_rnn.magenta_run`)::

    <model>_train --config CONFIG --run_dir MAGENTA_RUN --sequence_example_file ... [--num_training_steps N]

The architecture comes from its newest checkpoint's variables, ``--config`` (required) must fit them,
the other hyperparameters are the config's preset (``--hparams`` on top), and before the first step
every weight, Adam's slots (``<var>/Adam``, ``<var>/Adam_1``) and the step (``global_step``) are
restored from it by name, so the first update is TF1 Adam's from the restored state. The run itself
is ours (``config.json``, ``ckpt-N`` at the top of ``--run_dir``; Magenta's files in ``train/`` are
never modified); ``--num_training_steps`` counts from Magenta's step 0, as Magenta's does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from tfmusic import cli_flags, cli_support

EVAL_METRICS_FILENAME = "eval_metrics.json"


@dataclasses.dataclass(frozen=True)
class TrainCommand:
    """One family's ``<model>_train``.

    Attributes:
      prog: the command's name, e.g. ``polyphony_rnn_train``.
      family: the family's :class:`events_rnn.bundle.ModelFamily` (config ids, bundles).
      presets: ``tfmusic.config.PresetRegistry`` of experiments, one per Magenta config id plus test presets.
      experiment_class: the family's experiment dataclass (reloads ``config.json``).
      task_class: the family's :class:`events_rnn.task.EventsRnnTask` subclass.
      default_config: the config trained when neither ``--config``, ``--preset`` nor ``--bundle`` is given.
      data_help: what ``--sequence_example_file`` holds, for ``--help``.
      magenta_run: what continues Magenta's own run folders (``is_magenta_run``,
        ``read_magenta_checkpoint``, ``magenta_run_config``, ``restore_training_state``,
        ``has_own_checkpoint``, ``RunFolderError``, ``TRAIN_SUBDIR``); None (the default) means
        :class:`events_rnn.magenta_run.FamilyRuns` of ``family`` (see :func:`magenta_runs`).
    """

    prog: str
    family: Any
    presets: Any
    experiment_class: type
    task_class: type
    default_config: str
    data_help: str = "training SequenceExample TFRecord file or glob"
    magenta_run: Any = None


@dataclasses.dataclass(frozen=True)
class TrainCommandLine:
    """What ``<model>_train``'s parser needs, with no heavy import (a family's package lists the names;
    ``tests/test_commands.py`` checks them against the family's config module).

    Attributes:
      prog, default_config, data_help: as :class:`TrainCommand`'s.
      config_ids: the family's Magenta config ids (``family.config_ids``).
      preset_names: the family's experiment presets (``presets.names()``).
    """

    prog: str
    config_ids: Tuple[str, ...]
    preset_names: Tuple[str, ...]
    default_config: str
    data_help: str = "training SequenceExample TFRecord file or glob"


def command_line(cmd: Union[TrainCommand, TrainCommandLine]) -> TrainCommandLine:
    """``cmd``'s :class:`TrainCommandLine` (``cmd`` itself if it is one)."""
    if isinstance(cmd, TrainCommandLine):
        return cmd
    return TrainCommandLine(
        prog=cmd.prog,
        config_ids=tuple(cmd.family.config_ids),
        preset_names=tuple(cmd.presets.names()),
        default_config=cmd.default_config,
        data_help=cmd.data_help,
    )


#: What every family's ``--help`` says after the family's own text (``{prog}``: the command).
MAGENTA_RUN_HELP = """
A ``--run_dir`` holding a run of Magenta's own ``{prog}`` (``train/checkpoint``, ``train/model.ckpt-N``) is
continued: weights, Adam slots and ``global_step`` restored by name before the first step
(:mod:`events_rnn.magenta_run`, as for every family).
"""


def family_line(
    name: str, config_ids, preset_names, default_config: str, training_file: str, made_by: Optional[str] = None
) -> TrainCommandLine:
    """The :class:`TrainCommandLine` of ``<name>_train``, whose ``--sequence_example_file`` holds ``training_file``
    as ``made_by`` (default ``<name>_create_dataset``) writes it."""
    source = f"{made_by or name + '_create_dataset'}'s {training_file}"
    return TrainCommandLine(
        prog=f"{name}_train",
        config_ids=tuple(config_ids),
        preset_names=tuple(preset_names),
        default_config=default_config,
        data_help=f"training SequenceExample TFRecord file or glob ({source})",
    )


@dataclasses.dataclass(frozen=True)
class FamilyTrainCli:
    """A family's ``<model>_train`` module: its ``command``, ``build_parser`` and ``main`` are these methods.

    Attributes:
      line: what ``--help`` lists (:func:`family_line`).
      doc: the module's docstring; ``--help`` shows it followed by ``run_help``.
      package: the family's package, whose ``bundle.FAMILY``, ``config.PRESETS``, ``config.<experiment>`` and
        ``task.<task>`` :meth:`command` imports (TensorFlow: only after the flags are parsed).
      experiment: the name of the family's experiment dataclass in ``<package>.config``.
      task: the name of its :class:`events_rnn.task.EventsRnnTask` subclass in ``<package>.task``.
      magenta_run: the name of the family's own module in ``package`` that continues Magenta's run folders
        (:attr:`TrainCommand.magenta_run`); None (the default): the generic one (:func:`magenta_runs`).
      run_help: what ``--help`` shows after ``doc`` (``{prog}``: the command); default
        :data:`MAGENTA_RUN_HELP`, empty where ``doc`` says it already.
    """

    line: TrainCommandLine
    doc: str
    package: str
    experiment: str
    task: str
    magenta_run: Optional[str] = None
    run_help: str = MAGENTA_RUN_HELP

    @property
    def description(self) -> str:
        """What ``--help`` shows above the flags."""
        return self.doc + self.run_help.format(prog=self.line.prog)

    def command(self) -> TrainCommand:
        """The command as a :class:`TrainCommand` (imports TensorFlow)."""
        import importlib

        bundle_lib, config_lib, task_lib = (importlib.import_module(f"{self.package}.{m}") for m in MODULES)
        return TrainCommand(
            prog=self.line.prog,
            family=bundle_lib.FAMILY,
            presets=config_lib.PRESETS,
            experiment_class=getattr(config_lib, self.experiment),
            task_class=getattr(task_lib, self.task),
            default_config=self.line.default_config,
            data_help=self.line.data_help,
            magenta_run=importlib.import_module(f"{self.package}.{self.magenta_run}") if self.magenta_run else None,
        )

    def build_parser(self) -> argparse.ArgumentParser:
        """The command line (built without importing TensorFlow)."""
        return build_parser(self.line, self.description)

    def main(self, argv: Optional[Sequence[str]] = None) -> int:
        """Entry point; 0, or 2 for bad arguments / missing data / a misfit bundle (see :func:`main`)."""
        cli_support.start(argv)
        return run_command(self.command, argv, self.description, line=self.line)


#: The family modules :meth:`FamilyTrainCli.command` imports.
MODULES = ("bundle", "config", "task")


def magenta_runs(cmd: TrainCommand):
    """``cmd.magenta_run``, or the generic :class:`events_rnn.magenta_run.FamilyRuns` of ``cmd.family``."""
    if cmd.magenta_run is not None:
        return cmd.magenta_run
    from events_rnn import magenta_run

    return magenta_run.FamilyRuns(cmd.family, cmd.prog)


def make_task(task_class, cfg, dataset_fn=None, magenta_run=None, eval_file=None, eval_batches=None):
    """A ``task_class`` (an :class:`events_rnn.task.EventsRnnTask`); what ``<model>_train`` trains.

    Its checkpoints hold the task's items (the model holds every weight). Checkpoints of earlier
    versions also hold ``model_variables`` (every model variable again, under its TF1 name); they still
    resume: the runner asserts that every object of the task is matched, and leaves that item unread.

    ``magenta_run``: what continues Magenta's run folders (see :class:`TrainCommand`); with it, a new
    run whose ``warm_start.magenta_checkpoint`` is set starts from that checkpoint's weights, Adam
    slots and step (:meth:`~tfmusic.training.Task.initialize`, :func:`restore_magenta_state`).
    ``eval_file``, ``eval_batches``: the task's evaluation (:class:`events_rnn.task.EventsRnnTask`)."""

    class _Task(task_class):
        def initialize(self, step):
            if magenta_run is not None and self.config.warm_start.magenta_checkpoint:
                return restore_magenta_state(magenta_run, self, step).describe()
            return super().initialize(step)

    return _Task(cfg, dataset_fn, eval_file=eval_file, eval_batches=eval_batches)


def parse_hparams(text: str) -> List[str]:
    """Magenta's ``--hparams`` string -> ``model.hparams.*`` overrides.

    ``"batch_size=64,rnn_layer_sizes=[64,64]"`` -> ``["model.hparams.batch_size=64",
    "trainer.global_batch_size=64", "model.hparams.rnn_layer_sizes=[64,64]"]`` (commas inside brackets
    belong to the value; ``batch_size`` also sets the batch training uses, as in Magenta).
    Raises ``ValueError`` on text that is not ``name=value`` pairs.
    """
    text = (text or "").strip()
    if not text:
        return []
    out, pos = [], 0
    pattern = re.compile(r"\s*(\w+)\s*=\s*(\[[^\]]*\]|[^,]*)\s*(,|$)")
    while pos < len(text):
        m = pattern.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"--hparams {text!r}: expected name=value pairs separated by commas")
        out.append(f"model.hparams.{m.group(1)}={m.group(2).strip()}")
        if m.group(1) == "batch_size":  # Magenta's batch size is the one training uses
            out.append(f"trainer.global_batch_size={m.group(2).strip()}")
        pos = m.end()
    return out


def build_parser(
    cmd: Union[TrainCommand, TrainCommandLine], description: Optional[str] = None
) -> argparse.ArgumentParser:
    """The command line of ``cmd.prog`` (a :class:`TrainCommandLine` builds it without heavy imports).

    Aliases (one dest each): ``--run_dir`` / ``--model_dir``; ``--bundle`` / ``--bundle_file``;
    ``--num_training_steps`` / ``--num_steps`` / ``--train_steps`` (= ``--set trainer.train_steps=N``).
    """
    cmd = command_line(cmd)
    p = cli_support.make_parser(cmd.prog, description or __doc__)
    p.add_argument(
        "--run_dir",
        "--model_dir",
        dest="run_dir",
        required=True,
        help="run folder: checkpoints, config.json, TensorBoard logs (resumed if it holds a run)",
    )
    p.add_argument(
        "--config",
        choices=cmd.config_ids,
        default=None,
        help=f"Magenta config to train from scratch (default {cmd.default_config}; with --bundle: must match it)",
    )
    p.add_argument(
        "--preset",
        choices=cmd.preset_names,
        default=None,
        help="named experiment instead of --config's Magenta preset (e.g. tiny)",
    )
    p.add_argument(
        "--bundle",
        "--bundle_file",
        dest="bundle",
        default=None,
        help=".mag bundle to fine-tune (all model variables restored)",
    )
    p.add_argument(
        "--freeze",
        action="append",
        default=[],
        metavar="LAYER",
        help="keep a layer fixed while fine-tuning: cell_K, attention, fully_connected (repeatable or comma-separated)",
    )
    p.add_argument("--sequence_example_file", default=None, help=cmd.data_help)
    p.add_argument("--eval_file", default=None, help="eval SequenceExample TFRecord file or glob")
    cli_flags.add_train_steps_flag(p, "total steps of the run (trainer.train_steps)")
    p.add_argument("--hparams", default="", help="Magenta-style hparams, e.g. 'batch_size=64,rnn_layer_sizes=[64,64]'")
    cli_flags.add_overrides_flag(p, "override any config field, e.g. --set runtime.jit_compile=true (repeatable)")
    cli_flags.add_max_steps_flag(p, "stop after this many steps even if the total is not reached")
    p.add_argument("--eval", action="store_true", help="only evaluate the newest checkpoint on --eval_file")
    p.add_argument("--eval_batches", type=int, default=None, help="evaluate on at most this many batches")
    p.add_argument("--export_bundle", default=None, metavar="OUT.mag", help="write the trained model as a .mag")
    p.add_argument("--bundle_description", default="", help="bundle_details.description of --export_bundle")
    return p


def _abs_if_exists(path: str) -> str:
    return os.path.abspath(path) if os.path.exists(path) else path


def initial_config(cmd: TrainCommand, args, parser: argparse.ArgumentParser):
    """The experiment a new run starts from (before ``--set``): preset or Magenta config, bundle sizes."""
    from events_rnn import bundle as bundle_lib

    if magenta_runs(cmd).is_magenta_run(args.run_dir):
        return magenta_initial_config(cmd, args, parser)
    name = args.preset or args.config or cmd.default_config
    cfg = cmd.presets.get(name)
    if args.bundle:
        try:
            bundle_model, bundle = bundle_lib.read_bundle_config(cmd.family, args.bundle)
        except (bundle_lib.BundleError, OSError, ValueError) as e:
            parser.exit(2, f"{cmd.prog}: --bundle: {e}\n")
        if args.config and args.config != bundle.generator_id:
            parser.exit(
                2, f"{cmd.prog}: --config {args.config} but {args.bundle} is a {bundle.generator_id!r} bundle\n"
            )
        if not args.preset:
            cfg = cmd.presets.get(bundle.generator_id)
        # The bundle fixes the architecture; the rest of the hyperparameters are the preset's.
        cfg = fitted_config(cfg, bundle.generator_id, bundle_model.hparams, bundle_path=os.path.abspath(args.bundle))
    return cfg


def fitted_config(cfg, config_id: str, hparams, **warm_start):
    """The experiment ``cfg`` for ``config_id`` with the layer sizes and attention of ``hparams`` (the other
    hyperparameters ``cfg``'s own) and the ``warm_start`` fields given (e.g. ``bundle_path``)."""
    hp = dataclasses.replace(
        cfg.model.hparams,
        rnn_layer_sizes=hparams.rnn_layer_sizes,
        attn_length=hparams.attn_length,
        attention_layout=hparams.attention_layout,
    )
    model = dataclasses.replace(cfg.model, config_id=config_id, hparams=hp)
    return dataclasses.replace(cfg, model=model, warm_start=dataclasses.replace(cfg.warm_start, **warm_start))


def magenta_initial_config(cmd: TrainCommand, args, parser: argparse.ArgumentParser):
    """The experiment that continues Magenta's run folder ``args.run_dir``: the preset of ``--config``
    (or ``--preset``) with the layer sizes and attention of its newest checkpoint, which
    ``warm_start.magenta_checkpoint`` records (restored before the first step)."""
    from tfmusic.tf1_checkpoints import CheckpointReadError, PortingError

    magenta_run = magenta_runs(cmd)
    where = f"{args.run_dir} holds a run of Magenta's {cmd.prog} ({magenta_run.TRAIN_SUBDIR}/checkpoint)"
    if args.bundle:
        parser.exit(2, f"{cmd.prog}: {where}, which is continued; --bundle cannot be used with it\n")
    if args.freeze:
        parser.exit(2, f"{cmd.prog}: {where}, which is continued as it was trained; --freeze cannot be used with it\n")
    try:
        ckpt = magenta_run.read_magenta_checkpoint(args.run_dir)
        # A family with a single config (polyphony) needs no --config; otherwise Magenta's folder must be told.
        only = cmd.family.config_ids[0] if len(cmd.family.config_ids) == 1 else None
        model_cfg = magenta_run.magenta_run_config(ckpt, args.config or only)
    except (magenta_run.RunFolderError, PortingError, CheckpointReadError) as e:
        parser.exit(2, f"{cmd.prog}: {e}\n")
    cfg = cmd.presets.get(args.preset or model_cfg.config_id)
    return fitted_config(cfg, model_cfg.config_id, model_cfg.hparams, magenta_checkpoint=os.path.abspath(ckpt.path))


def restore_magenta_state(magenta_run, task, step):
    """Restore ``task.config.warm_start.magenta_checkpoint`` (weights, Adam slots, step) into the built
    ``task`` and ``step`` (the runner's) with ``magenta_run`` (see :class:`TrainCommand`); returns the
    :class:`events_rnn.magenta_run.RestoredState`. Raises ``PortingError``, ``RunFolderError``,
    ``CheckpointReadError`` or ``OSError``."""
    path = task.config.warm_start.magenta_checkpoint
    run_dir = os.path.dirname(os.path.dirname(path))
    ckpt = magenta_run.read_magenta_checkpoint(run_dir, path)
    return magenta_run.restore_training_state(task.model, task.optimizer, ckpt, step_variable=step)


def continue_magenta_run(cmd: TrainCommand, task, runner, cfg):
    """Restore ``cfg.warm_start.magenta_checkpoint`` (weights, Adam slots, step) into the built task and
    the runner's step; returns the :class:`events_rnn.magenta_run.RestoredState`. (``<model>_train``
    does this through the task's ``initialize``, see :func:`make_task`.)"""
    with runner.strategy.scope():
        return restore_magenta_state(magenta_runs(cmd), task, runner.step)


def run_overrides(args) -> List[str]:
    """``--set`` overrides implied by the other flags, then the explicit ones."""
    out = parse_hparams(args.hparams)
    if args.sequence_example_file:
        out.append(f"data.train_data_path={_abs_if_exists(args.sequence_example_file)}")
    if args.eval_file:
        out.append(f"data.eval_data_path={_abs_if_exists(args.eval_file)}")
    if args.num_training_steps is not None:
        out.append(f"trainer.train_steps={args.num_training_steps}")
    frozen = [n.strip() for item in args.freeze for n in item.split(",") if n.strip()]
    if frozen:
        out.append(f"warm_start.frozen_layers={json.dumps(frozen)}")
    return out + list(args.overrides)


def run_flags(args, base=None) -> dict:
    """The flags that pick what the run is (:class:`tfmusic.config.RunFlag` by name): a resume must not
    contradict them. ``base``: the new run's experiment before ``--set`` (None on a resume)."""
    from tfmusic.config import RunFlag

    preset = args.preset or (base.model.config_id if base is not None else None)
    return {
        "--config": RunFlag(args.config, given=args.config is not None, field="model.config_id"),
        "--preset": RunFlag(preset, given=args.preset is not None),
        "--bundle": RunFlag(
            os.path.abspath(args.bundle) if args.bundle else "", given=bool(args.bundle), field="warm_start.bundle_path"
        ),
    }


def check_data(prog: str, cfg, args, parser: argparse.ArgumentParser) -> None:
    """Exits 2 with one line naming the file unless the training data (unless ``--eval``) holds readable
    SequenceExamples of the model's encoding, and ``--eval_file`` (when given) readable ones."""
    import functools

    from events_rnn import data as data_lib
    from pipelines import tfrecord_io
    from pipelines.errors import InputError

    validate = functools.partial(data_lib.sequence_example_problem, input_size=cfg.model.input_size)
    checks = [("--eval_file", cfg.data.eval_data_path, True)]
    if not args.eval:
        checks.insert(0, ("--sequence_example_file", cfg.data.train_data_path, False))
    for flag, pattern, allow_empty in checks:
        if not pattern:
            continue
        try:
            tfrecord_io.check_records(pattern, validate=validate, allow_empty=allow_empty)
        except InputError as e:
            parser.exit(2, f"{prog}: {flag} {e}\n")


def evaluate_run(task, cfg, eval_pattern: str, max_batches: Optional[int] = None) -> dict:
    """Magenta's eval metrics of ``task.model`` over every example of ``eval_pattern`` (no dropout;
    :func:`events_rnn.task.evaluate_file`, what the task's evaluation hook runs)."""
    from events_rnn import task as task_lib

    return task_lib.evaluate_file(task.model, cfg, eval_pattern, max_batches)


def main(
    cmd: Union[TrainCommand, Callable[[], TrainCommand]],
    argv: Optional[Sequence[str]] = None,
    description: Optional[str] = None,
    line: Optional[TrainCommandLine] = None,
) -> int:
    """Entry point of ``cmd.prog``; returns 0, or 2 for bad arguments / missing data / a misfit bundle.

    ``cmd``: the :class:`TrainCommand`, or a function returning it (called after parsing, with ``line``,
    the command's :class:`TrainCommandLine`, building the parser).
    """
    cli_support.start(argv)
    if line is None and not isinstance(cmd, TrainCommand):
        cmd = cmd()  # no TrainCommandLine: the parser needs the command itself
    parser = build_parser(line if line is not None else cmd, description)
    args = parser.parse_args(argv)
    if not isinstance(cmd, TrainCommand):
        cmd = cmd()
    prog = cmd.prog
    from tfmusic import config as config_lib
    from tfmusic import experiment, files
    from tfmusic import runtime as runtime_lib

    try:
        overrides = run_overrides(args)
        resuming = config_lib.resumes(args.run_dir)
        base = initial_config(cmd, args, parser) if not resuming else cmd.experiment_class()
        plan = config_lib.plan_run_config(args.run_dir, base, overrides, run_flags(args, None if resuming else base))
    except (config_lib.ConfigError, ValueError) as e:
        parser.exit(2, f"{prog}: {e}\n")
    cfg, resumed = plan.config, plan.resumed
    if not args.eval and not cfg.data.train_data_path:
        parser.exit(2, f"{prog}: no training data: pass --sequence_example_file\n")
    if args.eval and not cfg.data.eval_data_path:
        parser.exit(2, f"{prog}: --eval needs --eval_file\n")
    check_data(prog, cfg, args, parser)  # before anything is written to the run folder
    strategy = experiment.start(plan)  # config.json, then the strategy before any other TensorFlow op
    from events_rnn import bundle as bundle_lib
    from events_rnn import data as data_lib
    from events_rnn import task as task_lib

    source = f"fine-tuning {cfg.warm_start.bundle_path}" if cfg.warm_start.bundle_path else "from scratch"
    if cfg.warm_start.magenta_checkpoint:
        source = f"continuing Magenta's {cfg.warm_start.magenta_checkpoint}"
    experiment.announce(
        prog,
        args.run_dir,
        resumed,
        f"{cfg.model.config_id} {list(cfg.model.hparams.rnn_layer_sizes)}, {source}; "
        + experiment.runtime_summary(strategy, cfg, cmd.task_class.xla_family),
    )
    no_eval_examples = bool(cfg.data.eval_data_path) and data_lib.count_records(cfg.data.eval_data_path) == 0
    task = make_task(
        cmd.task_class,
        cfg,
        magenta_run=magenta_runs(cmd),
        eval_file="" if no_eval_examples else cfg.data.eval_data_path,
        eval_batches=args.eval_batches,
    )
    try:  # the task's evaluation (--eval_file) runs at the end, and every trainer.eval_every steps
        outcome = experiment.run(
            task,
            cfg,
            args.run_dir,
            strategy,
            prog=prog,
            refuse=(ValueError, OSError),  # BundleError, PortingError, RunFolderError, CheckpointReadError
            stop_after=args.max_steps_this_run,
            train=not args.eval,
        )
    except experiment.RunRefused as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    result_step = outcome.step
    if no_eval_examples:
        print(f"{prog}: --eval_file {cfg.data.eval_data_path} holds no examples; no evaluation", file=sys.stderr)
    elif outcome.eval_metrics is not None:  # already written as eval/* scalars beside the training ones
        metrics = dict(outcome.eval_metrics)
        metrics["global_step"] = result_step
        print(f"{prog}: eval at step {result_step}: " + ", ".join(f"{k} {metrics[k]:.4g}" for k in task_lib.METRICS))
        if runtime_lib.is_chief(strategy):
            files.atomic_write_json(os.path.join(args.run_dir, EVAL_METRICS_FILENAME), metrics)
    if args.export_bundle and runtime_lib.is_chief(strategy):
        path = bundle_lib.write_bundle(
            cmd.family,
            task.model,
            cfg.model,
            args.export_bundle,
            description=args.bundle_description,
            global_step=result_step,
        )
        print(f"{prog}: wrote bundle {path}")
    return 0


#: :func:`main` under a name that :class:`FamilyTrainCli` (whose method is ``main``) can call.
run_command = main
