"""pipelines.midi_fast: the symusic reader gives note-seq's NoteSequence on every MIDI file we have.

The reference is ``note_seq.midi_io.midi_to_note_sequence`` (pretty_midi on mido). Files: the
repository's MIDI samples, ../shared/data, music21's own MIDI files, music21 corpus pieces
exported to MIDI by music21, files built with pretty_midi (tempo changes, pitch bends, control
changes, drums, several programs, overlapping notes), hand-made edge cases (mido), seeded random
files and seeded byte mutations of them. Sequences are compared field by field and must be
equal, floats bit for bit, repeated fields in note-seq's order (so the TFRecords written by the
two parsers are byte-identical; no sorting or tolerance is needed). Where a file is well formed,
the test also asserts that the fast path made it (not the fallback to note-seq).
"""

import io
import json
import pathlib
import random
import sys
import warnings

import mido
import pretty_midi
import pytest
from note_seq import midi_io

from pipelines import midi_fast
from pipelines import convert_dir_to_note_sequences_cli as ns_cli
from pipelines import note_sequences as ns
from tests.midi_files import fuzz_seed_file, midi_bytes

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"

# Scalar and repeated fields of the NoteSequence that MIDI reading fills.
SCALARS = ("ticks_per_quarter", "total_time", "source_info")
REPEATED = (
    "notes",
    "tempos",
    "time_signatures",
    "key_signatures",
    "control_changes",
    "pitch_bends",
    "instrument_infos",
)


