"""What every ``<model>_create_dataset`` command shares: the common flags, Beam option passing, and the run.

A family's command builds its parser with :func:`add_common_arguments` (``--input``, ``--output_dir``,
``--eval_ratio``, ``--seed``, ``--set``, ``--num_workers``, ``--runner``, ``--no_progress``), adds its
own flags, turns them into its pipeline config and calls :func:`run` with its
:class:`events_rnn.data.DatasetFormat`. The runner words and the ``--`` split are every conversion's
(:mod:`pipelines.cli`): ``--runner direct`` (default) runs in this process (``--num_workers`` processes);
``--runner beam`` runs :mod:`events_rnn.beam_pipeline` on Beam's DirectRunner, and a Beam runner name
(``DataflowRunner``, ``FlinkRunner``, ``SparkRunner``...) runs it there. Options the command does not know,
and everything after ``--``, go to Beam's ``PipelineOptions``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Callable, List, Optional, Sequence, Tuple

from pipelines import cli as pipeline_cli

# this module's own names before they moved to pipelines.cli (melody_rnn_ext re-exports them)
from pipelines.cli import DIRECT_RUNNERS, beam_pipeline_args  # noqa: F401
from tfmusic import cli_support


def parse_transposition_range(text: str) -> Tuple[int, ...]:
    """``"0"`` -> (0,); ``"-3,0,3"`` -> (-3, 0, 3); ``"-5:6"`` -> -5..5 (a Python-style half-open range)."""
    text = text.strip()
    try:
        if ":" in text:
            low, high = (int(p) for p in text.split(":", 1))
            values = tuple(range(low, high))
        else:
            values = tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: use LOW:HIGH or a comma-separated list") from None
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} gives no transposition (use 0 for none)")
    return values


def add_common_arguments(p: argparse.ArgumentParser, defaults=None) -> None:
    """Add the flags every ``<model>_create_dataset`` has; ``defaults`` is the family's default pipeline
    config (a frozen dataclass with ``eval_ratio`` and ``seed``), whose fields ``--set`` may change.

    Without ``defaults`` (so that ``--help`` imports nothing heavy) ``--eval_ratio`` and ``--seed`` default
    to None, which means the pipeline config's own values (Magenta's 0.1 and 0), and ``--set`` names no fields.
    """
    p.add_argument(
        "--input",
        required=True,
        help="TFRecord file of serialized NoteSequences (convert_dir_to_note_sequences' --output_file, "
        "whatever its shard count), or a glob",
    )
    p.add_argument("--output_dir", required=True, help="folder for the two TFRecords and the stats JSON")
    if defaults is None:
        p.add_argument(
            "--eval_ratio",
            type=float,
            default=None,
            help="fraction of input sequences set aside for eval (default 0.1, Magenta's)",
        )
        p.add_argument("--seed", type=int, default=None, help="seed of the train/eval split (default 0)")
        fields = "an unknown name is refused with the list of them; the stats JSON records all"
    else:
        p.add_argument(
            "--eval_ratio",
            type=float,
            default=defaults.eval_ratio,
            help="fraction of input sequences set aside for eval (default %(default)s)",
        )
        p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the train/eval split")
        fields = f"fields: {', '.join(f.name for f in dataclasses.fields(defaults))}"
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help=f"override a pipeline setting, repeatable ({fields})",
    )
    p.add_argument(
        "--num_workers",
        type=int,
        default=None,
        help="processes running the stages (default 1; with --runner beam: the DirectRunner's "
        "--direct_num_workers, default one per core)",
    )
    pipeline_cli.add_runner_arg(p)
    p.add_argument("--no_progress", action="store_true", help="no progress bar")


def parse_args(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> Tuple[argparse.Namespace, List[str]]:
    """(parsed args, Beam options): options after ``--`` and unknown options go to Beam
    (:func:`pipelines.cli.parse_args`)."""
    args, beam_args = pipeline_cli.parse_args(parser, argv)
    if args.num_workers is not None and args.num_workers < 1:
        parser.error("--num_workers must be >= 1")
    return args, beam_args


def run(fmt, config, args, beam_args: Sequence[str], parser: argparse.ArgumentParser) -> int:
    """Run ``fmt``'s pipeline with ``config`` as the parsed ``args`` say; print the summary.

    Returns 0, or 1 when no input file matches or no example was written (``parser.error`` exits 2
    on Beam options without a Beam runner), or 130 on Ctrl-C (the workers stopped at once, no partial output).
    """
    input_pattern, output_dir = os.path.expanduser(args.input), os.path.expanduser(args.output_dir)
    try:
        pipeline_cli.refuse_beam_args(parser, args, beam_args)
        if not pipeline_cli.uses_beam(args.runner):
            from events_rnn import data

            summary = data.create_dataset(
                fmt, input_pattern, output_dir, config, num_workers=args.num_workers or 1, progress=not args.no_progress
            )
        else:
            from events_rnn import beam_pipeline

            summary = beam_pipeline.create_dataset(
                fmt, input_pattern, output_dir, config, pipeline_args=beam_pipeline_args(args, beam_args)
            )
    except FileNotFoundError as err:
        print(f"{fmt.command}: --input {args.input}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the workers are stopped and this run's output removed: one line, 130
        from tfmusic.workers import interrupted

        return interrupted(fmt.command)
    print(summary.summary())
    print(f"stats: {os.path.join(output_dir, fmt.stats_filename)}")
    if not sum(int(out.get("examples", 0)) for out in summary.outputs.values()):
        print(
            f"{fmt.command}: error: no example written from {args.input} (every input was skipped or held "
            f"nothing to extract; reasons in {fmt.stats_filename})",
            file=sys.stderr,
        )
        return 1
    return 0


def build_family_parser(
    prog: str, description: str, config_class=None, config_ids: Sequence[str] = (), default_config: str = ""
) -> argparse.ArgumentParser:
    """A family's ``<model>_create_dataset`` parser: ``--config`` (when the family has ``config_ids``) and
    :func:`add_common_arguments` with the defaults of ``config_class()`` (the family's pipeline config; None:
    the parser is built without importing it, see :func:`add_common_arguments`)."""
    p = cli_support.make_parser(prog, description)
    if config_ids:
        p.add_argument(
            "--config",
            choices=config_ids,
            default=default_config,
            help=f"which encoding to write (default {default_config})",
        )
    add_common_arguments(p, config_class() if config_class is not None else None)
    return p


def family_main(
    parser: argparse.ArgumentParser,
    config_class=None,
    fmt=None,
    argv: Optional[Sequence[str]] = None,
    load: Optional[Callable[[], tuple]] = None,
) -> int:
    """Parse ``argv``, build ``config_class`` (``--config`` when the parser has it, ``--eval_ratio``, ``--seed``,
    then the ``--set`` overrides; an error is a flag error) and :func:`run` it with ``fmt``.

    ``load``: instead of ``config_class`` and ``fmt``, a function returning both, called after parsing (the
    family's data module is heavy: ``--help`` must not wait for it).
    """
    from tfmusic.config import ConfigError, apply_overrides

    args, beam_args = parse_args(parser, argv)
    if load is not None:
        config_class, fmt = load()
    values = {k: v for k, v in dict(eval_ratio=args.eval_ratio, seed=args.seed).items() if v is not None}
    if hasattr(args, "config"):
        values["config_id"] = args.config
    try:
        config = apply_overrides(config_class(**values), args.overrides)
    except (ConfigError, ValueError) as err:
        parser.error(str(err))
    return run(fmt, config, args, beam_args, parser)


@dataclasses.dataclass(frozen=True)
class FamilyDatasetCli:
    """A family's ``<model>_create_dataset`` module: its ``build_parser``, ``load`` and ``main`` are these methods.

    Attributes:
      prog: the command's name.
      description: the module's docstring (``--help``).
      data_module: the family's data module, whose ``FORMAT`` (an :class:`events_rnn.data.DatasetFormat` with its
        ``config_class``) :meth:`load` imports (note-seq: only after the flags are parsed).
      config_ids, default_config: ``--config``'s choices and default (none: no ``--config``).
    """

    prog: str
    description: str
    data_module: str
    config_ids: Tuple[str, ...] = ()
    default_config: str = ""

    def build_parser(self) -> argparse.ArgumentParser:
        """The command line (:func:`build_family_parser`; nothing heavy imported)."""
        return build_family_parser(self.prog, self.description, None, self.config_ids, self.default_config)

    def load(self) -> tuple:
        """(pipeline config class, dataset format) of the family: its data module's ``FORMAT`` (note-seq)."""
        import importlib

        fmt = importlib.import_module(self.data_module).FORMAT
        return fmt.config_class, fmt

    def main(self, argv: Optional[Sequence[str]] = None) -> int:
        """Entry point; 0, 1 when the input is missing, 2 for bad arguments (see :func:`family_main`)."""
        cli_support.start(argv)
        return family_main(self.build_parser(), argv=argv, load=self.load)
