"""What every events-RNN dataset pipeline shares (Magenta's ``note_sequence_pipelines``, ``EncoderPipeline``,
``pipeline.run_pipeline_serial`` and ``sequence_example_lib.get_padded_batch``).

* typed stages with per-stage counters (:class:`Stage`): :class:`TimeChangeSplitter`,
  :class:`Quantizer`, :class:`Transposer` (Magenta's ``TranspositionPipeline``), and
  :class:`EncoderStage` (an event sequence -> Magenta's SequenceExample through a note-seq
  encoder/decoder); each model package adds its extractor (melodies, polyphonic tracks, drum tracks);
* :class:`EventsPipeline`: partition (a seeded hash of the sequence's id, :func:`partition_of`) ->
  split -> quantize -> transpose -> extract -> encode, one NoteSequence at a time, counting every stage;
* :class:`DatasetFormat`: what a family's ``<model>_create_dataset`` writes (Magenta's output file
  names, the stats file, the pipeline class) and :func:`create_dataset`, which runs it over
  NoteSequence TFRecords in this process or ``num_workers`` processes
  (:mod:`events_rnn.beam_pipeline` runs the same pipeline on Apache Beam);
* the SequenceExample layout (:func:`make_sequence_example`) and the tf.data reader
  (:func:`make_sequence_example_dataset`): padded batches ``(inputs [B, T, input_size] float32,
  labels [B, T] int64, lengths [B] int32)``.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import hashlib
import os
from typing import Any, Callable, ClassVar, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import note_seq
import numpy as np
from note_seq import events_lib, sequences_lib

from pipelines.note_sequence_io import NoteSequenceRecordError, parse_note_sequence
from pipelines.tfrecord_io import Counters
from tfmusic.files import AtomicFile

PARTITIONS: Tuple[str, ...] = ("training", "eval")


# --------------------------------------------------------------------------- stages


class Stage:
    """One typed step of the pipeline: ``transform(item, counters)`` -> list of outputs.

    Counts go to ``counters`` under ``"<name>/<counter>"``.
    """

    name: str = "stage"
    input_type: type = object
    output_type: type = object
    #: ``((exception type, counter), ...)``: the errors that drop the item being transformed, each counted
    #: under its counter (``except self._discard_errors() as err: return self._discarded(err, counters)``).
    _DISCARDS: Tuple[Tuple[type, str], ...] = ()

    def _count(self, counters: Counters, counter: str, n: int = 1) -> None:
        counters.increment(f"{self.name}/{counter}", n)

    def _discard_errors(self) -> Tuple[type, ...]:
        """The exception types of ``_DISCARDS``, to catch."""
        return tuple(e for e, _ in self._DISCARDS)

    def _discarded(self, err: Exception, counters: Counters) -> list:
        """Counts ``err`` under the ``_DISCARDS`` counter of its type; returns ``[]`` (the item gives nothing)."""
        for error_type, counter in self._DISCARDS:
            if isinstance(err, error_type):
                self._count(counters, counter)
        return []

    def transform(self, item, counters: Counters) -> list:
        raise NotImplementedError

    def _extracted(self, items: list, stats, counters: Counters, counter: str, length: Callable[[Any], int]) -> list:
        """An extractor's output: counts the extraction's ``stats`` (``{counter: n}``), then each of ``items``
        under ``counter``, adding its length ``length(item)`` to the extractor's ``lengths``; returns ``items``."""
        for name, n in stats.items():
            self._count(counters, name, n)
        for item in items:
            self.lengths[length(item)] += 1
            self._count(counters, counter)
        return items

    def _examples(self, inputs, labels, counters: Counters) -> list:
        """``[make_sequence_example(inputs, labels)]`` counted as ``examples_out``, or ``[]`` counted as
        ``discarded_single_step`` when there are no labels (a sequence of fewer than two events)."""
        if not labels:
            self._count(counters, "discarded_single_step")
            return []
        self._count(counters, "examples_out")
        return [make_sequence_example(inputs, labels)]


#: The ``_DISCARDS`` entry of the stages that extract bars (Magenta's ``discarded_non_integer_steps_per_bar``).
NON_INTEGER_STEPS_PER_BAR = (events_lib.NonIntegerStepsPerBarError, "discarded_non_integer_steps_per_bar")


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

    def _quantize(self, sequence):
        return sequences_lib.quantize_note_sequence(sequence, self.steps_per_quarter)

    def transform(self, sequence, counters):
        self._count(counters, "pieces_in")
        try:
            quantized = self._quantize(sequence)
        except self._discard_errors() as err:
            return self._discarded(err, counters)
        self._count(counters, "quantized")
        return [quantized]


