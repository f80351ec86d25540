"""convert_dir_to_note_sequences (direct and Beam) on a folder mixing real and broken music files."""

import hashlib
import io
import json
import os
import pathlib
import shutil
import zipfile

import numpy as np
import pretty_midi
import pytest
from note_seq import abc_parser, midi_io, musicxml_reader
from note_seq.protobuf import music_pb2

from pipelines import convert_dir_to_note_sequences_cli as ns_cli
from pipelines import note_sequences as ns
from pipelines import tfrecord_io
from pipelines.note_sequence_io import read_note_sequences

COLLECTION = "my_collection"

TWO_TUNES_ABC = """%abc-2.1
X:1
T:Scale up
M:4/4
L:1/8
K:C
CDEF GABc|c2B2 A2G2|F2E2 D2C2|C8|]

X:2
T:Jig in G
M:6/8
L:1/8
K:G
GAB cde|dBG A2D|GAB cBA|G3 G3|]
"""

ONE_GOOD_ONE_BAD_ABC = """X:10
T:Good tune
M:3/4
L:1/4
K:D
DEF|GAB|A2F|D3|]

X:11
T:Tuplets are not supported by note_seq
M:4/4
L:1/8
K:C
(3CDE F2 G4|]
"""

DUPLICATE_X_ABC = """X:1
T:First
K:C
CDEF|]

X:1
T:Same number again
K:C
GABc|]
"""

# relative path -> words its skip reason must contain
BAD_FILES = {
    "truncated.mid": "not a readable MIDI file",
    "sub/random.mid": "MThd not found",
    "broken.xml": "not a readable MusicXML file",
    "bad.abc": "appears more than once",
    "empty.mid": "empty file",
}
BAD_TUNES = {"sub/mixed.abc X:11": "Tuplets are not supported"}
IGNORED = ("notes.txt", "sub/deeper/README")

# relative path -> (source type, number of sequences)
GOOD_FILES = {
    "scale.mid": ("midi", 1),
    "CHORD.MIDI": ("midi", 1),
    "sub/deeper/arpeggio.mid": ("midi", 1),
    "sub/bwv1.6.mxl": ("musicxml", 1),
    "sub/bwv10.7.mxl": ("musicxml", 1),
    "chorale.XML": ("musicxml", 1),
    "tunes.abc": ("abc", 2),
    "sub/mixed.abc": ("abc", 1),
    "folk/oneill_0731.abc": ("abc", 1),
}


def _midi_bytes(notes, program=0, drums=()):
    pm = pretty_midi.PrettyMIDI(initial_tempo=100.0)
    inst = pretty_midi.Instrument(program=program, name="melody")
    inst.notes = [pretty_midi.Note(velocity=v, pitch=p, start=s, end=e) for p, s, e, v in notes]
    pm.instruments.append(inst)
    if drums:
        kit = pretty_midi.Instrument(program=0, is_drum=True, name="drums")
        kit.notes = [pretty_midi.Note(velocity=100, pitch=p, start=s, end=s + 0.1) for p, s in drums]
        pm.instruments.append(kit)
    buf = io.BytesIO()
    pm.write(buf)
    return buf.getvalue()


def _bach_chorale(name):
    from music21 import corpus

    paths = [pathlib.Path(p) for p in corpus.getComposer("bach") if pathlib.Path(p).name == name]
    assert paths, f"{name} not in music21's corpus"
    return paths[0]


def _mxl_inner_xml(mxl_path):
    with zipfile.ZipFile(mxl_path) as z:
        names = [n for n in z.namelist() if not n.startswith("META-INF") and n.endswith((".xml", ".musicxml"))]
        return z.read(names[0])


