"""NSynth data: the jsonwav format (``examples.json`` + ``audio/<note_str>.wav``) and the
official tf.Example TFRecords, read into one tf.data element layout, ``ELEMENT_SPEC``.

Every reader yields dicts with these keys (scalars have shape ``[]``):

  ===================== ======= ======= =================================================
  key                   dtype   shape   meaning
  ===================== ======= ======= =================================================
  note                  int64   []      unique note id
  note_str              string  []      e.g. ``guitar_acoustic_015-060-025``
  instrument            int64   []      instrument id
  instrument_str        string  []      e.g. ``guitar_acoustic_015``
  instrument_family     int64   []      index into ``FAMILY_NAMES``
  instrument_family_str string  []
  instrument_source     int64   []      0 acoustic, 1 electronic, 2 synthetic
  instrument_source_str string  []
  pitch                 int64   []      MIDI key 0-127
  velocity              int64   []      MIDI velocity 0-127
  sample_rate           int64   []      16000
  qualities             int64   [10]    0/1 flags in ``QUALITY_NAMES`` order
  audio                 float32 [64000] 4 s at 16 kHz, values in [-1, 1)
  ===================== ======= ======= =================================================

In the TFRecords, ``qualities_str`` (the names of the set qualities) is written too; the
readers do not return it since it follows from ``qualities``.

The wav files are 16-bit PCM; ``audio`` is ``int16 / 32768``, exactly as soundfile reads it.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Iterator, Optional, Union

import numpy as np

from pipelines.errors import InputError, MetadataError
from pipelines.tfrecord_io import Counters, check_records, tfrecord_dataset
from tfmusic.audio import AudioFileError, read_wav

SAMPLE_RATE = 16000
NUM_SAMPLES = 64000
NUM_QUALITIES = 10
FAMILY_NAMES = (
    "bass",
    "brass",
    "flute",
    "guitar",
    "keyboard",
    "mallet",
    "organ",
    "reed",
    "string",
    "synth_lead",
    "vocal",
)
SOURCE_NAMES = ("acoustic", "electronic", "synthetic")
QUALITY_NAMES = (
    "bright",
    "dark",
    "distortion",
    "fast_decay",
    "long_release",
    "multiphonic",
    "nonlinear_env",
    "percussive",
    "reverb",
    "tempo-synced",
)
# GANSynth trains on the acoustic notes with pitches 24-84 (61 classes).
GANSYNTH_MIN_PITCH = 24
GANSYNTH_MAX_PITCH = 84

INT_KEYS = ("note", "instrument", "instrument_family", "instrument_source", "pitch", "velocity", "sample_rate")
STR_KEYS = ("note_str", "instrument_str", "instrument_family_str", "instrument_source_str")
# Every key of an NSynth examples.json entry.
METADATA_KEYS = INT_KEYS + STR_KEYS + ("qualities", "qualities_str")


def _element_spec():
    import tensorflow as tf

    spec = {k: tf.TensorSpec([], tf.int64) for k in INT_KEYS}
    spec.update({k: tf.TensorSpec([], tf.string) for k in STR_KEYS})
    spec["qualities"] = tf.TensorSpec([NUM_QUALITIES], tf.int64)
    spec["audio"] = tf.TensorSpec([NUM_SAMPLES], tf.float32)
    return spec


def __getattr__(name):  # ELEMENT_SPEC / FEATURE_SPEC are built on first use (they import TF)
    if name == "ELEMENT_SPEC":
        return _element_spec()
    if name == "FEATURE_SPEC":
        return feature_spec()
    raise AttributeError(name)


def feature_spec() -> dict:
    """``tf.io.parse_example`` features of the official NSynth TFRecords (as read here)."""
    import tensorflow as tf

    spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in INT_KEYS}
    spec.update({k: tf.io.FixedLenFeature([], tf.string) for k in STR_KEYS})
    spec["qualities"] = tf.io.FixedLenFeature([NUM_QUALITIES], tf.int64)
    spec["audio"] = tf.io.FixedLenFeature([NUM_SAMPLES], tf.float32)
    return spec


# --------------------------------------------------------------------------- metadata


def qualities_to_str(qualities) -> list[str]:
    """Names of the set flags of a 10-vector of 0/1 qualities, in NSynth's order."""
    return [name for name, q in zip(QUALITY_NAMES, qualities) if int(q)]


