"""Any family's ``<model>_create_dataset`` as an Apache Beam pipeline (an :class:`events_rnn.data.DatasetFormat`).

Every input record goes through the same ``fmt.pipeline_class(config).process_record`` as the local
run (:func:`events_rnn.data.create_dataset`: split, quantize, transpose, extract, encode; train/eval
by the seeded hash of the sequence's id, :func:`events_rnn.data.partition_of`), so each output file
holds the same multiset of serialized SequenceExamples as the local run's; only the record order
differs. The outputs keep Magenta's names (``fmt.output_filenames``, one shard each,
``WriteToTFRecord(num_shards=1, shard_name_template='')``: Beam writes them into a temporary folder
and renames each when complete; a partition with no example still gets its empty file). The
per-stage counts, skipped inputs and lengths are summed across workers into ``fmt.stats_filename``
in the same form as the local run; every count is also a Beam metric (namespace ``fmt.command``).

Input files are listed when the pipeline is built; each is read whole by one worker through
``tf.io`` (local, gs://, ...), which also numbers its records so that a record that is not a
NoteSequence is reported as ``record N`` (N counted over all input files in sorted order), as the
local run does. Records are then reshuffled across workers.

Runs on the DirectRunner here and on Dataflow / Flink / Spark with the options passed through
``pipeline_args`` (:func:`pipelines.beam.pipeline_options`).
"""

from __future__ import annotations

from typing import Optional, Sequence

import apache_beam as beam

from events_rnn import data
from pipelines.beam import count_metrics, run_to_json, sum_dicts, write_json_last

_COUNTS, _LENGTHS, _SKIPPED, _FILE_SIZES = "counts", "lengths", "skipped", "file_sizes"


def _read_file(path: str):
    """One NoteSequence TFRecord file -> ``(path, index in file, record)``, then ``(path, records)`` tagged."""
    from pipelines import tfrecord_io

    n = 0
    for n, record in enumerate(tfrecord_io.iter_records(path), start=1):
        yield path, n - 1, record
    yield beam.pvalue.TaggedOutput(_FILE_SIZES, (path, n))


def _file_offsets(files: Sequence[str], sizes: dict) -> dict:
    """``{path: index of its first record}`` over ``files`` taken in order (the local run's numbering)."""
    offsets, total = {}, 0
    for path in files:
        offsets[path] = total
        total += sizes.get(path, 0)
    return offsets


class ProcessRecords(beam.DoFn):
    """``(path, index in file, record)`` -> ``(partition, serialized SequenceExample)``, one per example.

    Side input: ``{path: records in file}``, to number records as the local run does. The counts,
    lengths and skipped inputs of each record leave as tagged outputs (``counts``, ``lengths``, ``skipped``).
    """

    def __init__(self, fmt: data.DatasetFormat, config, files: Sequence[str]):
        self.fmt = fmt
        self.config = config
        self.files = list(files)
        self._pipeline = None
        self._offsets = None

    def setup(self):
        self._pipeline = self.fmt.pipeline_class(self.config)

    def process(self, item, sizes):
        path, index, record = item
        if self._offsets is None:  # the side input is the same for every record (one global window)
            self._offsets = _file_offsets(self.files, sizes)
        partition, examples = self._pipeline.process_record(record, self._offsets[path] + index)
        counters, lengths = self._pipeline.take_counts()
        count_metrics(self.fmt.command, counters.counts)
        yield beam.pvalue.TaggedOutput(_COUNTS, counters.counts)
        if lengths:
            yield beam.pvalue.TaggedOutput(_LENGTHS, lengths)
        for s in counters.skipped:
            yield beam.pvalue.TaggedOutput(_SKIPPED, (s.name, s.reason))
        for example in examples:
            yield partition, example


def _stats_document(fmt, output_dir, config, counts, lengths, skipped, examples, shards) -> dict:
    """Final step: the stats JSON from the summed counts (after both TFRecords are complete)."""
    from pipelines.tfrecord_io import Counters, Skipped

    counters = Counters(dict(counts), sorted(Skipped(n, r) for n, r in skipped))
    outputs = {
        p: {"path": fmt.output_path(output_dir, p), "examples": int(examples.get(p, 0))} for p in data.PARTITIONS
    }
    return fmt.make_summary(config, counters, lengths, outputs).to_dict()


