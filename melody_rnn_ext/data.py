"""Melody RNN data: NoteSequences -> melodies -> SequenceExamples, and the tf.data reader for training.

The pipeline follows Magenta's ``melody_rnn_pipeline.get_pipeline`` stage by stage, with its defaults:

1. **partition** each input NoteSequence into ``training`` or ``eval`` with probability ``eval_ratio``
   (Magenta's ``RandomPartition``; here a seeded hash of the sequence's id, so the split of a sequence
   does not depend on the order or the process that reads it);
2. **split** at time-signature and tempo changes (``sequences_lib.split_note_sequence_on_time_changes``);
3. **quantize** at ``steps_per_quarter = 4`` (pieces with several time signatures or tempos, a bad
   time signature or negative times are discarded and counted);
4. **transpose** by each amount of ``transposition_range`` (Magenta's default ``(0,)``: no augmentation;
   a transposition that puts any note outside MIDI 0..127 is skipped);
5. **extract melodies** per instrument: a melody ends after ``gap_bars = 1`` bar of silence; melodies
   shorter than ``min_bars = 7`` bars are discarded, longer than ``max_steps = 512`` truncated, with
   fewer than ``min_unique_pitches = 5`` pitch classes discarded; where several notes start on the same
   step the highest is kept (``ignore_polyphonic_notes``);
6. **encode**: ``Melody.squash(min_note, max_note, transpose_to_key)`` into the config's range and key,
   then the config's note-seq encoder/decoder, written as Magenta's SequenceExample: feature list
   ``inputs`` (one ``float_list`` of ``input_size`` per step) and ``labels`` (one ``int64_list`` of one
   class per step), ``len(melody) - 1`` steps, label ``t`` being the class of event ``t + 1``.

Every stage counts what it received, produced and discarded (and why) under ``"<stage>/<counter>"``
in a :class:`pipelines.tfrecord_io.Counters`; an input that yields no example is recorded as skipped
with the reason.

:func:`create_dataset` runs the stages in this process (or ``num_workers`` processes);
:mod:`melody_rnn_ext.beam_pipeline` runs the same :meth:`MelodyPipeline.process_record` on Apache Beam
(DirectRunner, Dataflow, Flink, Spark) and writes the same records and stats.

:func:`make_sequence_example_dataset` reads such files (ours or Magenta's) into padded batches
``(inputs [B, T, input_size] float32, labels [B, T] int64, lengths [B] int32)``, as Magenta's
``get_padded_batch`` does.
"""
from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import os
import uuid
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import note_seq
import numpy as np
from note_seq import events_lib, sequences_lib

from melody_rnn_ext import encodings
from pipelines.errors import InputError
from pipelines.tfrecord_io import Counters

PARTITIONS: Tuple[str, ...] = ("training", "eval")
TRAINING_FILENAME = "training_melodies.tfrecord"
EVAL_FILENAME = "eval_melodies.tfrecord"
OUTPUT_FILENAMES = {"training": TRAINING_FILENAME, "eval": EVAL_FILENAME}
STATS_FILENAME = "melody_rnn_create_dataset_stats.json"


class NoteSequenceRecordError(InputError):
    """A TFRecord record that does not parse as a ``note_seq.NoteSequence``."""


# --------------------------------------------------------------------------- config