class Transposer(Stage):
    """Quantized NoteSequence -> one copy per shift in ``transposition_range`` (drums untouched).

    A shift that would put a note outside MIDI ``[min_pitch, max_pitch]`` is skipped and counted.
    """

    name = "transposer"
    input_type = note_seq.NoteSequence
    output_type = note_seq.NoteSequence

    def __init__(
        self,
        transposition_range: Sequence[int],
        min_pitch: int = note_seq.MIN_MIDI_PITCH,
        max_pitch: int = note_seq.MAX_MIDI_PITCH,
    ):
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


class EncoderStage(Stage):
    """Event sequence -> [SequenceExample] through a note-seq encoder/decoder (Magenta's ``EncoderPipeline``).

    A sequence of fewer than two events gives no example (counted as ``discarded_single_step``).
    """

    name = "encoder"

    def __init__(self, encoder_decoder):
        self.encoder_decoder = encoder_decoder

    def transform(self, events, counters):
        self._count(counters, "sequences_in")
        return self._examples(*self.encoder_decoder.encode(events), counters)


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
    return tf.train.SequenceExample(
        feature_lists=tf.train.FeatureLists(
            feature_list={
                "inputs": tf.train.FeatureList(feature=input_features),
                "labels": tf.train.FeatureList(feature=label_features),
            }
        )
    )


def sequence_example_problem(record: bytes, input_size: Optional[int] = None) -> Optional[str]:
    """What keeps ``record`` from being a Magenta training SequenceExample (feature lists ``inputs``
    and ``labels``, ``input_size`` floats per input step), in words; None when it is one."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.example import example_pb2

    hint = " (NoteSequences? <model>_create_dataset makes SequenceExamples from them)"
    try:
        example = example_pb2.SequenceExample.FromString(record)
    except DecodeError:
        return "its first record is not a SequenceExample" + hint
    lists = example.feature_lists.feature_list
    missing = [k for k in ("inputs", "labels") if k not in lists]
    if missing:
        return f"its first record is not a training SequenceExample: no {' or '.join(missing)} feature list" + hint
    steps = lists["inputs"].feature
    if input_size is not None and steps and len(steps[0].float_list.value) != input_size:
        return (
            f"its SequenceExamples have {len(steps[0].float_list.value)} inputs per step, the model's "
            f"encoding {input_size} (data of another config?)"
        )
    return None


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
    u = int.from_bytes(digest[:8], "big") / 2.0**64
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


class EventsPipeline:
    """Magenta's dataset DAG for one NoteSequence at a time: partition -> split -> quantize -> transpose ->
    extract -> encode.

    Subclasses set, in ``__init__``, ``config`` (a frozen dataclass with ``eval_ratio`` and ``seed``),
    ``splitter``, ``quantizer``, ``transposer`` (or None), ``extractor`` (a :class:`Stage` with a
    ``lengths`` Counter of what it kept) and ``encoder``; ``what`` (and ``what_plural``) name the
    extracted objects in messages and counters.

    ``process(sequence)`` returns ``(partition, serialized SequenceExamples)`` and adds the counts to
    ``self.counters``.
    """

    what = "sequence"
    what_plural = ""
    config: Any
    splitter: Stage
    quantizer: Stage
    transposer: Optional[Stage]
    extractor: Stage
    encoder: Stage
    counters: Counters

    def set_stages(
        self,
        config,
        quantizer: Stage,
        extractor: Stage,
        encoder: Stage,
        transposer: Optional[Stage] = None,
        splitter: Optional[Stage] = None,
    ) -> None:
        """Set ``config``, the stages (``splitter`` defaults to a :class:`TimeChangeSplitter`) and fresh
        ``counters``: what a subclass's ``__init__`` does."""
        self.config = config
        self.splitter = TimeChangeSplitter() if splitter is None else splitter
        self.quantizer = quantizer
        self.transposer = transposer
        self.extractor = extractor
        self.encoder = encoder
        self.counters = Counters()

    def extract(self, sequence, counters: Optional[Counters] = None) -> list:
        """Split, quantize, transpose and extract: the event sequences of one NoteSequence (unencoded)."""
        counters = self.counters if counters is None else counters
        out = []
        for piece in self.splitter.transform(sequence, counters):
            for quantized in self.quantizer.transform(piece, counters):
                shifted = self.transposer.transform(quantized, counters) if self.transposer else [quantized]
                for transposed in shifted:
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
        for events in self.extract(sequence, local):
            examples.extend(e.SerializeToString(deterministic=True) for e in self.encoder.transform(events, local))
        self.counters.merge(local)
        if not examples:
            self.counters.skip(sequence_name(sequence, index), f"no {self.what}: " + why_nothing(local, self.what))
        self.counters.increment(f"output/{partition}_{self.what_plural or self.what + 's'}", len(examples))
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
        """The counts and extracted lengths gathered since the last call, and resets both to empty."""
        counters, lengths = self.counters, dict(self.extractor.lengths)
        self.counters = Counters()
        self.extractor.lengths = collections.Counter()
        return counters, lengths


