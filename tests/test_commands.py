"""Every console script of setup.py: quick, plain ``--help`` with nothing heavy imported, one flag name per
concept (aliases), and the README's command table agreeing with each command's usage line."""

import functools
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

from tfmusic import cli_support

REPO = pathlib.Path(__file__).resolve().parent.parent
#: Modules no command may import before its flags are parsed.
HEAVY = (
    "tensorflow",
    "keras",
    "note_seq",
    "librosa",
    "music21",
    "pretty_midi",
    "apache_beam",
    "matplotlib",
    "sklearn",
    "scipy",
)
#: Where a command's parser comes from when it is not ``build_parser`` of its entry point's module.
PARSER_FACTORIES = {"music_eval_train_classifier": "music_eval.cli:build_train_classifier_parser"}
#: Training commands: run folder, step count (three names, one dest each) and ``--set trainer.train_steps``.
TRAINING = (
    "melody_rnn_train",
    "polyphony_rnn_train",
    "drums_rnn_train",
    "performance_rnn_train",
    "improv_rnn_train",
    "music_transformer_train",
    "gansynth_train",
    "music_eval_train_classifier",
)
STEP_ALIASES = ("--num_training_steps", "--num_steps", "--train_steps")
FOLDER_ALIASES = ("--run_dir", "--model_dir")


def _console_scripts():
    text = (REPO / "setup.py").read_text()
    block = text[text.index('"console_scripts"') :]
    block = block[: block.index("]")]
    return dict(re.findall(r'"([a-z0-9_]+)=([\w.]+:\w+)"', block))


SCRIPTS = _console_scripts()


def _parser_factory(command):
    spec = PARSER_FACTORIES.get(command) or SCRIPTS[command].split(":")[0] + ":build_parser"
    return spec.split(":")


def build_parser(command):
    import importlib

    module, name = _parser_factory(command)
    return getattr(importlib.import_module(module), name)()


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


# A fresh interpreter per command: build the parser, then run the entry point with --help (and each subcommand's
# --help); report what help printed and which heavy modules got imported on the way.
_PROBE = r"""
import contextlib, importlib, io, json, sys
command, entry, factory = sys.argv[1:4]
heavy = {heavy!r}
loaded = lambda: sorted(m for m in heavy if m in sys.modules)
module, name = factory.split(":")
parser = getattr(importlib.import_module(module), name)()
after_parser = loaded()
subcommands = []
for action in parser._actions:
    if type(action).__name__ == "_SubParsersAction":
        subcommands = list(action.choices)
module, name = entry.split(":")
main = getattr(importlib.import_module(module), name)
helps = {{}}
for argv in [["--help"]] + [[sub, "--help"] for sub in subcommands]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(argv)
            code = 0
        except SystemExit as e:
            code = e.code
    helps[" ".join(argv)] = [code, out.getvalue()]
print(json.dumps({{"after_parser": after_parser, "after_help": loaded(), "helps": helps}}))
""".format(heavy=HEAVY)


@functools.lru_cache(maxsize=None)
def probe(command):
    """(report dict, stderr) of :data:`_PROBE` for ``command``."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", cli_support.VERBOSE_ENV)}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, command, SCRIPTS[command], ":".join(_parser_factory(command))],
        capture_output=True,
        text=True,
        cwd=str(REPO),
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def test_every_console_script_is_covered():
    assert len(SCRIPTS) >= 26
    for command in TRAINING:
        assert command in SCRIPTS


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_parser_and_help_import_nothing_heavy(command):
    """``python -c "import <cli module>; <build its parser>"`` (and ``--help``) leave TensorFlow, note-seq,
    librosa, music21... unimported, and print nothing on stderr."""
    report, stderr = probe(command)
    assert report["after_parser"] == [], f"{command}: building the parser imported {report['after_parser']}"
    assert report["after_help"] == [], f"{command} --help imported {report['after_help']}"
    assert stderr == ""
    for argv, (code, text) in report["helps"].items():
        assert code == 0, argv
        assert text.startswith("usage: "), argv


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_entry_point_starts_with_cli_support(command):
    """Every console script's function runs ``cli_support.start(argv)`` before anything else."""
    import ast
    import importlib
    import inspect
    import textwrap

    module, name = SCRIPTS[command].split(":")
    function = inspect.unwrap(getattr(importlib.import_module(module), name))
    body = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    assert ast.unparse(body[0]) == "cli_support.start(argv)", f"{command}: first statement {ast.unparse(body[0])}"


