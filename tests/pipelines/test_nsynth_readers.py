"""pipelines.nsynth: the jsonwav reader on real NSynth notes, filters, tf.Example schema."""

import json

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from pipelines import nsynth
from pipelines.errors import InputError, MetadataError
from tfmusic.audio import AudioFileError

REAL_ACOUSTIC = [
    "brass_acoustic_015-060-127",
    "guitar_acoustic_015-060-025",
    "string_acoustic_014-060-025",
    "string_acoustic_057-060-100",
]


def assert_elements_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert type(a[key]) is type(b[key]), key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_element_spec():
    spec = nsynth.ELEMENT_SPEC
    assert spec["audio"] == tf.TensorSpec([64000], tf.float32)
    assert spec["qualities"] == tf.TensorSpec([10], tf.int64)
    assert spec["note_str"] == tf.TensorSpec([], tf.string)
    assert spec["pitch"] == tf.TensorSpec([], tf.int64)
    assert len(spec) == 13 and "qualities_str" not in spec


def test_jsonwav_reader_on_real_nsynth_notes(nsynth_sample_dir):
    examples = json.loads((nsynth_sample_dir / "examples.json").read_text())
    ds = nsynth.read_jsonwav_dir(nsynth_sample_dir)
    assert ds.element_spec == nsynth.ELEMENT_SPEC
    elements = list(ds.as_numpy_iterator())
    assert len(elements) == 12
    assert [e["note_str"].decode() for e in elements] == sorted(examples)
    for element in elements:
        name = element["note_str"].decode()
        entry = examples[name]
        assert element["pitch"] == 60 and element["audio"].shape == (64000,)
        assert element["audio"].dtype == np.float32
        expected, sr = sf.read(str(nsynth_sample_dir / "audio" / f"{name}.wav"), dtype="float32")
        assert sr == 16000
        np.testing.assert_array_equal(element["audio"], expected)
        assert -1.0 <= element["audio"].min() and element["audio"].max() < 1.0
        for key in nsynth.INT_KEYS:
            assert element[key] == entry[key], key
        for key in nsynth.STR_KEYS:
            assert element[key].decode() == entry[key], key
        assert element["qualities"].tolist() == entry["qualities"]
    # the plain Python iterator gives the same numpy values and types
    for a, b in zip(nsynth.iter_jsonwav_dir(nsynth_sample_dir), elements, strict=True):
        assert_elements_equal(a, b)


def test_filters_on_real_and_rendered_notes(nsynth_sample_dir, rendered_dir):
    names = lambda ds: [e["note_str"].decode() for e in ds.as_numpy_iterator()]  # noqa: E731
    assert names(nsynth.read_jsonwav_dir(nsynth_sample_dir, acoustic_only=True)) == REAL_ACOUSTIC
    assert names(nsynth.filter_acoustic(nsynth.read_jsonwav_dir(nsynth_sample_dir))) == REAL_ACOUSTIC
    assert names(nsynth.read_jsonwav_dir(nsynth_sample_dir, min_pitch=61)) == []
    rendered = nsynth.read_jsonwav_dir(rendered_dir)
    assert {n[-7:-4] for n in names(nsynth.filter_pitch(rendered, 24, 65))} == {"060"}
    assert {n[-7:-4] for n in names(nsynth.filter_pitch(rendered, 65, None))} == {"069"}
    assert len(names(nsynth.read_jsonwav_dir(rendered_dir, max_pitch=60))) == 6
    assert len(names(nsynth.gansynth_subset(rendered))) == 12  # all acoustic, 60 and 69 within 24-84


def test_reader_errors_name_the_file(tmp_path, nsynth_sample_dir):
    with pytest.raises(InputError, match="examples.json not found"):
        nsynth.read_jsonwav_dir(tmp_path)
    (tmp_path / "examples.json").write_text("{not json")
    with pytest.raises(InputError, match=r"examples\.json: not valid JSON"):
        nsynth.read_jsonwav_dir(tmp_path)
    examples = json.loads((nsynth_sample_dir / "examples.json").read_text())
    name = "guitar_acoustic_015-060-025"
    (tmp_path / "examples.json").write_text(json.dumps({name: examples[name]}))
    (tmp_path / "audio").mkdir()
    with pytest.raises(AudioFileError, match=f"{name}.wav: file not found"):
        list(nsynth.iter_jsonwav_dir(tmp_path))
    with pytest.raises(tf.errors.OpError):  # inside tf.data the error surfaces as an OpError
        list(nsynth.read_jsonwav_dir(tmp_path))
    assert list(nsynth.read_jsonwav_dir(tmp_path, skip_bad=True)) == []


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda e: e.pop("velocity"), "missing key(s) velocity"),
        (lambda e: e.update(pitch=60.0), "pitch must be an integer, got float"),
        (lambda e: e.update(pitch=True), "pitch must be an integer, got bool"),
        (lambda e: e.update(pitch=130), "pitch=130 is outside 0..127"),
        (lambda e: e.update(sample_rate=44100), "sample_rate is 44100, expected 16000"),
        (lambda e: e.update(instrument_family_str="brass"), "does not match instrument_family"),
        (lambda e: e.update(qualities=[0] * 11), "qualities must be a list of 10"),
        (lambda e: e.update(qualities_str=["bright"]), "qualities_str"),
        (lambda e: e.update(note_str="other"), "differs from its key"),
        (lambda e: e.update(instrument_str=3), "instrument_str must be a string"),
    ],
)
def test_validate_metadata(nsynth_sample_dir, change, problem):
    examples = json.loads((nsynth_sample_dir / "examples.json").read_text())
    name = "guitar_acoustic_015-060-025"
    assert nsynth.validate_metadata(name, dict(examples[name]))["pitch"] == 60
    entry = dict(examples[name])
    change(entry)
    with pytest.raises(MetadataError) as info:
        nsynth.validate_metadata(name, entry)
    assert str(info.value).startswith(name + ": ") and problem in str(info.value)


def test_tf_example_has_official_schema_and_parses_back(nsynth_sample_dir):
    element = next(nsynth.iter_jsonwav_dir(nsynth_sample_dir))
    example = nsynth.to_tf_example(element)
    feature = example.features.feature
    official = {
        "note",
        "note_str",
        "instrument",
        "instrument_str",
        "instrument_family",
        "instrument_family_str",
        "instrument_source",
        "instrument_source_str",
        "pitch",
        "velocity",
        "sample_rate",
        "audio",
        "qualities",
        "qualities_str",
    }
    assert set(feature) == official
    assert len(feature["audio"].float_list.value) == 64000
    assert list(feature["qualities"].int64_list.value) == element["qualities"].tolist()
    assert [q.decode() for q in feature["qualities_str"].bytes_list.value] == ["distortion", "tempo-synced"]
    assert feature["note_str"].bytes_list.value[0] == element["note_str"]
    serialized = nsynth.serialize_example(element)
    assert serialized == nsynth.serialize_example(element)
    parsed = nsynth.parse_examples(tf.constant([serialized]))
    assert_elements_equal(element, {k: v.numpy()[0] for k, v in parsed.items()})