def load_examples_json(path: Union[str, os.PathLike]) -> dict:
    """Reads an NSynth ``examples.json``: ``{note_str: metadata dict}``.

    Raises:
      InputError: the file is missing, unreadable, not JSON (or nested too deep), or not a JSON object.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise InputError(path, "examples.json not found")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(path, f"cannot read file ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise InputError(path, f"not valid JSON ({e})") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, too many digits, nesting too deep
        raise InputError(path, f"not valid JSON ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(data, dict):
        raise InputError(path, f"expected a JSON object keyed by note_str, got {type(data).__name__}")
    return data


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_plain_name(name: str) -> bool:
    """Whether ``audio/<name>.wav`` stays inside ``audio/``: no separators, NUL, ``.`` or ``..``."""
    return name not in ("", ".", "..") and not any(c in name for c in ("/", "\\", "\x00"))


def _check_int(note_str, entry, key, low, high):
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise MetadataError(note_str, f"{key} must be an integer, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise MetadataError(note_str, f"{key}={value} is outside {low}..{high}")
    return value


def validate_metadata(note_str: str, entry, any_sample_rate: bool = False) -> dict:
    """Checks one ``examples.json`` entry and returns it with plain Python values.

    Args:
      note_str: the entry's key in examples.json.
      entry: its value.
      any_sample_rate: accept a ``sample_rate`` other than 16000 (the wav is resampled to 16 kHz
        when read, see :func:`load_audio_for`); the returned ``sample_rate`` is then 16000.

    Returns:
      dict with every key of ``METADATA_KEYS``.

    Raises:
      MetadataError: naming the note and the problem (missing key, wrong type, value
        out of range, name that disagrees with its index, sample rate not 16000, a string
        that is not valid Unicode, a note_str that is not a plain file name, ...).
    """
    if not isinstance(entry, dict):
        raise MetadataError(note_str, f"entry must be a JSON object, got {type(entry).__name__}")
    missing = [k for k in METADATA_KEYS if k not in entry]
    if missing:
        raise MetadataError(note_str, f"missing key(s) {', '.join(missing)}")
    meta = {}
    for key in ("note", "instrument"):
        meta[key] = _check_int(note_str, entry, key, 0, 2**62)
    meta["instrument_family"] = _check_int(note_str, entry, "instrument_family", 0, len(FAMILY_NAMES) - 1)
    meta["instrument_source"] = _check_int(note_str, entry, "instrument_source", 0, len(SOURCE_NAMES) - 1)
    meta["pitch"] = _check_int(note_str, entry, "pitch", 0, 127)
    meta["velocity"] = _check_int(note_str, entry, "velocity", 0, 127)
    meta["sample_rate"] = _check_int(note_str, entry, "sample_rate", 1, 10**6)
    if any_sample_rate:
        meta["sample_rate"] = SAMPLE_RATE
    elif meta["sample_rate"] != SAMPLE_RATE:
        raise MetadataError(note_str, f"sample_rate is {meta['sample_rate']}, expected {SAMPLE_RATE}")
    for key in STR_KEYS:
        if not isinstance(entry[key], str):
            raise MetadataError(note_str, f"{key} must be a string, got {type(entry[key]).__name__}")
        if not _is_unicode(entry[key]):
            raise MetadataError(note_str, f"{key} {entry[key]!r} is not valid Unicode (lone surrogate)")
        meta[key] = entry[key]
    if meta["note_str"] != note_str:
        raise MetadataError(note_str, f"note_str {meta['note_str']!r} differs from its key")
    if not _is_plain_name(note_str):
        raise MetadataError(note_str, f"note_str {note_str!r} is not a plain file name (it names audio/<note_str>.wav)")
    if meta["instrument_family_str"] != FAMILY_NAMES[meta["instrument_family"]]:
        raise MetadataError(
            note_str,
            f"instrument_family_str {meta['instrument_family_str']!r} does not "
            f"match instrument_family {meta['instrument_family']}",
        )
    if meta["instrument_source_str"] != SOURCE_NAMES[meta["instrument_source"]]:
        raise MetadataError(
            note_str,
            f"instrument_source_str {meta['instrument_source_str']!r} does not "
            f"match instrument_source {meta['instrument_source']}",
        )
    qualities = entry["qualities"]
    if (
        not isinstance(qualities, list)
        or len(qualities) != NUM_QUALITIES
        or any(isinstance(q, bool) or q not in (0, 1) for q in qualities)
    ):
        raise MetadataError(note_str, f"qualities must be a list of {NUM_QUALITIES} 0/1 integers, got {qualities!r}")
    meta["qualities"] = [int(q) for q in qualities]
    if entry["qualities_str"] != qualities_to_str(qualities):
        raise MetadataError(note_str, f"qualities_str {entry['qualities_str']!r} does not match qualities")
    meta["qualities_str"] = list(entry["qualities_str"])
    return meta


def keep_note(
    meta: dict, acoustic_only: bool = False, min_pitch: Optional[int] = None, max_pitch: Optional[int] = None
) -> bool:
    """Whether a note's metadata passes the filters (pitch bounds inclusive)."""
    if acoustic_only and meta["instrument_source"] != 0:
        return False
    if min_pitch is not None and meta["pitch"] < min_pitch:
        return False
    if max_pitch is not None and meta["pitch"] > max_pitch:
        return False
    return True


