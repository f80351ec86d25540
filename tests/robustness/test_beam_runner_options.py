"""Every conversion command with a Beam mode hands its runner options to Beam unchanged.

Table-driven: ``BEAM_COMMANDS`` lists the commands (their ``main(argv)``, a small real input and how to
read back what they wrote). For each one:

* runner flags for Dataflow, Flink and Spark (``--runner X -- --project p ...`` and the same options
  without ``--``) reach the ``PipelineOptions`` that ``apache_beam.Pipeline`` is built with. The Pipeline
  constructor is replaced by a spy that records the options and stops there, so nothing is launched;
* ``--runner beam`` runs on the DirectRunner for real (options after ``--`` reach it too) and writes
  the same records and counts as the command's local mode;
* Beam options without a Beam runner are refused (exit status 2), not silently dropped.

To add ``melody_rnn_create_dataset`` / ``music_transformer_create_dataset``, append a ``BeamCommand``
to ``BEAM_COMMANDS`` (see ``beam_commands()``).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import pathlib
import shutil
from typing import Callable, Sequence

import pytest

from pipelines import tfrecord_io

REPO = pathlib.Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO.parent / "shared" / "data" / "nsynth_sample"


@dataclasses.dataclass(frozen=True)
class BeamCommand:
    """A conversion command with a Beam mode.

    Attributes:
      name: the console-script name.
      entry: ``"module:function"`` of its ``main(argv) -> int``.
      make_input: ``make_input(folder)`` -> the input path (a small real input built under ``folder``).
      io_args: ``io_args(input, output_folder)`` -> the command's input/output arguments.
      local_args: the arguments that select the command's in-process (non-Beam) mode.
      records_glob: the TFRecord files the run writes, a glob in the output folder.
      counts_file: the run's summary/counters JSON (it has ``counts``), in the output folder.
      planted_bad: bad inputs ``make_input`` plants (each must be counted as skipped).
    """

    name: str
    entry: str
    make_input: Callable[[pathlib.Path], pathlib.Path]
    io_args: Callable[[pathlib.Path, pathlib.Path], list]
    local_args: Sequence[str]
    records_glob: str
    counts_file: str
    planted_bad: int = 1

    def main(self):
        module, function = self.entry.split(":")
        return getattr(importlib.import_module(module), function)

    def records(self, out: pathlib.Path) -> list:
        """The serialized records the run wrote into ``out`` (any order)."""
        return list(tfrecord_io.iter_records(str(out / self.records_glob)))

    def counts(self, out: pathlib.Path) -> dict:
        """The ``counts`` of the run's JSON file in ``out``."""
        return json.loads((out / self.counts_file).read_text())["counts"]


# ----- nsynth_to_tfrecord


def _nsynth_input(folder):
    root = folder / "nsynth_in"
    if not root.exists():
        shutil.copytree(SAMPLE_DIR, root)
        # one bad note, so that skipped counts are compared too
        examples = json.loads((root / "examples.json").read_text())
        entry = dict(examples["guitar_acoustic_015-060-025"], note_str="broken_000-060-025")
        examples["broken_000-060-025"] = entry
        (root / "audio" / "broken_000-060-025.wav").write_bytes(b"RIFF not a wav")
        (root / "examples.json").write_text(json.dumps(examples))
    return root


# ----- convert_dir_to_note_sequences