@dataclasses.dataclass(frozen=True)
class MelodyPipelineConfig:
    """Settings of the melody dataset pipeline; the defaults are Magenta's ``melody_rnn_create_dataset``.

    Attributes:
      config_id: the Melody RNN config whose encoding is written (:data:`encodings.CONFIG_IDS`).
      eval_ratio: probability in [0, 1] that an input NoteSequence goes to the eval set.
      seed: seed of the train/eval partition.
      steps_per_quarter: quantization steps per quarter note.
      transposition_range: semitone shifts applied to every quantized piece (augmentation); ``(0,)`` is none.
      min_bars: shortest melody kept, in bars.
      max_steps: melodies longer than this many steps are truncated to it.
      min_unique_pitches: fewest distinct pitch classes a melody must have.
      gap_bars: bars of silence that end a melody.
      ignore_polyphonic_notes: keep the highest of notes that start on the same step (``True``), or discard
        the whole track (``False``, what Magenta's melody_rnn pipeline passes).
      filter_drums: ignore drum notes.
    """

    config_id: str = "basic_rnn"
    eval_ratio: float = 0.1
    seed: int = 0
    steps_per_quarter: int = encodings.STEPS_PER_QUARTER
    transposition_range: Tuple[int, ...] = (0,)
    min_bars: int = 7
    max_steps: int = 512
    min_unique_pitches: int = 5
    gap_bars: float = 1.0
    ignore_polyphonic_notes: bool = True
    filter_drums: bool = True

    def __post_init__(self):
        encodings.encoding_spec(self.config_id)  # raises UnknownConfigError
        object.__setattr__(self, "transposition_range", tuple(int(t) for t in self.transposition_range))
        if not 0.0 <= self.eval_ratio <= 1.0:
            raise ValueError(f"eval_ratio must be in [0, 1], got {self.eval_ratio}")
        if self.steps_per_quarter < 1:
            raise ValueError(f"steps_per_quarter must be >= 1, got {self.steps_per_quarter}")
        if not self.transposition_range:
            raise ValueError("transposition_range must hold at least one shift (0 for none)")
        if self.min_bars < 0 or self.max_steps < 2 or self.min_unique_pitches < 0 or self.gap_bars <= 0:
            raise ValueError(
                f"need min_bars >= 0, max_steps >= 2, min_unique_pitches >= 0, gap_bars > 0; got {self}")


# --------------------------------------------------------------------------- stages


class Stage:
    """One typed step of the pipeline: ``transform(item, counters)`` -> list of outputs.

    Counts go to ``counters`` under ``"<name>/<counter>"``.
    """

    name: str = "stage"
    input_type: type = object
    output_type: type = object

    def _count(self, counters: Counters, counter: str, n: int = 1) -> None:
        counters.increment(f"{self.name}/{counter}", n)

    def transform(self, item, counters: Counters) -> list:
        raise NotImplementedError


class TimeChangeSplitter(Stage):
    """NoteSequence -> pieces with one time signature and one tempo each, each shifted to start at 0."""

    name = "time_change_splitter"
    input_type = note_seq.NoteSequence
    output_type = note_seq.NoteSequence

    def transform(self, sequence, counters):
        self._count(counters, "sequences_in")
        pieces = sequences_lib.split_note_sequence_on_time_changes(sequence)
        self._count(counters, "pieces_out", len(pieces))
        return pieces


class Quantizer(Stage):
    """NoteSequence -> [quantized NoteSequence] at ``steps_per_quarter``, or [] (counted) when it cannot be."""

    name = "quantizer"
    input_type = note_seq.NoteSequence
    output_type = note_seq.NoteSequence

    _DISCARDS = (
        (sequences_lib.MultipleTimeSignatureError, "discarded_multiple_time_signatures"),
        (sequences_lib.MultipleTempoError, "discarded_multiple_tempos"),
        (sequences_lib.BadTimeSignatureError, "discarded_bad_time_signature"),
        (sequences_lib.NegativeTimeError, "discarded_negative_time"),
    )

    def __init__(self, steps_per_quarter: int):
        self.steps_per_quarter = steps_per_quarter

    def transform(self, sequence, counters):
        self._count(counters, "pieces_in")
        try:
            quantized = sequences_lib.quantize_note_sequence(sequence, self.steps_per_quarter)
        except tuple(e for e, _ in self._DISCARDS) as err:
            for error_type, counter in self._DISCARDS:
                if isinstance(err, error_type):
                    self._count(counters, counter)
            return []
        self._count(counters, "quantized")
        return [quantized]


