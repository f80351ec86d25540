"""The conversions of ``pipelines`` as Apache Beam pipelines.

Runs on the DirectRunner here (multi-processing, one worker per core unless
``--direct_num_workers`` says otherwise) and on Dataflow / Flink / Spark at scale: every
pipeline option that is passed in ``pipeline_args`` goes to Beam's ``PipelineOptions``
unchanged.

``nsynth_to_tfrecord`` writes the same records as the local
``pipelines.nsynth_to_tfrecord.convert`` (same serialized tf.Examples, same skipped notes and
reasons); only the assignment of records to shards differs (Beam's own sharding in
``WriteToTFRecord``, which writes into a temporary folder and renames complete shards).

``convert_dir_to_note_sequences`` writes the same NoteSequences as the local
``pipelines.note_sequences.convert_directory`` (same serialized protos and ids, same counters
and skipped files with the same reasons); again only the shard assignment differs. The folder is
listed by the launching process; workers read the files, so ``input_dir`` must be a path they
can read (a shared or mounted filesystem on a cluster).
"""
from __future__ import annotations

import json
import os
import pathlib
from typing import Optional, Sequence

from pipelines.nsynth import load_examples_json
from pipelines.nsynth_to_tfrecord import FILTERED, SKIPPED, WRITTEN, convert_note, summary_path
from pipelines.tfrecord_io import Counters, atomic_write_json

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


def _write_json_beam(path: str, data: dict) -> None:
    """Writes JSON under a temporary name, then renames it (``os.replace`` for local paths,
    Beam's FileSystems for ``gs://``-style paths)."""
    from apache_beam.io.filesystems import FileSystems

    if "://" not in path:
        atomic_write_json(path, data)
        return
    tmp = path + ".tmp-beam"
    with FileSystems.create(tmp) as f:
        f.write((json.dumps(data, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    if FileSystems.exists(path):
        FileSystems.delete([path])
    FileSystems.rename([tmp], [path])


def _write_summary(_, path, num_notes, written, filtered, skipped, shards):
    counters = Counters()
    counters.increment("notes", num_notes)
    counters.increment(WRITTEN, written)
    counters.increment(FILTERED, filtered)
    counters.increment(SKIPPED, 0)
    for name, reason in skipped:
        counters.skip(name, reason)
    data = counters.to_dict()
    data["shards"] = sorted(os.path.basename(s) for s in shards)
    _write_json_beam(path, data)


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


# --------------------------------------------------------------------------- NoteSequences


def _convert_music_file(relpath: str, input_dir: str, collection_name: str):
    from apache_beam.metrics import Metrics

    from pipelines import note_sequences

    result = note_sequences.convert_file(input_dir, relpath, collection_name)
    for name, value in result.counters.counts.items():
        Metrics.counter("convert_dir_to_note_sequences", name).inc(value)
    return result


def _merge_counters(counters_list) -> Counters:
    merged = Counters()
    for counters in counters_list:
        merged.merge(counters)
    return merged


def _write_note_sequence_counters(_, path, files_found, files_ignored, counters, shards):
    from pipelines import note_sequences

    total = note_sequences.new_counters(files_found, files_ignored).merge(counters)
    _write_json_beam(path, note_sequences.counters_document(total, shards))


def build_note_sequences_pipeline(pipeline, input_dir: str, output_file: str, num_shards: int = 1,
                                  recursive: bool = True) -> str:
    """Adds the folder -> NoteSequence TFRecords conversion to ``pipeline``.

    Lists ``input_dir`` now (in the launching process); workers parse the files with
    ``pipelines.note_sequences.convert_file``, Beam's ``WriteToTFRecord`` writes
    ``<prefix>-IIIII-of-NNNNN.tfrecord`` and a final step writes the counters JSON.

    Returns:
      the path the counters JSON will have (``note_sequences.counters_path(output_file)``).
    """
    import apache_beam as beam

    from pipelines import note_sequences

    relpaths, ignored = note_sequences.list_music_files(input_dir, recursive)
    collection = note_sequences.collection_name_for(input_dir)
    results = (
        pipeline
        | "ListMusicFiles" >> beam.Create(relpaths, reshuffle=True)
        | "Parse" >> beam.Map(_convert_music_file, input_dir, collection)
    )
    shards = (
        results
        | "Records" >> beam.FlatMap(lambda r: [record for _, record in r.records])
        | "Write" >> beam.io.WriteToTFRecord(note_sequences.output_prefix(output_file),
                                             file_name_suffix=".tfrecord", num_shards=num_shards)
    )
    counters = (
        results
        | "FileCounters" >> beam.Map(lambda r: r.counters)
        | "MergeCounters" >> beam.CombineGlobally(_merge_counters)
    )
    path = note_sequences.counters_path(output_file)
    _ = (
        pipeline
        | "Once" >> beam.Create([None])
        | "WriteCounters" >> beam.Map(_write_note_sequence_counters, path, len(relpaths), ignored,
                                      beam.pvalue.AsSingleton(counters), beam.pvalue.AsList(shards))
    )
    return path


def convert_dir_to_note_sequences(
    input_dir: str,
    output_file: str,
    num_shards: int = 1,
    recursive: bool = True,
    pipeline_args: Optional[Sequence[str]] = None,
) -> Counters:
    """Runs the folder -> NoteSequence TFRecords conversion as a Beam pipeline and waits for it.

    Args:
      input_dir: folder of MIDI / MusicXML / ABC files, readable by the workers.
      output_file: output prefix as for ``pipelines.note_sequences.convert_directory`` (any Beam
        filesystem); ``num_shards``, ``recursive``: as there.
      pipeline_args: Beam options, e.g. ``["--runner=DataflowRunner", "--project=p", ...]``;
        default: DirectRunner, multi-processing.

    Returns:
      Counters read back from the counters JSON; the same counts and skipped inputs as the
      local conversion gives.
    """
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    from pipelines import note_sequences

    prefix = note_sequences.output_prefix(output_file)
    if "://" not in prefix:
        os.makedirs(os.path.dirname(os.path.abspath(prefix)), exist_ok=True)
    with beam.Pipeline(options=pipeline_options(pipeline_args)) as pipeline:
        path = build_note_sequences_pipeline(pipeline, input_dir, output_file, num_shards, recursive)
    with FileSystems.open(path) as f:
        data = json.loads(f.read().decode("utf-8"))
    _remove_other_shard_counts(os.path.dirname(prefix) or ".", os.path.basename(prefix), data["shards"])
    return Counters.from_dict(data)


__all__ = ["pipeline_options", "build_nsynth_pipeline", "nsynth_to_tfrecord", "build_note_sequences_pipeline",
           "convert_dir_to_note_sequences"]
