"""Bad-input drill: every reader is fuzzed with ``hypothesis``; only the project's typed errors may come out.

Each reader gets truncated, bit-flipped, spliced and random-byte versions of real inputs (NSynth wavs,
music21's MIDI test files and Bach chorales, ABC tunes, V1/V2 checkpoints, an ``examples.json``) and
structured bad inputs (wavs with the wrong rate, channels, length or NaN samples; ``examples.json``
entries with missing, extra or mistyped keys; foreign weights with missing, extra or misshapen
variables). The property is the same everywhere: the reader returns a value, or raises one of its
documented typed errors whose message names the input; any other exception (KeyError,
UnicodeDecodeError, struct.error, zipfile.BadZipFile, ...) fails the test. The conversions
(``convert_directory``, ``nsynth_to_tfrecord.convert``) are fuzzed too: a bad file is skipped and
counted, the good ones are written, the run never aborts.

Runs are reproducible (``derandomize=True``, no example database). With ``-s`` a line per reader says
how many inputs were fuzzed and how they ended.

To fuzz another file reader (e.g. ``.mag`` bundles, tensor2tensor checkpoints), add a ``ByteReader``
in ``extra_byte_readers()``; it then gets the byte-level mutations of ``test_byte_reader_fuzz``.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import math
import os
import pathlib
import shutil
import signal
import traceback
import zipfile
from typing import Callable, Optional, Sequence

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import note_sequences as ns
from pipelines import nsynth, nsynth_to_tfrecord, tfrecord_io
from pipelines.errors import InputError, MetadataError
from pipelines.note_sequence_io import read_note_sequences
from pipelines.note_sequences import MusicFileError
from tests import midi_files
from tfmusic.audio import AudioFileError, read_wav
from tfmusic.tf1_checkpoints import (
    CheckpointReadError,
    PortingError,
    WeightPorter,
    read_checkpoint,
    write_v1_checkpoint,
)

REPO = pathlib.Path(__file__).resolve().parents[2]
SAMPLE_DIR = REPO.parent / "shared" / "data" / "nsynth_sample"

# One reader call longer than this is a hang (a bug too).
READ_TIMEOUT_S = 30


def fuzz_settings(max_examples: int):
    """Bounded, reproducible hypothesis settings (no deadline: the machine is shared)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# reader -> outcome -> number of inputs
TALLY: dict = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module", autouse=True)
def _print_tally():
    yield
    total = 0
    print()
    for reader, outcomes in sorted(TALLY.items()):
        n = sum(outcomes.values())
        total += n
        detail = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"fuzzed {reader}: {n} inputs ({detail})")
    print(f"fuzzed in all: {total} inputs, {len(TALLY)} readers")


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang(f"reader ran longer than {READ_TIMEOUT_S} s")


def call_reader(reader: str, fn: Callable[[], object], typed: tuple, names: Sequence[str]):
    """Runs ``fn()``: returns ``(result, None)`` or ``(None, typed error)``.

    Fails (AssertionError, so hypothesis shrinks the input) when ``fn`` raises anything but ``typed``,
    when the typed error's message names none of ``names``, or when it runs past READ_TIMEOUT_S.
    """
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(READ_TIMEOUT_S)
    try:
        result = fn()
    except typed as e:
        message = str(e)
        assert any(str(n) in message for n in names), (
            f"{reader}: {type(e).__name__} does not name the input ({list(names)}): {message}"
        )
        TALLY[reader]["typed error"] += 1
        return None, e
    except Exception as e:  # noqa: BLE001  (this is what the drill looks for)
        raise AssertionError(f"{reader} leaked {type(e).__name__}: {e}\n{traceback.format_exc()}") from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    TALLY[reader]["accepted"] += 1
    return result, None


# --------------------------------------------------------------------------- byte mutations

MUTATIONS = ("truncate", "flip", "overwrite", "insert", "delete", "splice", "random", "magic+random", "empty")


