"""Music Transformer training data: NoteSequence TFRecords -> tf.Examples of event ids -> tf.data.

What ``music_transformer_create_dataset`` does to each input NoteSequence, following Magenta's
``score2perf`` datagen (``datagen_beam.py`` + the problems of ``score2perf.py``):

1. split: ``train`` / ``eval`` / ``test``, either given per input pattern (pre-split data, as
   MAESTRO is) or chosen from an md5 hash of the sequence id (score2perf's ``select_split``), so
   a piece always lands in the same split whatever else is in the run;
2. notes outside pitches 21..108 are dropped; the sustain pedal (CC 64) is applied to note ends
   and control changes are dropped;
3. ``melody_conditioned`` only: the sequence is cut at random hop times into 5..30 s segments
   (10 random cuttings per sequence in ``train``, 1 elsewhere; sequences under 5 s are skipped),
   and the melody of each segment is inferred (note-seq's melody HMM): ``inputs`` = the melody
   (92-id absolute melody encoding, 10 steps/s), ``targets`` = the whole performance segment;
4. ``train`` only: every segment is augmented by each time stretch (0.95, 0.975, 1.0, 1.025,
   1.05) x each transposition (-3..+3 semitones), 35 variants; a variant whose transposition
   would push a note out of 21..108 is dropped (not clipped), as score2perf does;
5. encoding to the 310-id performance vocabulary; EOS is appended where the problem does
   (``melody_conditioned``: yes; ``unconditional``: no, as ``score2perf_maestro_language_uncropped_aug``);
6. length: ``unconditional`` ``train`` sequences longer than ``max_length`` are cropped at a
   random offset (score2perf's ``random_crop_length_in_datagen``); ``eval``/``test`` ones are cut
   into consecutive ``max_length`` pieces plus the remainder (score2perf's ``split_in_eval``);
   ``max_length=0`` keeps them whole, for cropping at read time (``make_dataset(random_crop=True)``,
   score2perf's ``random_crop_in_train``). ``melody_conditioned`` targets are truncated to
   ``max_length`` (what t2t's ``preprocess_example_common`` does at read time).

Randomness (hop times, crop offsets) comes from ``random.Random(md5(sequence id))``, consumed in a
fixed order, so the local writer and the Beam pipeline (``beam_pipeline.py``) produce the same
multiset of records. Records: ``tf.train.Example`` with int64 lists ``targets`` (+ ``inputs``),
in ``OUTPUT_DIR/<split>-IIIII-of-NNNNN.tfrecord``; per-stage counts and the skipped inputs go to
``OUTPUT_DIR/summary.json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import random
from typing import Iterable, Mapping, Optional, Sequence, Union

from music_transformer_ext import encoding
from pipelines import note_sequence_io
from pipelines.errors import InputError
from pipelines.tfrecord_io import Counters, ShardedTFRecordWriter, atomic_write_json, list_files

UNCONDITIONAL = "unconditional"
MELODY_CONDITIONED = "melody_conditioned"
PROBLEMS = (UNCONDITIONAL, MELODY_CONDITIONED)
SPLITS = ("train", "eval", "test")
SUMMARY_NAME = "summary.json"

# score2perf's augmentation: "stretch by -5%, -2.5%, 0%, 2.5%, and 5%", "no more than a minor third".
STRETCH_FACTORS = (0.95, 0.975, 1.0, 1.025, 1.05)
TRANSPOSE_AMOUNTS = (-3, -2, -1, 0, 1, 2, 3)


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """How NoteSequences become training examples (defaults: score2perf's unconditional problem).

    Attributes:
      problem: ``unconditional`` (targets only) or ``melody_conditioned`` (melody inputs).
      max_length: target length in events (see the module doc for what happens per split);
        0 keeps full sequences.
      stretch_factors, transpose_amounts: ``train`` augmentation (product of both).
      split_fractions: ``(name, fraction)`` pairs for hash splitting un-split input; sum 1.
      add_eos: append EOS to targets.
      min_hop_seconds, max_hop_seconds: segment lengths for the melody-conditioned problem
        (0, 0 = no segmentation).
      num_replications: random segmentations per ``train`` sequence.
      max_input_length: truncate ``inputs`` to this many ids (0 = keep).
    """

    problem: str = UNCONDITIONAL
    max_length: int = 2048
    stretch_factors: tuple[float, ...] = STRETCH_FACTORS
    transpose_amounts: tuple[int, ...] = TRANSPOSE_AMOUNTS
    split_fractions: tuple[tuple[str, float], ...] = (("train", 0.8), ("eval", 0.1), ("test", 0.1))
    add_eos: bool = False
    min_hop_seconds: float = 0.0
    max_hop_seconds: float = 0.0
    num_replications: int = 1
    max_input_length: int = 0

    def __post_init__(self):
        if self.problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {PROBLEMS}, got {self.problem!r}")
        if self.max_length < 0 or self.max_input_length < 0:
            raise ValueError("max_length and max_input_length must be >= 0")
        if not self.stretch_factors or any(s <= 0 for s in self.stretch_factors):
            raise ValueError(f"stretch_factors must be positive, got {self.stretch_factors}")
        if not self.transpose_amounts:
            raise ValueError("transpose_amounts must not be empty")
        names = [n for n, _ in self.split_fractions]
        if not set(names) <= set(SPLITS) or len(set(names)) != len(names):
            raise ValueError(f"split names must be distinct and among {SPLITS}, got {names}")
        if abs(sum(f for _, f in self.split_fractions) - 1.0) > 1e-9 or any(f < 0 for _, f in self.split_fractions):
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {self.split_fractions}")
        if self.num_replications < 1:
            raise ValueError("num_replications must be >= 1")
        if (
            self.max_hop_seconds
            and self.max_hop_seconds != self.min_hop_seconds
            and self.max_hop_seconds < 2 * self.min_hop_seconds
        ):
            raise ValueError("max_hop_seconds must be at least twice min_hop_seconds")
        if self.problem == MELODY_CONDITIONED and not self.max_hop_seconds:
            raise ValueError("the melody-conditioned problem needs segments (max_hop_seconds > 0)")

    @property
    def has_inputs(self) -> bool:
        """True when records carry ``inputs`` (the melody)."""
        return self.problem == MELODY_CONDITIONED


def unconditional_config(**overrides) -> DatasetConfig:
    """score2perf_maestro_language_uncropped_aug: whole pieces, no EOS, 35 augmentations."""
    return dataclasses.replace(DatasetConfig(), **overrides)


def melody_conditioned_config(**overrides) -> DatasetConfig:
    """score2perf_maestro_absmel2perf_5s_to_30s_aug10x: 5..30 s segments, 10 replications,
    EOS on targets, melody inputs."""
    base = DatasetConfig(
        problem=MELODY_CONDITIONED, add_eos=True, min_hop_seconds=5.0, max_hop_seconds=30.0, num_replications=10
    )
    return dataclasses.replace(base, **overrides)


def config_for_problem(problem: str, **overrides) -> DatasetConfig:
    """The default config of ``problem`` with ``overrides`` (DatasetConfig field values)."""
    if problem == UNCONDITIONAL:
        return unconditional_config(**overrides)
    if problem == MELODY_CONDITIONED:
        return melody_conditioned_config(**overrides)
    raise ValueError(f"problem must be one of {PROBLEMS}, got {problem!r}")


# --------------------------------------------------------------------------- stages


def _md5_int(text: str) -> int:
    return int(hashlib.md5(text.encode("utf-8")).hexdigest(), 16)


def assign_split(key: str, split_fractions: Sequence[tuple[str, float]]) -> str:
    """The split of a sequence with id ``key``: md5(key) as a number in [0, 1) against the
    cumulative fractions (score2perf's ``select_split``)."""
    r = _md5_int(key) / 2.0**128
    total = 0.0
    for name, fraction in split_fractions:
        total += fraction
        if r < total:
            return name
    return split_fractions[-1][0]


def record_name(path: str, data: bytes) -> str:
    """How an input record is named in counters: its file and a digest of its bytes."""
    return f"{path} record sha1:{hashlib.sha1(data).hexdigest()[:12]}"


def parse_note_sequence(path: str, data: bytes):
    """Serialized NoteSequence -> ``(key, NoteSequence)``; the key is the sequence id, or a digest
    of the bytes when the id is empty.

    Raises:
      InputError: the bytes are not a NoteSequence (named by file and digest).
    """
    ns = note_sequence_io.parse_note_sequence(data, record_name(path, data))
    key = ns.id or f"sha1:{hashlib.sha1(data).hexdigest()}"
    return key, ns


def filter_invalid_notes(
    ns, counters: Counters, min_pitch: int = encoding.MIN_PITCH, max_pitch: int = encoding.MAX_PITCH
):
    """Drops notes outside ``[min_pitch, max_pitch]`` (in place); counts affected sequences and notes."""
    kept = [n for n in ns.notes if min_pitch <= n.pitch <= max_pitch]
    dropped = len(ns.notes) - len(kept)
    if dropped:
        del ns.notes[:]
        ns.notes.extend(kept)
        counters.increment("filter_invalid_notes.sequences_with_out_of_range_pitch")
        counters.increment("filter_invalid_notes.notes_dropped", dropped)
    return ns


def apply_sustain(ns):
    """Note ends extended by the sustain pedal (CC 64), control changes removed (a new proto)."""
    from note_seq import sequences_lib

    out = sequences_lib.apply_sustain_control_changes(ns)
    del out.control_changes[:]
    return out


def random_hop_times(total_time: float, min_hop: float, max_hop: float, rng: random.Random) -> list[float]:
    """Split times (seconds, excluding 0 and the end) cutting ``[0, total_time]`` into segments of
    ``min_hop .. max_hop`` seconds, drawn from ``rng`` (score2perf's rule: the last segment takes
    the remainder, which is at least ``min_hop``)."""
    if min_hop == max_hop:
        return [t * max_hop for t in range(1, int(total_time // max_hop) + 1) if t * max_hop < total_time]
    times = [0.0]
    while times[-1] <= total_time - min_hop:
        if times[-1] + max_hop < total_time:
            high = min(max_hop, total_time - min_hop - times[-1])
        else:
            high = max_hop
        times.append(times[-1] + rng.uniform(min_hop, high))
    return times[1:-1]


def segments_of(ns, config: DatasetConfig, replications: int, rng: random.Random) -> list:
    """The sequences to encode: ``ns`` itself, or its random hop segments (each starting at 0 s)."""
    if not config.max_hop_seconds:
        return [ns] * replications
    from note_seq import sequences_lib

    out = []
    for _ in range(replications):
        hops = random_hop_times(ns.total_time, config.min_hop_seconds, config.max_hop_seconds, rng)
        out.extend(sequences_lib.split_note_sequence(ns, hops) if hops else [ns])
    return out


def augment(ns, stretch: float, transpose: int):
    """Time-stretched and transposed copy of ``ns``, or None when the transposition would move a
    note out of 21..108 (or cannot transpose a chord symbol)."""
    from note_seq import chord_symbols_lib, sequences_lib

    out = sequences_lib.stretch_note_sequence(ns, stretch, in_place=False) if stretch != 1.0 else ns
    if transpose == 0:
        return out
    try:
        out, deleted = sequences_lib.transpose_note_sequence(
            out, transpose, min_allowed_pitch=encoding.MIN_PITCH, max_allowed_pitch=encoding.MAX_PITCH, in_place=False
        )
    except chord_symbols_lib.ChordSymbolError:
        return None
    return None if deleted else out


def crop_targets(ids: list[int], max_length: int, split: str, rng: random.Random) -> list[list[int]]:
    """``train``: one crop of ``max_length`` ids at a uniform random offset (whole if shorter);
    other splits: consecutive ``max_length`` pieces and the remainder; ``max_length=0``: ``[ids]``."""
    if not max_length or len(ids) <= max_length:
        return [ids]
    if split == "train":
        offset = rng.randrange(len(ids) - max_length + 1)
        return [ids[offset : offset + max_length]]
    return [ids[i : i + max_length] for i in range(0, len(ids), max_length)]


def make_example(targets: Sequence[int], inputs: Optional[Sequence[int]] = None) -> bytes:
    """A serialized ``tf.train.Example`` with int64 lists ``targets`` (and ``inputs``)."""
    import tensorflow as tf

    feature = {"targets": tf.train.Feature(int64_list=tf.train.Int64List(value=list(targets)))}
    if inputs is not None:
        feature["inputs"] = tf.train.Feature(int64_list=tf.train.Int64List(value=list(inputs)))
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_example(data: bytes) -> dict:
    """Serialized example -> ``{"targets": [ids], "inputs": [ids]?}`` (Python lists)."""
    import tensorflow as tf

    ex = tf.train.Example.FromString(data)
    return {k: list(v.int64_list.value) for k, v in ex.features.feature.items()}


def example_problem(record: bytes, has_inputs: bool = False) -> Optional[str]:
    """What keeps ``record`` from being a training example of ``music_transformer_create_dataset``
    (a ``tf.train.Example`` with int64 ``targets``, and ``inputs`` when ``has_inputs``); None when it is one."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.example import example_pb2

    hint = " (NoteSequences? music_transformer_create_dataset makes training examples from them)"
    try:
        features = example_pb2.Example.FromString(record).features.feature
    except DecodeError:
        return "its first record is not a tf.Example" + hint
    wanted = ("targets", "inputs") if has_inputs else ("targets",)
    missing = [k for k in wanted if k not in features or features[k].WhichOneof("kind") != "int64_list"]
    if missing:
        return f"its first record has no int64 {' or '.join(missing)} feature" + hint
    return None


# --------------------------------------------------------------------------- one sequence


@dataclasses.dataclass
class ProcessResult:
    """What one input record gave: ``(split, record_key, serialized example)`` triples and counts."""

    records: list
    counters: Counters


def process_note_sequence(key: str, ns, split: str, config: DatasetConfig) -> ProcessResult:
    """All stages for one parsed NoteSequence of a known split (deterministic in ``key``).

    Args:
      key: the sequence id (seeds the random hop times and crops).
      ns: the NoteSequence (not modified).
      split: ``train`` (augmentation, replication, random crop) or ``eval`` / ``test``.
      config: the DatasetConfig.

    Returns:
      ProcessResult; sequences that give nothing are recorded with ``counters.skip``.
    """
    from note_seq.melody_inference import MelodyInferenceError

    counters = Counters()
    rng = random.Random(_md5_int(key))
    counters.increment(f"split.{split}")
    is_train = split == "train"
    work = type(ns)()
    work.CopyFrom(ns)
    filter_invalid_notes(work, counters)
    if not work.notes:
        counters.skip(key, "no notes with pitch in 21..108")
        return ProcessResult([], counters)
    work = apply_sustain(work)
    if config.min_hop_seconds and work.total_time < config.min_hop_seconds:
        counters.skip(key, f"shorter ({work.total_time:.2f} s) than the minimum segment ({config.min_hop_seconds:g} s)")
        return ProcessResult([], counters)

    perf_encoder = encoding.PerformanceEncoder(add_eos=config.add_eos)
    mel_encoder = encoding.MelodyEncoder() if config.has_inputs else None
    variants = list(itertools.product(config.stretch_factors, config.transpose_amounts)) if is_train else [(1.0, 0)]
    segments = segments_of(work, config, config.num_replications if is_train else 1, rng)
    counters.increment("extract.segments", len(segments))
    records = []
    for seg_index, segment in enumerate(segments):
        melody = None
        if config.has_inputs:
            if not segment.notes:
                counters.increment("extract.empty_segment")
                continue
            try:
                melody, segment = encoding.extract_melody(segment)
            except MelodyInferenceError:
                counters.increment("extract.melody_inference_failed")
                continue
        for stretch, transpose in variants:
            performance = augment(segment, stretch, transpose)
            if performance is None:
                counters.increment("augment.out_of_range_pitch")
                continue
            targets = perf_encoder.encode_note_sequence(performance)
            if len(targets) <= int(config.add_eos):
                counters.increment("encode.empty_targets")
                continue
            base = f"{key}|{seg_index}|{stretch!r}|{transpose}"
            if melody is not None:
                melody_variant = augment(melody, stretch, transpose)
                inputs = mel_encoder.encode_note_sequence(melody_variant) if melody_variant is not None else []
                if not inputs:
                    counters.increment("encode.empty_inputs")
                    continue
                if config.max_input_length and len(inputs) > config.max_input_length:
                    inputs = inputs[: config.max_input_length]
                    counters.increment("truncate.inputs")
                if config.max_length and len(targets) > config.max_length:
                    targets = targets[: config.max_length]
                    counters.increment("truncate.targets")
                records.append((split, base, make_example(targets, inputs)))
            else:
                pieces = crop_targets(targets, config.max_length, split, rng)
                if len(targets) > config.max_length > 0:
                    counters.increment("crop.random_crops" if is_train else "crop.eval_pieces", len(pieces))
                for i, piece in enumerate(pieces):
                    records.append((split, f"{base}|{i}", make_example(piece)))
    counters.increment(f"examples.{split}", len(records))
    if not records:
        counters.skip(key, "no example survived augmentation and encoding")
    return ProcessResult(records, counters)


def process_record(path: str, data: bytes, split: Optional[str], config: DatasetConfig) -> ProcessResult:
    """Parses one serialized NoteSequence, picks its split (``split`` if given, else by hash) and
    runs ``process_note_sequence``. Unparsable records are skipped and named, not raised."""
    counters = Counters()
    counters.increment("read.records")
    try:
        key, ns = parse_note_sequence(path, data)
    except InputError as e:
        counters.skip(e.name, e.problem)
        return ProcessResult([], counters)
    split = split or assign_split(key, config.split_fractions)
    result = process_note_sequence(key, ns, split, config)
    return ProcessResult(result.records, counters.merge(result.counters))


# --------------------------------------------------------------------------- local writer


def resolve_inputs(inputs: Union[str, Sequence[str], Mapping[str, str]]) -> list[tuple[Optional[str], str]]:
    """Input spec -> sorted ``(split or None, file)`` pairs.

    Args:
      inputs: a glob pattern (or list of them) of NoteSequence TFRecords, hash-split; or a
        mapping ``{split: pattern}`` for pre-split data.

    Raises:
      FileNotFoundError: a pattern matches nothing. ValueError: an unknown split name.
    """
    if isinstance(inputs, Mapping):
        pairs = []
        for split, pattern in inputs.items():
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
            pairs.extend((split, f) for f in list_files(pattern))
        return sorted(pairs, key=lambda p: (p[1], p[0]))
    return [(None, f) for f in list_files(inputs)]


def output_splits(inputs, config: DatasetConfig) -> list[str]:
    """The splits that get shards: those named in a pre-split spec, else those of the config."""
    if isinstance(inputs, Mapping):
        return [s for s in SPLITS if s in inputs]
    return [n for n, _ in config.split_fractions]


def split_file_pattern(output_dir: str, split: str) -> str:
    """Glob of the shards of ``split`` written into ``output_dir``."""
    return os.path.join(output_dir, f"{split}-*-of-*.tfrecord")


def summary_data(counters: Counters, config: DatasetConfig, shards: Iterable[str]) -> dict:
    """The JSON summary: counters, the config and the shard file names."""
    data = counters.to_dict()
    data["config"] = dataclasses.asdict(config)
    data["shards"] = sorted(os.path.basename(s) for s in shards)
    return data


def create_dataset(
    inputs, output_dir: str, config: DatasetConfig, num_shards: int = 8, progress: bool = True
) -> Counters:
    """Runs the conversion in this process, writing every split atomically.

    Args:
      inputs: see ``resolve_inputs``.
      output_dir: folder for ``<split>-IIIII-of-NNNNN.tfrecord`` and ``summary.json``.
      config: DatasetConfig.
      num_shards: shards per split.
      progress: tqdm bar over input records.

    Returns:
      Counters (also written to ``OUTPUT_DIR/summary.json``).
    """
    import contextlib

    from tfmusic.progress import progress_bar

    pairs = resolve_inputs(inputs)
    splits = output_splits(inputs, config)
    os.makedirs(output_dir, exist_ok=True)
    counters = Counters()
    for split in splits:
        counters.increment(f"split.{split}", 0)
        counters.increment(f"examples.{split}", 0)
    bar = progress_bar(desc="music_transformer_create_dataset", unit="seq", disable=not progress)
    with contextlib.ExitStack() as stack:
        writers = {
            s: stack.enter_context(ShardedTFRecordWriter(os.path.join(output_dir, s), num_shards)) for s in splits
        }
        for split, path in pairs:
            try:
                for data in note_sequence_io.iter_file_records(path):
                    result = process_record(path, data, split, config)
                    for out_split, key, record in result.records:
                        writers[out_split].write(key, record)
                    counters.merge(result.counters)
                    bar.update(1)
            except InputError as e:
                counters.skip(e.name, e.problem)
    bar.close()
    shards = [p for w in writers.values() for p in w.paths]
    atomic_write_json(os.path.join(output_dir, SUMMARY_NAME), summary_data(counters, config, shards))
    return counters


# --------------------------------------------------------------------------- tf.data reader


def make_dataset(
    file_pattern,
    max_length: int,
    batch_size: int,
    *,
    has_inputs: bool = False,
    max_input_length: Optional[int] = None,
    random_crop: bool = False,
    shuffle: bool = False,
    shuffle_buffer: int = 1024,
    repeat: bool = False,
    seed: Optional[int] = None,
    drop_remainder: bool = False,
):
    """Batches of padded id sequences for training or evaluation.

    Args:
      file_pattern: glob(s) of the tf.Example shards (e.g. ``split_file_pattern(dir, "train")``).
      max_length: targets length L; longer targets are truncated (or randomly cropped).
      batch_size: B.
      has_inputs: also read ``inputs`` (the melody of the conditioned problem).
      max_input_length: inputs length Li (default 512: a 30 s melody at 10 steps/s is 300 ids);
        longer inputs are truncated.
      random_crop: crop targets longer than L at a uniform random offset each time they are read
        (score2perf's ``random_crop_in_train``, for data written with ``max_length=0``).
      shuffle, shuffle_buffer, repeat, seed: usual tf.data options (files and records shuffled).
      drop_remainder: static batch dimension (what XLA and distribution want).

    Returns:
      ``tf.data.Dataset`` of dicts ``{"targets": int32 [B, L]}`` (+ ``"inputs": int32 [B, Li]``),
      padded with PAD (0). Targets are not shifted: the model shifts them right.
    """
    import tensorflow as tf

    files = list_files(file_pattern)
    max_input_length = max_input_length or 512
    spec = {"targets": tf.io.VarLenFeature(tf.int64)}
    if has_inputs:
        spec["inputs"] = tf.io.VarLenFeature(tf.int64)

    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=not shuffle,
    )
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def parse(record):
        parsed = tf.io.parse_single_example(record, spec)
        out = {}
        targets = tf.cast(tf.sparse.to_dense(parsed["targets"]), tf.int32)
        if random_crop:
            max_offset = tf.maximum(tf.shape(targets)[0] - max_length, 0)
            offset = tf.random.uniform([], 0, max_offset + 1, dtype=tf.int32, seed=seed)
            targets = targets[offset : offset + max_length]
        out["targets"] = targets[:max_length]
        if has_inputs:
            out["inputs"] = tf.cast(tf.sparse.to_dense(parsed["inputs"]), tf.int32)[:max_input_length]
        return out

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    shapes = {"targets": [max_length]}
    if has_inputs:
        shapes["inputs"] = [max_input_length]
    ds = ds.padded_batch(
        batch_size,
        padded_shapes=shapes,
        padding_values={k: tf.constant(encoding.PAD_ID, tf.int32) for k in shapes},
        drop_remainder=drop_remainder,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


__all__ = [
    "UNCONDITIONAL",
    "MELODY_CONDITIONED",
    "PROBLEMS",
    "SPLITS",
    "STRETCH_FACTORS",
    "TRANSPOSE_AMOUNTS",
    "DatasetConfig",
    "unconditional_config",
    "melody_conditioned_config",
    "config_for_problem",
    "assign_split",
    "parse_note_sequence",
    "filter_invalid_notes",
    "apply_sustain",
    "random_hop_times",
    "segments_of",
    "augment",
    "crop_targets",
    "make_example",
    "parse_example",
    "ProcessResult",
    "process_note_sequence",
    "process_record",
    "resolve_inputs",
    "output_splits",
    "split_file_pattern",
    "summary_data",
    "create_dataset",
    "make_dataset",
]
