"""melody_rnn_create_dataset on Apache Beam: the DirectRunner writes the same SequenceExamples (as multisets)
under Magenta's file names and the same stats as the local run, on real Bach chorales spread over two input
files with an empty sequence and a record that is not a NoteSequence; Beam options reach PipelineOptions."""

import json
import os

import note_seq
import pytest
import tensorflow as tf

pytest.importorskip("apache_beam")

from melody_rnn_ext import beam_pipeline, create_dataset_cli, data  # noqa: E402
from pipelines.note_sequence_io import write_note_sequences  # noqa: E402
from tests.melody_rnn_ext.chorales import chorale, seed_splitting_both_ways  # noqa: E402

CHORALES = ("bwv10.7.mxl", "bwv124.6.mxl")  # one track with four voices; one instrument per voice


def _seed_splitting_both_ways():
    """A seed that puts CHORALES[0] in eval and CHORALES[1] in training, so both files get melodies."""
    return seed_splitting_both_ways(CHORALES[0], CHORALES[1])


@pytest.fixture(scope="module")
def input_pattern(tmp_path_factory):
    folder = tmp_path_factory.mktemp("note_sequences")
    write_note_sequences(str(folder / "ns-a.tfrecord"), [chorale(n) for n in CHORALES])
    # Second file: an empty sequence without id (record 2) and bytes that are no NoteSequence (record 3);
    # both are reported by their index over all input files, as the local run numbers them.
    write_note_sequences(
        str(folder / "ns-b.tfrecord"), [note_seq.NoteSequence()], extra_records=[b"\x0a\xff not a NoteSequence"]
    )
    return str(folder / "ns-*.tfrecord")


def _args(input_pattern, output_dir):
    return [
        "--input",
        input_pattern,
        "--output_dir",
        str(output_dir),
        "--eval_ratio",
        "0.5",
        "--seed",
        str(_seed_splitting_both_ways()),
        "--no_progress",
    ]


@pytest.fixture(scope="module")
def runs(input_pattern, tmp_path_factory):
    direct = tmp_path_factory.mktemp("direct")
    assert create_dataset_cli.main(_args(input_pattern, direct)) == 0
    beam = tmp_path_factory.mktemp("beam")
    (beam / data.TRAINING_FILENAME).write_bytes(b"stale output of an earlier run")
    # The DirectRunner in one process (its multi-processing mode, the default, starts the same stages in
    # worker processes; only slower to start on 2 shared cores).
    assert (
        create_dataset_cli.main(_args(input_pattern, beam) + ["--runner", "beam", "--direct_running_mode=in_memory"])
        == 0
    )
    return direct, beam


def _records(path):
    return [bytes(r) for r in tf.data.TFRecordDataset(str(path)).as_numpy_iterator()]


def test_beam_writes_the_same_examples_and_stats_as_the_local_run(runs):
    direct, beam = runs
    expected_files = sorted([data.TRAINING_FILENAME, data.EVAL_FILENAME, data.STATS_FILENAME])
    assert sorted(os.listdir(beam)) == expected_files  # Magenta's names, no temporary folder left
    for name in (data.TRAINING_FILENAME, data.EVAL_FILENAME):
        local = _records(direct / name)
        assert local, name
        assert sorted(_records(beam / name)) == sorted(local)
    local = json.loads((direct / data.STATS_FILENAME).read_text())
    remote = json.loads((beam / data.STATS_FILENAME).read_text())
    for key in ("counts", "skipped", "melody_lengths_in_bars", "config", "input_size", "num_classes"):
        assert remote[key] == local[key], key
    for partition, out in remote["outputs"].items():
        assert out["examples"] == local["outputs"][partition]["examples"] == len(_records(out["path"]))
        assert out["path"] == str(beam / data.OUTPUT_FILENAMES[partition])
    skipped = {s["name"]: s["reason"] for s in remote["skipped"]}
    assert skipped["record 2"] == "no melody: no notes"
    assert "not a serialized NoteSequence" in skipped["record 3"]
    assert remote["counts"]["time_change_splitter/sequences_in"] == 3


def test_beam_summary_reads_back_the_stats(runs):
    _, beam = runs
    stats = json.loads((beam / data.STATS_FILENAME).read_text())
    summary = data.DatasetSummary.from_dict(stats)
    assert json.loads(json.dumps(summary.to_dict())) == stats
    assert summary.config.transposition_range == (0,) and summary.counters.get("skipped") == 2


class _Launched(Exception):
    pass


def test_runner_options_are_passed_through(input_pattern, tmp_path, monkeypatch):
    from apache_beam.options.pipeline_options import (
        DirectOptions,
        GoogleCloudOptions,
        SetupOptions,
        StandardOptions,
        WorkerOptions,
    )

    seen = []

    def fake_pipeline(*args, options=None, **kwargs):  # stands in for beam.Pipeline: nothing is launched
        seen.append(options)
        raise _Launched

    monkeypatch.setattr(beam_pipeline.beam, "Pipeline", fake_pipeline)
    with pytest.raises(_Launched):
        create_dataset_cli.main(
            _args(input_pattern, "gs://bucket/melodies")
            + [
                "--runner",
                "DataflowRunner",
                "--num_workers",
                "3",
                "--save_main_session",
                "--",
                "--project=my-project",
                "--region=europe-west1",
                "--temp_location=gs://bucket/tmp",
            ]
        )
    options = seen[-1]
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("my-project", "europe-west1", "gs://bucket/tmp")
    assert options.view_as(WorkerOptions).num_workers == 3
    assert options.view_as(SetupOptions).save_main_session
    assert options.view_as(DirectOptions).direct_running_mode != "multi_processing"

    with pytest.raises(_Launched):
        create_dataset_cli.main(_args(input_pattern, tmp_path) + ["--runner", "beam", "--num_workers", "2"])
    options = seen[-1]
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.view_as(DirectOptions).direct_num_workers == 2
    assert options.view_as(DirectOptions).direct_running_mode == "multi_processing"


def test_beam_pipeline_args():
    parser = create_dataset_cli.build_parser()

    def args_for(*argv, passthrough=()):
        args, unknown = parser.parse_known_args(["--input", "i", "--output_dir", "o", *argv])
        return create_dataset_cli.beam_pipeline_args(args, unknown + list(passthrough))

    assert args_for("--runner", "beam") == ["--runner", "DirectRunner"]
    # a --runner after '--' is Beam's own and wins over "beam"
    assert args_for("--runner", "beam", passthrough=["--runner=FlinkRunner"]) == ["--runner=FlinkRunner"]
    assert args_for("--runner", "SparkRunner", "--num_workers", "4", "--spark_master_url=local[2]") == [
        "--runner",
        "SparkRunner",
        "--num_workers=4",
        "--spark_master_url=local[2]",
    ]
    assert args_for("--runner", "beam", "--num_workers", "4", "--direct_num_workers=1") == [
        "--runner",
        "DirectRunner",
        "--direct_num_workers=1",
    ]


def test_direct_runner_refuses_beam_options_and_beam_reports_missing_input(input_pattern, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        create_dataset_cli.main(_args(input_pattern, tmp_path) + ["--project=my-project"])
    assert e.value.code == 2 and "--project=my-project" in capsys.readouterr().err
    missing = str(tmp_path / "missing-*.tfrecord")
    assert (
        create_dataset_cli.main(
            ["--input", missing, "--output_dir", str(tmp_path / "o"), "--runner", "beam", "--no_progress"]
        )
        == 1
    )
    assert "missing-*" in capsys.readouterr().err