@st.composite
def mutated_bytes(draw, seeds: Sequence[bytes]) -> bytes:
    """A real input (one of ``seeds``) broken in one of the ``MUTATIONS`` ways (one to a few times)."""
    data = bytearray(draw(st.sampled_from(list(seeds))))
    kind = draw(st.sampled_from(MUTATIONS))
    n = len(data)
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, max(n - 1, 0)))])
    if kind == "empty":
        return b""
    if kind == "random":
        return draw(st.binary(max_size=4096))
    if kind == "magic+random":
        return bytes(data[: draw(st.integers(1, 64))]) + draw(st.binary(max_size=2048))
    for _ in range(draw(st.integers(1, 4))):
        n = len(data)
        if n == 0:
            break
        # Header bytes matter most: half the positions fall in the first 128 bytes.
        pos = draw(st.one_of(st.integers(0, min(n, 128) - 1), st.integers(0, n - 1)))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[pos : pos + len(chunk)] = chunk
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 64))]
        elif kind == "splice":  # a stretch of the input repeated elsewhere (valid-looking structure)
            start = draw(st.integers(0, n - 1))
            data[pos:pos] = data[start : start + draw(st.integers(1, 256))]
    return bytes(data)


@dataclasses.dataclass(frozen=True)
class ByteReader:
    """A file reader to fuzz at the byte level.

    Attributes:
      name: the reader's name in the summary line.
      suffix: the file name suffix the reader dispatches on (``.mid``, ``.mxl``, ...).
      read: ``read(path)`` -> anything; the call under test.
      errors: the typed errors ``read`` may raise.
      seeds: ``seeds(folder)`` -> list of valid inputs (bytes) to mutate; ``folder`` is scratch space.
      materialize: ``materialize(folder, data)`` -> the path to give ``read`` (default: ``data`` written to
        ``folder/input<suffix>``). Multi-file formats (a V2 checkpoint's index + data) write the siblings here.
      names: ``names(path)`` -> strings of which the error message must contain one (default: the path).
    """

    name: str
    suffix: str
    read: Callable[[pathlib.Path], object]
    errors: tuple
    seeds: Callable[[pathlib.Path], list]
    materialize: Optional[Callable[[pathlib.Path, bytes], pathlib.Path]] = None
    names: Optional[Callable[[pathlib.Path], list]] = None


# ----- seeds


def _music21_dir() -> pathlib.Path:
    import music21

    return pathlib.Path(music21.__file__).parent


def _midi_seeds(folder) -> list:
    """Real MIDI files (music21's MIDI test files) and a multi-track pretty_midi file."""
    files = sorted((_music21_dir() / "midi" / "testPrimitive").glob("*.mid"))[:6]
    return [p.read_bytes() for p in files] + [midi_files.fuzz_seed_file()]


def _chorale_paths(n: int) -> list:
    return sorted((_music21_dir() / "corpus" / "bach").glob("bwv*.mxl"))[:n]


def _mxl_inner_xml(mxl: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(mxl)) as z:
        names = [n for n in z.namelist() if not n.startswith("META-INF") and n.endswith((".xml", ".musicxml"))]
        return z.read(names[0])


def _mxl_seeds(folder) -> list:
    return [p.read_bytes() for p in _chorale_paths(3)]


def _xml_seeds(folder) -> list:
    return [_mxl_inner_xml(b) for b in _mxl_seeds(folder)]


def _abc_seeds(folder) -> list:
    corpus = _music21_dir() / "corpus"
    files = sorted(corpus.glob("essenFolksong/*.abc"))[:1] + sorted(corpus.glob("airdsAirs/book1.abc"))
    # a few tunes of each book, cut before the tune that crosses 6000 bytes
    return [_whole_tunes(path.read_bytes(), 6000) for path in files]


def _whole_tunes(book: bytes, limit: int) -> bytes:
    """The tunes of an ABC book that end within its first ``limit`` bytes."""
    cut = book.rfind(b"\nX:", 0, limit)
    return book[: cut + 1] if cut > 0 else book


def _wav_seeds(folder) -> list:
    wavs = sorted((SAMPLE_DIR / "audio").glob("*.wav"))[:2]
    seeds = [p.read_bytes() for p in wavs]
    buf = io.BytesIO()
    sf.write(buf, np.sin(np.arange(64000) / 20.0).astype(np.float32) * 0.5, 16000, subtype="FLOAT", format="WAV")
    return seeds + [buf.getvalue()]


def _tiny_variables() -> dict:
    rng = np.random.RandomState(0)
    return {
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel": rng.randn(6, 16).astype(np.float32),
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/bias": rng.randn(16).astype(np.float32),
        "fully_connected/weights": rng.randn(4, 3).astype(np.float32),
        "global_step": np.int64(1234),
    }


