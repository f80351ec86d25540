"""The runner flag and the ``--`` split that every conversion command shares.

Used by ``nsynth_to_tfrecord``, ``convert_dir_to_note_sequences``, the five ``<model>_create_dataset``
commands of the RNN families and ``music_transformer_create_dataset``. One set of runner words everywhere:

``--runner direct`` (the default)
    this process, no Beam (some commands spread the work over ``--num_workers`` processes).
``--runner beam``
    the same conversion as an Apache Beam pipeline on Beam's DirectRunner, multi-processing (one worker per
    core unless ``--direct_num_workers`` or the command's ``--num_workers`` says otherwise).
``--runner NAME``, any other word
    the Beam pipeline on that Beam runner class: ``DataflowRunner``, ``FlinkRunner``, ``SparkRunner``,
    ``DaskRunner``, ``PortableRunner``, ``DirectRunner`` (the same as ``beam``)...

Old words kept as aliases (:data:`RUNNER_ALIASES`): ``local`` means ``direct``, as it always did.

The command line: what comes before ``--`` is the command's own; options there that the command does
not know, and everything after ``--``, go to Beam's ``PipelineOptions`` unchanged (and are refused with
``--runner direct``, which has no use for them). A ``--runner`` among the Beam options wins over ours.

This module imports only the standard library and :mod:`tfmusic.cli_support` (which imports only the standard
library): a command's ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

from tfmusic import cli_support

#: The runner word for "this process, no Beam".
DIRECT = "direct"
#: The runner word for Beam's DirectRunner.
BEAM = "beam"
#: Old runner words -> the word they mean now.
RUNNER_ALIASES = {"local": DIRECT}
#: Every word that selects the in-process conversion.
DIRECT_RUNNERS = (DIRECT,) + tuple(old for old, new in RUNNER_ALIASES.items() if new == DIRECT)
#: Beam runner class names that mean Beam's DirectRunner (``beam`` maps to the first).
BEAM_DIRECT_RUNNERS = ("DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner")

RUNNER_HELP = (
    "where to run: direct (default: this process, no Beam), beam (Apache Beam's DirectRunner, "
    "multi-process), or a Beam runner class such as DataflowRunner, FlinkRunner, SparkRunner, DaskRunner; "
    "Beam options go after -- (options this command does not know go to Beam too)"
)

#: What a conversion command's ``--help`` says after its own description.
BEAM_OPTIONS_NOTE = (
    "Options after '--' and options this command does not know are passed to Beam's PipelineOptions "
    "(with --runner beam or a Beam runner name)."
)


def make_parser(prog: str, description: str, beam_note: str = BEAM_OPTIONS_NOTE) -> argparse.ArgumentParser:
    """A conversion command's parser (:func:`tfmusic.cli_support.make_parser`, ``--verbose`` included): its
    ``--help`` shows ``description`` and then ``beam_note`` (where its Beam options go), as one reflowed paragraph."""
    return cli_support.make_parser(prog, f"{description} {beam_note}", raw=False)


class _RunnerAction(argparse.Action):
    """Stores the runner word, old aliases replaced by their meaning; prints a command's notice for a word
    whose meaning changed (only when the flag is given)."""

    def __init__(self, option_strings, dest, notices: Optional[Mapping[str, str]] = None, **kwargs):
        self.notices = dict(notices or {})
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, value, option_string=None):
        if value in self.notices:
            print(f"{parser.prog}: note: {self.notices[value]}", file=sys.stderr)
        setattr(namespace, self.dest, normalize_runner(value))


def normalize_runner(word: str) -> str:
    """The runner word ``word`` means now: an old alias -> its word (``local`` -> ``direct``); else ``word``."""
    return RUNNER_ALIASES.get(word, word)


def add_runner_arg(
    parser: argparse.ArgumentParser, notices: Optional[Mapping[str, str]] = None, help: Optional[str] = None
) -> argparse.Action:
    """Add ``--runner`` (default ``direct``) to ``parser``; ``args.runner`` holds the word, aliases resolved.

    Args:
      notices: {word: one line} printed to stderr (``<prog>: note: <line>``) when ``--runner word`` is given:
        for a word whose meaning in this command changed.
      help: the flag's help (default :data:`RUNNER_HELP`).
    """
    return parser.add_argument(
        "--runner",
        default=DIRECT,
        metavar="direct|beam|BeamRunner",
        action=_RunnerAction,
        notices=notices,
        help=RUNNER_HELP if help is None else help,
    )


def split_argv(argv: Optional[Sequence[str]]) -> Tuple[List[str], List[str]]:
    """(the command's arguments, Beam's): ``argv`` (default ``sys.argv[1:]``) cut at the first ``--``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" in argv:
        cut = argv.index("--")
        return argv[:cut], argv[cut + 1 :]
    return argv, []


