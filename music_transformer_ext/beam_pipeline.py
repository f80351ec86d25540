"""``music_transformer_create_dataset`` as an Apache Beam pipeline.

The same stages as ``music_transformer_ext.data`` (every record goes through
``data.process_record``, seeded by the sequence id), so the records of each split are the same
multiset as the local writer's; only their order and shard assignment differ (Beam's
``WriteToTFRecord`` shards, written to a temporary folder and renamed when complete). The
per-stage counts are summed across workers and written to ``OUTPUT_DIR/summary.json`` in the
same form; every count is also a Beam metric (namespace ``music_transformer_create_dataset``).

Runs on the DirectRunner here and on Dataflow / Flink / Spark with the options passed through
``pipeline_args`` (``pipelines.beam.pipeline_options``); input files are listed when the pipeline
is built and each is read whole by one worker through ``tf.io`` (local, gs://, ...), so an
unreadable file is skipped and named as the local writer does; records are then reshuffled
across workers.
"""

from __future__ import annotations

import os
import re
from typing import Optional, Sequence

from music_transformer_ext import data
from pipelines import note_sequence_io
from pipelines.tfrecord_io import Counters, Skipped

METRICS_NAMESPACE = "music_transformer_create_dataset"
_COUNTS, _SKIPPED = "counts", "skipped"


def _read_file(path):
    """One NoteSequence TFRecord file -> (path, record) pairs; an unreadable file is a skip."""
    import apache_beam as beam

    from pipelines.errors import InputError

    try:
        for record in note_sequence_io.iter_file_records(path):
            yield path, record
    except InputError as e:
        yield beam.pvalue.TaggedOutput(_COUNTS, {"skipped": 1})
        yield beam.pvalue.TaggedOutput(_SKIPPED, (e.name, e.problem))


def _process(item, file_splits, config):
    """(filename, serialized NoteSequence) -> records, with counts and skips as tagged outputs."""
    import apache_beam as beam

    from pipelines.beam import count_metrics

    path, record = item
    result = data.process_record(path, record, file_splits.get(path), config)
    count_metrics(METRICS_NAMESPACE, result.counters.counts)
    yield beam.pvalue.TaggedOutput(_COUNTS, dict(result.counters.counts))
    for s in result.counters.skipped:
        yield beam.pvalue.TaggedOutput(_SKIPPED, (s.name, s.reason))
    for split, _key, example in result.records:
        yield split, example


def _summary_document(splits, config, counts, skipped, shards) -> dict:
    """The summary JSON from the summed counts, as the local writer writes it (after every shard is complete)."""
    counters = Counters()
    for split in splits:
        counters.increment(f"split.{split}", 0)
        counters.increment(f"examples.{split}", 0)
    for name, value in counts.items():
        counters.increment(name, value)
    # the "skipped" count is already in ``counts`` (Counters.skip increments it on the workers)
    counters.skipped.extend(Skipped(name, reason) for name, reason in skipped)
    return data.summary_data(counters, config, shards)


def build_pipeline(pipeline, inputs, output_dir: str, config: data.DatasetConfig, num_shards: int) -> str:
    """Adds the conversion to ``pipeline``; returns the path its summary will have.

    Args:
      pipeline: a ``beam.Pipeline``.
      inputs: as ``data.resolve_inputs`` (patterns are expanded now, files read by workers).
      output_dir: where ``<split>-IIIII-of-NNNNN.tfrecord`` and ``summary.json`` go.
      config: DatasetConfig.
      num_shards: shards per split.
    """
    import apache_beam as beam

    from pipelines.beam import sum_dicts, write_json_last

    pairs = data.resolve_inputs(inputs)
    splits = data.output_splits(inputs, config)
    file_splits = {path: split for split, path in pairs if split is not None}
    files = sorted({path for _, path in pairs})
    read = (
        pipeline
        | "ListFiles" >> beam.Create(files, reshuffle=True)
        | "Read" >> beam.FlatMap(_read_file).with_outputs(_COUNTS, _SKIPPED, main="records")
    )
    results = (
        read.records
        | "Reshuffle" >> beam.Reshuffle()
        | "Process" >> beam.FlatMap(_process, file_splits, config).with_outputs(_COUNTS, _SKIPPED, main="records")
    )
    counts = (read[_COUNTS], results[_COUNTS]) | "AllCounts" >> beam.Flatten()
    skipped = (read[_SKIPPED], results[_SKIPPED]) | "AllSkipped" >> beam.Flatten()
    shard_lists = []
    for split in splits:
        shards = (
            results.records
            | f"Select_{split}" >> beam.Filter(lambda r, s=split: r[0] == s)
            | f"Bytes_{split}" >> beam.Map(lambda r: r[1])
            | f"Write_{split}"
            >> beam.io.WriteToTFRecord(
                os.path.join(output_dir, split), file_name_suffix=".tfrecord", num_shards=num_shards
            )
        )
        shard_lists.append(shards)
    all_shards = tuple(shard_lists) | "AllShards" >> beam.Flatten()
    return write_json_last(
        pipeline,
        ("One", "Summary"),
        os.path.join(output_dir, data.SUMMARY_NAME),
        _summary_document,
        splits,
        config,
        beam.pvalue.AsSingleton(counts | "SumCounts" >> beam.CombineGlobally(sum_dicts)),
        beam.pvalue.AsList(skipped),
        beam.pvalue.AsList(all_shards),
    )


def _remove_outputs(output_dir: str, splits: Sequence[str]) -> None:
    """Deletes local final-named shards of ``splits`` (Beam may write another shard count)."""
    if "://" in output_dir or not os.path.isdir(output_dir):
        return
    regex = re.compile("(" + "|".join(re.escape(s) for s in splits) + r")-\d{5}-of-\d{5}\.tfrecord")
    for entry in os.listdir(output_dir):
        if regex.fullmatch(entry):
            os.remove(os.path.join(output_dir, entry))


def create_dataset(
    inputs,
    output_dir: str,
    config: data.DatasetConfig,
    num_shards: int = 8,
    pipeline_args: Optional[Sequence[str]] = None,
) -> Counters:
    """Runs the conversion as a Beam pipeline and waits for it.

    Args:
      inputs, output_dir, config, num_shards: as ``data.create_dataset``.
      pipeline_args: Beam options, e.g. ``["--runner=DataflowRunner", "--project=p", ...]``;
        without ``--runner`` the DirectRunner (multi-processing) is used.

    Returns:
      Counters read back from ``OUTPUT_DIR/summary.json``.
    """
    from pipelines.beam import run_to_json

    _remove_outputs(output_dir, data.output_splits(inputs, config))
    summary = run_to_json(
        pipeline_args, output_dir, lambda pipeline: build_pipeline(pipeline, inputs, output_dir, config, num_shards)
    )
    return Counters.from_dict(summary)


__all__ = ["METRICS_NAMESPACE", "build_pipeline", "create_dataset"]