def _checkpoint_v1_seeds(folder) -> list:
    path = write_v1_checkpoint(_tiny_variables(), str(folder / "seed_v1.ckpt"))
    return [pathlib.Path(path).read_bytes()]


def _v2_checkpoint(folder) -> str:
    import tensorflow as tf

    prefix = str(folder / "seed_v2" / "model.ckpt")
    if not os.path.exists(prefix + ".index"):
        ckpt = tf.train.Checkpoint(**{f"v{i}": tf.Variable(v) for i, v in enumerate(_tiny_variables().values())})
        written = ckpt.write(prefix)
        assert written == prefix, written
    return prefix


def _materialize_v2(part: str):
    """A V2 checkpoint whose ``part`` file ("index" or "data-00000-of-00001") is the fuzzed bytes."""

    def materialize(folder, data):
        seed = _v2_checkpoint(folder)
        target = folder / "fuzzed_v2"
        target.mkdir(exist_ok=True)
        for suffix in (".index", ".data-00000-of-00001"):
            shutil.copy(seed + suffix, target / ("model.ckpt" + suffix))
        (target / f"model.ckpt.{part}").write_bytes(data)
        return target / "model.ckpt"

    return materialize


def _v2_seed(part: str):
    return lambda folder: [pathlib.Path(_v2_checkpoint(folder) + "." + part).read_bytes()]


def _examples_json_seeds(folder) -> list:
    return [(SAMPLE_DIR / "examples.json").read_bytes()]


def _materialize_examples_json(folder, data):
    """An NSynth folder whose examples.json is the fuzzed bytes (audio/ linked to the real sample's)."""
    root = folder / "nsynth_fuzzed"
    root.mkdir(exist_ok=True)
    if not (root / "audio").exists():
        (root / "audio").symlink_to(SAMPLE_DIR / "audio")
    (root / "examples.json").write_bytes(data)
    return root / "examples.json"


def _json_keys(path) -> list:
    try:
        data = json.loads(pathlib.Path(path).read_bytes())
    except Exception:  # noqa: BLE001
        return []
    return list(data) if isinstance(data, dict) else []


def _read_jsonwav(path):
    counters = tfrecord_io.Counters()
    return list(nsynth.iter_jsonwav_dir(path.parent, skip_bad=False, counters=counters))


def _read_abc(path):
    tunes, failed = ns.parse_abc(str(path))
    for label, reason in failed:  # failed tunes are reported, not raised; their labels name them
        assert label.startswith(("X:", "tune ")) and reason, (label, reason)
    return tunes


def core_byte_readers() -> list:
    """The readers the project has now."""
    return [
        ByteReader(
            "read_wav", ".wav", lambda p: read_wav(p, 16000, 64000, expected_channels=1), (AudioFileError,), _wav_seeds
        ),
        ByteReader(
            "midi (note_sequences.parse_midi)", ".mid", lambda p: ns.parse_midi(str(p)), (MusicFileError,), _midi_seeds
        ),
        ByteReader(
            "musicxml .xml (parse_musicxml)", ".xml", lambda p: ns.parse_musicxml(str(p)), (MusicFileError,), _xml_seeds
        ),
        ByteReader(
            "musicxml .mxl (parse_musicxml)", ".mxl", lambda p: ns.parse_musicxml(str(p)), (MusicFileError,), _mxl_seeds
        ),
        ByteReader("abc (parse_abc)", ".abc", _read_abc, (MusicFileError,), _abc_seeds),
        ByteReader(
            "tf1 checkpoint V1 file (read_checkpoint)",
            ".ckpt",
            read_checkpoint,
            (CheckpointReadError,),
            _checkpoint_v1_seeds,
        ),
        ByteReader(
            "tf checkpoint V2 .index (read_checkpoint)",
            ".index",
            read_checkpoint,
            (CheckpointReadError,),
            _v2_seed("index"),
            _materialize_v2("index"),
        ),
        ByteReader(
            "tf checkpoint V2 .data (read_checkpoint)",
            ".data",
            read_checkpoint,
            (CheckpointReadError,),
            _v2_seed("data-00000-of-00001"),
            _materialize_v2("data-00000-of-00001"),
        ),
        ByteReader(
            "nsynth examples.json (iter_jsonwav_dir)",
            ".json",
            _read_jsonwav,
            (InputError, AudioFileError),
            _examples_json_seeds,
            _materialize_examples_json,
            lambda p: [str(p)] + _json_keys(p),
        ),
    ]