@pytest.fixture(scope="module")
def music_dir(tmp_path_factory):
    """The mixed folder (good, broken and ignored files, nested subfolders); returns its path."""
    from music21 import corpus

    root = tmp_path_factory.mktemp("music") / COLLECTION
    for sub in ("sub/deeper", "folk"):
        (root / sub).mkdir(parents=True)
    scale = _midi_bytes(
        [(60 + i, 0.5 * k, 0.5 * k + 0.4, 60 + 5 * k) for k, i in enumerate((0, 2, 4, 5, 7, 9, 11, 12))]
    )
    (root / "scale.mid").write_bytes(scale)
    (root / "CHORD.MIDI").write_bytes(
        _midi_bytes(
            [(p, 0.0, 1.0, 90) for p in (60, 64, 67)] + [(p, 1.0, 2.0, 70) for p in (62, 65, 69)],
            program=19,
            drums=[(36, 0.0), (38, 0.5), (36, 1.0)],
        )
    )
    (root / "sub/deeper/arpeggio.mid").write_bytes(
        _midi_bytes([(48 + i, 0.25 * k, 0.25 * k + 0.2, 100) for k, i in enumerate((0, 4, 7, 12, 7, 4))], program=40)
    )
    for name in ("bwv1.6.mxl", "bwv10.7.mxl"):
        shutil.copy(_bach_chorale(name), root / "sub" / name)
    (root / "chorale.XML").write_bytes(_mxl_inner_xml(_bach_chorale("bwv102.7.mxl")))
    (root / "tunes.abc").write_text(TWO_TUNES_ABC)
    (root / "sub/mixed.abc").write_text(ONE_GOOD_ONE_BAD_ABC)
    oneill = [p for p in corpus.getPaths(fileExtensions=["abc"]) if str(p).endswith("oneills1850/0731-0731.abc")]
    assert oneill, "O'Neill tune 731 not in music21's corpus"
    shutil.copy(oneill[0], root / "folk/oneill_0731.abc")
    # broken files
    (root / "truncated.mid").write_bytes(scale[: len(scale) // 2])
    (root / "sub/random.mid").write_bytes(np.random.RandomState(0).bytes(512))
    (root / "broken.xml").write_text('<?xml version="1.0"?><score-partwise><part id="P1"><measure number="1">')
    (root / "bad.abc").write_text(DUPLICATE_X_ABC)
    (root / "empty.mid").write_bytes(b"")
    (root / "notes.txt").write_text("not music")
    (root / "sub/deeper/README").write_text("not music either")
    return root


@pytest.fixture(scope="module")
def converted(music_dir, tmp_path_factory):
    """One run of the command line (3 shards); returns (output_file, counters JSON dict)."""
    out = tmp_path_factory.mktemp("out")
    output_file = str(out / "notesequences.tfrecord")
    assert (
        ns_cli.main(["--input_dir", str(music_dir), "--output_file", output_file, "--num_shards", "3", "--no_progress"])
        == 0
    )
    return output_file, json.loads(pathlib.Path(ns.counters_path(output_file)).read_text())


def _sequences(output_file):
    return list(read_note_sequences(ns.shard_pattern(output_file)))


def _expected_id(relpath, source, tune=None):
    key = relpath if tune is None else f"{relpath}_{tune}"
    return f"/id/{source}/{COLLECTION}/{hashlib.sha1(key.encode('utf-8')).hexdigest()}"


def test_counts_and_skipped_files_with_reasons(converted):
    output_file, summary = converted
    per_source = {t: sum(n for s, n in GOOD_FILES.values() if s == t) for t in ns.SOURCE_TYPES}
    assert summary["counts"] == {
        "files_found": len(GOOD_FILES) + len(BAD_FILES),
        "files_ignored": len(IGNORED),
        "files_converted": len(GOOD_FILES),
        "files_skipped": len(BAD_FILES),
        "abc_tunes_skipped": len(BAD_TUNES),
        "skipped": len(BAD_FILES) + len(BAD_TUNES),
        "sequences_written": sum(per_source.values()),
        "sequences_written_midi": per_source["midi"],
        "sequences_written_musicxml": per_source["musicxml"],
        "sequences_written_abc": per_source["abc"],
        "sequences_without_notes": 0,
    }
    reasons = {s["name"]: s["reason"] for s in summary["skipped"]}
    expected = {**BAD_FILES, **BAD_TUNES}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])
    assert summary["shards"] == [f"notesequences-0000{i}-of-00003.tfrecord" for i in range(3)]
    folder = os.path.dirname(output_file)
    assert sorted(os.listdir(folder)) == sorted(summary["shards"] + ["notesequences.counters.json"])


def test_ids_filenames_and_collection_follow_magenta(converted):
    output_file, summary = converted
    sequences = _sequences(output_file)
    assert len(sequences) == summary["counts"]["sequences_written"]
    expected_ids = set()
    for relpath, (source, _) in GOOD_FILES.items():
        if source != "abc":
            expected_ids.add(_expected_id(relpath, source))
    expected_ids |= {
        _expected_id("tunes.abc", "abc", 1),
        _expected_id("tunes.abc", "abc", 2),
        _expected_id("sub/mixed.abc", "abc", 10),
        _expected_id("folk/oneill_0731.abc", "abc", 731),
    }
    assert {s.id for s in sequences} == expected_ids
    assert len({s.id for s in sequences}) == len(sequences)
    for s in sequences:
        assert s.collection_name == COLLECTION
        source = GOOD_FILES[s.filename][0]
        tune = s.reference_number if source == "abc" else None
        assert s.id == _expected_id(s.filename, source, tune)
    # each record sits in the shard its id hashes to
    for index in range(3):
        shard = tfrecord_io.shard_path(ns.output_prefix(output_file), index, 3)
        for s in read_note_sequences(shard):
            assert tfrecord_io.shard_index(s.id, 3) == index