# --------------------------------------------------------------------------- elements


def make_element(meta: dict, audio: np.ndarray) -> dict:
    """One reader element (numpy) from validated metadata and float32 audio ``[64000]``.

    Strings are ``bytes``, scalars ``np.int64``: the same values and types that
    ``dataset.as_numpy_iterator()`` yields.
    """
    element = {k: np.int64(meta[k]) for k in INT_KEYS}
    element.update({k: meta[k].encode("utf-8") for k in STR_KEYS})
    element["qualities"] = np.asarray(meta["qualities"], dtype=np.int64)
    element["audio"] = np.asarray(audio, dtype=np.float32)
    return element


def load_note(root: Union[str, os.PathLike], note_str: str, entry) -> dict:
    """Validates one examples.json entry and reads its wav into an element.

    Args:
      root: the jsonwav folder (holding ``audio/``).
      note_str: the entry's key; entry: its value.

    Returns:
      an element (see ``make_element``).

    Raises:
      MetadataError, AudioFileError: the entry or its wav is bad (the message names it).
    """
    meta = validate_metadata(note_str, entry)
    return load_audio_for(root, meta)


def load_audio_for(root: Union[str, os.PathLike], meta: dict, resample: bool = False, mono: bool = False) -> dict:
    """Reads ``audio/<note_str>.wav`` (16 kHz, mono, 64000 samples) for validated metadata.

    Args:
      root: the jsonwav folder.
      meta: from :func:`validate_metadata`.
      resample: accept a wav at another sample rate and resample it to 16 kHz with soxr
        (``tfmusic.audio.resample``); it must then last 4 s, i.e. 64000 samples after resampling.
      mono: accept a multi-channel wav and average its channels.

    Raises:
      AudioFileError: missing or unreadable wav, or one of the wrong rate, channel count or length.
    """
    from tfmusic.audio import resample as resample_audio

    wav = pathlib.Path(root) / "audio" / f"{meta['note_str']}.wav"
    audio, rate = read_wav(
        wav,
        expected_sample_rate=None if resample else SAMPLE_RATE,
        expected_num_samples=None if resample else NUM_SAMPLES,
        expected_channels=None if mono else 1,
    )
    if rate != SAMPLE_RATE:
        audio = resample_audio(audio, rate, SAMPLE_RATE)
        if len(audio) != NUM_SAMPLES:
            raise AudioFileError(
                wav,
                f"has {len(audio)} samples after resampling from {rate} Hz to {SAMPLE_RATE} Hz, expected {NUM_SAMPLES}",
            )
        audio = np.clip(audio, -1.0, 1.0 - 1.0 / 32768).astype(np.float32, copy=False)
    elif len(audio) != NUM_SAMPLES:
        raise AudioFileError(wav, f"has {len(audio)} samples, expected {NUM_SAMPLES}")
    return make_element(meta, audio)


def iter_jsonwav_dir(
    path: Union[str, os.PathLike],
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    skip_bad: bool = False,
    counters: Optional[Counters] = None,
) -> Iterator[dict]:
    """Yields the notes of an NSynth jsonwav folder as dicts of numpy, sorted by note_str.

    Args:
      path: folder with ``examples.json`` and ``audio/<note_str>.wav``.
      acoustic_only, min_pitch, max_pitch: filters (pitch bounds inclusive), applied
        before the wav is read.
      skip_bad: skip notes with bad metadata or a missing/corrupt wav (recorded in
        ``counters``) instead of raising.
      counters: optional; gets ``read``, ``filtered_out`` counts and skipped notes.

    Yields:
      elements as described in the module docstring (see ``make_element``).

    Raises:
      InputError / MetadataError / AudioFileError naming the bad file or entry (unless
      ``skip_bad``).
    """
    counters = counters if counters is not None else Counters()
    examples = load_examples_json(pathlib.Path(path) / "examples.json")
    for note_str in sorted(examples):
        try:
            meta = validate_metadata(note_str, examples[note_str])
            if not keep_note(meta, acoustic_only, min_pitch, max_pitch):
                counters.increment("filtered_out")
                continue
            element = load_audio_for(path, meta)
        except (InputError, AudioFileError) as e:
            if not skip_bad:
                raise
            counters.skip(note_str, e.problem)
            continue
        counters.increment("read")
        yield element