def extra_byte_readers() -> list:
    """Hook for readers added later: return more ``ByteReader``s here.

    For example a ``.mag`` bundle reader::

        ByteReader("mag bundle (read_bundle)", ".mag", melody_rnn_ext.bundle.read_bundle,
                   (melody_rnn_ext.bundle.BundleError, CheckpointReadError), seeds=<tiny bundles' bytes>)

    and a tensor2tensor checkpoint porter: ``materialize`` writes a V2 checkpoint with one fuzzed file,
    ``read`` ports it (``music_transformer_ext.checkpoints``) and ``errors`` is
    ``(CheckpointReadError, PortingError)``.
    """
    return []


BYTE_READERS = core_byte_readers() + extra_byte_readers()
BYTE_EXAMPLES = 100


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("reader", BYTE_READERS, ids=lambda r: r.name.split(" ")[0] + r.suffix)
def test_byte_reader_fuzz(reader: ByteReader, scratch):
    """Mutated real inputs and random bytes: a value or the reader's typed error naming the file."""
    folder = scratch / reader.name.split(" ")[0].replace("/", "_") / reader.suffix.strip(".")
    folder.mkdir(parents=True, exist_ok=True)
    seeds = reader.seeds(folder)
    assert seeds and all(seeds), reader.name
    for seed in seeds:  # the unmutated seeds must read (else the drill would test nothing)
        path = reader.materialize(folder, seed) if reader.materialize else folder / f"seed{reader.suffix}"
        if not reader.materialize:
            path.write_bytes(seed)
        _, error = call_reader(reader.name, lambda: reader.read(path), reader.errors, [path])
        assert error is None, f"{reader.name}: a valid seed fails: {error}"

    @fuzz_settings(BYTE_EXAMPLES)
    @given(data=mutated_bytes(seeds))
    def fuzz(data):
        if reader.materialize:
            path = reader.materialize(folder, data)
        else:
            path = folder / f"input{reader.suffix}"
            path.write_bytes(data)
        names = reader.names(path) if reader.names else [str(path)]
        call_reader(reader.name, lambda: reader.read(path), reader.errors, names)

    fuzz()


# --------------------------------------------------------------------------- wav files with an oracle

WAV_SUBTYPES = ("PCM_16", "PCM_24", "PCM_U8", "FLOAT", "DOUBLE")


@st.composite
def wav_specs(draw):
    rate = draw(st.sampled_from([8000, 16000, 16000, 22050, 44100, 48000]))
    channels = draw(st.sampled_from([1, 1, 2, 3]))
    frames = draw(st.sampled_from([0, 1, 100, 63999, 64000, 64000, 64001]))
    subtype = draw(st.sampled_from(WAV_SUBTYPES))
    bad_value = draw(st.sampled_from([None, None, float("nan"), float("inf"), float("-inf"), 7.5]))
    if subtype not in ("FLOAT", "DOUBLE"):
        bad_value = None if bad_value is None or not math.isfinite(bad_value) else bad_value
    position = draw(st.integers(0, max(frames - 1, 0)))
    return rate, channels, frames, subtype, bad_value, position


@fuzz_settings(120)
@given(spec=wav_specs())
def test_read_wav_rate_channels_length_nan(spec, tmp_path_factory):
    """Generated wavs: read_wav accepts exactly the 16 kHz mono 64000-frame finite ones."""
    rate, channels, frames, subtype, bad_value, position = spec
    path = tmp_path_factory.getbasetemp() / "wav_oracle" / "note.wav"
    path.parent.mkdir(exist_ok=True)
    rng = np.random.RandomState(frames + channels)
    audio = (rng.uniform(-0.5, 0.5, size=(frames, channels))).astype(np.float64)
    if bad_value is not None and frames:
        audio[position, 0] = bad_value
    sf.write(str(path), audio, rate, subtype=subtype, format="WAV")
    result, error = call_reader(
        "read_wav (rate/channels/length/NaN oracle)",
        lambda: read_wav(path, 16000, 64000, expected_channels=1),
        (AudioFileError,),
        [path],
    )
    finite = bad_value is None or math.isfinite(bad_value)
    if rate == 16000 and frames == 64000 and channels == 1 and finite:
        assert error is None, error
        samples, sample_rate = result
        assert sample_rate == 16000 and samples.shape == (64000,) and samples.dtype == np.float32
        assert np.all(samples >= -1.0) and np.all(samples < 1.0)
    else:
        assert error is not None, spec
        expected = (
            "sample rate"
            if rate != 16000
            else "no audio frames"
            if frames == 0
            else "samples, expected 64000"
            if frames != 64000
            else "channels"
            if channels != 1
            else "NaN or infinite"
        )
        assert expected in error.problem, (spec, error.problem)
    # Without expectations, any readable wav is accepted and mixed down to mono.
    if frames and finite:
        samples, sample_rate = read_wav(path)
        assert sample_rate == rate and samples.shape == (frames,)