def parse_args(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> Tuple[argparse.Namespace, List[str]]:
    """(parsed args, Beam options): ``argv`` before ``--`` is parsed by ``parser``; the options it does not
    know and everything after ``--`` are the Beam options (in that order)."""
    ours, passthrough = split_argv(argv)
    args, unknown = parser.parse_known_args(ours)
    return args, unknown + passthrough


def uses_beam(runner: str) -> bool:
    """Whether the runner word selects a Beam pipeline (``beam`` or a Beam runner), not this process."""
    return normalize_runner(runner) not in DIRECT_RUNNERS


def beam_runner(runner: str) -> Optional[str]:
    """The Beam runner class name a runner word selects: ``beam`` -> ``DirectRunner``, ``direct`` -> None
    (no Beam), any other word -> itself."""
    runner = normalize_runner(runner)
    if runner in DIRECT_RUNNERS:
        return None
    return BEAM_DIRECT_RUNNERS[0] if runner == BEAM else runner


def _given(options: Sequence[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in options)


def refuse_beam_args(parser: argparse.ArgumentParser, args: argparse.Namespace, beam_args: Sequence[str]) -> None:
    """``parser.error`` (exit 2) when Beam options were given to the in-process runner: they would be
    silently dropped."""
    if beam_args and not uses_beam(args.runner):
        parser.error(f"unrecognized arguments: {' '.join(beam_args)} (Beam options need --runner beam)")


def beam_pipeline_args(args: argparse.Namespace, beam_args: Sequence[str]) -> List[str]:
    """The Beam options (a list of strings) for a parsed command line and its Beam options.

    ``args.runner`` becomes ``--runner <class>`` (:func:`beam_runner`) unless ``beam_args`` hold a ``--runner``
    (which wins). ``args.num_workers`` (when the command has it and it was given) becomes
    ``--direct_num_workers=N`` on the DirectRunner and Beam's ``--num_workers=N`` (e.g. Dataflow's initial
    workers) elsewhere, unless ``beam_args`` give that option. ``beam_args`` follow unchanged.
    """
    beam_args = list(beam_args)
    runner = beam_runner(args.runner) or BEAM_DIRECT_RUNNERS[0]
    out = [] if _given(beam_args, "--runner") else ["--runner", runner]
    num_workers = getattr(args, "num_workers", None)
    if num_workers is not None:
        flag = "--direct_num_workers" if runner in BEAM_DIRECT_RUNNERS else "--num_workers"
        if not _given(beam_args, flag):
            out.append(f"{flag}={num_workers}")
    return out + beam_args


def run_conversion(
    args: argparse.Namespace,
    beam_args: Sequence[str],
    local: Callable[..., Any],
    beam_entry: str,
    *positional: Any,
    **options: Any,
) -> Any:
    """Runs the conversion ``args.runner`` selects and returns its counters.

    In this process: ``local(*positional, progress=not args.no_progress, **options)``. With ``beam`` or a Beam
    runner: the Beam pipeline ``beam_entry`` (``"module:function"``, imported only then, so that the
    in-process mode never imports Beam) as ``function(*positional, pipeline_args=..., **options)`` with the
    Beam options of :func:`beam_pipeline_args`.
    """
    if not uses_beam(args.runner):
        return local(*positional, progress=not args.no_progress, **options)
    module, function = beam_entry.split(":")
    beam = getattr(importlib.import_module(module), function)
    return beam(*positional, pipeline_args=beam_pipeline_args(args, beam_args), **options)


def exit_status(prog: str, written: int, why: str) -> int:
    """A conversion's exit status: 0, or 1 with ``<prog>: error: <why>`` on stderr when nothing was written."""
    if written == 0:
        print(f"{prog}: error: {why}", file=sys.stderr)
        return 1
    return 0
