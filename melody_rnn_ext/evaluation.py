"""Magenta's eval metrics of a Melody RNN on NoteSequences, through the dataset pipeline.

What ``melody_rnn_create_dataset`` then ``melody_rnn_train --eval`` would report, for pieces held in
memory: used to check a zoo model's card against a fresh evaluation on a sample of its held-out data.
"""

from __future__ import annotations

import os
import tempfile
from typing import Dict, Sequence


def evaluate_sequences(model, config, sequences: Sequence, batch_size: int = 64) -> Dict[str, float]:
    """Eval metrics of ``model`` over every melody the pipeline extracts from ``sequences``.

    Args:
      model: a :class:`melody_rnn_ext.model.MelodyRnnModel` (e.g. ``MelodyGenerator.model``).
      config: its :class:`melody_rnn_ext.config.MelodyRnnConfig` (encoding, input size, no-event label).
      sequences: ``note_seq.NoteSequence`` objects, unquantized, as ``convert_dir_to_note_sequences`` writes.
      batch_size: melodies per evaluation batch.

    Returns:
      ``loss`` (nats per step), ``perplexity``, ``accuracy``, ``event_accuracy``, ``no_event_accuracy``,
      ``steps``; Magenta's pipeline defaults (no eval split: every melody counts).

    Raises:
      ValueError: the pipeline extracted no melody from ``sequences``.
    """
    from melody_rnn_ext import data
    from melody_rnn_ext import task as task_lib
    from pipelines.note_sequence_io import write_note_sequences

    with tempfile.TemporaryDirectory(prefix="melody_eval") as tmp:
        ns_path = write_note_sequences(os.path.join(tmp, "notesequences.tfrecord"), sequences)
        summary = data.create_dataset(
            ns_path, tmp, data.MelodyPipelineConfig(config_id=config.config_id, eval_ratio=0.0), progress=False
        )
        if not summary.to_dict()["outputs"]["training"]["examples"]:
            raise ValueError(f"no melody extracted from {len(sequences)} sequences")
        ds = data.make_sequence_example_dataset(
            data.output_path(tmp, "training"), config.input_size, batch_size, shuffle=False
        )
        metrics = task_lib.evaluate(model, ds, config.no_event_label)
    return {k: float(v) for k, v in metrics.items()}