def why_nothing(local: Counters, what: str = "sequence") -> str:
    """A short reason, from one input's counts, why it produced no example."""
    if not local.get("time_change_splitter/pieces_out"):
        return "no notes"
    reasons = [
        f"{k.split('/', 1)[1]}={v}"
        for k, v in sorted(local.counts.items())
        if v and ("discarded" in k or "skipped" in k)
    ]
    if not reasons:
        reasons = [f"no {what} found"]
    return ", ".join(reasons)


# --------------------------------------------------------------------------- running over files


class AtomicTFRecordWriter:
    """Writes one TFRecord file under ``<path>.tmp-XXXXXXXX`` and renames it to ``path`` on ``commit()``
    (:class:`tfmusic.files.AtomicFile`).

    A crash or ``abort()`` leaves ``path`` as it was (and no temporary file on abort).
    """

    def __init__(self, path: str):
        import tensorflow as tf

        self._file = AtomicFile(path)
        self.path = self._file.path
        self._writer = tf.io.TFRecordWriter(self._file.temp_path)
        self.count = 0

    def write(self, record: bytes) -> None:
        """Appends one serialized record."""
        self._writer.write(record)
        self.count += 1

    def commit(self) -> str:
        """Closes, fsyncs and renames the file to its final name; returns the path."""
        self._writer.close()
        return self._file.commit()

    def abort(self) -> None:
        """Closes and deletes the temporary file."""
        self._writer.close()
        self._file.abort()


@dataclasses.dataclass(frozen=True)
class DatasetFormat:
    """What one family's ``<model>_create_dataset`` writes.

    Attributes:
      command: the command's name (progress bar, messages, Beam metrics namespace).
      pipeline_class: an :class:`EventsPipeline` subclass, built from the pipeline config.
      output_filenames: ``{partition: file name}``, Magenta's (e.g. ``training_poly_tracks.tfrecord``).
      stats_filename: the stats JSON's name.
      make_summary: ``(config, counters, lengths, outputs) -> summary`` (an object with ``to_dict``
        and ``summary``).
      summary_from_dict: the inverse of the summary's ``to_dict`` (reads a stats JSON back).
      config_class: the pipeline config class (its defaults are the command's; :meth:`create_dataset`
        runs with ``config_class()`` when given no config). None: a config must be given.
    """

    command: str
    pipeline_class: type
    output_filenames: Dict[str, str]
    stats_filename: str
    make_summary: Callable[..., Any]
    summary_from_dict: Callable[[dict], Any]
    config_class: Optional[type] = None

    def output_path(self, output_dir: str, partition: str) -> str:
        """Where ``partition``'s SequenceExamples go."""
        return os.path.join(output_dir, self.output_filenames[partition])

    def stats_path(self, output_dir: str) -> str:
        """Where the stats JSON goes."""
        return os.path.join(output_dir, self.stats_filename)

    def create_dataset(self, input_pattern, output_dir: str, config=None, num_workers: int = 1, progress: bool = True):
        """Run the pipeline over NoteSequence TFRecords with ``config`` (default ``config_class()``, Magenta's
        settings); see :func:`create_dataset`. Returns the summary."""
        config = self.config_class() if config is None else config
        return create_dataset(self, input_pattern, output_dir, config, num_workers, progress)


