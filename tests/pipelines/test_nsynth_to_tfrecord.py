"""nsynth_to_tfrecord (local and Beam): real + rendered notes with bad ones mixed in."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from pipelines import nsynth, nsynth_to_tfrecord, nsynth_to_tfrecord_cli, tfrecord_io
from tests.pipelines.test_nsynth_readers import assert_elements_equal


@pytest.fixture(scope="module")
def converted(mixed_dir, tmp_path_factory):
    """Runs the command-line converter once on the mixed folder."""
    folder, expected = mixed_dir
    out = tmp_path_factory.mktemp("tfrecords")
    assert (
        nsynth_to_tfrecord_cli.main(
            ["--input_dir", str(folder), "--output_dir", str(out), "--num_shards", "3", "--no_progress"]
        )
        == 0
    )
    return folder, out, expected


def _serialized(pattern):
    return sorted(tfrecord_io.iter_records(pattern))


def test_bad_notes_are_skipped_counted_and_named(converted):
    folder, out, expected = converted
    summary = json.loads((out / "nsynth-summary.json").read_text())
    assert summary["counts"] == {
        "notes": 12 + 12 + len(expected),
        "written": 24,
        "filtered_out": 0,
        "skipped": len(expected),
    }
    skipped = {s["name"]: s["reason"] for s in summary["skipped"]}
    assert set(skipped) == set(expected)
    for name, fragment in expected.items():
        assert fragment in skipped[name], (name, skipped[name])
    assert summary["shards"] == [f"nsynth-0000{i}-of-00003.tfrecord" for i in range(3)]
    assert sorted(p for p in os.listdir(out) if p.endswith(".tfrecord")) == summary["shards"]


def test_summary_is_printed(mixed_dir, tmp_path, capsys):
    folder, expected = mixed_dir
    nsynth_to_tfrecord_cli.main(
        [
            "--input_dir",
            str(folder),
            "--output_dir",
            str(tmp_path),
            "--num_shards",
            "1",
            "--acoustic_only",
            "--no_progress",
        ]
    )
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
    nsynth_to_tfrecord_cli.main(
        [
            "--input_dir",
            str(folder),
            "--output_dir",
            str(tmp_path / "g"),
            "--name",
            "gs",
            "--gansynth_subset",
            "--max_pitch",
            "65",
            "--no_progress",
        ]
    )
    got = list(nsynth.read_tfrecords(str(tmp_path / "g" / "gs-*.tfrecord")).as_numpy_iterator())
    assert len(got) == 4 + 6  # real acoustic notes (pitch 60) + rendered notes at pitch 60
    assert all(e["instrument_source"] == 0 and 24 <= e["pitch"] <= 65 for e in got)
    # the reader's own filters agree with the converter's
    ds = nsynth.read_tfrecords(str(out / "nsynth-*.tfrecord"), acoustic_only=True, min_pitch=24, max_pitch=65)
    assert sorted(e["note_str"] for e in ds.as_numpy_iterator()) == sorted(e["note_str"] for e in got)


def test_cli_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        nsynth_to_tfrecord_cli.main(["--input_dir", str(tmp_path), "--output_dir", str(tmp_path / "o")])
    assert info.value.code == 2 and "no examples.json" in capsys.readouterr().err
    (tmp_path / "examples.json").write_text("{}")
    with pytest.raises(SystemExit):
        nsynth_to_tfrecord_cli.main(
            ["--input_dir", str(tmp_path), "--output_dir", str(tmp_path / "o"), "--project", "p"]
        )
    assert "need --runner beam" in capsys.readouterr().err


@pytest.mark.slow
def test_beam_pipeline_writes_the_same_records(converted, tmp_path):
    folder, out, _ = converted
    beam_out = tmp_path / "beam"
    # --direct_num_workers is not ours: it is passed through to Beam's PipelineOptions
    assert (
        nsynth_to_tfrecord_cli.main(
            [
                "--input_dir",
                str(folder),
                "--output_dir",
                str(beam_out),
                "--num_shards",
                "2",
                "--runner",
                "beam",
                "--direct_num_workers=2",
                "--no_progress",
            ]
        )
        == 0
    )
    assert _serialized(str(beam_out / "nsynth-*.tfrecord")) == _serialized(str(out / "nsynth-*.tfrecord"))
    local = json.loads((out / "nsynth-summary.json").read_text())
    remote = json.loads((beam_out / "nsynth-summary.json").read_text())
    assert remote["counts"] == local["counts"] and remote["skipped"] == local["skipped"]
    assert remote["shards"] == ["nsynth-00000-of-00002.tfrecord", "nsynth-00001-of-00002.tfrecord"]
    assert sorted(p for p in os.listdir(beam_out) if not p.startswith(".")) == remote["shards"] + [
        "nsynth-summary.json"
    ]


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
    rc = nsynth_to_tfrecord_cli.main(
        [
            "--input_dir",
            str(nsynth_sample_dir),
            "--output_dir",
            str(tmp_path / "out"),
            "--min_pitch",
            "61",
            "--no_progress",
        ]
    )
    assert rc == 1
    assert "no note written" in capsys.readouterr().err


# --------------------------------------------------------------------------- --resample / --mono

HI_RATE = 44100


def _reference_16k(audio_44k: np.ndarray) -> np.ndarray:
    """An independent resampling to 16 kHz (scipy's polyphase filter, 160/441), as a reference."""
    from scipy.signal import resample_poly

    return resample_poly(audio_44k.astype(np.float64), 160, 441)


@pytest.fixture(scope="module")
def foreign_rate_dir(nsynth_sample_dir, tmp_path_factory):
    """Three real NSynth notes rewritten as wavs NSynth's format does not allow: 44.1 kHz mono
    (``examples.json`` says 44100), 16 kHz stereo, and 44.1 kHz stereo (``examples.json`` still
    says 16000). Returns (folder, {note_str: the wav's channels as float [frames, channels]})."""
    from scipy.signal import resample_poly

    out = tmp_path_factory.mktemp("foreign_rate")
    (out / "audio").mkdir()
    source = json.loads((nsynth_sample_dir / "examples.json").read_text())
    names = sorted(source)[:3]
    kinds = {names[0]: (HI_RATE, 1), names[1]: (nsynth.SAMPLE_RATE, 2), names[2]: (HI_RATE, 2)}
    examples, written = {}, {}
    for note_str, (rate, channels) in kinds.items():
        x, _ = sf.read(nsynth_sample_dir / "audio" / f"{note_str}.wav", dtype="float64")
        if rate != nsynth.SAMPLE_RATE:
            x = resample_poly(x, 441, 160)  # 64000 -> 176400 frames: 4 s at 44.1 kHz
        x = 0.9 * x / np.max(np.abs(x))
        frames = x[:, None] if channels == 1 else np.stack([x, 0.5 * x], axis=1)
        sf.write(out / "audio" / f"{note_str}.wav", frames, rate, subtype="PCM_16")
        written[note_str], _ = sf.read(out / "audio" / f"{note_str}.wav", dtype="float32", always_2d=True)
        entry = dict(source[note_str])
        entry["sample_rate"] = HI_RATE if note_str == names[0] else nsynth.SAMPLE_RATE
        examples[note_str] = entry
    (out / "examples.json").write_text(json.dumps(examples, indent=1, sort_keys=True))
    return out, written


def test_foreign_rates_and_stereo_are_skipped_with_the_flag_to_use(foreign_rate_dir, tmp_path, capsys):
    folder, written = foreign_rate_dir
    rc = nsynth_to_tfrecord_cli.main(["--input_dir", str(folder), "--output_dir", str(tmp_path), "--no_progress"])
    captured = capsys.readouterr()
    assert rc == 1 and "no note written" in captured.err
    summary = json.loads((tmp_path / "nsynth-summary.json").read_text())
    assert summary["counts"]["skipped"] == 3 and summary["counts"]["written"] == 0
    reasons = {s["name"]: s["reason"] for s in summary["skipped"]}
    hi_mono, stereo, hi_stereo = sorted(written)
    assert "sample_rate is 44100, expected 16000" in reasons[hi_mono]  # the entry says 44100
    assert "has 2 channels, expected 1" in reasons[stereo]
    assert "sample rate is 44100 Hz, expected 16000 Hz" in reasons[hi_stereo]  # the entry says 16000
    assert "2 note(s) skipped for their sample rate: --resample resamples them to 16 kHz" in captured.err
    assert "1 note(s) skipped for their channel count: --mono averages their channels" in captured.err
    # with --resample only, the stereo notes are still skipped, and only --mono is suggested
    rc = nsynth_to_tfrecord_cli.main(
        ["--input_dir", str(folder), "--output_dir", str(tmp_path / "r"), "--resample", "--no_progress"]
    )
    captured = capsys.readouterr()
    assert rc == 0 and "written: 1" in captured.out
    assert "2 note(s) skipped for their channel count: --mono" in captured.err and "--resample" not in captured.err


def test_resample_and_mono_convert_them(foreign_rate_dir, tmp_path, capsys):
    folder, written = foreign_rate_dir
    assert (
        nsynth_to_tfrecord_cli.main(
            [
                "--input_dir",
                str(folder),
                "--output_dir",
                str(tmp_path),
                "--resample",
                "--mono",
                "--num_shards",
                "1",
                "--no_progress",
            ]
        )
        == 0
    )
    assert "skipped for their" not in capsys.readouterr().err
    records = {
        e["note_str"].decode(): e
        for e in nsynth.read_tfrecords(str(tmp_path / "nsynth-*.tfrecord")).as_numpy_iterator()
    }
    assert sorted(records) == sorted(written)
    for note_str, frames in written.items():
        element = records[note_str]
        audio = element["audio"]
        assert audio.shape == (nsynth.NUM_SAMPLES,) and audio.dtype == np.float32
        assert element["sample_rate"] == nsynth.SAMPLE_RATE
        mono = frames.mean(axis=1)
        if len(mono) == nsynth.NUM_SAMPLES:  # stereo at 16 kHz: only the downmix
            np.testing.assert_allclose(audio, mono, atol=1e-6)
            continue
        assert len(mono) == 176400
        reference = _reference_16k(mono)
        assert reference.shape == audio.shape
        error = np.sqrt(np.mean((audio - reference) ** 2)) / np.sqrt(np.mean(reference**2))
        assert error < 0.01, (note_str, error)
        assert np.max(np.abs(audio - reference)) < 0.01
        assert np.max(np.abs(audio)) < 1.0
