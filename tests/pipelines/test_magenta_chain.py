"""Magenta's tutorial chain as written: ``convert_dir_to_note_sequences --output_file ns/notesequences.tfrecord``
then ``melody_rnn_create_dataset --input ns/notesequences.tfrecord``.

With one shard (the default) the conversion writes exactly the name it is given; with several, shards
``ns/notesequences-IIIII-of-NNNNN.tfrecord``, which the next command finds under the same name. A rerun
with another shard count leaves only its own layout, and a reader refuses a name whose files are of two runs.
"""

import json
import os
import pathlib
import shutil

import pytest

from melody_rnn_ext import create_dataset_cli as melody_cli
from melody_rnn_ext import data as melody_data
from pipelines import convert_dir_to_note_sequences_cli as ns_cli
from pipelines import note_sequences as ns
from pipelines import tfrecord_io

OUTPUT = os.path.join("ns", "notesequences.tfrecord")
CHORALES = ("bwv10.7.mxl", "bwv124.6.mxl", "bwv1.6.mxl")  # MusicXML: melodies of >= 7 bars
MIDIS = ("test05.mid", "test09.mid")  # music21's own MIDI test files


@pytest.fixture(scope="module")
def music_dir(tmp_path_factory):
    """Three Bach chorales and two MIDI files from music21's package."""
    music21 = pytest.importorskip("music21")
    root = pathlib.Path(music21.__file__).parent
    folder = tmp_path_factory.mktemp("chain") / "music"
    folder.mkdir()
    for name in CHORALES:
        shutil.copy(root / "corpus" / "bach" / name, folder / name)
    for name in MIDIS:
        shutil.copy(root / "midi" / "testPrimitive" / name, folder / name)
    return folder


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Runs the test in ``tmp_path``, so that the commands take the tutorial's relative names."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _convert(music_dir, *extra):
    return ns_cli.main(["--input_dir", str(music_dir), "--output_file", OUTPUT, "--no_progress", *extra])


def _outputs():
    return sorted(os.listdir("ns"))


def _counters():
    return json.loads(pathlib.Path(ns.counters_path(OUTPUT)).read_text())


def _sequences_read(stats):
    """The NoteSequences melody_rnn_create_dataset read (each goes to one partition)."""
    return stats["counts"]["partition/training_sequences"] + stats["counts"]["partition/eval_sequences"]


def _melody_dataset(output_dir, input_name=OUTPUT):
    """``melody_rnn_create_dataset --input <input_name>``; returns (stats, sorted examples of both files)."""
    rc = melody_cli.main(["--input", input_name, "--output_dir", output_dir, "--eval_ratio", "0.5", "--no_progress"])
    assert rc == 0
    stats = json.loads(pathlib.Path(output_dir, melody_data.STATS_FILENAME).read_text())
    examples = sorted(
        record
        for name in (melody_data.TRAINING_FILENAME, melody_data.EVAL_FILENAME)
        for record in tfrecord_io.iter_records(os.path.join(output_dir, name))
    )
    return stats, examples


def test_one_shard_writes_the_exact_name_and_melody_rnn_create_dataset_reads_it(music_dir, in_tmp, capsys):
    assert _convert(music_dir) == 0
    assert f"output: {OUTPUT}" in capsys.readouterr().out.splitlines()
    assert _outputs() == ["notesequences.counters.json", "notesequences.tfrecord"]
    counters = _counters()
    assert counters["shards"] == ["notesequences.tfrecord"]
    written = counters["counts"]["sequences_written"]
    assert written == len(CHORALES) + len(MIDIS)
    assert tfrecord_io.list_files(OUTPUT) == [OUTPUT]
    assert len(list(tfrecord_io.iter_records(OUTPUT))) == written

    stats, examples = _melody_dataset("melodies")
    assert _sequences_read(stats) == written  # every NoteSequence of the file was read
    assert examples  # and melodies came out of them