# --------------------------------------------------------------------------- examples.json entries

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=11) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
ENTRY_MUTATIONS = ("delete_key", "extra_key", "retype_value", "not_a_dict", "bad_note_str", "odd_string")


def _same(a, b) -> bool:
    """Equal JSON values of the same types all the way down (``True`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _still_valid(key: str, value, original) -> bool:
    """Whether an entry whose ``key`` now holds ``value`` is still a valid NSynth entry (the documented rules)."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if key in ("note", "instrument"):
        return is_int and 0 <= value <= 2**62
    if key in ("pitch", "velocity"):
        return is_int and 0 <= value <= 127
    if key == "instrument_str":  # not tied to any other field
        return isinstance(value, str)
    # sample_rate must be 16000; the note_str must equal its key; family/source and their names, and
    # qualities and qualities_str, must agree with each other
    return _same(value, original)


@st.composite
def bad_entries(draw, examples: dict):
    """1-3 entries of a real examples.json broken in one of the ``ENTRY_MUTATIONS`` ways.

    Returns:
      (new examples dict, names of the changed notes, whether every change keeps the entry valid).
    """
    examples = json.loads(json.dumps(examples))
    keys = sorted(examples)
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
    changed = {}
    for note in chosen:
        kind = draw(st.sampled_from(ENTRY_MUTATIONS))
        entry = examples[note]
        valid = False
        if kind == "delete_key":
            del entry[draw(st.sampled_from(sorted(entry)))]
        elif kind == "extra_key":
            entry[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in entry))] = draw(JSON_VALUES)
            valid = True  # extra keys are tolerated (NSynth may add fields)
        elif kind == "retype_value":
            key = draw(st.sampled_from(sorted(entry)))
            value = draw(st.one_of(JSON_VALUES, st.integers(-5, 200)))
            valid = _still_valid(key, value, entry[key])
            entry[key] = value
        elif kind == "not_a_dict":
            examples[note] = draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
        elif kind == "bad_note_str":  # a key that is not a plain note name (path traversal, NUL, surrogates)
            new = draw(
                st.sampled_from(
                    [
                        "../" + note,
                        "../audio/" + note,
                        "audio/../" + note,
                        "/etc/passwd",
                        note + "\x00",
                        "\ud800" + note,
                        "",
                        ".",
                        note + "/",
                    ]
                )
            )
            entry["note_str"] = new
            examples[new] = examples.pop(note)
            note = new
        elif kind == "odd_string":  # lone surrogates / NUL in a name field
            key = draw(st.sampled_from(["instrument_str", "instrument_family_str", "instrument_source_str"]))
            entry[key] = draw(st.sampled_from(["\ud800", "a\x00b", "\udcff" + entry[key]]))
            valid = key == "instrument_str" and entry[key] == "a\x00b"  # any valid string may name an instrument
        changed[note] = valid
    return examples, changed


@pytest.fixture(scope="module")
def sample_examples():
    return json.loads((SAMPLE_DIR / "examples.json").read_text())


def _nsynth_folder(root: pathlib.Path, examples: dict) -> pathlib.Path:
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "audio").exists():
        (root / "audio").symlink_to(SAMPLE_DIR / "audio")
    # ensure_ascii keeps lone surrogates writable (as \\udXXX escapes, which json.loads gives back)
    (root / "examples.json").write_text(json.dumps(examples))
    return root