class Transposer(Stage):
    """Quantized NoteSequence -> one copy per shift in ``transposition_range`` (drums untouched).

    A shift that would put a note outside MIDI ``[min_pitch, max_pitch]`` is skipped and counted.
    """

    name = "transposer"
    input_type = note_seq.NoteSequence
    output_type = note_seq.NoteSequence

    def __init__(self, transposition_range: Sequence[int], min_pitch: int = note_seq.MIN_MIDI_PITCH,
                 max_pitch: int = note_seq.MAX_MIDI_PITCH):
        self.transposition_range = tuple(transposition_range)
        self.min_pitch = min_pitch
        self.max_pitch = max_pitch

    def transform(self, sequence, counters):
        pitches = [n.pitch for n in sequence.notes if not n.is_drum]
        low, high = (min(pitches), max(pitches)) if pitches else (self.min_pitch, self.max_pitch)
        out = []
        for shift in self.transposition_range:
            if pitches and (low + shift < self.min_pitch or high + shift > self.max_pitch):
                self._count(counters, "skipped_due_to_range_exceeded")
                continue
            if shift == 0:
                out.append(sequence)
                continue
            shifted = copy.deepcopy(sequence)
            for note in shifted.notes:
                if not note.is_drum:
                    note.pitch += shift
            out.append(shifted)
        self._count(counters, "transpositions_generated", len(out))
        return out


