"""Improv RNN data: NoteSequences with chord symbols -> lead sheets -> SequenceExamples (Magenta's
``improv_rnn_pipeline``).

The stages and defaults of Magenta's ``improv_rnn_create_dataset`` on :class:`events_rnn.data.EventsPipeline`:
partition (``eval_ratio`` 0.1, a seeded hash of the id) -> split at time changes -> quantize at 4 steps per
quarter -> extract lead sheets (``LeadSheetExtractor(min_bars=7, max_steps=512, min_unique_pitches=3,
gap_bars=1.0, ignore_polyphonic_notes=False, all_transpositions=True)``:
:func:`improv_rnn_ext.lead_sheets.extract_lead_sheet_fragments`, chords from the sequence's
``CHORD_SYMBOL`` text annotations, lead sheets without any chord dropped, each lead sheet in all 12 keys
since every Improv RNN config has ``transpose_to_key`` None) -> encode (:class:`LeadSheetEncoder`: squash
the melody into MIDI 48..83, chords moved along, then the config's conditional encoder/decoder on
(chords, melody)). Both partitions are transposed, as in Magenta. Outputs keep Magenta's names:
``training_lead_sheets.tfrecord`` and ``eval_lead_sheets.tfrecord``, plus
``improv_rnn_create_dataset_stats.json``.
"""

from __future__ import annotations

import collections
import copy
import dataclasses

import note_seq

from events_rnn import data as _core
from events_rnn.data import Quantizer, Stage
from improv_rnn_ext import config as config_lib
from improv_rnn_ext import lead_sheets as lead_sheets_lib
from pipelines.tfrecord_io import Counters

OUTPUT_FILENAMES = {"training": "training_lead_sheets.tfrecord", "eval": "eval_lead_sheets.tfrecord"}
STATS_FILENAME = "improv_rnn_create_dataset_stats.json"
#: The ``_DISCARDS`` entry of both stages: a chord figure note-seq cannot read.
_CHORD_SYMBOL_ERROR = (note_seq.ChordSymbolError, "discarded_chord_symbol_exception")


@dataclasses.dataclass(frozen=True)
class ImprovPipelineConfig:
    """Settings of the lead-sheet pipeline; the defaults are Magenta's ``improv_rnn_create_dataset``.

    Attributes:
      config_id: the Improv RNN config whose encoding is written.
      eval_ratio: fraction of input sequences (by a seeded hash of their id) in the eval partition (0.1).
      seed: seed of that hash.
      min_bars: shortest melody kept, in bars (7).
      max_steps: longer melodies are truncated to this many steps (512).
      min_unique_pitches: fewest distinct pitch classes a melody must have (3).
      gap_bars: bars of silence that end a melody (1.0).
      ignore_polyphonic_notes: keep the top note of polyphonic tracks (Magenta: False, such tracks are dropped).
      require_chords: drop lead sheets whose chords are all ``N.C.`` (True).
      all_transpositions: emit every lead sheet in all 12 keys (True: Magenta's configs have no
        ``transpose_to_key``).
    """

    config_id: str = "basic_improv"
    eval_ratio: float = 0.1
    seed: int = 0
    min_bars: int = 7
    max_steps: int = 512
    min_unique_pitches: int = 3
    gap_bars: float = 1.0
    ignore_polyphonic_notes: bool = False
    require_chords: bool = True
    all_transpositions: bool = True

    def __post_init__(self):
        config_lib.ImprovRnnConfig(config_id=self.config_id)  # raises on an unknown id
        if not 0.0 <= self.eval_ratio <= 1.0:
            raise ValueError(f"eval_ratio must be in [0, 1], got {self.eval_ratio}")
        if self.min_bars < 0 or self.max_steps < 2 or self.min_unique_pitches < 0 or self.gap_bars <= 0:
            raise ValueError(f"need min_bars >= 0, max_steps >= 2, min_unique_pitches >= 0, gap_bars > 0; got {self}")