def build_pipeline(fmt: data.DatasetFormat, pipeline, input_pattern, output_dir: str, config) -> str:
    """Adds ``fmt``'s dataset conversion to ``pipeline``; returns the path its stats JSON will have.

    Args:
      fmt: the family's :class:`events_rnn.data.DatasetFormat`.
      pipeline: a ``beam.Pipeline``.
      input_pattern: glob (or list of globs) of NoteSequence TFRecords; expanded now, read by workers.
      output_dir: folder (any Beam filesystem) for the two TFRecords and the stats JSON.
      config: the pipeline settings (``fmt.pipeline_class``'s config).

    Raises:
      FileNotFoundError: no file matches ``input_pattern``.
    """
    from pipelines import tfrecord_io

    files = tfrecord_io.list_files(input_pattern)
    read = (
        pipeline
        | "ListFiles" >> beam.Create(files, reshuffle=True)
        | "Read" >> beam.FlatMap(_read_file).with_outputs(_FILE_SIZES, main="records")
    )
    sizes = beam.pvalue.AsDict(read[_FILE_SIZES])
    results = (
        read.records
        | "Reshuffle" >> beam.Reshuffle()
        | "Process"
        >> beam.ParDo(ProcessRecords(fmt, config, files), sizes).with_outputs(
            _COUNTS, _LENGTHS, _SKIPPED, main="examples"
        )
    )
    shards = []
    for partition in data.PARTITIONS:
        prefix = fmt.output_path(output_dir, partition)[: -len(".tfrecord")]
        shards.append(
            results.examples
            | f"Select_{partition}" >> beam.Filter(lambda r, p=partition: r[0] == p)
            | f"Bytes_{partition}" >> beam.Map(lambda r: r[1])
            | f"Write_{partition}"
            >> beam.io.WriteToTFRecord(prefix, file_name_suffix=".tfrecord", num_shards=1, shard_name_template="")
        )
    examples = (
        results.examples
        | "PartitionOnes" >> beam.Map(lambda r: {r[0]: 1})
        | "CountExamples" >> beam.CombineGlobally(sum_dicts)
    )
    counts = results[_COUNTS] | "SumCounts" >> beam.CombineGlobally(sum_dicts)
    lengths = results[_LENGTHS] | "SumLengths" >> beam.CombineGlobally(sum_dicts)
    return write_json_last(
        pipeline,
        ("Once", "WriteStats"),
        fmt.stats_path(output_dir),
        _stats_document,
        fmt,
        output_dir,
        config,
        beam.pvalue.AsSingleton(counts),
        beam.pvalue.AsSingleton(lengths),
        beam.pvalue.AsList(results[_SKIPPED]),
        beam.pvalue.AsSingleton(examples),
        beam.pvalue.AsList(tuple(shards) | "AllShards" >> beam.Flatten()),
    )


def create_dataset(
    fmt: data.DatasetFormat, input_pattern, output_dir: str, config, pipeline_args: Optional[Sequence[str]] = None
):
    """Runs ``fmt``'s dataset conversion as a Beam pipeline and waits for it.

    Args:
      fmt, input_pattern, output_dir, config: as :func:`events_rnn.data.create_dataset`.
      pipeline_args: Beam options, e.g. ``["--runner=DataflowRunner", "--project=p", "--region=r",
        "--temp_location=gs://b/tmp"]``; without ``--runner``, the DirectRunner (multi-processing).

    Returns:
      the summary read back from the stats JSON (``fmt.summary_from_dict``): the same counts, skipped
      inputs, lengths and outputs as the local run gives.

    Raises:
      FileNotFoundError: no file matches ``input_pattern``.
    """
    stats = run_to_json(
        pipeline_args, output_dir, lambda pipeline: build_pipeline(fmt, pipeline, input_pattern, output_dir, config)
    )
    return fmt.summary_from_dict(stats)


__all__ = ["ProcessRecords", "build_pipeline", "create_dataset"]