class MelodyExtractor(Stage):
    """Quantized NoteSequence -> monophonic ``note_seq.Melody`` objects, per instrument, with Magenta's filters.

    Per instrument, melodies are read one after another (each starting on a bar line at or after the end of
    the previous one) until the track is exhausted. Counts: melodies extracted, discarded as too short or
    with too few pitch classes, truncated, polyphonic tracks discarded or reduced to their top note; lengths
    (in bars) of the kept melodies go to ``lengths_in_bars``.
    """

    name = "melody_extractor"
    input_type = note_seq.NoteSequence
    output_type = note_seq.Melody

    def __init__(self, min_bars=7, max_steps=512, min_unique_pitches=5, gap_bars=1.0,
                 ignore_polyphonic_notes=True, filter_drums=True):
        self.min_bars = min_bars
        self.max_steps = max_steps
        self.min_unique_pitches = min_unique_pitches
        self.gap_bars = gap_bars
        self.ignore_polyphonic_notes = ignore_polyphonic_notes
        self.filter_drums = filter_drums
        self.lengths_in_bars: collections.Counter = collections.Counter()

    @staticmethod
    def _has_simultaneous_onsets(quantized, instrument, filter_drums) -> bool:
        starts = [n.quantized_start_step for n in quantized.notes
                  if n.instrument == instrument and n.velocity and not (filter_drums and n.is_drum)]
        return len(starts) != len(set(starts))

    def transform(self, quantized, counters):
        self._count(counters, "sequences_in")
        steps_per_bar = sequences_lib.steps_per_bar_in_quantized_sequence(quantized)
        if steps_per_bar % 1 != 0:
            self._count(counters, "discarded_non_integer_steps_per_bar")
            return []
        steps_per_bar = int(steps_per_bar)
        melodies = []
        for instrument in sorted({n.instrument for n in quantized.notes}):
            if self.ignore_polyphonic_notes and self._has_simultaneous_onsets(
                    quantized, instrument, self.filter_drums):
                self._count(counters, "polyphonic_tracks_reduced_to_top_note")
            search_start = 0
            while True:
                melody = note_seq.Melody()
                try:
                    melody.from_quantized_sequence(
                        quantized, search_start_step=search_start, instrument=instrument,
                        gap_bars=self.gap_bars, ignore_polyphonic_notes=self.ignore_polyphonic_notes,
                        filter_drums=self.filter_drums)
                except note_seq.PolyphonicMelodyError:
                    self._count(counters, "polyphonic_tracks_discarded")
                    break
                except events_lib.NonIntegerStepsPerBarError:
                    self._count(counters, "discarded_non_integer_steps_per_bar")
                    return melodies
                if not melody:
                    break
                # The next search starts on the first bar line at or after this melody's end.
                search_start = melody.end_step + (-melody.end_step) % steps_per_bar
                if len(melody) < self.min_bars * melody.steps_per_bar:
                    self._count(counters, "melodies_discarded_too_short")
                    continue
                if self.max_steps is not None and len(melody) > self.max_steps:
                    melody.set_length(self.max_steps)
                    self._count(counters, "melodies_truncated")
                if np.count_nonzero(melody.get_note_histogram()) < self.min_unique_pitches:
                    self._count(counters, "melodies_discarded_too_few_pitches")
                    continue
                self.lengths_in_bars[len(melody) // melody.steps_per_bar] += 1
                self._count(counters, "melodies_extracted")
                melodies.append(melody)
        return melodies


class MelodyEncoder(Stage):
    """Melody -> [SequenceExample]: squashed into the config's range and key, encoded by its encoder/decoder.

    The input melody is not modified. Counts melodies whose notes had to be octave-folded into range.
    """

    name = "encoder"
    input_type = note_seq.Melody

    def __init__(self, config_id: str):
        import tensorflow as tf

        self.output_type = tf.train.SequenceExample
        self.config_id = config_id
        self.spec = encodings.encoding_spec(config_id)
        self.encoder_decoder = encodings.make_encoder_decoder(config_id)

    def squash(self, melody):
        """A squashed copy of ``melody`` and how many of its notes were octave-folded into range."""
        squashed = copy.deepcopy(melody)
        amount = squashed.squash(self.spec.min_note, self.spec.max_note, self.spec.transpose_to_key)
        folded = sum(1 for a, b in zip(melody, squashed) if a >= 0 and b - a != amount)
        return squashed, folded

    def transform(self, melody, counters):
        self._count(counters, "melodies_in")
        squashed, folded = self.squash(melody)
        if folded:
            self._count(counters, "melodies_with_notes_folded_into_range")
        inputs, labels = self.encoder_decoder.encode(squashed)
        if not labels:
            self._count(counters, "discarded_single_step")
            return []
        self._count(counters, "examples_out")
        return [make_sequence_example(inputs, labels)]


# --------------------------------------------------------------------------- SequenceExample layout


def make_sequence_example(inputs: Sequence[Sequence[float]], labels: Sequence[int]):
    """Magenta's training-example layout.

    Args:
      inputs: T vectors of floats (each ``input_size`` long).
      labels: T ints (or T lists of ints, for multi-label encodings).

    Returns:
      a ``tf.train.SequenceExample`` with feature lists ``inputs`` (one ``float_list`` per step) and
      ``labels`` (one ``int64_list`` per step) and no context.
    """
    import tensorflow as tf

    if len(inputs) != len(labels):
        raise ValueError(f"inputs and labels differ in length: {len(inputs)} != {len(labels)}")
    input_features = [tf.train.Feature(float_list=tf.train.FloatList(value=list(v))) for v in inputs]
    label_features = [
        tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v)] if np.ndim(v) == 0 else [int(x) for x in v]))
        for v in labels
    ]
    return tf.train.SequenceExample(feature_lists=tf.train.FeatureLists(feature_list={
        "inputs": tf.train.FeatureList(feature=input_features),
        "labels": tf.train.FeatureList(feature=label_features),
    }))


def sequence_example_to_arrays(example) -> Tuple[np.ndarray, np.ndarray]:
    """``(inputs [T, input_size] float32, labels [T] int64)`` of a SequenceExample (proto or bytes)."""
    import tensorflow as tf

    if isinstance(example, (bytes, bytearray)):
        example = tf.train.SequenceExample.FromString(bytes(example))
    lists = example.feature_lists.feature_list
    inputs = np.array([list(f.float_list.value) for f in lists["inputs"].feature], dtype=np.float32)
    labels = np.array([f.int64_list.value[0] for f in lists["labels"].feature], dtype=np.int64)
    return inputs, labels


# --------------------------------------------------------------------------- the pipeline


