"""Polyphony RNN data: NoteSequences -> polyphonic tracks -> SequenceExamples (Magenta's ``polyphony_rnn_pipeline``).

The stages and defaults of Magenta's ``polyphony_rnn_create_dataset`` (``get_pipeline(min_steps=80,
max_steps=512, eval_ratio=0.1)``), on :class:`events_rnn.data.EventsPipeline`:

1. **partition** into ``training`` / ``eval`` with probability ``eval_ratio`` (a seeded hash of the
   sequence's id, :func:`events_rnn.data.partition_of`, instead of Magenta's unseeded random draw);
2. **split** at time-signature and tempo changes; 3. **quantize** at 4 steps per quarter;
4. **transpose** by each of ``range(-4, 5)`` semitones (Magenta: "up to a major third in either
   direction"; a shift putting a note outside MIDI 0..127 is skipped and counted);
5. **extract** the one polyphonic track of each piece
   (:func:`polyphony_rnn_ext.polyphony_lib.extract_polyphonic_sequences`): pieces with more than one
   program, shorter than ``min_steps`` = 80 (5 bars of 4/4) or longer than ``max_steps`` = 512 steps
   are discarded and counted;
6. **encode** with the ``polyphony`` encoder/decoder (259 inputs / 259 classes).

Outputs keep Magenta's names: ``OUTPUT_DIR/training_poly_tracks.tfrecord`` and
``OUTPUT_DIR/eval_poly_tracks.tfrecord``, plus ``polyphony_rnn_create_dataset_stats.json``.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Tuple

from events_rnn import data as _core
from events_rnn.data import EncoderStage, Quantizer, Stage, Transposer
from polyphony_rnn_ext import config as config_lib
from polyphony_rnn_ext import polyphony_lib

OUTPUT_FILENAMES = {"training": "training_poly_tracks.tfrecord", "eval": "eval_poly_tracks.tfrecord"}
STATS_FILENAME = "polyphony_rnn_create_dataset_stats.json"


@dataclasses.dataclass(frozen=True)
class PolyphonyPipelineConfig:
    """Settings of the polyphony dataset pipeline; the defaults are Magenta's ``polyphony_rnn_create_dataset``.

    Attributes:
      config_id: the Polyphony RNN config whose encoding is written (``polyphony``).
      eval_ratio: probability in [0, 1] that an input NoteSequence goes to the eval set.
      seed: seed of the train/eval partition.
      transposition_range: semitone shifts (Magenta: ``range(-4, 5)``).
      min_steps: shortest track kept, in steps (80).
      max_steps: longest track kept, in steps (512; longer ones are discarded, not truncated).
    """

    config_id: str = "polyphony"
    eval_ratio: float = 0.1
    seed: int = 0
    transposition_range: Tuple[int, ...] = tuple(range(-4, 5))
    min_steps: int = 80
    max_steps: int = 512

    def __post_init__(self):
        config_lib.PolyphonyRnnConfig(config_id=self.config_id)  # raises on an unknown id
        object.__setattr__(self, "transposition_range", tuple(int(t) for t in self.transposition_range))
        if not 0.0 <= self.eval_ratio <= 1.0:
            raise ValueError(f"eval_ratio must be in [0, 1], got {self.eval_ratio}")
        if not self.transposition_range:
            raise ValueError("transposition_range must hold at least one shift (0 for none)")
        if self.min_steps < 0 or self.max_steps < max(2, self.min_steps):
            raise ValueError(
                f"need 0 <= min_steps <= max_steps and max_steps >= 2; got {self.min_steps}, {self.max_steps}"
            )


class PolyphonicSequenceExtractor(Stage):
    """Quantized NoteSequence -> [PolyphonicSequence] (Magenta's ``PolyphonicSequenceExtractor``); the
    kept tracks' lengths in steps go to ``lengths``."""

    name = "poly_extractor"

    def __init__(self, min_steps: int, max_steps: int):
        self.min_steps = min_steps
        self.max_steps = max_steps
        self.lengths: collections.Counter = collections.Counter()

    def transform(self, quantized, counters):
        self._count(counters, "sequences_in")
        tracks, stats = polyphony_lib.extract_polyphonic_sequences(
            quantized, min_steps_discard=self.min_steps, max_steps_discard=self.max_steps
        )
        return self._extracted(tracks, stats, counters, "polyphonic_tracks_extracted", lambda t: t.num_steps)


class PolyphonyPipeline(_core.EventsPipeline):
    """:class:`events_rnn.data.EventsPipeline` with Magenta's polyphony stages (see the module docstring)."""

    what = "poly_track"

    def __init__(self, config: PolyphonyPipelineConfig):
        self.set_stages(
            config,
            Quantizer(config_lib.STEPS_PER_QUARTER),
            PolyphonicSequenceExtractor(config.min_steps, config.max_steps),
            EncoderStage(polyphony_lib.make_encoder_decoder()),
            Transposer(config.transposition_range),
        )


_SUMMARIES = _core.FamilySummaries(PolyphonyPipelineConfig, config_lib.PolyphonyRnnConfig, "Polyphony RNN", "steps")
#: What ``polyphony_rnn_create_dataset`` writes.
FORMAT = _SUMMARIES.dataset_format("polyphony_rnn_create_dataset", PolyphonyPipeline, OUTPUT_FILENAMES, STATS_FILENAME)
#: ``make_summary(config, counters, lengths, outputs)`` -> the :class:`events_rnn.data.DatasetSummary` of a finished
#: run; ``summary_from_dict(d)``: a stats JSON back as one; ``create_dataset(input_pattern, output_dir,
#: config=PolyphonyPipelineConfig(), num_workers=1, progress=True)`` runs the polyphony pipeline over
#: NoteSequence TFRecords (see :func:`events_rnn.data.create_dataset`) and returns it.
make_summary, summary_from_dict, create_dataset = FORMAT.make_summary, FORMAT.summary_from_dict, FORMAT.create_dataset