def read_jsonwav_dir(
    path: Union[str, os.PathLike],
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    skip_bad: bool = False,
):
    """A ``tf.data.Dataset`` of the notes of an NSynth jsonwav folder (``ELEMENT_SPEC``).

    Same arguments and order as ``iter_jsonwav_dir`` (which gives the same elements as
    plain numpy dicts). ``examples.json`` is checked now; wavs are read while iterating.
    """
    import tensorflow as tf

    load_examples_json(pathlib.Path(path) / "examples.json")  # fail now, naming the file
    path = os.fspath(path)

    def generator():
        yield from iter_jsonwav_dir(path, acoustic_only, min_pitch, max_pitch, skip_bad)

    return tf.data.Dataset.from_generator(generator, output_signature=_element_spec())


# --------------------------------------------------------------------------- checking data before use


def check_jsonwav_dir(
    path: Union[str, os.PathLike],
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
) -> int:
    """Checks that ``path`` is an NSynth jsonwav folder with a usable note; returns its number of entries.

    Reads ``examples.json`` and the wavs of its notes in order until one passes the filters and
    reads as 16 kHz mono 64000 samples (usually the first).

    Raises:
      InputError: naming the folder or file: missing, a file rather than a folder, no or an
        unreadable ``examples.json``, no notes listed, or none of them usable (with the first reason).
    """
    root = pathlib.Path(path)
    if not root.exists():
        raise InputError(root, "no such folder")
    if not root.is_dir():
        raise InputError(root, "is a file, not an NSynth jsonwav folder (examples.json + audio/)")
    if not (root / "examples.json").is_file():
        raise InputError(root, "holds no examples.json: not an NSynth jsonwav folder (examples.json + audio/)")
    examples = load_examples_json(root / "examples.json")
    if not examples:
        raise InputError(root / "examples.json", "lists no notes")
    first_problem, filtered = None, 0
    for note_str in sorted(examples):
        try:
            meta = validate_metadata(note_str, examples[note_str])
            if not keep_note(meta, acoustic_only, min_pitch, max_pitch):
                filtered += 1
                continue
            load_audio_for(root, meta)
            return len(examples)
        except (InputError, AudioFileError) as e:
            first_problem = first_problem or f"{note_str}: {e.problem}"
    if first_problem is None:
        bounds = f"pitches {'' if min_pitch is None else min_pitch}..{'' if max_pitch is None else max_pitch}"
        raise InputError(
            root,
            f"none of its {len(examples)} notes passes the filters ({bounds}"
            f"{', acoustic only' if acoustic_only else ''})",
        )
    raise InputError(
        root, f"none of its {len(examples)} notes is usable ({filtered} filtered out; first problem: {first_problem})"
    )


def _nsynth_record_problem(record: bytes) -> Optional[str]:
    from google.protobuf.message import DecodeError
    from tensorflow.core.example import example_pb2

    try:
        example = example_pb2.Example.FromString(record)
    except DecodeError:
        return "its first record is not a tf.Example (not NSynth TFRecords)"
    features = example.features.feature
    missing = [k for k in ("audio", "pitch") if k not in features]
    if missing:
        return f"its first record has no {' or '.join(missing)} feature (not NSynth TFRecords)"
    return None


def check_nsynth_data(path: str, min_pitch: Optional[int] = None, max_pitch: Optional[int] = None) -> str:
    """Checks NSynth training data before use: an NSynth jsonwav folder (see :func:`check_jsonwav_dir`;
    a usable note within the pitch bounds) or NSynth tf.Example TFRecords (a file, glob or sharded name;
    see :func:`pipelines.tfrecord_io.check_records`). Returns ``"jsonwav"`` or ``"tfrecord"``.

    Raises:
      InputError: naming the file or folder and the problem.
    """
    path = os.fspath(path)
    if "://" not in path and os.path.isdir(path):
        check_jsonwav_dir(path, min_pitch=min_pitch, max_pitch=max_pitch)
        return "jsonwav"
    check_records(path, validate=_nsynth_record_problem)
    return "tfrecord"


