"""Held-out NLL of a Music Transformer on NoteSequences, through the dataset pipeline's eval split.

What ``music_transformer_create_dataset`` (eval split, no augmentation: consecutive ``max_length``
pieces for an unconditional model; for a melody-conditioned one the ``melody_conditioned`` problem's
segments, melody inputs and truncated targets) followed by :func:`music_transformer_ext.task.evaluate`
reports, for pieces held in memory: used to check a zoo model's card against a fresh evaluation on a
sample of its held-out data.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np


def evaluate_note_sequences(
    model, sequences: Sequence, max_length: int = 512, batch_size: int = 8, jit_compile: bool = False
) -> Dict[str, float]:
    """Token-weighted NLL and accuracy of ``model`` on the eval-split examples of ``sequences``.

    Args:
      model: a :class:`music_transformer_ext.model.MusicTransformer` (310 ids); a conditioned one
        (``model.config.conditioned``) is scored on the ``melody_conditioned`` problem's examples.
      sequences: ``note_seq.NoteSequence`` objects, each with an ``id`` (the example key).
      max_length: events per example (unconditional: the pieces are cut into consecutive pieces of
        this length; conditioned: each segment's targets are truncated to it).
      batch_size: examples per batch.

    Returns:
      ``{"nll_per_token" (nats per event), "accuracy", "tokens", "examples"}``.

    Raises:
      ValueError: no example came out of ``sequences``.
    """
    from music_transformer_ext import data
    from music_transformer_ext import task as task_lib

    conditioned = model.config.conditioned
    config = (data.melody_conditioned_config if conditioned else data.unconditional_config)(max_length=max_length)
    examples = []
    for ns in sequences:
        for _, _, record in data.process_note_sequence(ns.id, ns, "eval", config).records:
            examples.append(data.parse_example(record))
    if not examples:
        raise ValueError(f"no eval example from {len(sequences)} sequences")
    features = ("targets", "inputs") if conditioned else ("targets",)
    widths = {"targets": max_length, "inputs": max(len(e.get("inputs", ())) for e in examples)}
    batches = []
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        batch = {}
        for name in features:
            padded = np.zeros((len(chunk), widths[name]), np.int32)  # PAD (0) is masked
            for i, example in enumerate(chunk):
                padded[i, : len(example[name])] = example[name]
            batch[name] = padded
        batches.append(batch)
    metrics = task_lib.evaluate(model, batches, jit_compile=jit_compile)
    return {**{k: float(v) for k, v in metrics.items()}, "examples": len(examples)}