def partition_of(key: str, eval_ratio: float, seed: int = 0) -> str:
    """``"eval"`` with probability ``eval_ratio``, else ``"training"``, from a seeded hash of ``key``."""
    digest = hashlib.sha256(f"{seed}:{key}".encode("utf-8")).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0 ** 64
    return "eval" if u < eval_ratio else "training"


def sequence_key(sequence) -> str:
    """The key a NoteSequence is partitioned by: its id, else its filename, else a hash of its content
    (so the train/eval split never depends on the order the sequences are read in)."""
    if sequence.id or sequence.filename:
        return sequence.id or sequence.filename
    return "sha256:" + hashlib.sha256(sequence.SerializeToString(deterministic=True)).hexdigest()[:16]


def sequence_name(sequence, index: Optional[int] = None) -> str:
    """The name an input is reported by: its id, else its filename, else ``record N`` (or its content key)."""
    if sequence.id or sequence.filename:
        return sequence.id or sequence.filename
    return f"record {index}" if index is not None else sequence_key(sequence)


class MelodyPipeline:
    """The stages of :class:`MelodyPipelineConfig`, run on one NoteSequence at a time.

    ``process(sequence)`` returns ``(partition, serialized SequenceExamples)`` and adds the counts to
    ``self.counters``; ``self.lengths_in_bars`` accumulates the kept melodies' lengths.
    """

    def __init__(self, config: MelodyPipelineConfig):
        self.config = config
        self.splitter = TimeChangeSplitter()
        self.quantizer = Quantizer(config.steps_per_quarter)
        self.transposer = Transposer(config.transposition_range)
        self.extractor = MelodyExtractor(
            min_bars=config.min_bars, max_steps=config.max_steps, min_unique_pitches=config.min_unique_pitches,
            gap_bars=config.gap_bars, ignore_polyphonic_notes=config.ignore_polyphonic_notes,
            filter_drums=config.filter_drums)
        self.encoder = MelodyEncoder(config.config_id)
        self.counters = Counters()

    @property
    def lengths_in_bars(self) -> collections.Counter:
        return self.extractor.lengths_in_bars

    def melodies(self, sequence, counters: Optional[Counters] = None) -> List[note_seq.Melody]:
        """Stages 2-5: the melodies of one NoteSequence (unsquashed, as extracted)."""
        counters = self.counters if counters is None else counters
        out = []
        for piece in self.splitter.transform(sequence, counters):
            for quantized in self.quantizer.transform(piece, counters):
                for transposed in self.transposer.transform(quantized, counters):
                    out.extend(self.extractor.transform(transposed, counters))
        return out

    def process(self, sequence, index: Optional[int] = None) -> Tuple[str, List[bytes]]:
        """All stages for one NoteSequence: ``(partition, [serialized SequenceExample, ...])``.

        An input that yields no example is recorded in ``counters.skipped`` with the reason.
        """
        partition = partition_of(sequence_key(sequence), self.config.eval_ratio, self.config.seed)
        self.counters.increment(f"partition/{partition}_sequences")
        local = Counters()
        examples = []
        for melody in self.melodies(sequence, local):
            examples.extend(e.SerializeToString(deterministic=True) for e in self.encoder.transform(melody, local))
        self.counters.merge(local)
        if not examples:
            self.counters.skip(sequence_name(sequence, index), "no melody: " + _why_nothing(local))
        self.counters.increment(f"output/{partition}_melodies", len(examples))
        return partition, examples

    def process_record(self, record: bytes, index: int) -> Tuple[Optional[str], List[bytes]]:
        """One serialized NoteSequence (input record number ``index``) through :meth:`process`.

        A record that does not parse is skipped and counted under the name ``record <index>``;
        it gives ``(None, [])``.
        """
        try:
            sequence = parse_note_sequence(record, f"record {index}")
        except NoteSequenceRecordError as err:
            self.counters.skip(err.name, err.problem)
            return None, []
        return self.process(sequence, index)

    def take_counts(self) -> Tuple[Counters, Dict[int, int]]:
        """The counts and melody lengths gathered since the last call, and resets both to empty."""
        counters, lengths = self.counters, dict(self.extractor.lengths_in_bars)
        self.counters = Counters()
        self.extractor.lengths_in_bars = collections.Counter()
        return counters, lengths


