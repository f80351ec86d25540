"""pipelines.tfrecord_io: atomic sharded writing, reading back, counters."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from pipelines import tfrecord_io as tio

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _records(n):
    return [(f"key-{i:03d}", f"record {i}".encode()) for i in range(n)]


def _final_shards(folder):
    return sorted(p for p in os.listdir(folder) if p.endswith(".tfrecord"))


def test_shard_naming_and_assignment():
    assert tio.shard_path("/o/nsynth", 3, 4) == "/o/nsynth-00003-of-00004.tfrecord"
    assert tio.shard_paths("x", 2) == ["x-00000-of-00002.tfrecord", "x-00001-of-00002.tfrecord"]
    indices = [tio.shard_index(k, 4) for k, _ in _records(400)]
    assert indices == [tio.shard_index(k.encode(), 4) for k, _ in _records(400)]  # str or bytes
    assert all(60 < indices.count(i) < 140 for i in range(4))  # spread out


def test_writer_puts_each_record_in_its_shard(tmp_path):
    prefix = str(tmp_path / "data")
    with tio.ShardedTFRecordWriter(prefix, 4) as writer:
        for key, record in _records(50):
            writer.write(key, record)
    assert _final_shards(tmp_path) == [os.path.basename(p) for p in tio.shard_paths(prefix, 4)]
    assert sum(writer.records_per_shard) == 50
    for index, path in enumerate(writer.paths):
        got = list(tio.iter_records(path))
        expected = [r for k, r in _records(50) if tio.shard_index(k, 4) == index]
        assert got == expected  # in write order
    assert sorted(tio.iter_records(prefix + "-*")) == sorted(r for _, r in _records(50))
    assert not [p for p in os.listdir(tmp_path) if ".tmp-" in p]


def test_exception_inside_writer_leaves_no_shard(tmp_path):
    prefix = str(tmp_path / "data")
    with pytest.raises(RuntimeError, match="boom"):
        with tio.ShardedTFRecordWriter(prefix, 3) as writer:
            for key, record in _records(10):
                writer.write(key, record)
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        tio.list_files(prefix + "-*")


def test_crash_leaves_only_temp_files_and_rerun_completes(tmp_path):
    prefix = str(tmp_path / "data")
    script = textwrap.dedent(f"""
        import os
        from pipelines import tfrecord_io as tio
        writer = tio.ShardedTFRecordWriter({prefix!r}, 3).open()
        for i in range(20):
            writer.write(f"k{{i}}", b"x" * 1000)
            if i == 10:
                for w in writer._writers:
                    w.flush()
                os._exit(17)  # the process dies mid-write: no cleanup code runs
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=120)
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    left = sorted(os.listdir(tmp_path))
    assert len(left) == 3 and all(".tfrecord.tmp-" in p for p in left)
    assert _final_shards(tmp_path) == []
    with pytest.raises(FileNotFoundError):
        tio.list_files(prefix + "-*")  # readers never pick up temporary files
    paths = tio.write_sharded(prefix, _records(30), 3)
    assert sorted(os.listdir(tmp_path)) == [os.path.basename(p) for p in paths]
    assert sorted(tio.iter_records(prefix + "-*")) == sorted(r for _, r in _records(30))


def test_rerun_with_other_shard_count_replaces_old_shards(tmp_path):
    prefix = str(tmp_path / "data")
    tio.write_sharded(prefix, _records(10), 4)
    (tmp_path / "other-00000-of-00001.tfrecord").write_bytes(b"")
    tio.write_sharded(prefix, _records(10), 2)
    assert _final_shards(tmp_path) == [
        "data-00000-of-00002.tfrecord",
        "data-00001-of-00002.tfrecord",
        "other-00000-of-00001.tfrecord",
    ]


def test_written_shards_are_deterministic(tmp_path):
    a = tio.write_sharded(str(tmp_path / "a"), _records(40), 3)
    b = tio.write_sharded(str(tmp_path / "b"), reversed(sorted(_records(40))), 3)
    for pa, pb in zip(a, b):
        assert sorted(tio.iter_records(pa)) == sorted(tio.iter_records(pb))
    c = tio.write_sharded(str(tmp_path / "c"), _records(40), 3)
    assert [open(p, "rb").read() for p in a] == [open(p, "rb").read() for p in c]


def test_counters(tmp_path):
    counters = tio.Counters()
    counters.increment("read", 3)
    counters.skip("b.wav", "file not found")
    counters.skip("a.wav", "not a readable audio file")
    other = tio.Counters()
    other.increment("read")
    counters.merge(other)
    assert counters.get("read") == 4 and counters.get("skipped") == 2 and counters.get("nothing") == 0
    assert counters.skipped_names() == ["a.wav", "b.wav"]
    d = counters.to_dict()
    assert d == {
        "counts": {"read": 4, "skipped": 2},
        "skipped": [
            {"name": "a.wav", "reason": "not a readable audio file"},
            {"name": "b.wav", "reason": "file not found"},
        ],
    }
    counters.write_json(tmp_path / "s.json")
    assert json.loads((tmp_path / "s.json").read_text()) == d
    assert tio.Counters.from_dict(d).to_dict() == d
    assert "skipped b.wav: file not found" in counters.summary()