def test_several_shards_then_one_again_replace_each_other(music_dir, in_tmp):
    assert _convert(music_dir) == 0
    one = sorted(tfrecord_io.iter_records(OUTPUT))
    _, one_examples = _melody_dataset("melodies_one")

    assert _convert(music_dir, "--num_shards", "3") == 0
    shards = [f"notesequences-0000{i}-of-00003.tfrecord" for i in range(3)]
    assert _outputs() == sorted(shards + ["notesequences.counters.json"])  # the one-shard file is gone
    assert _counters()["shards"] == shards
    # the name given to the writer, and the same name without .tfrecord, both stand for the shards
    assert tfrecord_io.list_files(OUTPUT) == [os.path.join("ns", s) for s in shards]
    assert tfrecord_io.list_files(os.path.join("ns", "notesequences")) == [os.path.join("ns", s) for s in shards]
    assert sorted(tfrecord_io.iter_records(OUTPUT)) == one
    stats, examples = _melody_dataset("melodies_three")
    assert _sequences_read(stats) == len(one) and examples == one_examples

    assert _convert(music_dir, "--num_shards", "2") == 0  # another count: the three shards go
    assert _outputs() == sorted(
        [
            "notesequences-00000-of-00002.tfrecord",
            "notesequences-00001-of-00002.tfrecord",
            "notesequences.counters.json",
        ]
    )
    assert _convert(music_dir) == 0  # one shard again: the shards go
    assert _outputs() == ["notesequences.counters.json", "notesequences.tfrecord"]
    assert sorted(tfrecord_io.iter_records(OUTPUT)) == one


def test_beam_with_one_shard_writes_the_exact_name(music_dir, in_tmp):
    assert _convert(music_dir, "--num_shards", "2") == 0
    direct = sorted(tfrecord_io.iter_records(OUTPUT))
    direct_counts = _counters()["counts"]
    assert _convert(music_dir, "--runner", "beam", "--", "--direct_num_workers=1") == 0
    # Beam's WriteToTFRecord(shard_name_template=''): the name itself, no temporary folder left,
    # and the two shards of the earlier run removed once the new file is in place
    assert _outputs() == ["notesequences.counters.json", "notesequences.tfrecord"]
    counters = _counters()
    assert counters["shards"] == ["notesequences.tfrecord"] and counters["counts"] == direct_counts
    assert sorted(tfrecord_io.iter_records(OUTPUT)) == direct
    stats, examples = _melody_dataset("melodies")
    assert _sequences_read(stats) == len(direct) and examples


def test_beam_with_several_shards_replaces_the_one_file(music_dir, in_tmp):
    assert _convert(music_dir) == 0
    one = sorted(tfrecord_io.iter_records(OUTPUT))
    assert _convert(music_dir, "--num_shards", "2", "--runner", "beam", "--", "--direct_num_workers=1") == 0
    shards = [f"notesequences-0000{i}-of-00002.tfrecord" for i in range(2)]
    assert _outputs() == sorted(shards + ["notesequences.counters.json"])
    assert sorted(tfrecord_io.iter_records(OUTPUT)) == one


def test_files_of_two_runs_under_one_name_are_refused_by_name(music_dir, in_tmp, capsys):
    """What a run killed between putting its files in place and deleting the old layout's would leave."""
    assert _convert(music_dir, "--num_shards", "2") == 0
    stale = os.path.join("ns", "stale.tfrecord")
    shutil.copy(os.path.join("ns", "notesequences-00000-of-00002.tfrecord"), stale)
    os.replace(stale, OUTPUT)  # a one-shard file beside the two shards
    assert melody_cli.main(["--input", OUTPUT, "--output_dir", "melodies", "--no_progress"]) == 1
    err = capsys.readouterr().err
    assert OUTPUT in err and "both this file and 2 shard(s)" in err and "two runs" in err
    assert not os.path.exists("melodies")
    # the rerun repairs it
    assert _convert(music_dir, "--num_shards", "2") == 0
    assert _outputs() == sorted(
        [f"notesequences-0000{i}-of-00002.tfrecord" for i in range(2)] + ["notesequences.counters.json"]
    )
    _melody_dataset("melodies")


def test_an_output_file_that_is_a_folder_is_refused(music_dir, in_tmp):
    os.makedirs(OUTPUT)
    with pytest.raises(SystemExit) as info:
        _convert(music_dir)
    assert info.value.code == 2
    assert os.listdir(OUTPUT) == []