def _note_tuples(sequence):
    return sorted(
        (n.pitch, round(n.start_time, 6), round(n.end_time, 6), n.velocity, n.program, n.is_drum)
        for n in sequence.notes
    )


def test_notes_equal_direct_parsing(converted, music_dir):
    output_file, _ = converted
    by_file = {}
    for s in _sequences(output_file):
        by_file.setdefault(s.filename, []).append(s)
    assert set(by_file) == set(GOOD_FILES)
    for relpath, (source, count) in GOOD_FILES.items():
        path = str(music_dir / relpath)
        got = sorted(by_file[relpath], key=lambda s: s.reference_number)
        assert len(got) == count
        if source == "midi":
            direct = [midi_io.midi_file_to_note_sequence(path)]
        elif source == "musicxml":
            direct = [musicxml_reader.musicxml_file_to_sequence_proto(path)]
        else:
            tunes, _ = abc_parser.parse_abc_tunebook(pathlib.Path(path).read_text(encoding="utf-8", errors="replace"))
            direct = [tunes[k] for k in sorted(tunes)]
        for a, b in zip(got, direct):
            assert len(a.notes) > 0
            assert _note_tuples(a) == _note_tuples(b), relpath
            assert a.total_time == pytest.approx(b.total_time)
            assert list(a.time_signatures) == list(b.time_signatures)
            assert list(a.key_signatures) == list(b.key_signatures)
            # apart from the three labels, the record is exactly what note_seq parses
            b.id, b.filename, b.collection_name = a.id, a.filename, a.collection_name
            assert a == b, relpath
    # and the MIDI notes are the ones written with pretty_midi
    scale = by_file["scale.mid"][0]
    assert [n.pitch for n in sorted(scale.notes, key=lambda n: n.start_time)] == [60, 62, 64, 65, 67, 69, 71, 72]
    assert [n.velocity for n in sorted(scale.notes, key=lambda n: n.start_time)] == [60 + 5 * k for k in range(8)]
    chord = by_file["CHORD.MIDI"][0]
    assert sum(n.is_drum for n in chord.notes) == 3 and {n.program for n in chord.notes if not n.is_drum} == {19}


def test_rerun_gives_identical_shards_and_other_counts_replace_old_ones(converted, music_dir, tmp_path):
    output_file, summary = converted
    again = str(tmp_path / "notesequences")
    counters = ns.convert_directory(str(music_dir), again, num_shards=3, progress=False)
    assert counters.to_dict()["counts"] == summary["counts"]
    for i in range(3):
        name = f"notesequences-0000{i}-of-00003.tfrecord"
        assert (tmp_path / name).read_bytes() == (pathlib.Path(output_file).parent / name).read_bytes()
    ns.convert_directory(str(music_dir), again, num_shards=1, progress=False)
    # one shard: exactly the name given (here without .tfrecord), and the three old shards are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notesequences", "notesequences.counters.json"]
    one = sorted(s.SerializeToString() for s in _sequences(again))
    assert one == sorted(s.SerializeToString() for s in _sequences(output_file))


def test_norecursive_converts_top_level_files_only(music_dir, tmp_path, capsys):
    out = str(tmp_path / "top")
    assert ns_cli.main(["--input_dir", str(music_dir), "--output_file", out, "--norecursive", "--no_progress"]) == 0
    printed = capsys.readouterr().out
    top = [p for p in list(GOOD_FILES) + list(BAD_FILES) if "/" not in p]
    assert {s.filename for s in _sequences(out)} == {p for p in GOOD_FILES if "/" not in p}
    summary = json.loads(pathlib.Path(ns.counters_path(out)).read_text())
    assert summary["counts"]["files_found"] == len(top)
    assert summary["counts"]["files_ignored"] == 1  # notes.txt
    for name in BAD_FILES:
        assert (f"skipped {name}: " in printed) == ("/" not in name)