# --------------------------------------------------------------------------- tf.Example


def to_tf_example(element: dict):
    """A ``tf.train.Example`` in the official NSynth schema from an element.

    Args:
      element: dict as yielded by the readers (numpy or Python values).

    Returns:
      tf.train.Example with int64 features note, instrument, instrument_family,
      instrument_source, pitch, velocity, sample_rate, qualities [10]; bytes features
      note_str, instrument_str, instrument_family_str, instrument_source_str,
      qualities_str [k]; float feature audio [64000].
    """
    import tensorflow as tf

    def _bytes(v):
        return v if isinstance(v, bytes) else str(v).encode("utf-8")

    feature = {}
    for k in INT_KEYS:
        feature[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(element[k])]))
    for k in STR_KEYS:
        feature[k] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[_bytes(element[k])]))
    qualities = [int(q) for q in np.asarray(element["qualities"]).reshape(-1)]
    feature["qualities"] = tf.train.Feature(int64_list=tf.train.Int64List(value=qualities))
    feature["qualities_str"] = tf.train.Feature(
        bytes_list=tf.train.BytesList(value=[q.encode("utf-8") for q in qualities_to_str(qualities)])
    )
    audio = np.asarray(element["audio"], dtype=np.float32).reshape(-1)
    feature["audio"] = tf.train.Feature(float_list=tf.train.FloatList(value=audio))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def serialize_example(element: dict) -> bytes:
    """``to_tf_example(element)`` serialized deterministically (sorted feature map)."""
    return to_tf_example(element).SerializeToString(deterministic=True)


def parse_examples(serialized):
    """Parses a batch of serialized NSynth tf.Examples ``[batch]`` into ``ELEMENT_SPEC``
    tensors with a leading batch dimension (``tf.io.parse_example``)."""
    import tensorflow as tf

    return tf.io.parse_example(serialized, feature_spec())


def read_tfrecords(
    file_pattern,
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    compression: Optional[str] = None,
    parse_batch_size: int = 64,
):
    """A ``tf.data.Dataset`` (``ELEMENT_SPEC``) of NSynth tf.Example TFRecords.

    Args:
      file_pattern: glob pattern or list of patterns of TFRecord files (official
        ``nsynth-train.tfrecord`` or shards written by ``nsynth_to_tfrecord``); files are
        read in sorted order.
      acoustic_only, min_pitch, max_pitch: filters (pitch bounds inclusive).
      compression: ``None``, ``"GZIP"`` or ``"ZLIB"``.
      parse_batch_size: records parsed per ``tf.io.parse_example`` call.

    Raises:
      FileNotFoundError: nothing matches the pattern.
    """
    import tensorflow as tf

    ds = tfrecord_dataset(file_pattern, compression)
    ds = (
        ds.batch(parse_batch_size)
        .map(parse_examples, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .unbatch()
    )
    return apply_filters(ds, acoustic_only, min_pitch, max_pitch)


# --------------------------------------------------------------------------- filters


def filter_acoustic(ds):
    """Keeps the notes with ``instrument_source == 0`` (acoustic)."""
    return ds.filter(lambda x: x["instrument_source"] == 0)


def filter_pitch(ds, min_pitch: Optional[int] = GANSYNTH_MIN_PITCH, max_pitch: Optional[int] = GANSYNTH_MAX_PITCH):
    """Keeps the notes with ``min_pitch <= pitch <= max_pitch`` (``None``: unbounded)."""
    import tensorflow as tf

    def keep(x):
        ok = tf.constant(True)
        if min_pitch is not None:
            ok = tf.logical_and(ok, x["pitch"] >= min_pitch)
        if max_pitch is not None:
            ok = tf.logical_and(ok, x["pitch"] <= max_pitch)
        return ok

    return ds.filter(keep)


def apply_filters(ds, acoustic_only: bool = False, min_pitch: Optional[int] = None, max_pitch: Optional[int] = None):
    """Applies ``filter_acoustic`` and ``filter_pitch`` as requested (no-op when unset)."""
    if acoustic_only:
        ds = filter_acoustic(ds)
    if min_pitch is not None or max_pitch is not None:
        ds = filter_pitch(ds, min_pitch, max_pitch)
    return ds


def gansynth_subset(ds):
    """GANSynth's training subset: acoustic notes with pitch 24-84."""
    return apply_filters(ds, True, GANSYNTH_MIN_PITCH, GANSYNTH_MAX_PITCH)