@pytest.mark.parametrize("command", sorted(SCRIPTS))
def test_help_is_plain_text(command):
    """No reST markup (double backticks, :func:`x`, :class:`y`) in any --help, and --verbose is offered."""
    report, _ = probe(command)
    for argv, (_, text) in report["helps"].items():
        assert not cli_support.has_markup(text), f"{command} {argv}: {cli_support.MARKUP.findall(text)}"
        assert "--verbose" in text, f"{command} {argv}"


def _action(parser, option):
    for action in parser._actions:
        if option in action.option_strings:
            return action
    raise AssertionError(f"{parser.prog} has no {option}")


@pytest.mark.parametrize("command", TRAINING)
def test_training_commands_take_every_step_and_folder_name(command):
    """``--num_training_steps``, ``--num_steps``, ``--train_steps`` are one flag of every training command, as
    ``--run_dir`` and ``--model_dir`` are; ``--set trainer.train_steps=N`` is accepted too."""
    parser = build_parser(command)
    steps = {_action(parser, alias).dest for alias in STEP_ALIASES}
    folder = {_action(parser, alias).dest for alias in FOLDER_ALIASES}
    assert len(steps) == 1 and len(folder) == 1, (command, steps, folder)
    steps, folder = steps.pop(), folder.pop()
    for alias in STEP_ALIASES:
        assert getattr(parser.parse_args(["--run_dir", "RUN", alias, "7"]), steps) == 7
    args = parser.parse_args(["--model_dir", "RUN", "--set", "trainer.train_steps=7"])
    assert "trainer.train_steps=7" in args.overrides
    for alias in FOLDER_ALIASES:
        assert getattr(parser.parse_args([alias, "RUN"]), folder) == "RUN"


def test_step_aliases_reach_the_config():
    """The aliases become ``trainer.train_steps`` before the explicit ``--set`` overrides (which win)."""
    from events_rnn.train_cli import run_overrides
    from music_eval.cli import parse_train_classifier_args

    for alias in STEP_ALIASES:
        args = build_parser("melody_rnn_train").parse_args(["--run_dir", "R", alias, "9", "--set", "trainer.x=1"])
        overrides = run_overrides(args)
        assert overrides.index("trainer.train_steps=9") < overrides.index("trainer.x=1")
        args = parse_train_classifier_args(["R", alias, "9", "--set", "trainer.x=1"])
        assert args.overrides == ["trainer.train_steps=9", "trainer.x=1"]


def test_classifier_run_folder_positional_or_named(capsys):
    from music_eval.cli import parse_train_classifier_args

    assert parse_train_classifier_args(["RUN"]).model_dir == "RUN"
    assert parse_train_classifier_args(["--model_dir", "RUN"]).model_dir == "RUN"
    assert parse_train_classifier_args(["--run_dir", "RUN", "RUN"]).model_dir == "RUN"
    for argv in ([], ["A", "--model_dir", "B"]):
        with pytest.raises(SystemExit) as e:
            parse_train_classifier_args(argv)
        assert e.value.code == 2
    assert "run folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", [c for c in sorted(SCRIPTS) if c.endswith("_generate")])
def test_generate_commands_take_both_folder_and_bundle_names(command):
    parser = build_parser(command)
    subs = _subparsers(parser)
    for sub, p in subs.items() if subs else [(None, parser)]:
        dests = {_action(p, alias).dest for alias in FOLDER_ALIASES}
        assert len(dests) == 1, (command, sub, dests)
        dest = dests.pop()
        required = [a for a in p._actions if a.required and a.option_strings]
        filler = [x for a in required for x in (a.option_strings[0], "60")]
        for alias in FOLDER_ALIASES:
            assert getattr(p.parse_args([alias, "RUN"] + filler), dest) == "RUN", (command, sub, alias)
        if any("--bundle_file" in a.option_strings for a in p._actions):
            assert _action(p, "--bundle").dest == _action(p, "--bundle_file").dest


@pytest.mark.parametrize("command", [c for c in TRAINING if c.endswith("_rnn_train")])
def test_rnn_training_takes_bundle_file_for_bundle(command):
    parser = build_parser(command)
    assert parser.parse_args(["--run_dir", "R", "--bundle_file", "x.mag"]).bundle == "x.mag"
    assert parser.parse_args(["--run_dir", "R", "--bundle", "x.mag"]).bundle == "x.mag"


