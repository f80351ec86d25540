"""The conversions of ``pipelines`` as Apache Beam pipelines.

Runs on the DirectRunner here (multi-processing, one worker per core unless
``--direct_num_workers`` says otherwise), on a Dask ``distributed`` cluster (``--runner DaskRunner``:
:mod:`pipelines.dask_runner`) and on Dataflow / Flink / Spark at scale: every pipeline option that is
passed in ``pipeline_args`` goes to Beam's ``PipelineOptions`` unchanged.

``nsynth_to_tfrecord`` writes the same records as the local
``pipelines.nsynth_to_tfrecord.convert`` (same serialized tf.Examples, same skipped notes and
reasons); only the assignment of records to shards differs (Beam's own sharding in
``WriteToTFRecord``, which writes into a temporary folder and renames complete shards).

``convert_dir_to_note_sequences`` writes the same NoteSequences as the local
``pipelines.note_sequences.convert_directory`` (same serialized protos and ids, same counters
and skipped files with the same reasons) under the same file names (one shard: exactly
``output_file``, through ``WriteToTFRecord(shard_name_template='')``); again only the shard
assignment differs. The folder is
listed by the launching process; workers read the files, so ``input_dir`` must be a path they
can read (a shared or mounted filesystem on a cluster).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pathlib
import sys
from typing import Callable, Optional, Sequence, Tuple

from pipelines.nsynth import load_examples_json
from pipelines.nsynth_to_tfrecord import FILTERED, SKIPPED, WRITTEN, convert_note, summary_path
from pipelines import tfrecord_io
from pipelines.tfrecord_io import Counters, atomic_write_json

_REPO_ROOT = str(pathlib.Path(__file__).resolve().parent.parent)

#: ``--runner`` words for Dask: Beam's class name and the full path of Beam's own ``DaskRunner``, whose
#: translation mixes tagged outputs and recomputes side inputs (see :mod:`pipelines.dask_runner`).
DASK_RUNNERS = ("DaskRunner", "apache_beam.runners.dask.dask_runner.DaskRunner")
#: What those words become: the runner Beam imports by this path.
DASK_RUNNER_PATH = "pipelines.dask_runner.DaskRunner"


def pipeline_options(pipeline_args: Optional[Sequence[str]] = None):
    """``PipelineOptions`` from command-line style args, with local defaults.

    Without ``--runner`` the DirectRunner is used; on the DirectRunner,
    ``--direct_running_mode=multi_processing`` and ``--direct_num_workers=<cores>`` are
    added unless given. ``--runner DaskRunner`` is :class:`pipelines.dask_runner.DaskRunner` (a Dask
    ``distributed`` cluster: ``--dask_client_address=tcp://HOST:8786``; without it, a local one).
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
    options = PipelineOptions(args)
    if runner in DASK_RUNNERS:
        options.view_as(StandardOptions).runner = DASK_RUNNER_PATH
    return options


def _listing(folder: str):
    """{entry: (inode, mtime_ns)} of a folder, or None when it is missing."""
    if not os.path.isdir(folder):
        return None
    out = {}
    for entry in os.listdir(folder):
        try:
            st = os.lstat(os.path.join(folder, entry))
        except FileNotFoundError:
            continue
        out[entry] = (st.st_ino, st.st_mtime_ns)
    return out


class NewOutputs:
    """What a run writes into local output folders, so that an interrupted run can take it back.

    Made before the run: lists each folder (or notes that it is missing). :meth:`remove` deletes
    every entry that is new or was replaced since (Beam's ``beam-temp-*`` folders, shards already
    renamed into place, a summary) and the folders the run created, if they are left empty.
    Folders on other filesystems (``gs://...``) are not tracked.
    """

    def __init__(self, *folders: str):
        self._before = {os.path.abspath(f): _listing(os.path.abspath(f)) for f in folders if "://" not in f}

    def remove(self) -> list:
        """Deletes what appeared or changed since; returns the deleted paths."""
        import shutil

        removed = []
        for folder, before in self._before.items():
            now = _listing(folder)
            for entry, stamp in sorted((now or {}).items()):
                path = os.path.join(folder, entry)
                if before is not None and entry in before and (before[entry] == stamp or os.path.isdir(path)):
                    continue  # unchanged, or a folder that was there (only files are taken back from those)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        os.remove(path)
                    except FileNotFoundError:
                        continue
                removed.append(path)
            if before is None and now is not None:
                tfrecord_io.remove_empty_folder(folder)
        return removed


@contextlib.contextmanager
def _sdk_workers_in_their_own_session():
    """While the block runs, the DirectRunner's SDK worker processes (``multi_processing`` mode) start in
    a session of their own, so that a terminal's Ctrl-C reaches this process only; it then stops them.
    (Beam starts them through ``/bin/sh -c``, which clears an inherited signal mask, so blocking
    SIGINT would not reach them; a new session does.)"""
    import subprocess
    import types

    try:
        from apache_beam.runners.portability import local_job_service
    except ImportError:
        yield
        return
    original = getattr(local_job_service, "subprocess", None)
    if original is not subprocess:  # another Beam layout: leave it alone
        yield
        return
    shim = types.ModuleType("subprocess")
    shim.__dict__.update(subprocess.__dict__)
    shim.Popen = functools.partial(subprocess.Popen, start_new_session=True)
    local_job_service.subprocess = shim
    try:
        yield
    finally:
        local_job_service.subprocess = original


def run_pipeline(pipeline, outputs: Optional[NewOutputs] = None) -> None:
    """Runs a built ``beam.Pipeline`` and waits for it (what leaving ``with beam.Pipeline() as p`` does),
    so that one Ctrl-C stops it at once: the SDK worker processes never see the terminal's SIGINT; this
    process stops them (:func:`tfmusic.workers.stop_after_interrupt`), deletes what the run wrote into
    ``outputs`` and raises ``KeyboardInterrupt``. On a Dask cluster the run's pending tasks are cancelled
    first (the cluster is not this process's to stop)."""
    from tfmusic import workers

    started = []

    def run():
        started.append(pipeline.run())
        return started[-1].wait_until_finish()

    with _sdk_workers_in_their_own_session():
        try:
            workers.call_interruptibly(run, name="beam-pipeline")
        except KeyboardInterrupt:
            dask_runner = sys.modules.get("pipelines.dask_runner")
            for result in started:
                if dask_runner is not None and isinstance(result, dask_runner.DaskPipelineResult):
                    result.cancel()
            workers.stop_after_interrupt()
            if outputs is not None:
                outputs.remove()
            raise


def _status(result, num_partitions):
    return {WRITTEN: 0, FILTERED: 1, SKIPPED: 2}[result[0]]


def _convert(item, input_dir, acoustic_only, min_pitch, max_pitch, resample=False, mono=False):
    from apache_beam.metrics import Metrics

    result = convert_note(input_dir, item[0], item[1], acoustic_only, min_pitch, max_pitch, resample, mono)
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


def _write_document(_, path, document, *values):
    _write_json_beam(path, document(*values))


def write_json_last(pipeline, labels: Tuple[str, str], path: str, document: Callable[..., dict], *side_inputs) -> str:
    """Adds the step that writes a run's summary: ``document(*side_inputs)`` as JSON to ``path`` (atomically,
    on any Beam filesystem), once, when its side inputs are complete (so after the shards they list).

    Args:
      pipeline: the ``beam.Pipeline``.
      labels: the step's two labels: its one-element ``Create``, then the write.
      path: the JSON file.
      document: a picklable function of the side inputs' values that returns the JSON-able document.
      side_inputs: its arguments: side inputs (``beam.pvalue.AsSingleton(...)``, ``AsList``...) or plain values.

    Returns:
      ``path``.
    """
    import apache_beam as beam

    once, write = labels
    _ = pipeline | once >> beam.Create([None]) | write >> beam.Map(_write_document, path, document, *side_inputs)
    return path


def run_to_json(pipeline_args: Optional[Sequence[str]], output_folder: str, build: Callable[..., str]) -> dict:
    """Builds a Beam pipeline, runs it, waits for it and returns the JSON document it wrote last.

    ``build(pipeline)`` adds the steps and returns the path of that JSON (the run's summary). The run writes
    into ``output_folder``: a local one is created first, and what the run wrote there is taken back when
    it is interrupted (:class:`NewOutputs`, :func:`run_pipeline`). ``pipeline_args``: as
    :func:`pipeline_options`.
    """
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems

    outputs = NewOutputs(output_folder)
    if "://" not in output_folder:
        os.makedirs(output_folder, exist_ok=True)
    pipeline = beam.Pipeline(options=pipeline_options(pipeline_args))
    path = build(pipeline)
    run_pipeline(pipeline, outputs)  # Ctrl-C: stops at once, takes back what it wrote
    with FileSystems.open(path) as f:
        return json.loads(f.read().decode("utf-8"))


def sum_dicts(dicts) -> dict:
    """Key-wise sum of ``{key: int}`` dicts (a Beam combine function: counts summed across workers)."""
    total = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total


def count_metrics(namespace: str, counts: dict) -> None:
    """Reports each non-zero count of ``counts`` as the Beam metric ``namespace/<name>``."""
    from apache_beam.metrics import Metrics

    for name, value in counts.items():
        if value:
            Metrics.counter(namespace, name).inc(value)


def _summary_document(num_notes, written, filtered, skipped, shards) -> dict:
    """The NSynth conversion's summary JSON, as the local conversion writes it."""
    counters = Counters()
    counters.increment("notes", num_notes)
    counters.increment(WRITTEN, written)
    counters.increment(FILTERED, filtered)
    counters.increment(SKIPPED, 0)
    for name, reason in skipped:
        counters.skip(name, reason)
    return tfrecord_io.counters_document(counters, shards)


def build_nsynth_pipeline(
    pipeline,
    input_dir: str,
    output_dir: str,
    name: str,
    num_shards: int,
    acoustic_only: bool,
    min_pitch: Optional[int],
    max_pitch: Optional[int],
    resample: bool = False,
    mono: bool = False,
) -> str:
    """Adds the NSynth conversion to ``pipeline``; returns the path its summary will have.

    Reads ``examples.json`` now (it is small); wavs are read by the workers.
    """
    import apache_beam as beam

    examples = load_examples_json(os.path.join(input_dir, "examples.json"))
    items = sorted(examples.items())
    results = (
        pipeline
        | "ListNotes" >> beam.Create(items, reshuffle=True)
        | "Convert" >> beam.Map(_convert, input_dir, acoustic_only, min_pitch, max_pitch, resample, mono)
    )
    written, filtered, skipped = results | "ByStatus" >> beam.Partition(_status, 3)
    shards = (
        written
        | "Serialized" >> beam.Map(lambda r: r[2])
        | "Write"
        >> beam.io.WriteToTFRecord(os.path.join(output_dir, name), file_name_suffix=".tfrecord", num_shards=num_shards)
    )
    return write_json_last(
        pipeline,
        ("One", "Summary"),
        summary_path(output_dir, name),
        _summary_document,
        len(items),
        beam.pvalue.AsSingleton(written | "CountWritten" >> beam.combiners.Count.Globally()),
        beam.pvalue.AsSingleton(filtered | "CountFiltered" >> beam.combiners.Count.Globally()),
        beam.pvalue.AsSingleton(
            skipped | "Reasons" >> beam.Map(lambda r: (r[1], r[2])) | "ListSkipped" >> beam.combiners.ToList()
        ),
        beam.pvalue.AsList(shards),
    )


def nsynth_to_tfrecord(
    input_dir: str,
    output_dir: str,
    name: str = "nsynth",
    num_shards: int = 4,
    acoustic_only: bool = False,
    min_pitch: Optional[int] = None,
    max_pitch: Optional[int] = None,
    pipeline_args: Optional[Sequence[str]] = None,
    resample: bool = False,
    mono: bool = False,
) -> Counters:
    """Runs the NSynth jsonwav -> TFRecord conversion as a Beam pipeline and waits for it.

    Args:
      input_dir, output_dir, name, num_shards, acoustic_only, min_pitch, max_pitch, resample, mono: as for
        ``pipelines.nsynth_to_tfrecord.convert``. Paths may be any Beam filesystem for
        output_dir; input_dir must be readable by the workers.
      pipeline_args: Beam options, e.g. ``["--runner=DataflowRunner", "--project=p"]``.

    Returns:
      Counters read back from the summary JSON (``OUTPUT_DIR/<name>-summary.json``).
    """
    data = run_to_json(
        pipeline_args,
        output_dir,
        lambda pipeline: build_nsynth_pipeline(
            pipeline, input_dir, output_dir, name, num_shards, acoustic_only, min_pitch, max_pitch, resample, mono
        ),
    )
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


def _convert_music_file(relpath: str, input_dir: str, collection_name: str, parser: str = "symusic"):
    from apache_beam.metrics import Metrics

    from pipelines import note_sequences

    result = note_sequences.convert_file(input_dir, relpath, collection_name, parser)
    for name, value in result.counters.counts.items():
        Metrics.counter("convert_dir_to_note_sequences", name).inc(value)
    return result


def _merge_counters(counters_list) -> Counters:
    merged = Counters()
    for counters in counters_list:
        merged.merge(counters)
    return merged


def _note_sequence_counters_document(files_found, files_ignored, counters, shards) -> dict:
    """The folder conversion's counters JSON, as the local conversion writes it."""
    from pipelines import note_sequences

    total = note_sequences.new_counters(files_found, files_ignored).merge(counters)
    return tfrecord_io.counters_document(total, shards)


def build_note_sequences_pipeline(
    pipeline, input_dir: str, output_file: str, num_shards: int = 1, recursive: bool = True, parser: str = "symusic"
) -> str:
    """Adds the folder -> NoteSequence TFRecords conversion to ``pipeline``.

    Lists ``input_dir`` now (in the launching process); workers parse the files with
    ``pipelines.note_sequences.convert_file`` (MIDI with ``parser``: ``"symusic"`` or ``"note_seq"``),
    Beam's ``WriteToTFRecord`` writes ``output_file`` itself (one shard: ``shard_name_template=''``,
    no suffix) or ``<prefix>-IIIII-of-NNNNN.tfrecord`` (several), and a final step writes the
    counters JSON.

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
        | "Parse" >> beam.Map(_convert_music_file, input_dir, collection, parser)
    )
    if num_shards == 1:  # exactly the name given, as the local conversion writes it
        from apache_beam.io.filesystem import CompressionTypes

        write = beam.io.WriteToTFRecord(  # uncompressed whatever the name ends with, as the local writer does
            output_file,
            file_name_suffix="",
            num_shards=1,
            shard_name_template="",
            compression_type=CompressionTypes.UNCOMPRESSED,
        )
    else:
        write = beam.io.WriteToTFRecord(
            note_sequences.output_prefix(output_file), file_name_suffix=".tfrecord", num_shards=num_shards
        )
    shards = results | "Records" >> beam.FlatMap(lambda r: [record for _, record in r.records]) | "Write" >> write
    counters = (
        results
        | "FileCounters" >> beam.Map(lambda r: r.counters)
        | "MergeCounters" >> beam.CombineGlobally(_merge_counters)
    )
    return write_json_last(
        pipeline,
        ("Once", "WriteCounters"),
        note_sequences.counters_path(output_file),
        _note_sequence_counters_document,
        len(relpaths),
        ignored,
        beam.pvalue.AsSingleton(counters),
        beam.pvalue.AsList(shards),
    )


def convert_dir_to_note_sequences(
    input_dir: str,
    output_file: str,
    num_shards: int = 1,
    recursive: bool = True,
    pipeline_args: Optional[Sequence[str]] = None,
    parser: str = "symusic",
) -> Counters:
    """Runs the folder -> NoteSequence TFRecords conversion as a Beam pipeline and waits for it.

    Args:
      input_dir: folder of MIDI / MusicXML / ABC files, readable by the workers.
      output_file: output prefix as for ``pipelines.note_sequences.convert_directory`` (any Beam
        filesystem); ``num_shards``, ``recursive``: as there.
      pipeline_args: Beam options, e.g. ``["--runner=DataflowRunner", "--project=p", ...]``;
        default: DirectRunner, multi-processing.
      parser: the MIDI parser, ``"symusic"`` (default) or ``"note_seq"`` (see
        ``pipelines.note_sequences.parse_midi``).

    Returns:
      Counters read back from the counters JSON; the same counts and skipped inputs as the
      local conversion gives. Local files an earlier run with another shard count left under
      ``output_file`` are deleted once the pipeline has written its own.
    """
    from pipelines import note_sequences

    output_file = os.fspath(output_file)
    if num_shards == 1 and "://" not in output_file and os.path.isdir(output_file):
        raise IsADirectoryError(f"{output_file}: is a folder; give the output a file name")
    prefix = note_sequences.output_prefix(output_file)
    data = run_to_json(
        pipeline_args,
        os.path.dirname(os.path.abspath(prefix)) if "://" not in prefix else prefix,
        lambda pipeline: build_note_sequences_pipeline(pipeline, input_dir, output_file, num_shards, recursive, parser),
    )
    folder = os.path.dirname(prefix)
    tfrecord_io.remove_other_layouts(prefix, [os.path.join(folder, s) for s in data["shards"]], output_file)
    return Counters.from_dict(data)


__all__ = [
    "NewOutputs",
    "run_pipeline",
    "run_to_json",
    "write_json_last",
    "sum_dicts",
    "count_metrics",
    "pipeline_options",
    "build_nsynth_pipeline",
    "nsynth_to_tfrecord",
    "build_note_sequences_pipeline",
    "convert_dir_to_note_sequences",
]