def _why_nothing(local: Counters) -> str:
    """A short reason, from one input's counts, why it produced no example."""
    if not local.get("time_change_splitter/pieces_out"):
        return "no notes"
    reasons = [f"{k.split('/', 1)[1]}={v}" for k, v in sorted(local.counts.items())
               if v and ("discarded" in k or "skipped" in k)]
    if not reasons:
        reasons = ["no melody found"]
    return ", ".join(reasons)


def parse_note_sequence(record: bytes, name: str):
    """A ``note_seq.NoteSequence`` from serialized bytes; raises :class:`NoteSequenceRecordError` naming ``name``."""
    try:
        sequence = note_seq.NoteSequence.FromString(record)
    except Exception as err:  # protobuf's DecodeError and friends
        raise NoteSequenceRecordError(name, f"not a serialized NoteSequence ({type(err).__name__}: {err})") from err
    return sequence


# --------------------------------------------------------------------------- running over files


class AtomicTFRecordWriter:
    """Writes one TFRecord file under ``<path>.tmp-XXXXXXXX`` and renames it to ``path`` on ``commit()``.

    A crash or ``abort()`` leaves ``path`` as it was (and no temporary file on abort).
    """

    def __init__(self, path: str):
        import tensorflow as tf

        from tfmusic.files import TEMP_MARK

        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._tmp = self.path + TEMP_MARK + uuid.uuid4().hex[:8]
        self._writer = tf.io.TFRecordWriter(self._tmp)
        self.count = 0

    def write(self, record: bytes) -> None:
        """Appends one serialized record."""
        self._writer.write(record)
        self.count += 1

    def commit(self) -> str:
        """Closes, fsyncs and renames the file to its final name; returns the path."""
        self._writer.close()
        fd = os.open(self._tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Closes and deletes the temporary file."""
        self._writer.close()
        if os.path.exists(self._tmp):
            os.remove(self._tmp)


@dataclasses.dataclass
class DatasetSummary:
    """What :func:`create_dataset` did.

    Attributes:
      config: the pipeline config used.
      counters: per-stage counts and skipped inputs.
      lengths_in_bars: histogram {bars: melodies} of the kept melodies (before transposition dedup).
      outputs: {partition: {"path", "examples"}}.
      input_size, num_classes: of the encoding written.
    """

    config: MelodyPipelineConfig
    counters: Counters
    lengths_in_bars: Dict[int, int]
    outputs: Dict[str, dict]
    input_size: int
    num_classes: int

    def to_dict(self) -> dict:
        """Plain-JSON form, as written to the stats file."""
        d = self.counters.to_dict()
        return {
            "config": dataclasses.asdict(self.config),
            "input_size": self.input_size,
            "num_classes": self.num_classes,
            "counts": d["counts"],
            "skipped": d["skipped"],
            "melody_lengths_in_bars": {str(k): v for k, v in sorted(self.lengths_in_bars.items())},
            "outputs": self.outputs,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "DatasetSummary":
        """Inverse of :meth:`to_dict` (reads a stats JSON back)."""
        return cls(config=MelodyPipelineConfig(**d["config"]), counters=Counters.from_dict(d),
                   lengths_in_bars={int(k): int(v) for k, v in d["melody_lengths_in_bars"].items()},
                   outputs={k: dict(v) for k, v in d["outputs"].items()},
                   input_size=int(d["input_size"]), num_classes=int(d["num_classes"]))

    def summary(self) -> str:
        """Human-readable multi-line summary (counts per stage, then outputs)."""
        lines = [f"Melody RNN dataset ({self.config.config_id}: {self.input_size} inputs, {self.num_classes} classes)"]
        lines.append(self.counters.summary())
        for partition, out in self.outputs.items():
            lines.append(f"{partition}: {out['examples']} SequenceExamples -> {out['path']}")
        return "\n".join(lines)


def _process_chunk(args):
    """Worker: (config, [(index, record)]) -> (counters dict, lengths, [(partition, [examples])])."""
    config, chunk = args
    pipeline = MelodyPipeline(config)
    results = [pipeline.process_record(record, index) for index, record in chunk]
    counters, lengths = pipeline.take_counts()
    return counters.to_dict(), lengths, results


def _chunks(records: Iterable[bytes], size: int) -> Iterator[list]:
    chunk = []
    for index, record in enumerate(records):
        chunk.append((index, record))
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def create_dataset(
    input_pattern,
    output_dir: str,
    config: MelodyPipelineConfig = MelodyPipelineConfig(),
    num_workers: int = 1,
    progress: bool = True,
    chunk_size: int = 8,
) -> DatasetSummary:
    """Runs the pipeline over NoteSequence TFRecords and writes Magenta's two output files.

    Args:
      input_pattern: glob (or list of globs) of TFRecord files of serialized NoteSequences.
      output_dir: folder that receives ``training_melodies.tfrecord``, ``eval_melodies.tfrecord``
        (both written atomically, both always present) and the stats JSON (:data:`STATS_FILENAME`).
      config: the pipeline settings.
      num_workers: processes that run the stages (records keep their input order in the output).
      progress: show a tqdm bar over input records.
      chunk_size: records per work item when ``num_workers > 1``.

    Returns:
      a :class:`DatasetSummary`. Records that are not NoteSequences are skipped and counted.

    Raises:
      FileNotFoundError: no file matches ``input_pattern``.
    """
    from tqdm import tqdm

    from pipelines import tfrecord_io
    from tfmusic.files import atomic_write_json

    files = tfrecord_io.list_files(input_pattern)
    total = None
    if progress:
        total = int(tfrecord_io.tfrecord_dataset(files).reduce(0, lambda n, _: n + 1))
    records = tfrecord_io.iter_records(files)
    counters = Counters()
    lengths: collections.Counter = collections.Counter()
    writers = {p: AtomicTFRecordWriter(output_path(output_dir, p)) for p in PARTITIONS}
    bar = tqdm(total=total, unit="seq", desc=f"melody_rnn_create_dataset {config.config_id}", disable=not progress)
    pool = None
    try:
        work = ((config, chunk) for chunk in _chunks(records, chunk_size))
        if num_workers > 1:
            import multiprocessing

            pool = multiprocessing.get_context("spawn").Pool(num_workers)
            results = pool.imap(_process_chunk, work)
        else:
            results = map(_process_chunk, work)
        for counts, chunk_lengths, chunk_results in results:
            counters.merge(Counters.from_dict(counts))
            lengths.update(chunk_lengths)
            for partition, examples in chunk_results:
                for example in examples:
                    writers[partition].write(example)
            bar.update(len(chunk_results))
            bar.set_postfix(training=writers["training"].count, eval=writers["eval"].count)
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    outputs = {}
    for partition, writer in writers.items():
        outputs[partition] = {"path": writer.commit(), "examples": writer.count}
    summary = make_summary(config, counters, lengths, outputs)
    atomic_write_json(os.path.join(output_dir, STATS_FILENAME), summary.to_dict())
    return summary


def output_path(output_dir: str, partition: str) -> str:
    """Where ``partition``'s SequenceExamples go: ``OUTPUT_DIR/{training,eval}_melodies.tfrecord``."""
    return os.path.join(output_dir, OUTPUT_FILENAMES[partition])


def make_summary(config: MelodyPipelineConfig, counters: Counters, lengths_in_bars: Dict[int, int],
                 outputs: Dict[str, dict]) -> DatasetSummary:
    """The :class:`DatasetSummary` of a finished run (both runners build their stats JSON with this)."""
    return DatasetSummary(
        config=config, counters=counters, lengths_in_bars=dict(lengths_in_bars), outputs=outputs,
        input_size=encodings.input_size(config.config_id), num_classes=encodings.num_classes(config.config_id))


# --------------------------------------------------------------------------- tf.data reader


def parse_sequence_example(serialized, input_size: int):
    """Parses one Magenta SequenceExample.

    Args:
      serialized: scalar tf.string.
      input_size: length of each input vector.

    Returns:
      ``(inputs [T, input_size] float32, labels [T] int64, length int32 scalar)``.
    """
    import tensorflow as tf

    _, seq = tf.io.parse_single_sequence_example(
        serialized,
        sequence_features={
            "inputs": tf.io.FixedLenSequenceFeature([input_size], dtype=tf.float32),
            "labels": tf.io.FixedLenSequenceFeature([], dtype=tf.int64),
        })
    length = tf.shape(seq["inputs"], out_type=tf.int32)[0]
    return seq["inputs"], seq["labels"], length


def make_sequence_example_dataset(
    file_pattern,
    input_size: int,
    batch_size: int,
    shuffle: bool = True,
    shuffle_buffer: int = 1000,
    repeat: bool = False,
    seed: Optional[int] = None,
    max_length: Optional[int] = None,
    pad_to_max_length: bool = False,
    drop_remainder: bool = False,
    input_context=None,
    compression: Optional[str] = None,
):
    """Padded batches of Magenta melody SequenceExamples (what Magenta's ``get_padded_batch`` yields).

    Args:
      file_pattern: glob or list of globs of TFRecord files (e.g. ``.../training_melodies.tfrecord``).
      input_size: floats per input step (:func:`encodings.input_size`); a file of another encoding fails
        to parse.
      batch_size: examples per batch (per replica when ``input_context`` is given, it is the global
        batch divided by ``input_context.num_replicas_in_sync``; pass the per-replica size yourself).
      shuffle: shuffle files and examples (``shuffle_buffer`` examples).
      repeat: repeat forever (before batching).
      seed: shuffle seed.
      max_length: if set, longer sequences are cut to their first ``max_length`` steps.
      pad_to_max_length: pad every batch to ``max_length`` steps (static shapes, for XLA).
      drop_remainder: drop a last, smaller batch (static batch size).
      input_context: a ``tf.distribute.InputContext``; files (or, with one file, records) are sharded
        across its input pipelines.
      compression: ``None``, ``"GZIP"`` or ``"ZLIB"``.

    Returns:
      a ``tf.data.Dataset`` of ``(inputs [B, T, input_size] float32, labels [B, T] int64,
      lengths [B] int32)``, zero-padded after each sequence's length; T is the longest length in the
      batch (or ``max_length`` with ``pad_to_max_length``).
    """
    import tensorflow as tf

    from pipelines import tfrecord_io

    if pad_to_max_length and not max_length:
        raise ValueError("pad_to_max_length needs max_length")
    files = tfrecord_io.list_files(file_pattern)
    ds = tf.data.Dataset.from_tensor_slices(files)
    shard_records = False
    if input_context is not None and input_context.num_input_pipelines > 1:
        if len(files) >= input_context.num_input_pipelines:
            ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        else:
            shard_records = True
    if shuffle and len(files) > 1:
        ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    ds = ds.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type=compression or ""),
                       cycle_length=min(len(files), 8), num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=not shuffle)
    if shard_records:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.map(lambda s: parse_sequence_example(s, input_size), num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=not shuffle)
    if max_length:
        ds = ds.map(lambda x, y, n: (x[:max_length], y[:max_length], tf.minimum(n, max_length)))
    t = max_length if pad_to_max_length else None
    ds = ds.padded_batch(batch_size, padded_shapes=([t, input_size], [t], []), drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def count_records(file_pattern, compression: Optional[str] = None) -> int:
    """Number of records in the matching TFRecord files."""
    from pipelines import tfrecord_io

    return int(tfrecord_io.tfrecord_dataset(file_pattern, compression).reduce(0, lambda n, _: n + 1))
