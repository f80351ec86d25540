"""music_transformer_create_dataset on NoteSequence TFRecords made from music21's Bach chorales
(plus a record and a file that are not NoteSequences), and the tf.data reader."""

import collections
import json

import numpy as np
import pytest
import tensorflow as tf

note_seq = pytest.importorskip("note_seq")
music21 = pytest.importorskip("music21")

from music_transformer_ext import create_dataset_cli, data, encoding  # noqa: E402
from pipelines.tfrecord_io import iter_records  # noqa: E402

FEW_VARIANTS = ["--stretch_factors", "0.95,1.0", "--transpose_amounts=-3,0,2"]
HASH_SPLIT = ["--split_fractions", "train=0.5,eval=0.25,test=0.25"]


@pytest.fixture(scope="module")
def chorales():
    paths = sorted(p for p in music21.corpus.getComposer("bach") if str(p).endswith(".mxl"))[2:8]
    out = []
    for p in paths:
        ns = note_seq.musicxml_file_to_sequence_proto(str(p))
        ns.id = f"music21/bach/{p.stem}"
        out.append(ns)
    return out


@pytest.fixture(scope="module")
def ns_dir(tmp_path_factory, chorales):
    """Two NoteSequence TFRecord files (one chorale without an id, one garbage record) and a file
    that is not a TFRecord file."""
    folder = tmp_path_factory.mktemp("ns")
    with tf.io.TFRecordWriter(str(folder / "ns-0.tfrecord")) as w:
        for ns in chorales[:3]:
            w.write(ns.SerializeToString())
        w.write(b"\xff\xff\xff not a NoteSequence")
    with tf.io.TFRecordWriter(str(folder / "ns-1.tfrecord")) as w:
        for i, ns in enumerate(chorales[3:]):
            if i == 0:
                ns = note_seq.NoteSequence.FromString(ns.SerializeToString())
                ns.id = ""
            w.write(ns.SerializeToString())
    (folder / "ns-2.tfrecord").write_bytes(b"this is not a TFRecord file at all")
    return folder


def _records(pattern):
    return collections.Counter(iter_records(pattern))


def _decode(record):
    return data.parse_example(record)


def _piece(pitches, step=0.5, velocity=80):
    ns = note_seq.NoteSequence(id="test/piece")
    for i, p in enumerate(pitches):
        ns.notes.add(pitch=p, start_time=i * step, end_time=(i + 1) * step, velocity=velocity)
    ns.total_time = len(pitches) * step
    return ns


# --------------------------------------------------------------------------- stages


def test_augmentation_variants_drop_out_of_range_transpositions():
    ns = _piece([60, 64, 107, 67, 15])  # 15: below the piano, filtered before augmentation
    result = data.process_note_sequence("k", ns, "train", data.unconditional_config(max_length=0))
    c = result.counters
    assert c.get("filter_invalid_notes.notes_dropped") == 1
    # 107 + 2 and 107 + 3 leave 21..108: those 2 transpositions x 5 stretches are dropped
    assert c.get("augment.out_of_range_pitch") == 10
    assert len(result.records) == c.get("examples.train") == 35 - 10
    enc = encoding.PerformanceEncoder()
    seen = set()
    for split, key, record in result.records:
        _, _, stretch, transpose, _ = key.split("|")
        stretch, transpose = float(stretch), int(transpose)
        back = enc.decode_to_note_sequence(_decode(record)["targets"])
        assert sorted(n.pitch for n in back.notes) == sorted(p + transpose for p in (60, 64, 107, 67))
        assert back.total_time == pytest.approx(2.0 * stretch, abs=0.011)
        seen.add((stretch, transpose))
    assert seen == {(s, t) for s in data.STRETCH_FACTORS for t in range(-3, 2)}
    # eval / test are neither augmented nor replicated
    evaluation = data.process_note_sequence("k", ns, "eval", data.unconditional_config(max_length=0))
    assert len(evaluation.records) == 1


