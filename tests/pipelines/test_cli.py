"""One runner vocabulary for every conversion command (``pipelines.cli``): ``--runner direct|beam|<BeamRunner>``
means the same in each, and the ``--`` split sends what follows it to Beam."""

import argparse

import pytest

from pipelines import cli as pipeline_cli
from tests.test_commands import SCRIPTS, build_parser

CONVERSIONS = (
    "nsynth_to_tfrecord",
    "convert_dir_to_note_sequences",
    "melody_rnn_create_dataset",
    "polyphony_rnn_create_dataset",
    "drums_rnn_create_dataset",
    "performance_rnn_create_dataset",
    "improv_rnn_create_dataset",
    "music_transformer_create_dataset",
)

# runner word -> (runs in this process, Beam runner class, the --runner our Beam options start with)
MEANINGS = {
    "direct": (True, None, None),
    "local": (True, None, None),  # the old word, kept
    "beam": (False, "DirectRunner", ["--runner", "DirectRunner"]),
    "DirectRunner": (False, "DirectRunner", ["--runner", "DirectRunner"]),
    "DataflowRunner": (False, "DataflowRunner", ["--runner", "DataflowRunner"]),
    "FlinkRunner": (False, "FlinkRunner", ["--runner", "FlinkRunner"]),
}


def _required(parser):
    """Values for the parser's required options (any string parses)."""
    return [x for a in parser._actions if a.required and a.option_strings for x in (a.option_strings[0], "X")]


def _runner_action(parser):
    return next(a for a in parser._actions if "--runner" in a.option_strings)


def test_the_conversion_commands_are_the_ones_with_a_runner_flag():
    with_runner = {c for c in SCRIPTS if any("--runner" in a.option_strings for a in build_parser(c)._actions)}
    assert with_runner == set(CONVERSIONS)


@pytest.mark.parametrize("command", CONVERSIONS)
def test_runner_words_mean_the_same_in_every_conversion(command, capsys):
    parser = build_parser(command)
    action = _runner_action(parser)
    assert isinstance(action, pipeline_cli._RunnerAction), f"{command}: --runner not from pipelines.cli.add_runner_arg"
    base = _required(parser)

    args, beam_args = pipeline_cli.parse_args(parser, base)
    assert args.runner == "direct" and beam_args == []  # the default: this process
    for word, (in_process, runner_class, prefix) in MEANINGS.items():
        args, beam_args = pipeline_cli.parse_args(parser, base + ["--runner", word])
        assert pipeline_cli.uses_beam(args.runner) is not in_process, (command, word)
        assert pipeline_cli.beam_runner(args.runner) == runner_class, (command, word)
        if prefix is not None:
            assert pipeline_cli.beam_pipeline_args(args, beam_args)[:2] == prefix, (command, word)
    err = capsys.readouterr().err
    # only the one command where "direct" used to mean Beam's DirectRunner says that it changed
    assert ("--runner direct converts in this process" in err) == (command == "nsynth_to_tfrecord"), err


@pytest.mark.parametrize("command", CONVERSIONS)
def test_double_dash_sends_the_rest_to_beam(command):
    parser = build_parser(command)
    base = _required(parser)
    argv = base + ["--runner", "beam", "--project=p", "--", "--no_progress", "--runner=FlinkRunner", "--x", "1"]
    args, beam_args = pipeline_cli.parse_args(parser, argv)
    # before --: ours, and options we do not know go to Beam; after --: Beam's, even a flag of ours
    assert args.runner == "beam" and args.no_progress is False
    assert beam_args == ["--project=p", "--no_progress", "--runner=FlinkRunner", "--x", "1"]
    # a --runner among the Beam options wins over ours: no second --runner is added
    assert pipeline_cli.beam_pipeline_args(args, beam_args) == beam_args
    args, beam_args = pipeline_cli.parse_args(parser, base + ["--runner", "DataflowRunner", "--", "--region=r"])
    assert pipeline_cli.beam_pipeline_args(args, beam_args) == ["--runner", "DataflowRunner", "--region=r"]


@pytest.mark.parametrize("command", CONVERSIONS)
def test_beam_options_without_a_beam_runner_are_refused(command, capsys):
    parser = build_parser(command)
    for runner in ("direct", "local"):
        args, beam_args = pipeline_cli.parse_args(parser, _required(parser) + ["--runner", runner, "--", "--project=p"])
        with pytest.raises(SystemExit) as e:
            pipeline_cli.refuse_beam_args(parser, args, beam_args)
        assert e.value.code == 2
        assert "Beam options need --runner beam" in capsys.readouterr().err
    args, beam_args = pipeline_cli.parse_args(parser, _required(parser) + ["--runner", "beam", "--", "--project=p"])
    pipeline_cli.refuse_beam_args(parser, args, beam_args)  # no error


def test_num_workers_maps_to_the_runner_s_own_option():
    def args_for(runner, num_workers):
        return argparse.Namespace(runner=runner, num_workers=num_workers)

    assert pipeline_cli.beam_pipeline_args(args_for("beam", 3), []) == [
        "--runner",
        "DirectRunner",
        "--direct_num_workers=3",
    ]
    assert pipeline_cli.beam_pipeline_args(args_for("DataflowRunner", 3), []) == [
        "--runner",
        "DataflowRunner",
        "--num_workers=3",
    ]
    # given by the user among the Beam options: theirs wins
    assert pipeline_cli.beam_pipeline_args(args_for("beam", 3), ["--direct_num_workers=1"]) == [
        "--runner",
        "DirectRunner",
        "--direct_num_workers=1",
    ]
    # commands without --num_workers
    assert pipeline_cli.beam_pipeline_args(argparse.Namespace(runner="beam"), []) == ["--runner", "DirectRunner"]


def test_split_argv():
    assert pipeline_cli.split_argv(["--a", "1"]) == (["--a", "1"], [])
    assert pipeline_cli.split_argv(["--a", "--", "--b", "--", "c"]) == (["--a"], ["--b", "--", "c"])
    assert pipeline_cli.split_argv(["--"]) == ([], [])


def test_make_parser_says_where_beam_options_go():
    parser = pipeline_cli.make_parser("prog", "Convert things.")
    assert parser.description == "Convert things. " + pipeline_cli.BEAM_OPTIONS_NOTE
    assert parser.parse_args([]).verbose is False  # cli_support's --verbose
    assert "Beam's PipelineOptions (with --runner beam" in parser.format_help()
    other = pipeline_cli.make_parser("prog", "Convert things.", beam_note="Unknown options go to Beam.")
    assert other.description == "Convert things. Unknown options go to Beam."
