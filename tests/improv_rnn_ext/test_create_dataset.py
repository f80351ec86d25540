"""`improv_rnn_create_dataset` on a MusicXML lead sheet made here (chord symbols as <harmony> elements, which
note-seq reads as CHORD_SYMBOL text annotations): Magenta's lead-sheet pipeline, every key, the config's encoder."""

import copy
import json

import note_seq
import numpy as np
import pytest
import tensorflow as tf
from note_seq import musicxml_reader

from events_rnn import data as events_data
from improv_rnn_ext import config as config_lib
from improv_rnn_ext import create_dataset_cli, data, lead_sheets
from pipelines.note_sequence_io import write_note_sequences

STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
CHORDS = [
    ("C", "major"),
    ("A", "minor"),
    ("F", "major"),
    ("G", "dominant"),
    ("C", "major"),
    ("D", "minor"),
    ("G", "major"),
    ("C", "major"),
]
MELODY = [
    "E4",
    "G4",
    "C5",
    "G4",
    "A4",
    "C5",
    "E5",
    "C5",
    "F4",
    "A4",
    "C5",
    "A4",
    "G4",
    "B4",
    "D5",
    "F5",
    "E4",
    "G4",
    "C5",
    "E5",
    "D4",
    "F4",
    "A4",
    "D5",
    "B4",
    "D5",
    "G5",
    "D5",
    "C5",
    "E5",
    "G5",
    "C6",
]


def lead_sheet_xml(with_chords: bool = True) -> str:
    """An 8-bar 4/4 MusicXML lead sheet in quarter notes, one chord symbol per bar."""
    bars = []
    for b in range(8):
        parts = [f'<measure number="{b + 1}">']
        if b == 0:
            parts.append(
                "<attributes><divisions>1</divisions><key><fifths>0</fifths></key>"
                "<time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
                '<direction><sound tempo="120"/></direction>'
            )
        if with_chords:
            root, kind = CHORDS[b]
            parts.append(f"<harmony><root><root-step>{root}</root-step></root><kind>{kind}</kind></harmony>")
        for name in MELODY[4 * b : 4 * b + 4]:
            parts.append(
                f"<note><pitch><step>{name[0]}</step><octave>{name[1]}</octave></pitch>"
                "<duration>1</duration><type>quarter</type></note>"
            )
        bars.append("".join(parts) + "</measure>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
        '<score-part id="P1"><part-name>Lead</part-name></score-part></part-list>'
        f'<part id="P1">{"".join(bars)}</part></score-partwise>'
    )