def test_listed_names_match_the_registries():
    """The names parsers list without importing TensorFlow are the registries' own."""
    import importlib

    for family in ("melody_rnn_ext", "polyphony_rnn_ext", "drums_rnn_ext", "performance_rnn_ext", "improv_rnn_ext"):
        package = importlib.import_module(family)
        command = importlib.import_module(f"{family}.train_cli").command()
        assert package.CONFIG_IDS == tuple(command.family.config_ids), family
        assert package.TRAIN_PRESETS == tuple(command.presets.names()), family
    from melody_rnn_ext import encodings

    assert importlib.import_module("melody_rnn_ext").CONFIG_IDS == encodings.CONFIG_IDS
    from gansynth_tf import config as gansynth_config
    from gansynth_tf import train_cli as gansynth_train

    assert gansynth_train.PRESET_NAMES == gansynth_config.PRESETS.names()
    from music_eval import classifier, cli

    assert cli.CLASSIFIER_PRESETS == classifier.PRESETS.names()


# --------------------------------------------------------------------------- README's command table


def _outside_brackets(text):
    """``text`` without its [optional] parts (nested ones too; brackets inside quotes are kept)."""
    depth, quote, out = 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
            continue
        elif ch == "]" and depth:
            depth -= 1
            continue
        if not depth:
            out.append(ch)
    return "".join(out)


def _usage_items(parser):
    """(required option groups, required positional count) read from the parser's usage line: each group is the
    option strings of which one must be given (one action's aliases, or a required exclusive group)."""
    usage = " ".join(parser.format_usage().split())
    usage = usage[len("usage: " + parser.prog) :]
    text = _outside_brackets(usage)
    groups = []
    for alternatives in re.findall(r"\(([^()]*)\)", text):  # a required mutually exclusive group
        groups.append(
            {
                o
                for token in alternatives.split()
                if token.startswith("-")
                for o in _action(parser, token).option_strings
            }
        )
    text = re.sub(r"\([^()]*\)", " ", text)
    tokens, positionals, i = text.split(), 0, 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-"):
            action = _action(parser, token)
            groups.append(set(action.option_strings))
            i += 1 + (action.nargs != 0)
            continue
        positionals += token != "..."  # a positional's metavar, or {subcommands}
        i += 1
    return groups, positionals


def _readme_rows():
    """(command, arguments) for every ``command ...`` code span in the first cell of README's command table."""
    text = (REPO / "README.md").read_text()
    table = text[text.index("## Commands") :]
    table = table[: table.index("\n\n", table.index("| command |"))]
    rows = []
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = re.split(r"(?<!\\)\|", line)[1]
        for span in re.findall(r"`([^`]+)`", first_cell):
            span = span.replace("\\|", "|")
            head = span.split()[0]
            for command in head.split("|"):
                if command in SCRIPTS:
                    rows.append((command, span[len(head) :].strip()))
    return rows


def _row_items(parser, text):
    """(option strings given, positional count, elided) of a README row's arguments outside [optional] parts;
    ``elided``: the row ends in a bare ``...`` (the rest as in another row)."""
    import shlex

    outside = _outside_brackets(text).replace("|--", " | --")
    try:
        tokens = shlex.split(outside)
    except ValueError:
        tokens = outside.split()
    given, positionals, elided, i = set(), 0, False, 0
    while i < len(tokens):
        token = tokens[i]
        if token in ("|", "..."):
            elided = elided or token == "..."
            i += 1
            continue
        if token.startswith("--"):
            action = _action(parser, token.split("=", 1)[0])
            given.update(action.option_strings)
            i += 1 + (action.nargs != 0 and "=" not in token)
            continue
        positionals += 1
        i += 1
    return given, positionals, elided


def test_readme_command_table_matches_usage():
    """Every row of README's command table names each flag its command requires (by one of its names) and as
    many positional arguments as the usage line requires; every flag a row names exists."""
    rows = _readme_rows()
    assert {command for command, _ in rows} == set(SCRIPTS), set(SCRIPTS) - {c for c, _ in rows}
    problems = []
    for command, text in rows:
        parser = build_parser(command)
        subs = _subparsers(parser)
        if subs:
            sub = text.split()[0].split("|")[0] if text else ""
            if sub not in subs:
                problems.append(f"{command} {text}: no subcommand of {sorted(subs)}")
                continue
            parser, text = subs[sub], text[len(text.split()[0]) :]
        try:
            required, positionals = _usage_items(parser)
            given, row_positionals, elided = _row_items(parser, text)
        except AssertionError as e:
            problems.append(f"{command} {text}: {e}")
            continue
        missing = [sorted(group)[0] for group in required if not group & given]
        if missing and not elided:
            problems.append(f"{command} {text}: the usage line requires {missing}")
        if row_positionals != positionals:
            problems.append(
                f"{command} {text}: {row_positionals} positional argument(s), the usage line requires {positionals}"
            )
    assert not problems, "\n".join(problems)