def _reference(data: bytes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pretty_midi: tempo or signatures on tracks other than the first
        return midi_io.midi_to_note_sequence(data)


def assert_same_sequence(fast, reference, label: str) -> None:
    """The two NoteSequences field by field, with the first difference named; then whole-proto equality."""
    for name in SCALARS:
        assert getattr(fast, name) == getattr(reference, name), f"{label}: {name} differs"
    for name in REPEATED:
        a, b = getattr(fast, name), getattr(reference, name)
        assert len(a) == len(b), f"{label}: {len(a)} {name}, note-seq has {len(b)}"
        for k, (x, y) in enumerate(zip(a, b)):
            assert x == y, f"{label}: {name}[{k}] differs:\n{x}\nnote-seq:\n{y}"
    assert fast == reference, label


def _check_file(data: bytes, label: str, expect_fast: bool = True):
    reading = midi_fast.read_midi(data)
    assert reading.error is None, f"{label}: {reading.error!r}"
    assert_same_sequence(reading.sequence, _reference(data), label)
    if expect_fast:
        assert reading.fast, f"{label} fell back to note-seq: {reading.reason}"
    return reading


# ----------------------------------------------------------------------------- files on disk


def _files_on_disk() -> list:
    import music21

    music21_dir = pathlib.Path(music21.__file__).parent
    files = sorted(REPO.glob("models/*/samples/*.mid"))
    files += (
        sorted(p for p in SHARED_DATA.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        if SHARED_DATA.is_dir()
        else []
    )
    files += sorted(music21_dir.rglob("*.mid"))
    return files


# music21's test file with several instruments on one channel (program changes between its notes).
EXPECTED_FALLBACKS = {"test04.mid": "program change"}


def test_every_midi_file_on_disk_reads_the_same():
    files = _files_on_disk()
    assert len(files) >= 25, files  # the repository's samples and music21's MIDI files
    for path in files:
        reading = _check_file(path.read_bytes(), str(path), expect_fast=path.name not in EXPECTED_FALLBACKS)
        if path.name in EXPECTED_FALLBACKS:
            assert not reading.fast and EXPECTED_FALLBACKS[path.name] in reading.reason


# ----------------------------------------------------------------------------- music21's corpus as MIDI

# (corpus folder, extension, how many): sorted paths, the first ones; varied sources and writers.
CORPUS_SELECTION = (
    ("bach", ".mxl", 6),
    ("palestrina", ".krn", 3),
    ("ryansMammoth", ".abc", 4),
    ("oneills1850", ".abc", 2),
    ("trecento", ".xml", 3),
    ("monteverdi", ".mxl", 3),
    ("joplin", ".mxl", 1),
    ("schumann_robert", ".mxl", 2),
    ("leadSheet", ".mxl", 2),
    ("theoryExercises", ".mxl", 2),
    ("demos", ".xml", 3),
    ("essenFolksong", ".abc", 1),
)


@pytest.fixture(scope="module")
def corpus_midi(tmp_path_factory) -> list:
    """music21 corpus pieces written to MIDI by music21 (``score.write('midi')``): (name, bytes)."""
    import collections

    import music21

    by_folder = collections.defaultdict(list)
    for p in music21.corpus.getPaths():
        p = pathlib.Path(str(p))
        folder = p.parts[p.parts.index("corpus") + 1]
        by_folder[(folder, p.suffix.lower())].append(p)
    out = tmp_path_factory.mktemp("corpus_midi")
    files = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for folder, ext, count in CORPUS_SELECTION:
            for path in sorted(by_folder[(folder, ext)])[:count]:
                parsed = music21.converter.parse(path)
                scores = list(parsed.scores)[:2] if isinstance(parsed, music21.stream.Opus) else [parsed]
                for k, score in enumerate(scores):
                    target = out / f"{folder}_{path.stem}_{k}.mid"
                    try:
                        score.write("midi", fp=str(target))
                    except music21.Music21Exception:  # e.g. repeats music21 cannot expand
                        continue
                    files.append((target.name, target.read_bytes()))
    return files


@pytest.mark.slow
def test_music21_corpus_exported_to_midi_reads_the_same(corpus_midi):
    assert len(corpus_midi) >= 30
    for name, data in corpus_midi:
        _check_file(data, name)


# ----------------------------------------------------------------------------- built with pretty_midi


def _band(overlapping: bool) -> bytes:
    """Several programs, drums, names, pitch bends, control changes, tempo / time / key changes."""
    pm = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=96.0)
    # tempo changes: 96 qpm, 140 qpm at beat 8, 70 qpm at beat 20 (pretty_midi writes its tick scales)
    pm._tick_scales = [(0, 60.0 / (96.0 * 480)), (8 * 480, 60.0 / (140.0 * 480)), (20 * 480, 60.0 / (70.0 * 480))]
    piano = pretty_midi.Instrument(program=0, name="piano")
    piano.notes = [
        pretty_midi.Note(60 + k % 20, 48 + (k * 7) % 36, 0.25 * k, 0.25 * k + 0.2 + 0.1 * (k % 3)) for k in range(48)
    ]
    bass = pretty_midi.Instrument(program=33, name="bass")
    bass.notes = [pretty_midi.Note(90, 36 + k % 5, 0.5 * k, 0.5 * k + 0.45) for k in range(24)]
    bass.pitch_bends = [pretty_midi.PitchBend(b, 0.1 * k) for k, b in enumerate((0, 512, -2048, 8191, -8192, 0))]
    strings = pretty_midi.Instrument(program=48, name="")  # no name: no instrument_info
    strings.notes = [pretty_midi.Note(70, p, 1.0, 6.0) for p in (60, 64, 67)]
    strings.control_changes = [
        pretty_midi.ControlChange(c, v, 0.3 * k)
        for k, (c, v) in enumerate(((7, 100), (10, 64), (64, 127), (64, 0), (11, 90)))
    ]
    drums = pretty_midi.Instrument(program=0, is_drum=True, name="kit")
    drums.notes = [pretty_midi.Note(100, (36, 38, 42)[k % 3], 0.25 * k, 0.25 * k + 0.05) for k in range(40)]
    drums.control_changes = [pretty_midi.ControlChange(7, 110, 0.0)]
    if overlapping:  # the same pitch twice at once in one instrument, and a repeated note
        piano.notes += [
            pretty_midi.Note(80, 72, 1.0, 3.0),
            pretty_midi.Note(81, 72, 2.0, 4.0),
            pretty_midi.Note(50, 40, 5.0, 5.5),
            pretty_midi.Note(51, 40, 5.5, 6.0),
        ]
        drums.notes += [pretty_midi.Note(90, 36, 0.0, 0.5)]
    pm.instruments += [piano, bass, strings, drums]
    pm.time_signature_changes = [
        pretty_midi.TimeSignature(4, 4, 0.0),
        pretty_midi.TimeSignature(3, 4, 4.0),
        pretty_midi.TimeSignature(6, 8, 9.0),
    ]
    pm.key_signature_changes = [
        pretty_midi.KeySignature(2, 0.0),
        pretty_midi.KeySignature(21, 5.0),
        pretty_midi.KeySignature(11, 7.0),
    ]
    return midi_bytes(pm)


def test_pretty_midi_built_files_read_the_same():
    band = _band(overlapping=False)
    reading = _check_file(band, "band")
    seq = reading.sequence
    assert len(seq.tempos) == 3 and len(seq.time_signatures) == 3 and len(seq.key_signatures) == 3
    assert {n.program for n in seq.notes} == {0, 33, 48} and any(n.is_drum for n in seq.notes)
    assert len(seq.pitch_bends) == 6 and len(seq.control_changes) == 6
    assert [i.name for i in seq.instrument_infos] == ["piano", "bass", "kit"]
    _check_file(_band(overlapping=True), "band with overlapping notes of one pitch")
    _check_file(fuzz_seed_file(), "fuzz seed")
    for program, notes in (
        (0, [(60 + i, 0.5 * k, 0.5 * k + 0.4) for k, i in enumerate((0, 2, 4, 5, 7, 9, 11, 12))]),
        (19, [(p, 0.0, 1.0) for p in (60, 64, 67)] + [(p, 1.0, 2.0) for p in (62, 65, 69)]),
    ):
        pm = pretty_midi.PrettyMIDI(initial_tempo=100.0)
        inst = pretty_midi.Instrument(program=program, name="melody")
        inst.notes = [pretty_midi.Note(90, p, s, e) for p, s, e in notes]
        pm.instruments.append(inst)
        _check_file(midi_bytes(pm), f"program {program}")
    _check_file(midi_bytes(pretty_midi.PrettyMIDI()), "no notes at all")


# ----------------------------------------------------------------------------- hand-made edge cases


def _mido_bytes(tracks, ticks_per_beat=480, file_type=1) -> bytes:
    """A MIDI file from ``[[(absolute tick, message), ...] per track]`` (mido writes running status)."""
    f = mido.MidiFile(type=file_type, ticks_per_beat=ticks_per_beat)
    for events in tracks:
        track = mido.MidiTrack()
        last = 0
        for tick, msg in sorted(events, key=lambda e: e[0]):  # stable: same-tick events keep their order
            track.append(msg.copy(time=tick - last))
            last = tick
        f.tracks.append(track)
    buf = io.BytesIO()
    f.save(file=buf)
    return buf.getvalue()


def on(tick, note, velocity=90, channel=0):
    return tick, mido.Message("note_on", note=note, velocity=velocity, channel=channel)


def off(tick, note, channel=0, zero_velocity_on=False):
    if zero_velocity_on:
        return tick, mido.Message("note_on", note=note, velocity=0, channel=channel)
    return tick, mido.Message("note_off", note=note, channel=channel)


def meta(tick, kind, **kw):
    return tick, mido.MetaMessage(kind, **kw)


CONDUCTOR = [
    meta(0, "set_tempo", tempo=500000),
    meta(0, "time_signature", numerator=4, denominator=4),
    meta(960, "set_tempo", tempo=300000),
    meta(1920, "set_tempo", tempo=300000),
]

EDGE_CASES = {  # name -> (tracks, takes the fast path)
    "zero-length note, alone": ([CONDUCTOR, [on(0, 60), off(0, 60), on(480, 62), off(960, 62)]], True),
    "zero-length note after an older open one": ([[on(0, 60), on(480, 60), off(480, 60), off(960, 60)]], True),
    "two note-ons, one note-off (pretty_midi closes both)": (
        [[on(0, 60), on(240, 60), off(480, 60), off(960, 60)]],
        True,
    ),
    "spurious and missing note-offs": ([[off(0, 50), on(0, 50), off(480, 50), off(480, 50), on(600, 52)]], True),
    "note-off before note-on at one tick (music21's chords)": (
        [[on(0, 60), off(480, 60), on(480, 60), off(960, 60, zero_velocity_on=True)]],
        True,
    ),
    "running status on program changes and channel pressure": (
        [
            [
                (0, mido.Message("program_change", program=5)),
                (0, mido.Message("program_change", program=7)),
                on(0, 60),
                (10, mido.Message("aftertouch", value=3)),
                (20, mido.Message("aftertouch", value=4)),
                off(480, 60),
            ]
        ],
        True,
    ),
    "type 0, several channels and drums": (
        [
            [
                (0, mido.Message("program_change", program=40, channel=1)),
                on(0, 60),
                on(0, 60, channel=1),
                on(0, 36, channel=9),
                off(120, 36, channel=9),
                off(480, 60),
                off(480, 60, channel=1),
                (500, mido.Message("control_change", control=7, value=80, channel=1)),
                (520, mido.Message("pitchwheel", pitch=-100, channel=1)),
                on(600, 61, channel=1),
                off(700, 61, channel=1),
            ]
        ],
        True,
    ),
    "signatures and tempo on a later track (ignored)": (
        [
            CONDUCTOR,
            [
                meta(0, "track_name", name="caf\xe9"),
                meta(0, "key_signature", key="Ebm"),
                on(0, 60),
                meta(240, "set_tempo", tempo=250000),
                meta(240, "time_signature", numerator=7, denominator=8),
                off(480, 60),
                meta(480, "track_name", name="renamed later"),
            ],
        ],
        True,
    ),
    "control changes before the first note, on a channel without notes": (
        [
            [
                (0, mido.Message("control_change", control=7, value=100)),
                (0, mido.Message("pitchwheel", pitch=50)),
                (0, mido.Message("control_change", control=10, value=1, channel=3)),
                on(10, 60),
                off(20, 60),
                (30, mido.Message("control_change", control=64, value=127)),
            ]
        ],
        True,
    ),
    "long lyrics, sysex, text": (
        [
            [
                meta(0, "lyrics", text="la" * 150),
                (0, mido.Message("sysex", data=[1, 2, 3])),
                on(0, 60),
                meta(10, "text", text="x" * 300),
                off(480, 60),
            ]
        ],
        True,
    ),
    "key signatures, minor and flat": (
        [
            [
                meta(0, "key_signature", key="Cb"),
                meta(10, "key_signature", key="A#m"),
                meta(20, "key_signature", key="Dm"),
                on(0, 60),
                off(30, 60),
            ]
        ],
        True,
    ),
    "program change after a channel's notes": (
        [[on(0, 60), off(480, 60), (500, mido.Message("program_change", program=9)), on(600, 62), off(900, 62)]],
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases(name):
    tracks, fast = EDGE_CASES[name]
    reading = _check_file(_mido_bytes(tracks), name, expect_fast=fast)
    assert reading.fast == fast, reading.reason


def test_fallback_rules_and_failures():
    good = _mido_bytes([[on(0, 60), off(480, 60)]])
    # an unknown meta event with a delta time: mido reads the delta as 0, so note-seq's times differ
    track = bytes.fromhex("00903c5a8360ff0e01018360803c00") + b"\x00\xff\x2f\x00"
    data = good[:14] + b"MTrk" + len(track).to_bytes(4, "big") + track
    reading = _check_file(data, "unknown meta", expect_fast=False)
    assert "unknown meta" in reading.reason
    # running status right after a meta event
    track = bytes.fromhex("00903c5a") + bytes.fromhex("00ff0100") + bytes.fromhex("603c00") + b"\x00\xff\x2f\x00"
    data = good[:14] + b"MTrk" + len(track).to_bytes(4, "big") + track
    reading = _check_file(data, "running status after a meta event", expect_fast=False)
    assert "running status after a meta" in reading.reason
    # junk after the last track is ignored by both
    _check_file(good + b"\x00junk", "trailing bytes")
    # files note-seq cannot read fail the same way
    for broken in (good[:-3], b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrX\x00\x00\x00\x00", b"", b"MThd"):
        reading = midi_fast.read_midi(broken)
        assert reading.sequence is None and not reading.fast
        with pytest.raises(midi_io.MIDIConversionError):
            midi_fast.midi_to_note_sequence(broken)
        with pytest.raises(midi_io.MIDIConversionError):
            _reference(broken)


def test_without_symusic_everything_falls_back(monkeypatch):
    data = _band(overlapping=False)
    monkeypatch.setitem(sys.modules, "symusic", None)
    reading = midi_fast.read_midi(data)
    assert not reading.fast and reading.reason == "symusic is not installed"
    assert_same_sequence(reading.sequence, _reference(data), "without symusic")


def test_parser_argument():
    data = _band(overlapping=True)
    assert midi_fast.midi_to_note_sequence(data, "note_seq") == midi_fast.midi_to_note_sequence(data)
    with pytest.raises(ValueError, match="unknown MIDI parser"):
        midi_fast.midi_to_note_sequence(data, "pretty")


def test_mido_tables_the_scan_relies_on():
    """The meta types mido knows (it drops the delta time of the others) and its key names."""
    import math

    from mido.midifiles import meta as mido_meta

    assert sorted(k for k in mido_meta._META_SPECS if isinstance(k, int)) == midi_fast._MIDO_META_TYPES.tolist()
    bad = {k for k in range(256) if math.log(2**k, 2) != int(math.log(2**k, 2))}
    assert bad == set(midi_fast._MIDO_BAD_DENOMINATOR_POWERS)


# ----------------------------------------------------------------------------- random files and mutations


def random_midi(rng: random.Random) -> bytes:
    """A random MIDI file: 1-4 tracks, 1-3 channels each, overlapping / zero-length / spurious notes,
    tempo, time and key signatures (on any track), control changes, pitch bends, lyrics, sysex."""
    tracks = []
    for t in range(rng.randint(1, 4)):
        events = []
        if rng.random() < 0.5:
            events.append(meta(0, "track_name", name=rng.choice(["Piano", "caf\xe9", ""])))
        if t == 0 or rng.random() < 0.2:
            for _ in range(rng.randint(0, 4)):
                events.append(
                    meta(
                        rng.randint(0, 3000) * rng.randint(0, 1),
                        "set_tempo",
                        tempo=rng.choice([500000, 400000, rng.randint(1, 2000000)]),
                    )
                )
            for _ in range(rng.randint(0, 2)):
                events.append(
                    meta(
                        rng.randint(0, 3000) * rng.randint(0, 1),
                        "time_signature",
                        numerator=rng.randint(1, 12),
                        denominator=rng.choice([2, 4, 8]),
                    )
                )
            for _ in range(rng.randint(0, 2)):
                events.append(meta(rng.randint(0, 3000), "key_signature", key=rng.choice(["C", "Am", "F#", "Ebm"])))
        for channel in rng.sample(range(16), rng.randint(1, 3)):
            if rng.random() < 0.7:
                events.append(
                    (
                        rng.choice([0] * 20 + [10, 500]),
                        mido.Message("program_change", channel=channel, program=rng.randint(0, 127)),
                    )
                )
            pitches = rng.sample(range(30, 90), rng.randint(1, 6))
            for _ in range(rng.randint(0, 25)):
                pitch = rng.choice(pitches)
                start = rng.randint(0, 2000) // rng.choice([1, 10, 100]) * rng.choice([1, 10, 100])
                events.append(on(start, pitch, rng.randint(1, 127), channel))
                how = rng.choice(["off", "on0", "none"]) if rng.random() < 0.1 else rng.choice(["off", "on0"])
                if how != "none":
                    events.append(
                        off(
                            start + rng.choice([0, 1, 5, 50, 240, 480, rng.randint(0, 1000)]),
                            pitch,
                            channel,
                            zero_velocity_on=how == "on0",
                        )
                    )
            for _ in range(rng.randint(0, 5)):
                events.append(
                    (
                        rng.randint(0, 2000),
                        mido.Message(
                            "control_change", channel=channel, control=rng.randint(0, 127), value=rng.randint(0, 127)
                        ),
                    )
                )
            for _ in range(rng.randint(0, 5)):
                events.append(
                    (rng.randint(0, 2000), mido.Message("pitchwheel", channel=channel, pitch=rng.randint(-8192, 8191)))
                )
        if rng.random() < 0.1:
            events.append(meta(rng.randint(0, 2000), "lyrics", text="la" * rng.randint(1, 100)))
        if rng.random() < 0.05:
            events.append((rng.randint(0, 2000), mido.Message("sysex", data=[1, 2, 3])))
        if rng.random() < 0.5:
            rng.shuffle(events)
        events.sort(key=lambda e: e[0])
        tracks.append(events)
    return _mido_bytes(
        tracks,
        ticks_per_beat=rng.choice([96, 220, 480, 1000]),
        file_type=0 if len(tracks) == 1 and rng.random() < 0.5 else 1,
    )


@pytest.mark.slow
def test_random_files_read_the_same():
    fast = 0
    for seed in range(300):
        data = random_midi(random.Random(seed))
        fast += _check_file(data, f"random file {seed}", expect_fast=False).fast
    assert fast >= 200, f"only {fast} of 300 random files took the fast path"


def _max_tick(data: bytes) -> int:
    midi = mido.MidiFile(file=io.BytesIO(data))
    return max(sum(msg.time for msg in track) for track in midi.tracks)


@pytest.mark.slow
def test_mutated_files_read_the_same_or_fail_the_same():
    rng = random.Random(1)
    seeds = [random_midi(random.Random(s)) for s in range(20)] + [_band(True), fuzz_seed_file()]
    compared = 0
    for k in range(400):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 3)):
            if not data:
                break
            pos, kind = rng.randrange(len(data)), rng.random()
            if kind < 0.4:
                data[pos] = rng.randrange(256)
            elif kind < 0.55:
                del data[pos:]
            elif kind < 0.7:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
            elif kind < 0.85:
                del data[pos : pos + rng.randint(1, 4)]
            else:
                data[pos] ^= 0x80
        data = bytes(data)
        reading = midi_fast.read_midi(data)
        try:
            too_long = _max_tick(data) > 10**7  # pretty_midi would allocate a table of that many ticks
        except Exception:  # noqa: BLE001  (mido cannot read it: neither can note-seq)
            assert reading.sequence is None and not reading.fast, f"mutation {k}: read a file mido cannot"
            continue
        if too_long:
            assert not reading.fast
            continue
        try:
            reference = _reference(data)
        except Exception:  # noqa: BLE001
            assert reading.sequence is None and not reading.fast, f"mutation {k}: read a file note-seq cannot"
            continue
        assert_same_sequence(reading.sequence, reference, f"mutation {k}")
        compared += 1
    assert compared >= 20


# ----------------------------------------------------------------------------- convert_dir_to_note_sequences


def test_both_parsers_write_identical_records(tmp_path):
    folder = tmp_path / "midis"
    (folder / "sub").mkdir(parents=True)
    (folder / "band.mid").write_bytes(_band(overlapping=True))
    (folder / "sub" / "seed.MIDI").write_bytes(fuzz_seed_file())
    (folder / "fallback.mid").write_bytes(_mido_bytes(EDGE_CASES["program change after a channel's notes"][0]))
    for seed in range(5):
        (folder / f"random{seed}.mid").write_bytes(random_midi(random.Random(seed)))
    (folder / "broken.mid").write_bytes(_band(overlapping=False)[:100])
    outputs = {}
    for parser in ("symusic", "note_seq"):
        out = str(tmp_path / parser / "notesequences.tfrecord")
        args = ["--input_dir", str(folder), "--output_file", out, "--num_shards", "2", "--no_progress"]
        assert ns_cli.main(args + (["--parser", parser] if parser == "note_seq" else [])) == 0
        shards = sorted((tmp_path / parser).glob("notesequences-*.tfrecord"))
        assert len(shards) == 2
        counters = json.loads(pathlib.Path(ns.counters_path(out)).read_text())
        outputs[parser] = ([s.read_bytes() for s in shards], counters)
    assert outputs["symusic"][0] == outputs["note_seq"][0]
    assert outputs["symusic"][1] == outputs["note_seq"][1]
    assert outputs["symusic"][1]["counts"]["files_skipped"] == 1
    assert ns_cli.build_parser().parse_args(["--input_dir", "a", "--output_file", "b"]).parser == "symusic"