def _music_input(folder):
    import music21
    import pretty_midi

    root = folder / "music_in"
    if not root.exists():
        root.mkdir()
        corpus = pathlib.Path(music21.__file__).parent
        for path in sorted((corpus / "corpus" / "bach").glob("bwv*.mxl"))[:3]:
            shutil.copy(path, root / path.name)
        for path in sorted((corpus / "midi" / "testPrimitive").glob("*.mid"))[:3]:
            shutil.copy(path, root / path.name)
        pm = pretty_midi.PrettyMIDI()
        inst = pretty_midi.Instrument(program=0)
        inst.notes = [pretty_midi.Note(90, 60 + k, 0.5 * k, 0.5 * k + 0.4) for k in range(8)]
        pm.instruments.append(inst)
        pm.write(str(root / "scale.mid"))
        (root / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06 truncated")
    return root


def _note_sequence_records_input(folder):
    """NoteSequence TFRecords of two Bach chorales (the input of the two dataset commands)."""
    import music21

    from pipelines import note_sequences

    out = folder / "ns_records"
    if not out.exists():
        src = folder / "ns_src"
        src.mkdir()
        corpus = pathlib.Path(music21.__file__).parent / "corpus" / "bach"
        for name in ("bwv10.7.mxl", "bwv124.6.mxl"):
            shutil.copy(corpus / name, src / name)
        out.mkdir()
        note_sequences.convert_directory(str(src), str(out / "ns"), progress=False)
    return out / "ns"


def _ns_pattern(inp):
    return str(inp)  # the conversion's --output_file: one shard, written under exactly that name


def beam_commands() -> list:
    """The table: every conversion command with a Beam mode."""
    return [
        BeamCommand(
            name="nsynth_to_tfrecord",
            entry="pipelines.nsynth_to_tfrecord_cli:main",
            make_input=_nsynth_input,
            io_args=lambda inp, out: [
                *("--input_dir", str(inp), "--output_dir", str(out)),
                *("--num_shards", "2", "--no_progress"),
            ],
            local_args=["--runner", "local"],
            records_glob="nsynth-*-of-*.tfrecord",
            counts_file="nsynth-summary.json",
        ),
        BeamCommand(
            name="convert_dir_to_note_sequences",
            entry="pipelines.convert_dir_to_note_sequences_cli:main",
            make_input=_music_input,
            io_args=lambda inp, out: [
                *("--input_dir", str(inp), "--output_file", str(out / "ns.tfrecord")),
                *("--num_shards", "2", "--no_progress"),
            ],
            local_args=["--runner", "direct"],
            records_glob="ns-*-of-*.tfrecord",
            counts_file="ns.counters.json",
        ),
        BeamCommand(
            name="melody_rnn_create_dataset",
            entry="melody_rnn_ext.create_dataset_cli:main",
            make_input=_note_sequence_records_input,
            io_args=lambda inp, out: [
                *("--config", "basic_rnn", "--input", _ns_pattern(inp), "--output_dir", str(out)),
                *("--eval_ratio", "0.5", "--no_progress"),
            ],
            local_args=["--runner", "direct"],
            records_glob="*_melodies.tfrecord",
            counts_file="melody_rnn_create_dataset_stats.json",
            planted_bad=0,
        ),
        BeamCommand(
            name="music_transformer_create_dataset",
            entry="music_transformer_ext.create_dataset_cli:main",
            make_input=_note_sequence_records_input,
            io_args=lambda inp, out: [
                *("--input", "train=" + _ns_pattern(inp), "--output_dir", str(out), "--max_length", "256"),
                *("--num_shards", "1", "--stretch_factors", "1.0", "--transpose_amounts=-1,0,1", "--no_progress"),
            ],
            local_args=["--runner", "direct"],
            records_glob="*-of-*.tfrecord",
            counts_file="summary.json",
            planted_bad=0,
        ),
    ]


BEAM_COMMANDS = beam_commands()
IDS = [c.name for c in BEAM_COMMANDS]

# (runner flags, {option name: expected value in PipelineOptions.get_all_options()})
RUNNER_CASES = {
    "dataflow_after_dashdash": (
        "--runner DataflowRunner -- --project p --region r --temp_location gs://b/t --num_workers 7"
        " --machine_type n1-standard-8".split(),
        {
            "runner": "DataflowRunner",
            "project": "p",
            "region": "r",
            "temp_location": "gs://b/t",
            "num_workers": 7,
            "machine_type": "n1-standard-8",
        },
    ),
    "dataflow_inline": (
        "--runner DataflowRunner --project=p2 --region europe-west1 --staging_location gs://b/staging"
        " --job_name convert-1".split(),
        {
            "runner": "DataflowRunner",
            "project": "p2",
            "region": "europe-west1",
            "staging_location": "gs://b/staging",
            "job_name": "convert-1",
        },
    ),
    "flink": (
        "--runner FlinkRunner -- --flink_master=localhost:8081 --parallelism=4 --environment_type=LOOPBACK".split(),
        {"runner": "FlinkRunner", "flink_master": "localhost:8081", "parallelism": 4, "environment_type": "LOOPBACK"},
    ),
    "spark": (
        "--runner SparkRunner -- --spark_master_url=spark://host:7077 --environment_type DOCKER".split(),
        {"runner": "SparkRunner", "spark_master_url": "spark://host:7077", "environment_type": "DOCKER"},
    ),
    "beam_runner_override": (
        "--runner beam -- --runner=PortableRunner --job_endpoint=localhost:8099".split(),
        {"runner": "PortableRunner", "job_endpoint": "localhost:8099"},
    ),
    "direct_with_user_workers": (
        "--runner beam -- --direct_num_workers=1 --direct_running_mode=in_memory".split(),
        {"runner": "DirectRunner", "direct_num_workers": 1, "direct_running_mode": "in_memory"},
    ),
}


class _Launched(Exception):
    """Raised by the Pipeline spy: the command got as far as building a Pipeline."""


@pytest.fixture
def pipeline_spy(monkeypatch):
    """Replaces ``apache_beam.Pipeline.__init__``: records the options, launches nothing."""
    import apache_beam as beam

    seen = []

    def init(self, runner=None, options=None, argv=None):
        seen.append(options)
        raise _Launched()

    monkeypatch.setattr(beam.Pipeline, "__init__", init)
    return seen


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("beam_inputs")
    return {c.name: c.make_input(folder) for c in BEAM_COMMANDS}


@pytest.mark.parametrize("case", sorted(RUNNER_CASES))
@pytest.mark.parametrize("command", BEAM_COMMANDS, ids=IDS)
def test_runner_options_reach_pipeline_options(command, case, inputs, tmp_path, pipeline_spy):
    flags, expected = RUNNER_CASES[case]
    with pytest.raises(_Launched):
        command.main()(command.io_args(inputs[command.name], tmp_path / "out") + flags)
    assert len(pipeline_spy) == 1 and pipeline_spy[0] is not None
    options = pipeline_spy[0].get_all_options(retain_unknown_options=True)
    for key, value in expected.items():
        assert options.get(key) == value, (key, options.get(key), value)
    # nothing was written: the spy stopped the command before any work
    assert not list(tmp_path.rglob("*.tfrecord*"))


@pytest.mark.parametrize("command", BEAM_COMMANDS, ids=IDS)
def test_beam_options_need_a_beam_runner(command, inputs, tmp_path, pipeline_spy):
    for flags in (["--project", "p"], command.local_args + ["--", "--temp_location", "gs://b/t"]):
        with pytest.raises(SystemExit) as exit_info:
            command.main()(command.io_args(inputs[command.name], tmp_path / "out") + list(flags))
        assert exit_info.value.code == 2, flags
    assert pipeline_spy == []


@pytest.mark.slow
@pytest.mark.parametrize("command", BEAM_COMMANDS, ids=IDS)
def test_direct_runner_writes_the_records(command, inputs, tmp_path, monkeypatch):
    """``--runner beam`` on the DirectRunner (one in-process worker, passed after ``--``) writes the same
    records and counts as the local mode."""
    import apache_beam as beam

    seen = []
    original = beam.Pipeline.__init__

    def init(self, runner=None, options=None, argv=None):
        seen.append(options)
        original(self, runner=runner, options=options, argv=argv)

    monkeypatch.setattr(beam.Pipeline, "__init__", init)
    inp = inputs[command.name]
    main = command.main()
    assert main(command.io_args(inp, tmp_path / "local") + list(command.local_args)) == 0
    assert seen == []  # the local mode does not use Beam
    assert (
        main(
            command.io_args(inp, tmp_path / "beam")
            + ["--runner", "beam", "--", "--direct_num_workers=1", "--direct_running_mode=in_memory"]
        )
        == 0
    )
    assert len(seen) == 1
    options = seen[0].get_all_options()
    assert (options["runner"], options["direct_running_mode"], options["direct_num_workers"]) == (
        "DirectRunner",
        "in_memory",
        1,
    )
    local, via_beam = command.records(tmp_path / "local"), command.records(tmp_path / "beam")
    assert len(local) >= 5 and sorted(via_beam) == sorted(local)
    counts = command.counts(tmp_path / "beam")
    assert counts == command.counts(tmp_path / "local")
    assert counts.get("skipped", 0) == command.planted_bad