@pytest.fixture(scope="module")
def pieces(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("leadsheets")
    out = []
    for name, chords in (("leadsheet", True), ("no_chords", False)):
        path = tmp / f"{name}.xml"
        path.write_text(lead_sheet_xml(chords))
        seq = musicxml_reader.musicxml_file_to_sequence_proto(str(path))
        seq.id = name
        out.append(seq)
    return tmp, out, write_note_sequences(str(tmp / "notesequences.tfrecord"), out)


def expected_examples(sequence, config_id):
    """The examples Magenta's pipeline makes of one lead sheet, built directly with note-seq."""
    q = note_seq.quantize_note_sequence(sequence, 4)
    melody = note_seq.Melody()
    melody.from_quantized_sequence(q, gap_bars=1.0, ignore_polyphonic_notes=False)
    chords = note_seq.ChordProgression()
    chords.from_quantized_sequence(q, melody.start_step, melody.end_step)
    enc = config_lib.make_encoder_decoder(config_id)
    out = []
    for amount in range(-6, 6):
        sheet = note_seq.LeadSheet(copy.deepcopy(melody), copy.deepcopy(chords))
        sheet.transpose(amount)
        sheet.squash(48, 84, None)
        out.append(enc.encode(sheet.chords, sheet.melody))
    return out


def test_musicxml_chords_become_chord_symbols(pieces):
    _, (sequence, bare), _ = pieces
    figures = [
        a.text
        for a in sequence.text_annotations
        if a.annotation_type == note_seq.NoteSequence.TextAnnotation.CHORD_SYMBOL
    ]
    assert figures == ["C", "Am", "F", "G7", "C", "Dm", "G", "C"]
    assert not bare.text_annotations
    sheets, counts = lead_sheets.extract_lead_sheet_fragments(
        note_seq.quantize_note_sequence(sequence, 4),
        min_bars=7,
        max_steps_truncate=512,
        min_unique_pitches=3,
        ignore_polyphonic_notes=False,
        require_chords=True,
        all_transpositions=True,
    )
    assert len(sheets) == 12 and len(sheets[0]) == 128 and counts.get("melody_extractor/melodies_extracted") == 1
    assert [s.chords[0] for s in sheets[5:8]] == ["B", "C", "Db"]


@pytest.mark.parametrize("config_id", config_lib.CONFIG_IDS)
def test_create_dataset_writes_the_configs_encoding_in_every_key(pieces, tmp_path, config_id, capsys):
    _, (sequence, _), records = pieces
    out = tmp_path / "out"
    rc = create_dataset_cli.main(
        ["--config", config_id, "--input", records, "--output_dir", str(out), "--eval_ratio", "0", "--no_progress"]
    )
    assert rc == 0, capsys.readouterr().err
    assert (out / "eval_lead_sheets.tfrecord").exists()
    got = [
        events_data.sequence_example_to_arrays(tf.train.SequenceExample.FromString(r.numpy()))
        for r in tf.data.TFRecordDataset(str(out / "training_lead_sheets.tfrecord"))
    ]
    want = expected_examples(sequence, config_id)
    model = config_lib.ImprovRnnConfig(config_id=config_id)
    assert len(got) == 12
    for (inputs, labels), (w_in, w_lab) in zip(got, want):
        assert inputs.shape == (127, model.input_size)
        np.testing.assert_array_equal(inputs, np.asarray(w_in, np.float32))
        np.testing.assert_array_equal(labels, np.asarray(w_lab))
        assert labels.max() < model.num_classes
    if config_id == "basic_improv":  # the chord one-hot (first 49 inputs) at step 0: 12 different keys of C major
        assert len({int(np.argmax(i[0, :49])) for i, _ in got}) == 12
    stats = json.loads((out / data.STATS_FILENAME).read_text())
    assert stats["input_size"] == model.input_size and stats["counts"]["output/training_lead_sheets"] == 12
    assert stats["lengths_in_bars"] == {"8": 12}
    skipped = {s["name"]: s["reason"] for s in stats["skipped"]}
    assert "empty_chord_progressions" in skipped["no_chords"]


@pytest.mark.slow
def test_beam_runner_writes_the_same_records(pieces, tmp_path):
    pytest.importorskip("apache_beam")
    _, _, records = pieces
    outs = {}
    for runner in ("direct", "beam"):
        outs[runner] = tmp_path / runner
        assert (
            create_dataset_cli.main(
                [
                    "--config",
                    "attention_improv",
                    "--input",
                    records,
                    "--output_dir",
                    str(outs[runner]),
                    "--eval_ratio",
                    "0",
                    "--runner",
                    runner,
                    "--num_workers",
                    "1",
                    "--no_progress",
                ]
            )
            == 0
        )
    for name in data.OUTPUT_FILENAMES.values():
        direct = sorted(r.numpy() for r in tf.data.TFRecordDataset(str(outs["direct"] / name)))
        beam = sorted(r.numpy() for r in tf.data.TFRecordDataset(str(outs["beam"] / name)))
        assert direct == beam, name
    a, b = (json.loads((outs[r] / data.STATS_FILENAME).read_text()) for r in ("direct", "beam"))
    assert a["counts"] == b["counts"] and a["skipped"] == b["skipped"]


def test_missing_input_is_an_error(tmp_path, capsys):
    assert create_dataset_cli.main(["--input", str(tmp_path / "none.tfrecord"), "--output_dir", str(tmp_path)]) == 1
    assert "none.tfrecord" in capsys.readouterr().err
