"""Polyphonic events and their encoding: Magenta's class indices, event order, round trips."""

import pytest
from note_seq import sequences_lib
from note_seq.protobuf import music_pb2

from polyphony_rnn_ext import config as config_lib
from polyphony_rnn_ext import polyphony_lib as pl
from tests.events_rnn.family_checks import magenta_hparams
from polyphony_rnn_ext.polyphony_lib import PolyphonicEvent as E


def quantized(notes, qpm=120.0, program=None):
    """notes: (pitch, start_step, end_step) at 4 steps per quarter."""
    seq = music_pb2.NoteSequence()
    seq.tempos.add().qpm = qpm
    step = 60.0 / qpm / 4
    for i, (pitch, start, end) in enumerate(notes):
        seq.notes.add(
            pitch=pitch,
            velocity=100,
            start_time=start * step,
            end_time=end * step,
            program=program[i] if program else 0,
        )
    seq.total_time = max(n.end_time for n in seq.notes)
    return sequences_lib.quantize_note_sequence(seq, 4)


def test_encoding_sizes_and_class_indices():
    enc = pl.make_encoder_decoder()
    assert (enc.input_size, enc.num_classes, enc.default_event_label) == (259, 259, 2)
    config = config_lib.PolyphonyRnnConfig()
    assert (config.input_size, config.num_classes, config.no_event_label) == (259, 259, 2)
    one_hot = pl.PolyphonyOneHotEncoding()
    assert one_hot.encode_event(E(E.START, None)) == 0
    assert one_hot.encode_event(E(E.END, None)) == 1
    assert one_hot.encode_event(E(E.STEP_END, None)) == 2
    assert one_hot.encode_event(E(E.NEW_NOTE, 60)) == 63
    assert one_hot.encode_event(E(E.CONTINUED_NOTE, 60)) == 3 + 128 + 60
    for index in range(259):
        assert one_hot.encode_event(one_hot.decode_event(index)) == index
    with pytest.raises(ValueError):
        one_hot.decode_event(259)


def test_magenta_hparams():
    hp = config_lib.MODEL_PRESETS.get("polyphony").hparams
    assert magenta_hparams(hp) == (64, (256, 256, 256), 0.5, 5.0, 0, 0.001)
    assert config_lib.PolyphonyRnnConfig().generator_description == "Polyphonic RNN"
    with pytest.raises(ValueError, match="not one of polyphony"):
        config_lib.PolyphonyRnnConfig(config_id="basic_rnn")


def test_events_of_a_quantized_sequence():
    # C major chord held 2 steps, then E alone (new) while G continues for one more step.
    track = pl.PolyphonicSequence(quantized([(60, 0, 2), (64, 0, 2), (67, 0, 3), (64, 2, 3)]))
    assert pl.events_of(track) == [
        (E.START, None),
        (E.NEW_NOTE, 67),
        (E.NEW_NOTE, 64),
        (E.NEW_NOTE, 60),
        (E.STEP_END, None),
        (E.CONTINUED_NOTE, 67),
        (E.CONTINUED_NOTE, 64),
        (E.CONTINUED_NOTE, 60),
        (E.STEP_END, None),
        (E.CONTINUED_NOTE, 67),
        (E.NEW_NOTE, 64),
        (E.STEP_END, None),
        (E.END, None),
    ]
    assert track.num_steps == 3 and track.steps[-1] == 3


def test_to_sequence_round_trip_and_set_length():
    notes = [(60, 0, 2), (64, 0, 2), (67, 0, 3), (64, 2, 3), (72, 5, 6)]
    track = pl.PolyphonicSequence(quantized(notes))
    track.set_length(8)
    assert track.num_steps == 8 and track[-1] == E(E.END, None)
    sequence = track.to_sequence(qpm=120.0)
    got = sorted((n.pitch, round(n.start_time / 0.125), round(n.end_time / 0.125)) for n in sequence.notes)
    assert got == sorted(notes)
    assert sequence.total_time == pytest.approx(8 * 0.125)
    track.set_length(2)  # cut: notes end at the cut
    got = sorted((n.pitch, round(n.start_time / 0.125), round(n.end_time / 0.125)) for n in track.to_sequence().notes)
    assert got == [(60, 0, 2), (64, 0, 2), (67, 0, 2)]


def test_inputs_and_labels_follow_the_events():
    track = pl.PolyphonicSequence(quantized([(60, 0, 1), (62, 1, 2)]))
    inputs, labels = pl.make_encoder_decoder().encode(track)
    assert len(inputs) == len(labels) == len(track) - 1
    assert labels == [63, 2, 65, 2, 1]
    assert inputs[0].index(1.0) == 0 and inputs[1].index(1.0) == 63


def test_extract_discards_more_than_one_program_and_lengths():
    tracks, counts = pl.extract_polyphonic_sequences(quantized([(60, 0, 1), (64, 0, 1)], program=[0, 1]))
    assert tracks == [] and counts == {"polyphonic_tracks_discarded_more_than_1_program": 1}
    tracks, counts = pl.extract_polyphonic_sequences(quantized([(60, 0, 4)]), min_steps_discard=5)
    assert tracks == [] and counts == {"polyphonic_tracks_discarded_too_short": 1}
    tracks, _ = pl.extract_polyphonic_sequences(quantized([(60, 0, 4)]), max_steps_discard=5)
    assert len(tracks) == 1 and tracks[0].num_steps == 4