def test_failed_run_leaves_previous_output_and_no_partial_shards(converted, music_dir, tmp_path, monkeypatch):
    output_file, _ = converted
    out = tmp_path / "ns"
    ns.convert_directory(str(music_dir), str(out), num_shards=2, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real, calls = ns.convert_file, []

    def failing(*args):
        calls.append(args)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the run is killed half way
        return real(*args)

    monkeypatch.setattr(ns, "convert_file", failing)
    with pytest.raises(KeyboardInterrupt):
        ns.convert_directory(str(music_dir), str(out), num_shards=2, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no temp files, old output intact
    # a killed run with a fresh prefix leaves nothing behind at all
    with pytest.raises(KeyboardInterrupt):
        calls.clear()
        ns.convert_directory(str(music_dir), str(tmp_path / "fresh" / "ns"), num_shards=2, progress=False)
    assert list((tmp_path / "fresh").iterdir()) == []


def test_readers_and_dataset(converted):
    output_file, summary = converted
    records = list(ns.note_sequence_dataset(ns.shard_pattern(output_file)).as_numpy_iterator())
    assert len(records) == summary["counts"]["sequences_written"]
    assert [music_pb2.NoteSequence.FromString(r) for r in records] == _sequences(output_file)
    shuffled = ns.note_sequence_dataset(ns.shard_pattern(output_file), shuffle_files=True, seed=3)
    assert sorted(shuffled.as_numpy_iterator()) == sorted(records)
    assert isinstance(_sequences(output_file)[0], music_pb2.NoteSequence)


def test_direct_runner_refuses_beam_options(music_dir, tmp_path):
    with pytest.raises(SystemExit) as e:
        ns_cli.main(["--input_dir", str(music_dir), "--output_file", str(tmp_path / "x"), "--project=p"])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        ns_cli.main(["--input_dir", str(tmp_path / "missing"), "--output_file", str(tmp_path / "x")])


def test_beam_gives_the_same_records_and_counters(converted, music_dir, tmp_path):
    output_file, summary = converted
    out = str(tmp_path / "beam" / "notesequences.tfrecord")
    assert (
        ns_cli.main(
            [
                "--input_dir",
                str(music_dir),
                "--output_file",
                out,
                "--num_shards",
                "2",
                "--runner",
                "beam",
                "--",
                "--direct_num_workers=2",
            ]
        )
        == 0
    )
    beam_summary = json.loads(pathlib.Path(ns.counters_path(out)).read_text())
    assert beam_summary["counts"] == summary["counts"]
    assert beam_summary["skipped"] == summary["skipped"]
    assert beam_summary["shards"] == [f"notesequences-0000{i}-of-00002.tfrecord" for i in range(2)]
    assert sorted(os.listdir(tmp_path / "beam")) == beam_summary["shards"] + ["notesequences.counters.json"]
    assert sorted(tfrecord_io.iter_records(ns.shard_pattern(out))) == sorted(
        tfrecord_io.iter_records(ns.shard_pattern(output_file))
    )


def test_file_name_that_is_not_utf8_is_skipped_not_fatal(tmp_path):
    if os.name != "posix":
        pytest.skip("byte file names are a POSIX matter")
    folder = tmp_path / COLLECTION
    folder.mkdir()
    (folder / "ok.mid").write_bytes(_midi_bytes([(60, 0.0, 0.5, 80)]))
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.mid"), "wb") as f:
        f.write(_midi_bytes([(62, 0.0, 0.5, 80)]))
    counters = ns.convert_directory(str(folder), str(tmp_path / "out"), progress=False)
    assert counters.get("sequences_written") == 1 and counters.get("files_skipped") == 1
    [skipped] = counters.skipped
    assert skipped.name == os.fsdecode(b"caf\xe9.mid") and "not valid UTF-8" in skipped.reason
    assert [s.filename for s in read_note_sequences(ns.shard_pattern(str(tmp_path / "out")))] == ["ok.mid"]


def test_a_folder_with_nothing_convertible_exits_nonzero(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        ns_cli.main(["--input_dir", str(empty), "--output_file", str(tmp_path / "a" / "ns.tfrecord"), "--no_progress"])
        == 1
    )
    assert "no MIDI, MusicXML or ABC files" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.mid").write_bytes(b"MThd not really")
    assert (
        ns_cli.main(["--input_dir", str(bad), "--output_file", str(tmp_path / "b" / "ns.tfrecord"), "--no_progress"])
        == 1
    )
    assert "all 1 music files were skipped" in capsys.readouterr().err
