"""JSB Chorales: the real JSON file, its serialisation for the Music Transformer, note-wise NLL."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from music_transformer_ext import jsb


@pytest.fixture(scope="module")
def chorales(jsb_json):
    return jsb.load_jsb_chorales(jsb_json)


def test_splits_shapes_and_rests(chorales, jsb_json):
    # the Coconet / Music Transformer split
    assert {k: len(v) for k, v in chorales.items()} == {"train": 229, "valid": 76, "test": 77}
    raw = json.loads(jsb_json.read_text())
    for split, items in chorales.items():
        for arr, src in zip(items, raw[split]):
            assert arr.dtype == np.float64 and arr.shape == (len(src), 4)
        rests = sum(int(np.isnan(a).sum()) for a in items)
        assert rests == sum(row.count(-1) for c in raw[split] for row in c) > 0
        pitches = np.concatenate([a[~np.isnan(a)] for a in items])
        assert pitches.min() >= jsb.MIN_PITCH and pitches.max() <= jsb.MAX_PITCH
    # voices are ordered soprano..bass: the soprano is on average the highest
    means = np.nanmean(np.concatenate(chorales["train"]), axis=0)
    assert list(means) == sorted(means, reverse=True)
    assert jsb.load_jsb_chorales()["valid"][0].shape == chorales["valid"][0].shape  # default path


def test_serialisation_round_trip_and_raster_order(chorales):
    enc = jsb.JsbEncoding()
    assert enc.vocab_size == jsb.VOCAB_SIZE == 49
    for split, items in chorales.items():
        for chorale in items:
            ids = enc.serialize(chorale)
            assert ids.dtype == np.int32 and len(ids) == 4 * len(chorale) + 1 and ids[-1] == jsb.EOS_ID
            assert ids[:-1].min() >= jsb.REST_ID and ids.max() < enc.vocab_size
            np.testing.assert_array_equal(enc.deserialize(ids), chorale)  # NaN == NaN here
    chorale = chorales["valid"][3]
    ids = enc.serialize(chorale)
    t, v = 17, 2  # tenor of step 17
    assert ids[4 * t + v] == (jsb.REST_ID if np.isnan(chorale[t, v]) else 3 + int(chorale[t, v]) - 36)
    assert enc.pitch_to_id(36) == 3 and enc.pitch_to_id(81) == 48
    # padded rows and rows without EOS decode the same
    padded = np.concatenate([ids, np.zeros(7, np.int32)])
    np.testing.assert_array_equal(enc.deserialize(padded), chorale)
    no_eos = jsb.JsbEncoding(add_eos=False).serialize(chorale)
    assert len(no_eos) == 4 * len(chorale)


def test_serialisation_errors(tmp_path):
    enc = jsb.JsbEncoding()
    with pytest.raises(ValueError, match="outside 36..81"):
        enc.serialize(np.array([[90.0, 60, 50, 40]]))
    with pytest.raises(ValueError, match="whole steps"):
        enc.deserialize([10, 11, 12, 13, 14])
    assert enc.deserialize([10, 11, 12, 13, 14], allow_partial=True).shape == (2, 4)
    with pytest.raises(ValueError, match="id 49 is outside"):
        enc.deserialize([10, 11, 12, 49])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"train": [[[60, 55, 50]]], "valid": [], "test": []}))
    with pytest.raises(jsb.JsbFormatError, match=r"bad.json: train\[0\]: expected shape \(T, 4\)"):
        jsb.load_jsb_chorales(bad)
    bad.write_text(json.dumps({"train": [[[60, 55, 50, 40.5]]], "valid": [], "test": []}))
    with pytest.raises(jsb.JsbFormatError, match="MIDI pitches"):
        jsb.load_jsb_chorales(bad)
    bad.write_text(json.dumps({"train": [], "valid": []}))
    with pytest.raises(jsb.JsbFormatError, match="missing split 'test'"):
        jsb.load_jsb_chorales(bad)
    with pytest.raises(jsb.JsbFormatError, match="never loaded"):
        jsb.load_jsb_chorales(tmp_path / "Jsb16thSeparated.npz")
    with pytest.raises(jsb.JsbFormatError, match="file not found"):
        jsb.load_jsb_chorales(tmp_path / "missing.json")


def test_note_sequence_joins_held_pitches(chorales):
    chorale = chorales["train"][0]
    ns = jsb.to_note_sequence(chorale, qpm=60)
    for voice in range(4):
        col = chorale[:, voice]
        changes = sum(1 for t in range(len(col)) if not np.isnan(col[t]) and (t == 0 or col[t] != col[t - 1]))
        notes = sorted((n for n in ns.notes if n.instrument == voice), key=lambda n: n.start_time)
        assert len(notes) == changes
        covered = sum(n.end_time - n.start_time for n in notes)
        assert covered == pytest.approx(0.25 * np.count_nonzero(~np.isnan(col)))
    assert ns.total_time == pytest.approx(0.25 * len(chorale))


def test_make_dataset_windows_and_crops(chorales):
    enc = jsb.JsbEncoding()
    seqs = enc.serialize_split(chorales["valid"])
    longest = max(len(s) for s in seqs)
    whole = jsb.make_dataset(seqs, max_length=longest, batch_size=16)
    rows = np.concatenate([b["targets"].numpy() for b in whole])
    assert rows.shape == (76, longest) and rows.dtype == np.int32
    assert int((rows >= jsb.REST_ID).sum()) == 4 * sum(len(c) for c in chorales["valid"])
    windows = jsb.make_dataset(seqs, max_length=258, batch_size=8)  # 256-token windows
    wrows = np.concatenate([b["targets"].numpy() for b in windows])
    assert int((wrows >= jsb.REST_ID).sum()) == int((rows >= jsb.REST_ID).sum())  # every note once
    crops = jsb.make_dataset(seqs, max_length=64, batch_size=8, random_crop=True, shuffle=True, seed=3)
    for batch in crops.take(3):
        for row in batch["targets"].numpy():
            assert (row >= jsb.REST_ID).all()
            # crops start on a step boundary: the row is a 4-aligned slice of some chorale
            assert any(any(np.array_equal(s[i : i + 64], row) for i in range(0, len(s) - 63, 4)) for s in seqs)


def test_scoring_windows_cover_each_token_once_on_step_boundaries(chorales):
    enc = jsb.JsbEncoding()
    for seq in enc.serialize_split(chorales["valid"][:20]):
        pieces = jsb.scoring_windows(seq, 256)
        scored = np.concatenate([tokens[first:] for tokens, first in pieces])
        np.testing.assert_array_equal(scored, seq)  # in order, each token exactly once
        position = 0
        for k, (tokens, first) in enumerate(pieces):
            assert len(tokens) <= 256
            start = position - first  # where this window starts in the chorale
            assert start % 4 == 0 and start >= 0
            np.testing.assert_array_equal(tokens, seq[start : start + len(tokens)])
            if k:
                assert first >= 128  # every scored token sees at least half a window of context
            position += len(tokens) - first
        if len(seq) <= 256:
            assert len(pieces) == 1 and pieces[0][1] == 0
    assert len(jsb.scoring_windows(np.arange(1000), 0)) == 1
    with pytest.raises(ValueError, match="multiple of 4"):
        jsb.scoring_windows(np.arange(1000), 250)


def test_note_wise_nll(chorales):
    enc = jsb.JsbEncoding()
    seqs = enc.serialize_split(chorales["valid"][:5])
    metric = jsb.NoteWiseNLL()
    for batch in jsb.make_dataset(seqs, max_length=max(map(len, seqs)), batch_size=2):
        targets = batch["targets"]
        metric.update(tf.zeros(targets.shape + (enc.vocab_size,)), targets)  # uniform prediction
    assert metric.count == 4 * sum(len(c) for c in chorales["valid"][:5])  # EOS and PAD excluded
    assert metric.result() == pytest.approx(math.log(enc.vocab_size), rel=1e-6)
    # a numpy reference on random logits
    rng = np.random.default_rng(0)
    targets = np.array([[5, 2, 9, 30, 1, 0, 0], [3, 3, 3, 3, 7, 8, 1]], np.int32)
    logits = rng.normal(size=targets.shape + (enc.vocab_size,)).astype(np.float32)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    picked = -np.take_along_axis(logp, targets[..., None], -1)[..., 0]
    mask = targets >= 2
    total, count = jsb.note_nll_sums(logits, targets)
    assert float(count) == mask.sum() == 10
    assert float(total) == pytest.approx(picked[mask].sum(), rel=1e-5)
    assert jsb.PAPER_TABLE_2["Transformer with relative attention"] == 0.357
