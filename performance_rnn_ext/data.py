"""Performance RNN data: NoteSequences -> performances -> SequenceExamples (Magenta's ``performance_rnn_pipeline``).

The stages and defaults of Magenta's ``performance_rnn_create_dataset`` on :class:`events_rnn.data.EventsPipeline`:
partition (``eval_ratio`` 0.1, a seeded hash of the id) -> sustain pedal applied to note ends
(``SustainPipeline``) -> time stretch (training: factors 0.95, 0.975, 1.0, 1.025, 1.05; eval: 1.0) ->
split every 30 s (``Splitter(hop_size_seconds=30.0)``) -> quantize at 100 steps per second (absolute) ->
transpose (training: -3..+3 semitones; eval: 0) -> extract one performance per piece
(:func:`extract_performances`: all notes of one program, ``min_events_discard=32``,
``max_events_truncate=512``, the config's velocity bins) -> encode with the config's encoder/decoder,
conditioned on the controls each control signal extracts from the performance; the optional-conditioning
config writes two examples per performance (conditioning on, then disabled).
Outputs keep Magenta's names: ``training_performances.tfrecord`` and ``eval_performances.tfrecord``, plus
``performance_rnn_create_dataset_stats.json``.

:func:`extract_performances` is Magenta's (``magenta/pipelines/performance_pipeline.py``; note-seq 0.0.5
lacks it) without ``NotePerformance``; generation also reads its primer with it.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
from typing import List, Optional, Sequence, Tuple

import note_seq
from note_seq import sequences_lib

from events_rnn import data as _core
from events_rnn.data import (
    Quantizer,
    Stage,
    Transposer,
    make_sequence_example,
    partition_of,
    sequence_key,
)
from performance_rnn_ext import config as config_lib
from pipelines.tfrecord_io import Counters

OUTPUT_FILENAMES = {"training": "training_performances.tfrecord", "eval": "eval_performances.tfrecord"}
STATS_FILENAME = "performance_rnn_create_dataset_stats.json"
STRETCH_FACTORS = (0.95, 0.975, 1.0, 1.025, 1.05)
TRANSPOSITION_RANGE = tuple(range(-3, 4))


def extract_performances(
    quantized_sequence,
    start_step: int = 0,
    min_events_discard: Optional[int] = None,
    max_events_truncate: Optional[int] = None,
    max_steps_truncate: Optional[int] = None,
    num_velocity_bins: int = 0,
) -> Tuple[List[note_seq.Performance], collections.Counter]:
    """Magenta's ``extract_performances`` (one performance, no instrument split) of an absolutely
    quantized NoteSequence.

    A sequence with notes of more than one program gives none (``performances_discarded_more_than_1_program``);
    a performance longer than ``max_steps_truncate`` steps or ``max_events_truncate`` events is truncated,
    one shorter than ``min_events_discard`` events discarded. Returns (performances, counters).
    """
    sequences_lib.assert_is_absolute_quantized_sequence(quantized_sequence)
    stats: collections.Counter = collections.Counter()
    if len({n.program for n in quantized_sequence.notes}) > 1:
        stats["performances_discarded_more_than_1_program"] += 1
        return [], stats
    performance = note_seq.Performance(quantized_sequence, start_step=start_step, num_velocity_bins=num_velocity_bins)
    if max_steps_truncate is not None and performance.num_steps > max_steps_truncate:
        performance.set_length(max_steps_truncate)
        stats["performances_truncated_timewise"] += 1
    if max_events_truncate is not None and len(performance) > max_events_truncate:
        performance.truncate(max_events_truncate)
        stats["performances_truncated"] += 1
    if min_events_discard is not None and len(performance) < min_events_discard:
        stats["performances_discarded_too_short"] += 1
        return [], stats
    return [performance], stats


@dataclasses.dataclass(frozen=True)
class PerformancePipelineConfig:
    """Settings of the performance dataset pipeline; the defaults are Magenta's ``performance_rnn_create_dataset``.

    Attributes:
      config_id: the Performance RNN config whose encoding (velocity bins, controls) is written.
      eval_ratio: probability in [0, 1] that an input NoteSequence goes to the eval set.
      seed: seed of the train/eval partition.
      min_events: shortest performance kept, in events (32).
      max_events: longer performances are truncated to this many events (512).
      hop_size_seconds: sequences are split into pieces of this many seconds (30).
      stretch_factors: time stretches of training sequences (eval: 1.0 only).
      transposition_range: semitone shifts of training sequences (eval: 0 only).
    """

    config_id: str = "performance"
    eval_ratio: float = 0.1
    seed: int = 0
    min_events: int = 32
    max_events: int = 512
    hop_size_seconds: float = 30.0
    stretch_factors: Tuple[float, ...] = STRETCH_FACTORS
    transposition_range: Tuple[int, ...] = TRANSPOSITION_RANGE

    def __post_init__(self):
        config_lib.check_config_id(self.config_id)
        object.__setattr__(self, "stretch_factors", tuple(float(f) for f in self.stretch_factors))
        object.__setattr__(self, "transposition_range", tuple(int(t) for t in self.transposition_range))
        if not 0.0 <= self.eval_ratio <= 1.0:
            raise ValueError(f"eval_ratio must be in [0, 1], got {self.eval_ratio}")
        if self.min_events < 0 or self.max_events < 2 or self.hop_size_seconds <= 0:
            raise ValueError(f"need min_events >= 0, max_events >= 2, hop_size_seconds > 0; got {self}")
        if not self.stretch_factors or min(self.stretch_factors) <= 0:
            raise ValueError(f"stretch_factors must be positive, got {self.stretch_factors}")


class SustainStage(Stage):
    """NoteSequence -> [the same with sustain-pedal control changes applied to note ends] (``SustainPipeline``)."""

    name = "sustain"

    def transform(self, sequence, counters):
        self._count(counters, "sequences_in")
        return [sequences_lib.apply_sustain_control_changes(sequence)]


class StretchStage(Stage):
    """NoteSequence -> one copy per stretch factor (``StretchPipeline``; factor > 1 is slower)."""

    name = "stretch"

    def __init__(self, factors: Sequence[float]):
        self.factors = tuple(factors)

    def transform(self, sequence, counters):
        out = [sequences_lib.stretch_note_sequence(sequence, f) for f in self.factors]
        self._count(counters, "sequences_out", len(out))
        return out


class HopSplitter(Stage):
    """NoteSequence -> pieces of ``hop_size_seconds`` each, shifted to start at 0 (Magenta's ``Splitter``)."""

    name = "splitter"

    def __init__(self, hop_size_seconds: float):
        self.hop_size_seconds = hop_size_seconds

    def transform(self, sequence, counters):
        pieces = sequences_lib.split_note_sequence(sequence, self.hop_size_seconds)
        self._count(counters, "pieces_out", len(pieces))
        return pieces


class AbsoluteQuantizer(Quantizer):
    """NoteSequence -> [NoteSequence quantized at ``steps_per_second``] (Magenta's ``Quantizer(steps_per_second=)``)."""

    _DISCARDS = ((sequences_lib.NegativeTimeError, "discarded_negative_time"),)

    def __init__(self, steps_per_second: int):
        super().__init__(steps_per_quarter=0)
        self.steps_per_second = steps_per_second

    def _quantize(self, sequence):
        return sequences_lib.quantize_note_sequence_absolute(sequence, self.steps_per_second)


class PerformanceExtractor(Stage):
    """Quantized NoteSequence -> [Performance] (Magenta's ``PerformanceExtractor``); lengths in seconds go to
    ``lengths``."""

    name = "performance_extractor"

    def __init__(self, min_events: int, max_events: int, num_velocity_bins: int):
        self.min_events, self.max_events, self.num_velocity_bins = min_events, max_events, num_velocity_bins
        self.lengths: collections.Counter = collections.Counter()

    def transform(self, quantized, counters):
        self._count(counters, "sequences_in")
        performances, stats = extract_performances(
            quantized,
            min_events_discard=self.min_events,
            max_events_truncate=self.max_events,
            num_velocity_bins=self.num_velocity_bins,
        )
        sps = quantized.quantization_info.steps_per_second
        return self._extracted(
            performances, stats, counters, "performances_extracted", lambda p: int(p.num_steps // sps)
        )


def encode_performance(encoder_decoder, control_signals, optional: bool, performance) -> List[tuple]:
    """[(inputs [T][D] floats, labels [T] ints)] of a performance, as Magenta's ``EncoderPipeline``: controls
    extracted by each signal and zipped per event; with optional conditioning, once with ``disable=False``
    and once with ``True``."""
    if not control_signals:
        return [encoder_decoder.encode(performance)]
    controls = list(zip(*[signal.extract(performance) for signal in control_signals]))
    if optional:
        return [encoder_decoder.encode([(disable, c) for c in controls], performance) for disable in (False, True)]
    return [encoder_decoder.encode(controls, performance)]


class PerformanceEncoder(Stage):
    """Performance -> [SequenceExample] through the config's (conditional) encoder/decoder."""

    name = "encoder"

    def __init__(self, model: config_lib.PerformanceRnnConfig):
        self.encoder_decoder = model.encoder_decoder()
        self.control_signals = model.control_signals()
        self.optional = model.optional_conditioning

    def transform(self, performance, counters):
        self._count(counters, "sequences_in")
        out = []
        for inputs, labels in encode_performance(
            self.encoder_decoder, self.control_signals, self.optional, performance
        ):
            if not labels:
                self._count(counters, "discarded_single_step")
                continue
            out.append(make_sequence_example(inputs, labels))
        self._count(counters, "examples_out", len(out))
        return out


class PerformancePipeline(_core.EventsPipeline):
    """:class:`events_rnn.data.EventsPipeline` with Magenta's performance stages (augmentation in training only)."""

    what = "performance"

    def __init__(self, config: PerformancePipelineConfig):
        model = config_lib.PerformanceRnnConfig(config_id=config.config_id)
        self.set_stages(
            config,
            AbsoluteQuantizer(model.steps_per_second),
            PerformanceExtractor(config.min_events, config.max_events, model.num_velocity_bins),
            PerformanceEncoder(model),
            splitter=HopSplitter(config.hop_size_seconds),
        )
        self.sustain = SustainStage()
        self.stretch = {"training": StretchStage(config.stretch_factors), "eval": StretchStage((1.0,))}
        self.transposers = {"training": Transposer(config.transposition_range), "eval": Transposer((0,))}

    def extract(self, sequence, counters: Optional[Counters] = None) -> list:
        """Sustain, stretch, split, quantize, transpose and extract: the performances of one NoteSequence,
        augmented as its partition (training or eval) is in Magenta's pipeline."""
        counters = self.counters if counters is None else counters
        partition = partition_of(sequence_key(sequence), self.config.eval_ratio, self.config.seed)
        out = []
        for sustained in self.sustain.transform(copy.deepcopy(sequence), counters):
            for stretched in self.stretch[partition].transform(sustained, counters):
                for piece in self.splitter.transform(stretched, counters):
                    for quantized in self.quantizer.transform(piece, counters):
                        for shifted in self.transposers[partition].transform(quantized, counters):
                            out.extend(self.extractor.transform(shifted, counters))
        return out


_SUMMARIES = _core.FamilySummaries(
    PerformancePipelineConfig, config_lib.PerformanceRnnConfig, "Performance RNN", "seconds"
)
#: What ``performance_rnn_create_dataset`` writes.
FORMAT = _SUMMARIES.dataset_format(
    "performance_rnn_create_dataset", PerformancePipeline, OUTPUT_FILENAMES, STATS_FILENAME
)
#: ``make_summary(config, counters, lengths, outputs)`` -> the :class:`events_rnn.data.DatasetSummary` of a finished
#: run; ``summary_from_dict(d)``: a stats JSON back as one; ``create_dataset(input_pattern, output_dir,
#: config=PerformancePipelineConfig(), num_workers=1, progress=True)`` runs the performance pipeline over
#: NoteSequence TFRecords (see :func:`events_rnn.data.create_dataset`) and returns it.
make_summary, summary_from_dict, create_dataset = FORMAT.make_summary, FORMAT.summary_from_dict, FORMAT.create_dataset