@pytest.mark.slow
def test_examples_json_entries_and_conversion(sample_examples, tmp_path_factory):
    """Bad entries: the reader raises MetadataError/AudioFileError naming the note; skip mode and the
    converter skip exactly the broken notes and write every other one."""
    base = tmp_path_factory.mktemp("examples_json")

    @fuzz_settings(30)
    @given(case=bad_entries(sample_examples))
    def fuzz(case):
        examples, changed = case
        total = len(examples)  # two notes renamed to the same bad name are one entry
        root = _nsynth_folder(base / "in", examples)
        broken = {n for n, valid in changed.items() if not valid}
        # strict reading: the first bad note in sorted order raises, naming itself
        result, error = call_reader(
            "nsynth examples.json entries (strict)",
            lambda: list(nsynth.iter_jsonwav_dir(root)),
            (MetadataError, AudioFileError),
            broken or ["<none expected>"],
        )
        if error is None:
            assert not broken, f"accepted broken notes {broken}"
            assert len(result) == total
        # skip mode and the converter: every good note written, every broken one skipped and named
        counters = tfrecord_io.Counters()
        read = list(nsynth.iter_jsonwav_dir(root, skip_bad=True, counters=counters))
        assert set(counters.skipped_names()) == broken, (counters.skipped_names(), changed)
        assert len(read) == total - len(broken)
        out = base / "out"
        result, error = call_reader(
            "nsynth_to_tfrecord.convert (bad entries)",
            lambda: nsynth_to_tfrecord.convert(str(root), str(out), num_shards=2, progress=False),
            (),
            [],
        )
        assert result.get("written") == total - len(broken)
        assert result.get("skipped") == len(broken)
        assert set(result.skipped_names()) == broken
        result.summary().encode("utf-8")  # printable, even with lone surrogates in the names
        records = list(tfrecord_io.iter_records(str(out / "nsynth-*-of-00002.tfrecord")))
        assert len(records) == total - len(broken)

    fuzz()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        "null",
        "42",
        '"a string"',
        "{",
        '{"a": ',
        "[" * 50000 + "]" * 50000,
        '{"a": 1}garbage',
        "\ufeff{}",
        b"\xff\xfe{}".decode("latin-1"),
        '{"a": NaN}',
        "{" + '"a": {' * 20000 + "}" * 20001,
    ],
)
def test_examples_json_top_level(text, tmp_path):
    """Not a JSON object (or not JSON at all): InputError naming examples.json, or an empty set."""
    path = tmp_path / "examples.json"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    (tmp_path / "audio").mkdir()
    result, error = call_reader(
        "nsynth examples.json top level (load_examples_json)",
        lambda: nsynth.load_examples_json(path),
        (InputError,),
        [path],
    )
    if error is None:
        assert isinstance(result, dict)
    counters = tfrecord_io.Counters()
    call_reader(
        "nsynth examples.json top level (iter_jsonwav_dir)",
        lambda: list(nsynth.iter_jsonwav_dir(tmp_path, skip_bad=True, counters=counters)),
        (InputError,),
        [path] + _json_keys(path),
    )


# --------------------------------------------------------------------------- wav files of a conversion


@pytest.mark.slow
def test_nsynth_conversion_survives_bad_wavs(sample_examples, tmp_path_factory):
    """1-3 of the sample's wavs replaced by fuzzed bytes: they are skipped (or read, if still valid),
    the others written; the run never aborts."""
    base = tmp_path_factory.mktemp("bad_wavs")
    root = base / "in"
    (root / "audio").mkdir(parents=True)
    (root / "examples.json").write_text(json.dumps(sample_examples))
    originals = {n: (SAMPLE_DIR / "audio" / f"{n}.wav").read_bytes() for n in sample_examples}
    seeds = list(originals.values())[:2]

    @fuzz_settings(20)
    @given(bad=st.dictionaries(st.sampled_from(sorted(sample_examples)), mutated_bytes(seeds), min_size=1, max_size=3))
    def fuzz(bad):
        for note, data in originals.items():
            (root / "audio" / f"{note}.wav").write_bytes(bad.get(note, data))
        valid = set(sample_examples) - set(bad)
        for note in bad:  # the oracle: whether the file alone is readable
            try:
                read_wav(root / "audio" / f"{note}.wav", 16000, 64000, expected_channels=1)
                valid.add(note)
            except AudioFileError:
                pass
        out = base / "out"
        counters, _ = call_reader(
            "nsynth_to_tfrecord.convert (bad wavs)",
            lambda: nsynth_to_tfrecord.convert(str(root), str(out), num_shards=2, progress=False),
            (),
            [],
        )
        assert counters.get("written") == len(valid)
        assert set(counters.skipped_names()) == set(sample_examples) - valid
        assert len(list(tfrecord_io.iter_records(str(out / "nsynth-*-of-00002.tfrecord")))) == len(valid)

    fuzz()


