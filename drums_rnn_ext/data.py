"""Drums RNN data: NoteSequences -> drum tracks -> SequenceExamples (Magenta's ``drums_rnn_pipeline``).

The stages and defaults of Magenta's ``drums_rnn_create_dataset`` on :class:`events_rnn.data.EventsPipeline`:
partition (``eval_ratio`` 0.1, a seeded hash of the id) -> split at time changes -> quantize at the
config's ``steps_per_quarter`` (``one_drum`` 2, ``drum_kit`` 4) -> extract drum tracks
(``DrumsExtractor(min_bars=7, max_steps=512, gap_bars=1.0)``: :func:`extract_drum_tracks`, drum notes
only, tracks shorter than 7 bars discarded, longer than 512 steps truncated) -> encode with the
config's encoder/decoder. No transposition (drums are not pitched). Outputs keep Magenta's names:
``training_drum_tracks.tfrecord`` and ``eval_drum_tracks.tfrecord``, plus
``drums_rnn_create_dataset_stats.json``.

:func:`extract_drum_tracks` is Magenta's (``magenta/pipelines/drum_pipelines.py``; note-seq 0.0.5
lacks it), also used by generation to read a primer (``gap_bars=inf``, ``ignore_is_drum=True``).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import List, Optional, Tuple

import note_seq
from note_seq import sequences_lib

from drums_rnn_ext import config as config_lib
from events_rnn import data as _core
from events_rnn.data import EncoderStage, Quantizer, Stage

OUTPUT_FILENAMES = {"training": "training_drum_tracks.tfrecord", "eval": "eval_drum_tracks.tfrecord"}
STATS_FILENAME = "drums_rnn_create_dataset_stats.json"


def extract_drum_tracks(
    quantized_sequence,
    search_start_step: int = 0,
    min_bars: int = 7,
    max_steps_truncate: Optional[int] = None,
    max_steps_discard: Optional[int] = None,
    gap_bars: float = 1.0,
    pad_end: bool = False,
    ignore_is_drum: bool = False,
) -> Tuple[List[note_seq.DrumTrack], collections.Counter]:
    """Magenta's ``extract_drum_tracks``: the drum tracks of a quantized NoteSequence, one after another.

    A track ends after ``gap_bars`` bars without drums; tracks shorter than ``min_bars`` bars are
    discarded (``drum_tracks_discarded_too_short``), longer than ``max_steps_discard`` steps discarded
    (``..._too_long``), longer than ``max_steps_truncate`` truncated (``drum_tracks_truncated``).
    Returns (tracks, counters). Raises note-seq's ``NonIntegerStepsPerBarError``.
    """
    tracks: List[note_seq.DrumTrack] = []
    stats: collections.Counter = collections.Counter()
    steps_per_bar = int(sequences_lib.steps_per_bar_in_quantized_sequence(quantized_sequence))
    while True:
        track = note_seq.DrumTrack()
        track.from_quantized_sequence(
            quantized_sequence,
            search_start_step=search_start_step,
            gap_bars=gap_bars,
            pad_end=pad_end,
            ignore_is_drum=ignore_is_drum,
        )
        # Magenta's next search start (as written there).
        search_start_step = track.end_step + (search_start_step - track.end_step) % steps_per_bar
        if not track:
            break
        if len(track) < track.steps_per_bar * min_bars:
            stats["drum_tracks_discarded_too_short"] += 1
            continue
        if max_steps_discard is not None and len(track) > max_steps_discard:
            stats["drum_tracks_discarded_too_long"] += 1
            continue
        if max_steps_truncate is not None and len(track) > max_steps_truncate:
            length = max_steps_truncate
            if pad_end:
                length -= max_steps_truncate % track.steps_per_bar
            track.set_length(length)
            stats["drum_tracks_truncated"] += 1
        tracks.append(track)
    return tracks, stats


@dataclasses.dataclass(frozen=True)
class DrumsPipelineConfig:
    """Settings of the drums dataset pipeline; the defaults are Magenta's ``drums_rnn_create_dataset``.

    Attributes:
      config_id: the Drums RNN config whose encoding (and steps per quarter) is written.
      eval_ratio: probability in [0, 1] that an input NoteSequence goes to the eval set.
      seed: seed of the train/eval partition.
      min_bars: shortest track kept, in bars (7).
      max_steps: longer tracks are truncated to this many steps (512).
      gap_bars: bars without drums that end a track (1.0).
    """

    config_id: str = "drum_kit"
    eval_ratio: float = 0.1
    seed: int = 0
    min_bars: int = 7
    max_steps: int = 512
    gap_bars: float = 1.0

    def __post_init__(self):
        config_lib.DrumsRnnConfig(config_id=self.config_id)  # raises on an unknown id
        if not 0.0 <= self.eval_ratio <= 1.0:
            raise ValueError(f"eval_ratio must be in [0, 1], got {self.eval_ratio}")
        if self.min_bars < 0 or self.max_steps < 2 or self.gap_bars <= 0:
            raise ValueError(f"need min_bars >= 0, max_steps >= 2, gap_bars > 0; got {self}")


class DrumsExtractor(Stage):
    """Quantized NoteSequence -> [DrumTrack] (Magenta's ``DrumsExtractor``); lengths in bars go to ``lengths``."""

    name = "drums_extractor"
    _DISCARDS = (_core.NON_INTEGER_STEPS_PER_BAR,)

    def __init__(self, min_bars: int = 7, max_steps: int = 512, gap_bars: float = 1.0):
        self.min_bars, self.max_steps, self.gap_bars = min_bars, max_steps, gap_bars
        self.lengths: collections.Counter = collections.Counter()

    def transform(self, quantized, counters):
        self._count(counters, "sequences_in")
        try:
            tracks, stats = extract_drum_tracks(
                quantized, min_bars=self.min_bars, max_steps_truncate=self.max_steps, gap_bars=self.gap_bars
            )
        except self._discard_errors() as err:
            return self._discarded(err, counters)
        return self._extracted(tracks, stats, counters, "drum_tracks_extracted", lambda t: len(t) // t.steps_per_bar)


class DrumsPipeline(_core.EventsPipeline):
    """:class:`events_rnn.data.EventsPipeline` with Magenta's drums stages (no transposition)."""

    what = "drum_track"

    def __init__(self, config: DrumsPipelineConfig):
        model = config_lib.DrumsRnnConfig(config_id=config.config_id)
        self.set_stages(
            config,
            Quantizer(model.steps_per_quarter),
            DrumsExtractor(config.min_bars, config.max_steps, config.gap_bars),
            EncoderStage(model.encoder_decoder()),
        )


_SUMMARIES = _core.FamilySummaries(DrumsPipelineConfig, config_lib.DrumsRnnConfig, "Drums RNN", "bars")
#: What ``drums_rnn_create_dataset`` writes.
FORMAT = _SUMMARIES.dataset_format("drums_rnn_create_dataset", DrumsPipeline, OUTPUT_FILENAMES, STATS_FILENAME)
#: ``make_summary(config, counters, lengths, outputs)`` -> the :class:`events_rnn.data.DatasetSummary` of a finished
#: run; ``summary_from_dict(d)``: a stats JSON back as one; ``create_dataset(input_pattern, output_dir,
#: config=DrumsPipelineConfig(), num_workers=1, progress=True)`` runs the drums pipeline over
#: NoteSequence TFRecords (see :func:`events_rnn.data.create_dataset`) and returns it.
make_summary, summary_from_dict, create_dataset = FORMAT.make_summary, FORMAT.summary_from_dict, FORMAT.create_dataset
