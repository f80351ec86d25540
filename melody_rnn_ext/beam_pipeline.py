"""``melody_rnn_create_dataset`` as an Apache Beam pipeline: :mod:`events_rnn.beam_pipeline` with
:data:`melody_rnn_ext.data.FORMAT` (``training_melodies.tfrecord``, ``eval_melodies.tfrecord`` and
``melody_rnn_create_dataset_stats.json``, the same records and counts as the local run).
"""

from __future__ import annotations

from typing import Optional, Sequence

import apache_beam as beam  # noqa: F401  (tests patch beam_pipeline.beam.Pipeline)

from events_rnn import beam_pipeline as _core
from melody_rnn_ext import data

METRICS_NAMESPACE = data.FORMAT.command


def build_pipeline(pipeline, input_pattern, output_dir: str, config: data.MelodyPipelineConfig) -> str:
    """Adds the melody dataset conversion to ``pipeline``; returns the path its stats JSON will have
    (see :func:`events_rnn.beam_pipeline.build_pipeline`)."""
    return _core.build_pipeline(data.FORMAT, pipeline, input_pattern, output_dir, config)


def create_dataset(
    input_pattern,
    output_dir: str,
    config: data.MelodyPipelineConfig = data.MelodyPipelineConfig(),
    pipeline_args: Optional[Sequence[str]] = None,
) -> data.DatasetSummary:
    """Runs the melody dataset conversion as a Beam pipeline and waits for it; returns the
    :class:`melody_rnn_ext.data.DatasetSummary` read back from its stats JSON
    (see :func:`events_rnn.beam_pipeline.create_dataset`)."""
    return _core.create_dataset(data.FORMAT, input_pattern, output_dir, config, pipeline_args)


__all__ = ["METRICS_NAMESPACE", "build_pipeline", "create_dataset"]