# --------------------------------------------------------------------------- a folder of music files


GOOD_ABC = """X:1
T:Scale
M:4/4
L:1/8
K:C
CDEF GABc|c2B2 A2G2|]

X:2
T:Jig
M:6/8
L:1/8
K:G
GAB cde|dBG A2D|G3 G3|]
"""


@pytest.fixture(scope="module")
def music_seeds(scratch):
    return {
        ".mid": _midi_seeds(scratch),
        ".xml": _xml_seeds(scratch),
        ".mxl": _mxl_seeds(scratch),
        ".abc": _abc_seeds(scratch),
    }


@pytest.mark.slow
def test_convert_directory_survives_bad_files(music_seeds, tmp_path_factory):
    """A folder of good MIDI/MusicXML/ABC files plus 1-3 fuzzed ones: the conversion finishes, every good
    file is converted, every unreadable one is skipped and named, and the records read back."""
    base = tmp_path_factory.mktemp("music_dir")
    good = {
        "good/a.mid": music_seeds[".mid"][0],
        "good/b.mxl": music_seeds[".mxl"][0],
        "good/c.xml": music_seeds[".xml"][1],
        "good/d.abc": GOOD_ABC.encode("utf-8"),
    }
    good_records = 0
    for rel, data in good.items():
        (base / "good_only" / rel).parent.mkdir(parents=True, exist_ok=True)
        (base / "good_only" / rel).write_bytes(data)
        result = ns.convert_file(str(base / "good_only"), rel)
        assert result.counters.get(ns.FILES_CONVERTED) == 1 and not result.counters.skipped, result.counters.summary()
        good_records += len(result.records)
    bad_file = st.tuples(st.sampled_from(sorted(music_seeds)), st.integers(0, 99)).flatmap(
        lambda t: st.tuples(st.just(f"bad/f{t[1]}{t[0]}"), mutated_bytes(music_seeds[t[0]]))
    )

    @fuzz_settings(20)
    @given(bad=st.lists(bad_file, min_size=1, max_size=3, unique_by=lambda f: f[0]))
    def fuzz(bad):
        root = base / "collection"
        shutil.rmtree(root, ignore_errors=True)
        for rel, data in list(good.items()) + bad:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        # the oracle, file by file: what each bad file gives on its own
        expected_sequences = good_records
        skipped_files = set()
        for rel, _ in bad:
            result = ns.convert_file(str(root), rel)
            expected_sequences += len(result.records)
            if result.counters.get(ns.FILES_SKIPPED):
                skipped_files.add(rel)
        output = base / "out" / "ns.tfrecord"
        counters, _ = call_reader(
            "convert_dir_to_note_sequences (bad files)",
            lambda: ns.convert_directory(str(root), str(output), num_shards=2, progress=False),
            (),
            [],
        )
        assert counters.get(ns.FILES_FOUND) == len(good) + len(bad)
        assert counters.get(ns.FILES_CONVERTED) + counters.get(ns.FILES_SKIPPED) == len(good) + len(bad)
        assert counters.get(ns.FILES_SKIPPED) == len(skipped_files)
        # every skipped file is named, alone or in its failed tunes' names ("<relpath> X:<n>", "<relpath> tune <k>")
        named = {s.name.split(" ")[0] for s in counters.skipped}
        assert skipped_files <= named <= {rel for rel, _ in bad}, (skipped_files, named, counters.summary())
        assert counters.get(ns.WRITTEN) == expected_sequences >= len(good)
        sequences = list(read_note_sequences(ns.shard_pattern(str(output))))
        assert len(sequences) == expected_sequences
        assert {s.filename for s in sequences} >= set(good)

    fuzz()


