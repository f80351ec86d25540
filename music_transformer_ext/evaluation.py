"""Held-out NLL of a Music Transformer on NoteSequences, through the dataset pipeline's eval split.

What ``music_transformer_create_dataset`` (eval split: consecutive ``max_length`` pieces, no
augmentation) followed by :func:`music_transformer_ext.task.evaluate` reports, for pieces held in
memory: used to check a zoo model's card against a fresh evaluation on a sample of its held-out data.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np


def evaluate_note_sequences(
    model, sequences: Sequence, max_length: int = 512, batch_size: int = 8, jit_compile: bool = False
) -> Dict[str, float]:
    """Token-weighted NLL and accuracy of ``model`` on the eval-split examples of ``sequences``.

    Args:
      model: a :class:`music_transformer_ext.model.MusicTransformer` (unconditional, 310 ids).
      sequences: ``note_seq.NoteSequence`` objects, each with an ``id`` (the example key).
      max_length: events per example (the pieces are cut into consecutive pieces of this length).
      batch_size: examples per batch.

    Returns:
      ``{"nll_per_token" (nats per event), "accuracy", "tokens", "examples"}``.

    Raises:
      ValueError: no example came out of ``sequences``.
    """
    from music_transformer_ext import data
    from music_transformer_ext import task as task_lib

    config = data.unconditional_config(max_length=max_length)
    targets = []
    for ns in sequences:
        for _, _, record in data.process_note_sequence(ns.id, ns, "eval", config).records:
            targets.append(data.parse_example(record)["targets"])
    if not targets:
        raise ValueError(f"no eval example from {len(sequences)} sequences")
    batches = []
    for start in range(0, len(targets), batch_size):
        chunk = targets[start : start + batch_size]
        padded = np.zeros((len(chunk), max_length), np.int32)
        for i, ids in enumerate(chunk):
            padded[i, : len(ids)] = ids
        batches.append({"targets": padded})
    metrics = task_lib.evaluate(model, batches, jit_compile=jit_compile)
    return {**{k: float(v) for k, v in metrics.items()}, "examples": len(targets)}
