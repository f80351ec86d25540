"""nsynth_to_tfrecord (local and Beam): real + rendered notes with bad ones mixed in."""
import json
import os

import pytest

from pipelines import nsynth, nsynth_to_tfrecord, tfrecord_io
from tests.pipelines.test_nsynth_readers import assert_elements_equal


@pytest.fixture(scope="module")
def converted(mixed_dir, tmp_path_factory):
    """Runs the command-line converter once on the mixed folder."""
    folder, expected = mixed_dir
    out = tmp_path_factory.mktemp("tfrecords")
    assert nsynth_to_tfrecord.main(["--input_dir", str(folder), "--output_dir", str(out),
                                    "--num_shards", "3", "--no_progress"]) == 0
    return folder, out, expected


def _serialized(pattern):
    return sorted(tfrecord_io.iter_records(pattern))


def test_bad_notes_are_skipped_counted_and_named(converted):
    folder, out, expected = converted
    summary = json.loads((out / "nsynth-summary.json").read_text())
    assert summary["counts"] == {"notes": 12 + 12 + len(expected), "written": 24,
                                 "filtered_out": 0, "skipped": len(expected)}
    skipped = {s["name"]: s["reason"] for s in summary["skipped"]}
    assert set(skipped) == set(expected)
    for name, fragment in expected.items():
        assert fragment in skipped[name], (name, skipped[name])
    assert summary["shards"] == [f"nsynth-0000{i}-of-00003.tfrecord" for i in range(3)]
    assert sorted(p for p in os.listdir(out) if p.endswith(".tfrecord")) == summary["shards"]


def test_summary_is_printed(mixed_dir, tmp_path, capsys):
    folder, expected = mixed_dir
    nsynth_to_tfrecord.main(["--input_dir", str(folder), "--output_dir", str(tmp_path), "--num_shards", "1",
                             "--acoustic_only", "--no_progress"])
    out = capsys.readouterr().out
    for name in expected:
        assert f"skipped {name}: " in out
    assert "written: 16" in out and "filtered_out: 8" in out  # 4 real + 12 rendered notes are acoustic


def test_records_equal_the_jsonwav_readers_elements(converted):
    folder, out, _ = converted
    ds = nsynth.read_tfrecords(str(out / "nsynth-*.tfrecord"))
    assert ds.element_spec == nsynth.ELEMENT_SPEC
    from_records = sorted(ds.as_numpy_iterator(), key=lambda e: e["note_str"])
    from_jsonwav = list(nsynth.iter_jsonwav_dir(folder, skip_bad=True))
    assert len(from_records) == len(from_jsonwav) == 24
    for a, b in zip(from_records, from_jsonwav):
        assert_elements_equal(a, b)
    # each record sits in the shard its note_str hashes to
    for index in range(3):
        path = str(out / f"nsynth-0000{index}-of-00003.tfrecord")
        for element in nsynth.read_tfrecords(path).as_numpy_iterator():
            assert tfrecord_io.shard_index(element["note_str"], 3) == index


def test_conversion_is_deterministic_and_filters_work(converted, tmp_path):
    folder, out, _ = converted
    counters = nsynth_to_tfrecord.convert(str(folder), str(tmp_path), num_shards=3, progress=False)
    assert counters.get("written") == 24
    for i in range(3):
        name = f"nsynth-0000{i}-of-00003.tfrecord"
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()
    nsynth_to_tfrecord.main(["--input_dir", str(folder), "--output_dir", str(tmp_path / "g"), "--name", "gs",
                             "--gansynth_subset", "--max_pitch", "65", "--no_progress"])
    got = list(nsynth.read_tfrecords(str(tmp_path / "g" / "gs-*.tfrecord")).as_numpy_iterator())
    assert len(got) == 4 + 6  # real acoustic notes (pitch 60) + rendered notes at pitch 60
    assert all(e["instrument_source"] == 0 and 24 <= e["pitch"] <= 65 for e in got)
    # the reader's own filters agree with the converter's
    ds = nsynth.read_tfrecords(str(out / "nsynth-*.tfrecord"), acoustic_only=True, min_pitch=24, max_pitch=65)
    assert sorted(e["note_str"] for e in ds.as_numpy_iterator()) == sorted(e["note_str"] for e in got)


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        nsynth_to_tfrecord.main(["--input_dir", str(tmp_path), "--output_dir", str(tmp_path / "o")])
    assert info.value.code == 2 and "no examples.json" in capsys.readouterr().err
    (tmp_path / "examples.json").write_text("{}")
    with pytest.raises(SystemExit):
        nsynth_to_tfrecord.main(["--input_dir", str(tmp_path), "--output_dir", str(tmp_path / "o"),
                                 "--project", "p"])
    assert "need --runner beam" in capsys.readouterr().err


@pytest.mark.slow
def test_beam_pipeline_writes_the_same_records(converted, tmp_path):
    folder, out, _ = converted
    beam_out = tmp_path / "beam"
    # --direct_num_workers is not ours: it is passed through to Beam's PipelineOptions
    assert nsynth_to_tfrecord.main(["--input_dir", str(folder), "--output_dir", str(beam_out),
                                    "--num_shards", "2", "--runner", "beam",
                                    "--direct_num_workers=2", "--no_progress"]) == 0
    assert _serialized(str(beam_out / "nsynth-*.tfrecord")) == _serialized(str(out / "nsynth-*.tfrecord"))
    local = json.loads((out / "nsynth-summary.json").read_text())
    remote = json.loads((beam_out / "nsynth-summary.json").read_text())
    assert remote["counts"] == local["counts"] and remote["skipped"] == local["skipped"]
    assert remote["shards"] == ["nsynth-00000-of-00002.tfrecord", "nsynth-00001-of-00002.tfrecord"]
    assert sorted(p for p in os.listdir(beam_out) if not p.startswith(".")) == remote["shards"] + ["nsynth-summary.json"]


def test_beam_options_pass_through():
    from apache_beam.options.pipeline_options import DirectOptions, GoogleCloudOptions, StandardOptions

    from pipelines import beam

    options = beam.pipeline_options(["--project=my-project", "--temp_location=gs://b/tmp"])
    assert options.view_as(StandardOptions).runner == "DirectRunner"
    assert options.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert options.view_as(GoogleCloudOptions).project == "my-project"
    options = beam.pipeline_options(["--runner=DataflowRunner", "--region=europe-west1"])
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    assert options.view_as(GoogleCloudOptions).region == "europe-west1"
    assert options.view_as(DirectOptions).direct_running_mode != "multi_processing"


def test_nothing_written_exits_nonzero(nsynth_sample_dir, tmp_path, capsys):
    # every real sample note is pitch 60: a pitch filter above it leaves nothing to write
    rc = nsynth_to_tfrecord.main(["--input_dir", str(nsynth_sample_dir), "--output_dir", str(tmp_path / "out"),
                                  "--min_pitch", "61", "--no_progress"])
    assert rc == 1
    assert "no note written" in capsys.readouterr().err