@fuzz_settings(100)
@given(
    text=st.one_of(
        st.text(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    "X:1\n",
                    "X:2\n",
                    "T:t\n",
                    "M:4/4\n",
                    "M:6/8\n",
                    "L:1/8\n",
                    "K:C\n",
                    "K:Gm\n",
                    "Q:1/4=120\n",
                    "CDEF|",
                    "G2A2|",
                    "(3abc",
                    "[CEG]",
                    "z4|",
                    "^F_B=c",
                    "|:",
                    ":|",
                    "\n\n",
                    "%comment\n",
                    "V:1\n",
                    "w:la la\n",
                    "!trill!",
                    "{g}",
                    ">",
                    "<",
                    "2",
                    "/",
                ]
            ),
            max_size=40,
        ).map("".join),
    )
)
def test_random_abc_text(text, tmp_path_factory):
    """Random and ABC-shaped text: parse_abc returns tunes (failed tunes listed) or MusicFileError."""
    path = tmp_path_factory.getbasetemp() / "abc_text" / "tunes.abc"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    call_reader("abc text (parse_abc)", lambda: _read_abc(path), (MusicFileError,), [path])
    result = ns.convert_file(str(path.parent), "tunes.abc")  # the conversion step never raises
    assert result.counters.get(ns.FILES_CONVERTED) + result.counters.get(ns.FILES_SKIPPED) == 1


# --------------------------------------------------------------------------- weight porting


VARIABLE_MUTATIONS = ("missing", "extra", "misshapen", "transposed", "wrong_dtype", "scalar")


@pytest.fixture(scope="module")
def tiny_keras_model():
    import keras

    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(7, name="hidden"), keras.layers.Dense(3, name="logits")], name="tiny"
    )
    return model


def test_weight_porter_missing_extra_misshapen(tiny_keras_model, tmp_path_factory):
    """Foreign checkpoints with missing, extra, misshapen or mistyped variables: PortingError naming the
    checkpoint and every misfit; a complete checkpoint ports exactly."""
    model = tiny_keras_model
    mapping = {v.path: f"foreign/{v.path}" for v in model.weights}
    rng = np.random.RandomState(1)
    reference = {mapping[v.path]: rng.randn(*v.shape).astype(np.float32) for v in model.weights}
    folder = tmp_path_factory.mktemp("porter")

    @fuzz_settings(60)
    @given(
        changes=st.dictionaries(
            st.sampled_from(sorted(reference) + ["foreign/new_variable"]),
            st.sampled_from(VARIABLE_MUTATIONS),
            max_size=3,
        ),
        through_file=st.booleans(),
    )
    def fuzz(changes, through_file):
        foreign = dict(reference)
        missing, misfit, extra = set(), set(), set()
        for name, kind in changes.items():
            if name not in reference or kind == "extra":
                foreign[name + "_extra"] = np.ones(2, np.float32)
                extra.add(name + "_extra")
            elif kind == "missing":
                del foreign[name]
                missing.add(name)
            elif kind == "misshapen":
                foreign[name] = np.zeros(foreign[name].shape + (2,), np.float32)
                misfit.add(name)
            elif kind == "transposed" and foreign[name].ndim == 2:
                foreign[name] = foreign[name].T.copy()
                misfit.add(name)
            elif kind == "wrong_dtype":
                foreign[name] = np.full(foreign[name].shape, b"text", dtype=object) if foreign[name].ndim else b"x"
                misfit.add(name)
            elif kind == "scalar":
                foreign[name] = np.float32(3.0)
                misfit.add(name)
        source = "fuzzed.ckpt"
        if through_file:
            path = folder / "fuzzed.ckpt"
            write_v1_checkpoint(foreign, str(path))
            foreign = read_checkpoint(str(path))
            source = str(path)

        def port():
            porter = WeightPorter(foreign, model.weights, source=source)
            for variable in model.weights:
                porter.port(variable, mapping[variable.path])
            porter.finish()

        _, error = call_reader("WeightPorter (missing/extra/misshapen)", port, (PortingError,), [source])
        if missing:
            assert error is not None and any(m in str(error) for m in missing), (changes, error)
        elif misfit or extra:
            assert error is not None, changes
            for name in misfit | extra:
                assert name in str(error), (name, str(error))
        else:
            assert error is None, error
            for variable in model.weights:
                np.testing.assert_array_equal(np.asarray(variable), reference[mapping[variable.path]])

    fuzz()