def test_sustain_pedal_extends_notes():
    ns = _piece([60, 62])
    ns.control_changes.add(time=0.1, control_number=64, control_value=127)
    ns.control_changes.add(time=1.5, control_number=64, control_value=0)
    ns.total_time = 2.0
    result = data.process_note_sequence("k", ns, "test", data.unconditional_config(max_length=0))
    back = encoding.PerformanceEncoder().decode_to_note_sequence(_decode(result.records[0][2])["targets"])
    assert sorted((n.pitch, n.end_time) for n in back.notes) == [(60, pytest.approx(1.5)), (62, pytest.approx(1.5))]


def test_crops_train_and_pieces_eval(chorales):
    ns = chorales[0]
    full = encoding.PerformanceEncoder().encode_note_sequence(ns)
    cfg = data.unconditional_config(max_length=100, stretch_factors=(1.0,), transpose_amounts=(0,))
    pieces = [_decode(r[2])["targets"] for r in data.process_note_sequence(ns.id, ns, "eval", cfg).records]
    assert [len(p) for p in pieces[:-1]] == [100] * (len(full) // 100) and sum(pieces, []) == full
    crops = [_decode(r[2])["targets"] for r in data.process_note_sequence(ns.id, ns, "train", cfg).records]
    assert len(crops) == 1 and len(crops[0]) == 100
    text = " ".join(map(str, full))
    assert " ".join(map(str, crops[0])) in text
    again = data.process_note_sequence(ns.id, ns, "train", cfg).records
    assert _decode(again[0][2])["targets"] == crops[0]  # seeded by the id
    offsets = {
        tuple(_decode(data.process_note_sequence(f"id{i}", ns, "train", cfg).records[0][2])["targets"][:5])
        for i in range(8)
    }
    assert len(offsets) > 1  # ... and different ids crop elsewhere


def test_hash_split_is_stable_and_follows_fractions():
    fractions = (("train", 0.8), ("eval", 0.1), ("test", 0.1))
    splits = [data.assign_split(f"/id/midi/piece_{i}", fractions) for i in range(3000)]
    counts = collections.Counter(splits)
    assert abs(counts["train"] / 3000 - 0.8) < 0.03 and abs(counts["eval"] / 3000 - 0.1) < 0.02
    assert splits == [data.assign_split(f"/id/midi/piece_{i}", fractions) for i in range(3000)]


def test_melody_conditioned_examples(chorales):
    from note_seq import sequences_lib

    ns = sequences_lib.concatenate_sequences([chorales[5], chorales[4]])  # 59 s
    ns.id = "two/chorales"
    assert ns.total_time > 30
    cfg = data.melody_conditioned_config(num_replications=2, stretch_factors=(1.0, 1.05), transpose_amounts=(0, 3))
    result = data.process_note_sequence(ns.id, ns, "train", cfg)
    c = result.counters
    n_segments = c.get("extract.segments")
    assert n_segments >= 2 * 2  # 2 cuttings of 59 s into 5..30 s segments
    assert len(result.records) == 4 * n_segments
    perf, mel = encoding.PerformanceEncoder(), encoding.MelodyEncoder()
    for _, key, record in result.records:
        ex = _decode(record)
        assert ex["targets"][-1] == encoding.EOS_ID and all(2 <= i < 92 for i in ex["inputs"])
        stretch = float(key.split("|")[2])
        performance = perf.decode_to_note_sequence(ex["targets"])
        melody = mel.decode_to_note_sequence(ex["inputs"])
        assert 5.0 * stretch - 0.01 <= len(ex["inputs"]) / 10 <= 30.0 * stretch + 0.11
        # every melody note is a performance note (within the melody's 100 ms grid), mostly the
        # top one of its chord
        assert len(melody.notes) > 3
        top = []
        for m in melody.notes:
            near = [n.pitch for n in performance.notes if abs(n.start_time - m.start_time) <= 0.1 + 1e-6]
            assert m.pitch in near
            top.append(m.pitch == max(near))
        assert np.mean(top) > 0.75
    evaluation = data.process_note_sequence(ns.id, ns, "eval", cfg)
    assert evaluation.counters.get("extract.segments") == len(evaluation.records) >= 2
    # segments of one cutting tile the piece
    total = sum(len(_decode(r[2])["inputs"]) for r in evaluation.records) / 10
    assert total == pytest.approx(ns.total_time, abs=0.1 * len(evaluation.records))
    assert all(len(_decode(r[2])["targets"]) <= 2048 for r in result.records)


def test_random_hop_times_respect_bounds():
    import random

    for seed in range(50):
        total = 7 + seed * 3.3
        hops = data.random_hop_times(total, 5.0, 30.0, random.Random(seed))
        edges = [0.0] + hops + [total]
        lengths = np.diff(edges)
        assert (lengths >= 5.0 - 1e-9).all() and (lengths <= 30.0 + 1e-9).all(), (total, edges)


# --------------------------------------------------------------------------- command


def _create_dataset(input_pattern, output_dir, *options: str) -> int:
    """``music_transformer_create_dataset --input INPUT_PATTERN --output_dir OUTPUT_DIR OPTIONS...``."""
    return create_dataset_cli.main(["--input", str(input_pattern), "--output_dir", str(output_dir), *options])


@pytest.fixture(scope="module")
def direct_run(ns_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("direct")
    options = ["--max_length", "256", "--num_shards", "3", "--no_progress"]
    assert _create_dataset(ns_dir / "ns-*.tfrecord", out, *options, *FEW_VARIANTS, *HASH_SPLIT) == 0
    return out


def test_direct_run_writes_splits_and_summary(direct_run, chorales, ns_dir):
    summary = json.loads((direct_run / "summary.json").read_text())
    counts = summary["counts"]
    assert counts["read.records"] == 7
    assert sorted(s["name"] for s in summary["skipped"]) == sorted(
        [
            str(ns_dir / "ns-2.tfrecord"),
            data.record_name(str(ns_dir / "ns-0.tfrecord"), b"\xff\xff\xff not a NoteSequence"),
        ]
    )
    assert "not a readable TFRecord file" in json.dumps(summary["skipped"])
    assert summary["shards"] == sorted(f"{s}-0000{i}-of-00003.tfrecord" for s in data.SPLITS for i in range(3))
    assert summary["config"]["stretch_factors"] == [0.95, 1.0] and summary["config"]["max_length"] == 256
    fractions = (("train", 0.5), ("eval", 0.25), ("test", 0.25))
    keys = [
        data.parse_note_sequence("f", r)[0]
        for f in ("ns-0", "ns-1")
        for r in list(iter_records(str(ns_dir / f"{f}.tfrecord")))[:3]
    ]
    assert sum(k.startswith("sha1:") for k in keys) == 1  # the chorale without an id
    expected = collections.Counter(data.assign_split(k, fractions) for k in keys)
    assert {s: counts[f"split.{s}"] for s in data.SPLITS} == {s: expected[s] for s in data.SPLITS}
    assert counts["examples.train"] == 6 * counts["split.train"]  # 2 stretches x 3 transpositions
    for split in data.SPLITS:
        records = list(iter_records(data.split_file_pattern(str(direct_run), split)))
        assert len(records) == counts[f"examples.{split}"]
        for r in records:
            ex = _decode(r)
            assert set(ex) == {"targets"} and 0 < len(ex["targets"]) <= 256
            assert min(ex["targets"]) >= 2 and max(ex["targets"]) < 310


@pytest.mark.slow
def test_beam_pipeline_writes_the_same_records(direct_run, ns_dir, tmp_path):
    out = tmp_path / "beam"
    # --direct_num_workers is a Beam option, passed through
    options = ["--max_length", "256", "--num_shards", "2", "--runner", "beam", "--direct_num_workers=2"]
    assert _create_dataset(ns_dir / "ns-*.tfrecord", out, *options, *FEW_VARIANTS, *HASH_SPLIT) == 0
    for split in data.SPLITS:
        assert _records(data.split_file_pattern(str(out), split)) == _records(
            data.split_file_pattern(str(direct_run), split)
        )
    local = json.loads((direct_run / "summary.json").read_text())
    remote = json.loads((out / "summary.json").read_text())
    assert remote["counts"] == local["counts"] and remote["skipped"] == local["skipped"]
    assert remote["config"] == local["config"]
    assert remote["shards"] == sorted(f"{s}-0000{i}-of-00002.tfrecord" for s in data.SPLITS for i in range(2))


def test_presplit_melody_conditioned_direct_and_beam_agree(ns_dir, tmp_path):
    args = [
        "--input",
        f"train={ns_dir / 'ns-0.tfrecord'}",
        "--input",
        f"test={ns_dir / 'ns-1.tfrecord'}",
        "--problem",
        "melody_conditioned",
        "--num_replications",
        "1",
        "--no_augmentation",
        "--num_shards",
        "1",
    ]
    assert create_dataset_cli.main(args + ["--output_dir", str(tmp_path / "d"), "--no_progress"]) == 0
    assert (
        create_dataset_cli.main(
            args + ["--output_dir", str(tmp_path / "b"), "--runner", "beam", "--direct_running_mode=in_memory"]
        )
        == 0
    )
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["shards"] == ["test-00000-of-00001.tfrecord", "train-00000-of-00001.tfrecord"]
    assert summary["counts"]["split.train"] == 3 and summary["counts"]["split.test"] == 3
    for split in ("train", "test"):
        direct = _records(str(tmp_path / "d" / f"{split}-*.tfrecord"))
        assert sum(direct.values()) == summary["counts"][f"examples.{split}"] > 0
        assert _records(str(tmp_path / "b" / f"{split}-*.tfrecord")) == direct
        for r in direct:
            assert set(_decode(r)) == {"inputs", "targets"}
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["counts"] == summary["counts"]


def test_cli_errors(ns_dir, tmp_path, capsys):
    base = ["--output_dir", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as info:
        create_dataset_cli.main(base + ["--input", str(tmp_path / "nothing-*.tfrecord")])
    assert info.value.code == 2 and "no files match" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        create_dataset_cli.main(
            base + ["--input", str(ns_dir / "ns-0.tfrecord"), "--input", f"eval={ns_dir / 'ns-1.tfrecord'}"]
        )
    assert "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        create_dataset_cli.main(base + ["--input", str(ns_dir / "ns-0.tfrecord"), "--project", "p"])
    assert "need --runner beam" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        create_dataset_cli.main(
            base + ["--input", str(ns_dir / "ns-0.tfrecord"), "--split_fractions", "train=0.5,eval=0.2"]
        )
    assert "sum to 1" in capsys.readouterr().err


# --------------------------------------------------------------------------- reader


def test_make_dataset_pads_truncates_and_crops(direct_run):
    pattern = data.split_file_pattern(str(direct_run), "train")
    originals = [_decode(r)["targets"] for r in iter_records(pattern)]
    ds = data.make_dataset(pattern, max_length=300, batch_size=4, drop_remainder=True)
    assert ds.element_spec["targets"].shape.as_list() == [4, 300]
    rows = [row for batch in ds for row in batch["targets"].numpy()]
    assert len(rows) == len(originals) // 4 * 4
    # records of the 3 shards are interleaved: compare as multisets
    assert collections.Counter(tuple(r[r != encoding.PAD_ID]) for r in rows) <= collections.Counter(
        tuple(o) for o in originals
    )
    for row in rows:
        assert row.dtype == np.int32
        n = int((row != encoding.PAD_ID).sum())
        assert (row[n:] == encoding.PAD_ID).all()  # padding only at the end
    short = data.make_dataset(pattern, max_length=50, batch_size=3, random_crop=True, shuffle=True, seed=1)
    texts = [" ".join(map(str, o)) for o in originals]
    starts = set()
    for batch in short.take(4):
        for row in batch["targets"].numpy():
            assert (row != 0).all()
            assert any(" ".join(map(str, row)) in t for t in texts)
            starts.add(tuple(row[:3]))
    assert len(starts) > 3


def test_make_dataset_with_inputs(ns_dir, tmp_path):
    options = ["--problem", "melody_conditioned", "--split_fractions", "test=1.0", "--num_shards", "1", "--no_progress"]
    assert _create_dataset(ns_dir / "ns-1.tfrecord", tmp_path, *options) == 0
    ds = data.make_dataset(
        data.split_file_pattern(str(tmp_path), "test"), 1024, 2, has_inputs=True, max_input_length=400
    )
    batch = next(iter(ds))
    assert batch["inputs"].shape[1:] == (400,) and batch["targets"].shape[1:] == (1024,)
    assert batch["inputs"].dtype == tf.int32
    lengths = (batch["inputs"].numpy() != 0).sum(axis=1)
    assert ((lengths >= 50) & (lengths <= 301)).all()
