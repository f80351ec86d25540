"""The four Melody RNN encodings: sizes, the note-seq classes Magenta uses, squash + encode, decoding."""

import copy

import note_seq
import numpy as np
import pytest
from note_seq import encoder_decoder, melody_encoder_decoder

from melody_rnn_ext import data, encodings
from tests.melody_rnn_ext.chorales import chorale


def test_config_ids():
    assert encodings.CONFIG_IDS == ("basic_rnn", "mono_rnn", "lookback_rnn", "attention_rnn")


@pytest.mark.parametrize(
    "config_id, inputs, classes", [("basic_rnn", 38, 38), ("lookback_rnn", 121, 40), ("attention_rnn", 74, 40)]
)
def test_sizes_match_magenta(config_id, inputs, classes):
    assert encodings.input_size(config_id) == inputs
    assert encodings.num_classes(config_id) == classes


def test_mono_rnn_covers_all_midi_pitches():
    # 128 pitches + no-event + note-off, as note-seq's one-hot melody encoding over [0, 128) gives.
    assert encodings.note_range("mono_rnn") == (0, 128)
    assert encodings.encoding_spec("mono_rnn").transpose_to_key is None
    assert encodings.input_size("mono_rnn") == encodings.num_classes("mono_rnn") == 128 + 2


@pytest.mark.parametrize(
    "config_id, cls, one_hot",
    [
        ("basic_rnn", encoder_decoder.OneHotEventSequenceEncoderDecoder, True),
        ("mono_rnn", encoder_decoder.OneHotEventSequenceEncoderDecoder, True),
        ("lookback_rnn", encoder_decoder.LookbackEventSequenceEncoderDecoder, True),
        ("attention_rnn", melody_encoder_decoder.KeyMelodyEncoderDecoder, False),
    ],
)
def test_encoder_classes_and_ranges(config_id, cls, one_hot):
    enc = encodings.make_encoder_decoder(config_id)
    assert isinstance(enc, cls)  # attention_rnn: note-seq's class, with a one-pass encode (see key_melody)
    low, high = encodings.note_range(config_id)
    if one_hot:
        assert isinstance(enc._one_hot_encoding, melody_encoder_decoder.MelodyOneHotEncoding)
        assert (enc._one_hot_encoding._min_note, enc._one_hot_encoding._max_note) == (low, high)
    else:
        assert (enc._min_note, enc._note_range) == (low, high - low)
    assert enc is not encodings.make_encoder_decoder(config_id)  # a fresh object each call


def test_unknown_config_is_a_typed_error():
    with pytest.raises(encodings.UnknownConfigError, match="polyphony_rnn"):
        encodings.make_encoder_decoder("polyphony_rnn")


@pytest.mark.parametrize("config_id", encodings.CONFIG_IDS)
def test_no_event_label_decodes_to_a_held_step(config_id):
    enc = encodings.make_encoder_decoder(config_id)
    label = encodings.no_event_label(config_id)
    assert label == enc.default_event_label
    events = note_seq.Melody([60] + [note_seq.MELODY_NO_EVENT] * 3)
    assert enc.class_index_to_event(label, events) == note_seq.MELODY_NO_EVENT


@pytest.fixture(scope="module")
def soprano_melody():
    """The first melody the pipeline finds in a real chorale (bwv10.7, one track, top notes)."""
    pipeline = data.MelodyPipeline(data.MelodyPipelineConfig())
    melodies = pipeline.melodies(chorale("bwv10.7.mxl"))
    assert melodies
    return melodies[0]


@pytest.mark.parametrize("config_id", ["basic_rnn", "mono_rnn", "lookback_rnn"])
def test_squash_and_encode_is_note_seqs_squash_then_encode(config_id, soprano_melody):
    before = list(soprano_melody)
    inputs, labels = encodings.squash_and_encode(config_id, soprano_melody)
    assert list(soprano_melody) == before  # input untouched
    spec = encodings.encoding_spec(config_id)
    m = copy.deepcopy(soprano_melody)
    m.squash(spec.min_note, spec.max_note, spec.transpose_to_key)
    ref_inputs, ref_labels = encodings.make_encoder_decoder(config_id).encode(m)
    np.testing.assert_array_equal(np.array(inputs), np.array(ref_inputs))
    assert labels == ref_labels
    assert len(inputs) == len(labels) == len(soprano_melody) - 1
    assert all(len(v) == encodings.input_size(config_id) for v in inputs)
    assert 0 <= min(labels) and max(labels) < encodings.num_classes(config_id)


def test_squash_puts_notes_in_range_and_key(soprano_melody):
    low, high = encodings.note_range("basic_rnn")
    m = copy.deepcopy(soprano_melody)
    amount = m.squash(low, high, 0)
    pitches = [e for e in m if e >= 0]
    assert pitches and low <= min(pitches) and max(pitches) < high
    assert m.get_major_key() == 0  # transposed to C major
    # mono_rnn does not transpose at all.
    m2 = copy.deepcopy(soprano_melody)
    assert m2.squash(0, 128, None) == 0 and list(m2) == list(soprano_melody)
    assert amount % 12 == (0 - soprano_melody.get_major_key()) % 12


@pytest.mark.parametrize("config_id", ["basic_rnn", "lookback_rnn"])
def test_decoding_the_labels_gives_the_melody_back(config_id, soprano_melody):
    spec = encodings.encoding_spec(config_id)
    m = copy.deepcopy(soprano_melody)
    m.squash(spec.min_note, spec.max_note, spec.transpose_to_key)
    _, labels = encodings.make_encoder_decoder(config_id).encode(m)
    decoded = encodings.decode_labels(config_id, m[0], labels)
    assert list(decoded) == list(m)


def test_attention_labels_decode_back(soprano_melody):
    # KeyMelodyEncoderDecoder is slow (it rescans the prefix at every step): use 12 bars.
    m = copy.deepcopy(soprano_melody)
    m.set_length(12 * 16)
    m.squash(48, 84, 0)
    enc = encodings.make_encoder_decoder("attention_rnn")
    inputs, labels = enc.encode(m)
    assert np.array(inputs).shape == (len(m) - 1, 74)
    assert list(encodings.decode_labels("attention_rnn", m[0], labels)) == list(m)


def test_one_pass_key_melody_encoding_equals_note_seq():
    """attention_rnn's encoder walks the melody once; every input and label equals note-seq's."""
    import note_seq
    from note_seq import melody_encoder_decoder as med

    from melody_rnn_ext import encodings as enc
    from melody_rnn_ext.key_melody import KeyMelodyEncoderDecoder

    fast = enc.make_encoder_decoder("attention_rnn")
    assert isinstance(fast, KeyMelodyEncoderDecoder)
    reference = med.KeyMelodyEncoderDecoder(min_note=48, max_note=84)
    rng = np.random.default_rng(7)
    # random melodies: note-ons in range, holds, note-offs, repeats at the lookback distances
    for _ in range(60):
        n = int(rng.integers(2, 200))
        events = [int(x) for x in rng.choice(list(range(48, 84)) + [-2] * 30 + [-1] * 6, n)]
        if n > 40 and rng.random() < 0.5:
            events[32:n] = events[: n - 32]  # two bars repeated
        melody = note_seq.Melody(events)
        assert fast.encode(melody) == reference.encode(melody)
    # and a one-note melody, and one that starts with silence
    for events in ([60, -2], [-2, -2, -1, 62, -2, 64]):
        assert fast.encode(note_seq.Melody(events)) == reference.encode(note_seq.Melody(events))