@dataclasses.dataclass
class DatasetSummary:
    """What a ``<model>_create_dataset`` run did.

    Attributes:
      config: the pipeline config used (a frozen dataclass).
      counters: per-stage counts and skipped inputs.
      lengths: histogram ``{length: sequences}`` of the kept sequences (unit: ``lengths_unit``).
      outputs: ``{partition: {"path", "examples"}}``.
      input_size, num_classes: of the encoding written.
      title: first line of :meth:`summary`.
      lengths_unit: e.g. ``steps``.
    """

    config: Any
    counters: Counters
    lengths: Dict[int, int]
    outputs: Dict[str, dict]
    input_size: int
    num_classes: int
    title: str = "dataset"
    lengths_unit: str = "steps"
    #: The stats JSON's key of the length histogram, from ``lengths_unit``.
    lengths_key_format: ClassVar[str] = "lengths_in_{}"

    def to_dict(self) -> dict:
        """Plain-JSON form, as written to the stats file."""
        d = self.counters.to_dict()
        return {
            "config": dataclasses.asdict(self.config),
            "input_size": self.input_size,
            "num_classes": self.num_classes,
            "counts": d["counts"],
            "skipped": d["skipped"],
            self.lengths_key_format.format(self.lengths_unit): {str(k): v for k, v in sorted(self.lengths.items())},
            "outputs": self.outputs,
        }

    @classmethod
    def from_dict(
        cls, d: dict, config_class: type, title: str = "dataset", lengths_unit: str = "steps"
    ) -> "DatasetSummary":
        """Inverse of :meth:`to_dict`."""
        return cls(
            config=config_class(**d["config"]),
            counters=Counters.from_dict(d),
            lengths={int(k): int(v) for k, v in d[cls.lengths_key_format.format(lengths_unit)].items()},
            outputs={k: dict(v) for k, v in d["outputs"].items()},
            input_size=int(d["input_size"]),
            num_classes=int(d["num_classes"]),
            title=title,
            lengths_unit=lengths_unit,
        )

    def headline(self) -> str:
        """The first line of :meth:`summary`: the title and the encoding's sizes."""
        return f"{self.title} ({self.input_size} inputs, {self.num_classes} classes)"

    def summary(self) -> str:
        """Human-readable multi-line summary (counts per stage, then outputs)."""
        lines = [self.headline(), self.counters.summary()]
        for partition, out in self.outputs.items():
            lines.append(f"{partition}: {out['examples']} SequenceExamples -> {out['path']}")
        return "\n".join(lines)