class LeadSheetExtractor(Stage):
    """Quantized NoteSequence -> [LeadSheet] (Magenta's ``LeadSheetExtractor``); melody lengths in bars go to
    ``lengths``. Sequences with a non-integer bar or a chord figure note-seq cannot read are counted and skipped."""

    name = "lead_sheet_extractor"
    input_type = note_seq.NoteSequence
    output_type = note_seq.LeadSheet
    _DISCARDS = (_core.NON_INTEGER_STEPS_PER_BAR, _CHORD_SYMBOL_ERROR)

    def __init__(self, config: ImprovPipelineConfig):
        self.config = config
        self.lengths: collections.Counter = collections.Counter()

    def transform(self, quantized, counters):
        self._count(counters, "sequences_in")
        c = self.config
        local = Counters()
        try:
            sheets, local = lead_sheets_lib.extract_lead_sheet_fragments(
                quantized,
                min_bars=c.min_bars,
                max_steps_truncate=c.max_steps,
                gap_bars=c.gap_bars,
                min_unique_pitches=c.min_unique_pitches,
                ignore_polyphonic_notes=c.ignore_polyphonic_notes,
                require_chords=c.require_chords,
                all_transpositions=c.all_transpositions,
                counters=local,
            )
        except self._discard_errors() as err:
            return self._discarded(err, counters)
        finally:
            for name, n in local.counts.items():
                counters.increment(name if name.startswith("melody_extractor/") else f"{self.name}/{name}", n)
        for sheet in sheets:
            self.lengths[len(sheet) // sheet.steps_per_bar] += 1
        self._count(counters, "lead_sheets_extracted", len(sheets))
        return sheets


class LeadSheetEncoder(Stage):
    """LeadSheet -> [SequenceExample] (Magenta's improv ``EncoderPipeline``): a copy squashed into
    ``[min_note, max_note)`` (chords transposed along), encoded as (chords -> melody) by the config's
    conditional encoder/decoder. Chords it cannot encode are counted and the lead sheet skipped."""

    name = "encoder"
    input_type = note_seq.LeadSheet
    _DISCARDS = ((note_seq.ChordEncodingError, "discarded_chord_encoding_exception"), _CHORD_SYMBOL_ERROR)

    def __init__(self, model: config_lib.ImprovRnnConfig):
        self.encoder_decoder = model.encoder_decoder()
        self.min_note, self.max_note = model.note_range

    def transform(self, lead_sheet, counters):
        self._count(counters, "lead_sheets_in")
        squashed = copy.deepcopy(lead_sheet)
        try:
            squashed.squash(self.min_note, self.max_note, None)
            inputs, labels = self.encoder_decoder.encode(squashed.chords, squashed.melody)
        except self._discard_errors() as err:
            return self._discarded(err, counters)
        return self._examples(inputs, labels, counters)


class ImprovPipeline(_core.EventsPipeline):
    """:class:`events_rnn.data.EventsPipeline` with Magenta's lead-sheet stages (transposition happens in the
    extractor, per lead sheet)."""

    what = "lead_sheet"

    def __init__(self, config: ImprovPipelineConfig):
        model = config_lib.ImprovRnnConfig(config_id=config.config_id)
        self.set_stages(config, Quantizer(model.steps_per_quarter), LeadSheetExtractor(config), LeadSheetEncoder(model))


_SUMMARIES = _core.FamilySummaries(ImprovPipelineConfig, config_lib.ImprovRnnConfig, "Improv RNN", "bars")
#: What ``improv_rnn_create_dataset`` writes.
FORMAT = _SUMMARIES.dataset_format("improv_rnn_create_dataset", ImprovPipeline, OUTPUT_FILENAMES, STATS_FILENAME)
#: ``make_summary(config, counters, lengths, outputs)`` -> the :class:`events_rnn.data.DatasetSummary` of a finished
#: run; ``summary_from_dict(d)``: a stats JSON back as one; ``create_dataset(input_pattern, output_dir,
#: config=ImprovPipelineConfig(), num_workers=1, progress=True)`` runs the lead-sheet pipeline over
#: NoteSequence TFRecords (see :func:`events_rnn.data.create_dataset`) and returns it.
make_summary, summary_from_dict, create_dataset = FORMAT.make_summary, FORMAT.summary_from_dict, FORMAT.create_dataset
