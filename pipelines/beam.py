"""The conversions of ``pipelines`` as Apache Beam pipelines.

Runs on the DirectRunner here (multi-processing, one worker per core unless
``--direct_num_workers`` says otherwise) and on Dataflow / Flink / Spark at scale: every
pipeline option that is passed in ``pipeline_args`` goes to Beam's ``PipelineOptions``
unchanged.

``nsynth_to_tfrecord`` writes the same records as the local
``pipelines.nsynth_to_tfrecord.convert`` (same serialized tf.Examples, same skipped notes and
reasons); only the assignment of records to shards differs (Beam's own sharding in
``WriteToTFRecord``, which writes into a temporary folder and renames complete shards).
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import Optional, Sequence

from pipelines.nsynth import load_examples_json
from pipelines.nsynth_to_tfrecord import FILTERED, SKIPPED, WRITTEN, convert_note, summary_path
from pipelines.tfrecord_io import Counters

_REPO_ROOT = str(pathlib.Path(__file__).resolve().parent.parent)


def pipeline_options(pipeline_args: Optional[Sequence[str]] = None):
    """``PipelineOptions`` from command-line style args, with local defaults.

    Without ``--runner`` the DirectRunner is used; on the DirectRunner,
    ``--direct_running_mode=multi_processing`` and ``--direct_num_workers=<cores>`` are
    added unless given.
    """
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions

    args = list(pipeline_args or [])
    runner = PipelineOptions(args).view_as(StandardOptions).runner
    if runner in (None, "DirectRunner", "direct"):
        if not any(a.startswith("--direct_running_mode") for a in args):
            args.append("--direct_running_mode=multi_processing")
        if not any(a.startswith("--direct_num_workers") for a in args):
            args.append(f"--direct_num_workers={os.cpu_count() or 1}")
        if runner is None:
            args.append("--runner=DirectRunner")
        # Worker subprocesses must be able to import this package.
        path = os.environ.get("PYTHONPATH", "")
        if _REPO_ROOT not in path.split(os.pathsep):
            os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (_REPO_ROOT, path) if p)
    return PipelineOptions(args)


def _status(result, num_partitions):
    return {WRITTEN: 0, FILTERED: 1, SKIPPED: 2}[result[0]]


def _convert(item, input_dir, acoustic_only, min_pitch, max_pitch):
    from apache_beam.metrics import Metrics

    result = convert_note(input_dir, item[0], item[1], acoustic_only, min_pitch, max_pitch)
    Metrics.counter("nsynth_to_tfrecord", result[0]).inc()
    return result


def _write_summary(_, path, num_notes, written, filtered, skipped, shards):
    from apache_beam.io.filesystems import FileSystems

    counters = Counters()
    counters.increment("notes", num_notes)
    counters.increment(WRITTEN, written)
    counters.increment(FILTERED, filtered)
    counters.increment(SKIPPED, 0)
    for name, reason in skipped:
        counters.skip(name, reason)
    data = counters.to_dict()
    data["shards"] = sorted(os.path.basename(s) for s in shards)
    tmp = path + ".tmp-beam"
    with FileSystems.create(tmp) as f:
        f.write((json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def build_nsynth_pipeline(pipeline, input_dir: str, output_dir: str, name: str, num_shards: int,
                          acoustic_only: bool, min_pitch: Optional[int], max_pitch: Optional[int]) -> str:
    """Adds the NSynth conversion to ``pipeline``; returns the path its summary will have.

    Reads ``examples.json`` now (it is small); wavs are read by the workers.
    """
    import apache_beam as beam

    examples = load_examples_json(os.path.join(input_dir, "examples.json"))
    items = sorted(examples.items())
    results = (
        pipeline
        | "ListNotes" >> beam.Create(items, reshuffle=True)
        | "Convert" >> beam.Map(_convert, input_dir, acoustic_only, min_pitch, max_pitch)
    )
    written, filtered, skipped = results | "ByStatus" >> beam.Partition(_status, 3)
    shards = (
        written
        | "Serialized" >> beam.Map(lambda r: r[2])
        | "Write" >> beam.io.WriteToTFRecord(os.path.join(output_dir, name), file_name_suffix=".tfrecord",
                                             num_shards=num_shards)
    )
    path = summary_path(output_dir, name)
    _ = (
        pipeline
        | "One" >> beam.Create([None])
        | "Summary" >> beam.Map(
            _write_summary, path, len(items),
            beam.pvalue.AsSingleton(written | "CountWritten" >> beam.combiners.Count.Globally()),
            beam.pvalue.AsSingleton(filtered | "CountFiltered" >> beam.combiners.Count.Globally()),
            beam.pvalue.AsSingleton(skipped | "Reasons" >> beam.Map(lambda r: (r[1], r[2]))
                                    | "ListSkipped" >> beam.combiners.ToList()),
            beam.pvalue.AsList(shards))
    )
    return path


def nsynth_to_tfrecord(
    input_dir: str,
    output_dir: str,
    name: str = "nsynth",
    num_shards: int = 4,
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    pipeline_args: Optional[Sequence[str]] = None,
) -> Counters:
    """Runs the NSynth jsonwav -> TFRecord conversion as a Beam pipeline and waits for it.

    Args:
      input_dir, output_dir, name, num_shards, acoustic_only, min_pitch, max_pitch: as for
        ``pipelines.nsynth_to_tfrecord.convert``. Paths may be any Beam filesystem for
        output_dir; input_dir must be readable by the workers.
      pipeline_args: Beam options, e.g. ``["--runner=DataflowRunner", "--project=p"]``.

    Returns:
      Counters read back from the summary JSON (``OUTPUT_DIR/<name>-summary.json``).
    """
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    if "://" not in output_dir:
        os.makedirs(output_dir, exist_ok=True)
    options = pipeline_options(pipeline_args)
    with beam.Pipeline(options=options) as pipeline:
        path = build_nsynth_pipeline(pipeline, input_dir, output_dir, name, num_shards,
                                     acoustic_only, min_pitch, max_pitch)
    with FileSystems.open(path) as f:
        data = json.loads(f.read().decode("utf-8"))
    _remove_other_shard_counts(output_dir, name, data["shards"])
    return Counters.from_dict(data)


def _remove_other_shard_counts(output_dir: str, name: str, keep: Sequence[str]) -> None:
    """Deletes local final-named shards of ``name`` that this run did not write."""
    import re

    if "://" in output_dir or not os.path.isdir(output_dir):
        return
    regex = re.compile(re.escape(name) + r"-\d{5}-of-\d{5}\.tfrecord")
    for entry in os.listdir(output_dir):
        if regex.fullmatch(entry) and entry not in keep:
            os.remove(os.path.join(output_dir, entry))


__all__ = ["pipeline_options", "build_nsynth_pipeline", "nsynth_to_tfrecord"]