def _process_chunk(args):
    """Worker: (pipeline class, config, [(index, record)]) -> (counters dict, lengths, [(partition, [examples])])."""
    pipeline_class, config, chunk = args
    pipeline = pipeline_class(config)
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
    fmt: DatasetFormat,
    input_pattern,
    output_dir: str,
    config,
    num_workers: int = 1,
    progress: bool = True,
    chunk_size: int = 8,
):
    """Runs ``fmt``'s pipeline over NoteSequence TFRecords and writes its training and eval files.

    Args:
      fmt: the family's :class:`DatasetFormat`.
      input_pattern: glob (or list of globs) of TFRecord files of serialized NoteSequences.
      output_dir: folder that receives one TFRecord per partition (both written atomically, both
        always present) and the stats JSON (``fmt.stats_filename``).
      config: the pipeline settings (``fmt.pipeline_class``'s config).
      num_workers: processes that run the stages (records keep their input order in the output).
      progress: show a tqdm bar over input records.
      chunk_size: records per work item.

    Returns:
      ``fmt.make_summary(...)``. Records that are not NoteSequences are skipped and counted.

    Raises:
      FileNotFoundError: no file matches ``input_pattern``.
    """
    from tfmusic.progress import progress_bar

    from pipelines import tfrecord_io
    from tfmusic.files import atomic_write_json

    files = tfrecord_io.list_files(input_pattern)
    total = None
    if progress:
        total = int(tfrecord_io.tfrecord_dataset(files).reduce(0, lambda n, _: n + 1))
    records = tfrecord_io.iter_records(files)
    counters = Counters()
    lengths: collections.Counter = collections.Counter()
    made_output_dir = not os.path.isdir(output_dir)
    writers = {p: AtomicTFRecordWriter(fmt.output_path(output_dir, p)) for p in PARTITIONS}
    desc = f"{fmt.command} {getattr(config, 'config_id', '')}".strip()
    bar = progress_bar(total=total, unit="seq", desc=desc, disable=not progress)
    pool = None
    try:
        work = ((fmt.pipeline_class, config, chunk) for chunk in _chunks(records, chunk_size))
        if num_workers > 1:
            from tfmusic import workers as workers_lib

            # Workers ignore Ctrl-C: this process gets it and terminates them (finally, below) at once.
            pool = workers_lib.start_pool(num_workers)
            results = workers_lib.results(pool.imap(_process_chunk, work))
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
    except BaseException:  # Ctrl-C included: no partial output
        for w in writers.values():
            w.abort()
        if made_output_dir:
            tfrecord_io.remove_empty_folder(output_dir)
        raise
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    from tfmusic.workers import interrupts_deferred

    with interrupts_deferred():  # both partitions and the stats, or (on an earlier Ctrl-C) none
        outputs = {
            partition: {"path": writer.commit(), "examples": writer.count} for partition, writer in writers.items()
        }
        summary = fmt.make_summary(config, counters, lengths, outputs)
        atomic_write_json(fmt.stats_path(output_dir), summary.to_dict())
    return summary


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
        },
    )
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
    """Padded batches of Magenta SequenceExamples (what Magenta's ``get_padded_batch`` yields).

    Args:
      file_pattern: glob or list of globs of TFRecord files (e.g. ``.../training_poly_tracks.tfrecord``).
      input_size: floats per input step (the encoding's); a file of another encoding fails
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
    ds = ds.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=compression or ""),
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shard_records:
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    # Deterministic order: with a seed the batches are reproducible, and no example of the next pass
    # overtakes one of this pass (a batch as large as the data holds each example once).
    ds = ds.map(
        lambda s: parse_sequence_example(s, input_size), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    if max_length:
        ds = ds.map(lambda x, y, n: (x[:max_length], y[:max_length], tf.minimum(n, max_length)))
    t = max_length if pad_to_max_length else None
    ds = ds.padded_batch(batch_size, padded_shapes=([t, input_size], [t], []), drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def count_records(file_pattern, compression: Optional[str] = None) -> int:
    """Number of records in the matching TFRecord files."""
    from pipelines import tfrecord_io

    return int(tfrecord_io.tfrecord_dataset(file_pattern, compression).reduce(0, lambda n, _: n + 1))


@dataclasses.dataclass(frozen=True)
class FamilySummaries:
    """``make_summary`` / ``summary_from_dict`` of a family's :class:`DatasetFormat` whose pipeline config has a
    ``config_id``: sizes from ``model_config_class(config_id=...)``, title ``"<model_name> dataset (<id>)"``.

    Attributes:
      pipeline_config_class: the family's pipeline config (read back from a stats JSON).
      model_config_class: the family's model config (input size and classes of the written encoding).
      model_name: e.g. ``Drums RNN``.
      lengths_unit: what the length histogram counts (``bars``, ``steps``, ``seconds``).
    """

    pipeline_config_class: type
    model_config_class: type
    model_name: str
    lengths_unit: str

    def make_summary(self, config, counters, lengths, outputs) -> DatasetSummary:
        """The :class:`DatasetSummary` of a finished run."""
        model = self.model_config_class(config_id=config.config_id)
        return DatasetSummary(
            config=config,
            counters=counters,
            lengths=dict(lengths),
            outputs=outputs,
            input_size=model.input_size,
            num_classes=model.num_classes,
            title=f"{self.model_name} dataset ({config.config_id})",
            lengths_unit=self.lengths_unit,
        )

    def summary_from_dict(self, d: dict) -> DatasetSummary:
        """A stats JSON back as a :class:`DatasetSummary`."""
        return DatasetSummary.from_dict(
            d,
            self.pipeline_config_class,
            title=f"{self.model_name} dataset ({d['config']['config_id']})",
            lengths_unit=self.lengths_unit,
        )

    def dataset_format(
        self, command: str, pipeline_class: type, output_filenames: Dict[str, str], stats_filename: str
    ) -> DatasetFormat:
        """The family's :class:`DatasetFormat`: what ``command`` writes, with these summaries and
        ``pipeline_config_class`` as its config class."""
        return DatasetFormat(
            command=command,
            pipeline_class=pipeline_class,
            output_filenames=output_filenames,
            stats_filename=stats_filename,
            make_summary=self.make_summary,
            summary_from_dict=self.summary_from_dict,
            config_class=self.pipeline_config_class,
        )
