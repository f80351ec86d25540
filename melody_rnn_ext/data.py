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
import os
from typing import ClassVar, Dict, List, Optional, Tuple

import note_seq

from events_rnn import data as _core
from events_rnn.data import (
    PARTITIONS,
    AtomicTFRecordWriter,
    NoteSequenceRecordError,
    Quantizer,
    Stage,  # noqa: F401
    TimeChangeSplitter,
    Transposer,
    count_records,
    make_sequence_example,
    make_sequence_example_dataset,
    parse_note_sequence,
    parse_sequence_example,
    partition_of,
    sequence_example_to_arrays,
    sequence_key,
    sequence_name,
)
from events_rnn.melodies import MelodyExtractor  # noqa: F401 (public here too)
from melody_rnn_ext import encodings
from pipelines.tfrecord_io import Counters

TRAINING_FILENAME = "training_melodies.tfrecord"
EVAL_FILENAME = "eval_melodies.tfrecord"
OUTPUT_FILENAMES = {"training": TRAINING_FILENAME, "eval": EVAL_FILENAME}
STATS_FILENAME = "melody_rnn_create_dataset_stats.json"


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
            raise ValueError(f"need min_bars >= 0, max_steps >= 2, min_unique_pitches >= 0, gap_bars > 0; got {self}")


# --------------------------------------------------------------------------- stages


# MelodyExtractor (Magenta's extract_melodies as a stage) lives in events_rnn.melodies: the Improv RNN's lead
# sheets extract melodies the same way.


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
        return self._examples(*self.encoder_decoder.encode(squashed), counters)


class MelodyPipeline(_core.EventsPipeline):
    """The stages of :class:`MelodyPipelineConfig`, run on one NoteSequence at a time
    (:class:`events_rnn.data.EventsPipeline` with :class:`MelodyExtractor` and :class:`MelodyEncoder`).

    ``process(sequence)`` returns ``(partition, serialized SequenceExamples)`` and adds the counts to
    ``self.counters``; ``self.lengths_in_bars`` accumulates the kept melodies' lengths.
    """

    what, what_plural = "melody", "melodies"

    def __init__(self, config: MelodyPipelineConfig):
        self.set_stages(
            config,
            Quantizer(config.steps_per_quarter),
            MelodyExtractor(
                min_bars=config.min_bars,
                max_steps=config.max_steps,
                min_unique_pitches=config.min_unique_pitches,
                gap_bars=config.gap_bars,
                ignore_polyphonic_notes=config.ignore_polyphonic_notes,
                filter_drums=config.filter_drums,
            ),
            MelodyEncoder(config.config_id),
            Transposer(config.transposition_range),
        )

    @property
    def lengths_in_bars(self) -> collections.Counter:
        return self.extractor.lengths_in_bars

    def melodies(self, sequence, counters: Optional[Counters] = None) -> List[note_seq.Melody]:
        """Stages 2-5: the melodies of one NoteSequence (unsquashed, as extracted)."""
        return self.extract(sequence, counters)


@dataclasses.dataclass
class DatasetSummary(_core.DatasetSummary):
    """What :func:`create_dataset` did: an :class:`events_rnn.data.DatasetSummary` whose stats JSON keeps
    Magenta's melody key (``melody_lengths_in_bars``).

    Attributes:
      config: the pipeline config used (a :class:`MelodyPipelineConfig`).
      counters: per-stage counts and skipped inputs.
      lengths: histogram {bars: melodies} of the kept melodies (before transposition dedup).
      outputs: {partition: {"path", "examples"}}.
      input_size, num_classes: of the encoding written.
    """

    title: str = "Melody RNN dataset"
    lengths_unit: str = "bars"
    lengths_key_format: ClassVar[str] = "melody_lengths_in_{}"

    @property
    def lengths_in_bars(self) -> Dict[int, int]:
        """``lengths``: the kept melodies' lengths in bars."""
        return self.lengths

    @classmethod
    def from_dict(cls, d: dict) -> "DatasetSummary":
        """Inverse of :meth:`to_dict` (reads a stats JSON back)."""
        return super().from_dict(d, MelodyPipelineConfig, cls.title, cls.lengths_unit)

    def headline(self) -> str:
        """The first line of :meth:`summary`: the config and the encoding's sizes."""
        return f"{self.title} ({self.config.config_id}: {self.input_size} inputs, {self.num_classes} classes)"


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
    return _core.create_dataset(FORMAT, input_pattern, output_dir, config, num_workers, progress, chunk_size)


def output_path(output_dir: str, partition: str) -> str:
    """Where ``partition``'s SequenceExamples go: ``OUTPUT_DIR/{training,eval}_melodies.tfrecord``."""
    return os.path.join(output_dir, OUTPUT_FILENAMES[partition])


def make_summary(
    config: MelodyPipelineConfig, counters: Counters, lengths_in_bars: Dict[int, int], outputs: Dict[str, dict]
) -> DatasetSummary:
    """The :class:`DatasetSummary` of a finished run (both runners build their stats JSON with this)."""
    return DatasetSummary(
        config=config,
        counters=counters,
        lengths=dict(lengths_in_bars),
        outputs=outputs,
        input_size=encodings.input_size(config.config_id),
        num_classes=encodings.num_classes(config.config_id),
    )


#: What ``melody_rnn_create_dataset`` writes (:func:`events_rnn.data.create_dataset` runs it).
FORMAT = _core.DatasetFormat(
    command="melody_rnn_create_dataset",
    pipeline_class=MelodyPipeline,
    output_filenames=OUTPUT_FILENAMES,
    stats_filename=STATS_FILENAME,
    make_summary=make_summary,
    summary_from_dict=DatasetSummary.from_dict,
)