def test_a_sharded_output_is_found_under_the_name_given_to_the_writer(tmp_path):
    # convert_dir_to_note_sequences --output_file ns.tfrecord writes ns-00000-of-00002.tfrecord ...;
    # melody_rnn_create_dataset --input ns.tfrecord must find them (Magenta's tutorial chain)
    paths = tio.write_sharded(str(tmp_path / "ns"), [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], 2)
    (tmp_path / "ns-00000-of-00002.tfrecord.tmp-abc").write_bytes(b"partial")
    assert tio.list_files(str(tmp_path / "ns.tfrecord")) == sorted(paths)
    assert sorted(tio.iter_records(str(tmp_path / "ns.tfrecord"))) == [b"1", b"2", b"3"]
    with pytest.raises(FileNotFoundError):
        tio.list_files(str(tmp_path / "other.tfrecord"))


def _write_output(output_file, num_shards, n=6):
    with tio.ShardedTFRecordWriter.for_output_file(output_file, num_shards) as writer:
        for key, record in _records(n):
            writer.write(key, record)
    return writer.paths


def test_an_output_file_gets_its_exact_name_with_one_shard(tmp_path):
    name = str(tmp_path / "ns.tfrecord")
    assert tio.output_file_paths(name, 1) == [name]
    assert tio.output_file_paths(name, 2) == tio.shard_paths(str(tmp_path / "ns"), 2)
    assert tio.output_file_paths("out/ns", 1) == ["out/ns"]  # no suffix added: the name as given
    assert _write_output(name, 1) == [name]
    assert _final_shards(tmp_path) == ["ns.tfrecord"]
    assert tio.list_files(name) == [name]
    assert list(tio.iter_records(name)) == [r for _, r in _records(6)]


def test_each_layout_replaces_the_other_once_in_place(tmp_path):
    name = str(tmp_path / "ns.tfrecord")
    (tmp_path / "other.tfrecord").write_bytes(b"")  # another name: never touched
    _write_output(name, 1)
    paths = _write_output(name, 3)
    assert _final_shards(tmp_path) == sorted(["other.tfrecord"] + [os.path.basename(p) for p in paths])
    assert tio.list_files(name) == paths
    assert sorted(tio.iter_records(name)) == sorted(r for _, r in _records(6))
    _write_output(name, 2)
    assert _final_shards(tmp_path) == ["ns-00000-of-00002.tfrecord", "ns-00001-of-00002.tfrecord", "other.tfrecord"]
    _write_output(name, 1)
    assert _final_shards(tmp_path) == ["ns.tfrecord", "other.tfrecord"]
    # a failed write touches neither layout
    with pytest.raises(RuntimeError, match="boom"):
        with tio.ShardedTFRecordWriter.for_output_file(name, 2) as writer:
            writer.write("k", b"v")
            raise RuntimeError("boom")
    assert sorted(os.listdir(tmp_path)) == ["ns.tfrecord", "other.tfrecord"]


def test_an_output_file_that_is_a_folder_is_refused_before_writing(tmp_path):
    (tmp_path / "ns.tfrecord").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        _write_output(str(tmp_path / "ns.tfrecord"), 1)
    assert os.listdir(tmp_path) == ["ns.tfrecord"] and os.listdir(tmp_path / "ns.tfrecord") == []


def test_a_name_whose_files_come_from_two_runs_is_refused(tmp_path):
    name = str(tmp_path / "ns.tfrecord")
    _write_output(name, 3)
    # the one-file layout beside the shards (a run killed between its rename and the clean-up)
    (tmp_path / "ns.tfrecord").write_bytes(b"")
    with pytest.raises(tio.ShardSetError, match="both this file and 3 shard") as info:
        tio.list_files(name)
    assert info.value.name == name and isinstance(info.value, FileNotFoundError)
    with pytest.raises(tio.InputError, match="both this file"):
        tio.check_records(name)
    os.remove(name)
    # shards of two shard counts
    (tmp_path / "ns-00000-of-00002.tfrecord").write_bytes(b"")
    with pytest.raises(tio.ShardSetError, match=r"two runs \(.*ns-\*-of-00002.tfrecord and .*ns-\*-of-00003"):
        tio.list_files(name)
    os.remove(tmp_path / "ns-00000-of-00002.tfrecord")
    # an incomplete set
    os.remove(tmp_path / "ns-00001-of-00003.tfrecord")
    with pytest.raises(tio.ShardSetError, match=r"incomplete \(missing ns-00001-of-00003.tfrecord\)"):
        tio.list_files(name)
    # a glob is taken as given
    assert [os.path.basename(p) for p in tio.list_files(str(tmp_path / "ns-*"))] == [
        "ns-00000-of-00003.tfrecord",
        "ns-00002-of-00003.tfrecord",
    ]


def test_a_file_name_with_glob_characters_is_read(tmp_path):
    name = str(tmp_path / "ns[1].tfrecord")
    _write_output(name, 1)
    assert tio.list_files(name) == [name]
    paths = _write_output(name, 2)
    assert tio.list_files(name) == paths and not os.path.exists(name)


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os

    from tfmusic import files

    files.atomic_write_text(tmp_path / "c.json", "{}")
    mask = os.umask(0)
    os.umask(mask)
    assert (tmp_path / "c.json").stat().st_mode & 0o777 == 0o666 & ~mask
