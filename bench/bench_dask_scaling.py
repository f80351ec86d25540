"""Benchmark: ``convert_dir_to_note_sequences`` on a Dask cluster, one worker against two.

Usage (from the repository root):

    .venv/bin/python bench/bench_dask_scaling.py --out bench/results

Inputs: the MIDI files of ``bench/bench_midi_parse.py`` (a few hundred pieces of music21's corpus
exported to MIDI, cached in ``--cache``), read with the fast parser (``pipelines.midi_fast``, symusic:
the command's default). Two sizes: the files once, and ``--copies`` times (the same files under other
folder names, hard-linked), because with the fast parser a few hundred files are little work beside the
fixed cost of a run.

Two clusters of separate processes on this machine (``bench/dask_cluster.py``): ``dask scheduler`` with
one ``dask worker --nworkers 1 --nthreads 1``, and another with two. The same conversion runs on each
through the command's own path (``pipelines.beam.convert_dir_to_note_sequences``, ``--runner DaskRunner
--dask_client_address=...``, 2 shards), timed from the call to its return: connecting, listing the
folder, building and submitting the pipeline, parsing, the shuffle to the shard writers, the renames
and the counters JSON. The plain in-process conversion (``--runner direct``) is timed beside them. A
warm-up run of each comes first (the workers import TensorFlow and note-seq once); its records are
compared with the plain run's. Then ``--repeats`` interleaved rounds (``bench/timing.py``), so that load
from other processes hits every variant alike; the ratio is the best 1-worker time over the best
2-worker time (the median ratio beside it). Both clusters get the same partitioning (the runner's
default: 4 partitions per worker thread, counting at least 2 threads: 8). One more run on each cluster
records the scheduler's task stream, to split its time into before the first task (client side: Beam
builds the pipeline, the runner translates and submits it), tasks running, and after; and to sum the
workers' task time (if the second worker had no core of its own, the same tasks take longer). Writes
``dask_scaling.json`` and ``dask_scaling.md`` to ``--out``.

Goal (issue 14): two workers at least 1.8x one worker on 2 cores, with the fast parser.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import pathlib
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_midi_parse  # noqa: E402  (bench/bench_midi_parse.py: the exported corpus)
import timing  # noqa: E402  (bench/timing.py)
from dask_cluster import LocalDaskCluster  # noqa: E402  (bench/dask_cluster.py)

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

GOAL_RATIO = 1.8
NUM_SHARDS = 2


def input_folders(paths: list, cache: pathlib.Path, copies: int) -> dict:
    """``{number of files: folder}``: the exported files once, and ``copies`` times (hard links in
    ``copy<k>/`` subfolders, made once under ``cache``)."""
    once = pathlib.Path(paths[0]).parent
    many = cache / f"dask_scaling_x{copies}"
    done = many / "complete"
    if not done.exists():
        shutil.rmtree(many, ignore_errors=True)
        for k in range(copies):
            sub = many / f"copy{k}"
            sub.mkdir(parents=True)
            for p in paths:
                try:
                    os.link(p, sub / os.path.basename(p))
                except OSError:  # another filesystem
                    shutil.copyfile(p, sub / os.path.basename(p))
        done.write_text("")
    return {len(paths): once, len(paths) * copies: many}


def main(argv=None) -> dict:
    """Run the benchmark (command-line ``argv``); writes the JSON and Markdown, returns the JSON dict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"))
    parser.add_argument("--cache", default=str(bench_midi_parse.DEFAULT_CACHE), help="folder for the MIDI files")
    parser.add_argument("--copies", type=int, default=8, help="the larger input: the files this many times")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--note", default="", help="a sentence added to the Markdown (e.g. what else ran)")
    args = parser.parse_args(argv)

    import numpy as np

    from pipelines import beam as beam_pipelines
    from pipelines import note_sequences, tfrecord_io

    cache = pathlib.Path(args.cache)
    paths = bench_midi_parse.export_corpus(cache)
    folders = input_folders(paths, cache, args.copies)
    work = pathlib.Path(tempfile.mkdtemp(prefix="tfmusic_bench_dask_"))

    def plain(folder, out):
        shutil.rmtree(out, ignore_errors=True)
        note_sequences.convert_directory(str(folder), str(out / "ns.tfrecord"), num_shards=NUM_SHARDS, progress=False)

    def on_dask(folder, out, address):
        shutil.rmtree(out, ignore_errors=True)
        beam_pipelines.convert_dir_to_note_sequences(
            str(folder),
            str(out / "ns.tfrecord"),
            num_shards=NUM_SHARDS,
            pipeline_args=["--runner", "DaskRunner", f"--dask_client_address={address}"],
        )

    def records(out):
        return sorted(tfrecord_io.iter_records(str(out / "ns-*-of-*.tfrecord")))

    def phases(folder, out, address) -> dict:
        """One more run on ``address``, with the scheduler's task stream: where its time went."""
        from dask.distributed import Client

        with Client(address) as client:
            client.get_task_stream(start=time.time())  # starts the scheduler's task-stream recording
            t0 = time.time()
            on_dask(folder, out, address)
            t1 = time.time()
            stream = client.get_task_stream(start=t0)
        spans = [s for task in stream for s in task["startstops"]]
        first, last = min(s["start"] for s in spans), max(s["stop"] for s in spans)
        busy = {}
        for task in stream:
            for s in task["startstops"]:
                if s["action"] == "compute":
                    busy[task["worker"]] = busy.get(task["worker"], 0.0) + s["stop"] - s["start"]
        return {
            "wall_s": t1 - t0,
            "before_first_task_s": first - t0,
            "tasks_span_s": last - first,
            "after_last_task_s": t1 - last,
            "tasks": len(stream),
            "task_compute_s": sum(busy.values()),
            "busy_s_per_worker": sorted(busy.values(), reverse=True),
        }

    try:
        with LocalDaskCluster(workers=1) as one, LocalDaskCluster(workers=2) as two:
            clusters = {1: one, 2: two}
            variants, identical, written = {}, {}, {}
            for n, folder in folders.items():
                plain(folder, work / f"plain_{n}")
                expected = records(work / f"plain_{n}")
                written[n] = len(expected)
                variants[(n, "plain")] = lambda folder=folder, n=n: plain(folder, work / f"plain_{n}")
                for w, cluster in clusters.items():
                    out = work / f"dask_{n}_{w}"
                    on_dask(folder, out, cluster.address)  # warm-up, and the check
                    identical[(n, w)] = records(out) == expected
                    variants[(n, w)] = lambda folder=folder, out=out, a=cluster.address: on_dask(folder, out, a)
            print("warm; records identical to the plain run:", identical, flush=True)
            load_before = os.getloadavg()
            named = {f"{n} files, " + (v if v == "plain" else f"{v} worker(s)"): fn for (n, v), fn in variants.items()}
            times, _ = timing.time_interleaved(named, args.repeats, warmup=False)
            load_after = os.getloadavg()
            breakdown = {
                (n, w): phases(folders[n], work / f"dask_{n}_{w}", c.address)
                for n in folders
                for w, c in clusters.items()
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    by_key = dict(zip(variants, times.values()))
    sizes = []
    for n in folders:
        t1, t2, tp = by_key[(n, 1)], by_key[(n, 2)], by_key[(n, "plain")]
        sizes.append(
            {
                "files": n,
                "sequences_written": written[n],
                "records_identical_1_worker": identical[(n, 1)],
                "records_identical_2_workers": identical[(n, 2)],
                "plain_s": tp,
                "one_worker_s": t1,
                "two_workers_s": t2,
                "ratio": min(t1) / min(t2),
                "ratio_median": float(np.median(t1)) / float(np.median(t2)),
                "files_per_s": {"plain": n / min(tp), "1 worker": n / min(t1), "2 workers": n / min(t2)},
                "phases_1_worker": breakdown[(n, 1)],
                "phases_2_workers": breakdown[(n, 2)],
                "tasks_span_ratio": breakdown[(n, 1)]["tasks_span_s"] / breakdown[(n, 2)]["tasks_span_s"],
                "task_time_ratio": breakdown[(n, 2)]["task_compute_s"] / breakdown[(n, 1)]["task_compute_s"],
            }
        )
    main_row = sizes[0]
    result = {
        "benchmark": "dask_scaling",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": timing.machine(load_before[0], load_avg_1min_after=load_after[0]),
        "versions": {
            name: importlib.metadata.version(name) for name in ("apache-beam", "dask", "distributed", "symusic")
        },
        "parser": "symusic (pipelines.midi_fast)",
        "num_shards": NUM_SHARDS,
        "repeats": args.repeats,
        "goal_ratio": GOAL_RATIO,
        "ratio": main_row["ratio"],
        "goal_met": main_row["ratio"] >= GOAL_RATIO,
        "ratio_largest": sizes[-1]["ratio"],
        "goal_met_largest": sizes[-1]["ratio"] >= GOAL_RATIO,
        "sizes": sizes,
        "note": args.note,
    }
    lines = [
        "# convert_dir_to_note_sequences on Dask: 1 worker against 2 (fast parser)",
        "",
        f"{os.cpu_count()} CPU cores; a local `dask scheduler` with one or two `dask worker --nworkers 1 --nthreads 1` "
        f"processes, `--runner DaskRunner`, {NUM_SHARDS} shards; music21's corpus exported to MIDI "
        f"({main_row['files']} files, and the same files {args.copies} times). Wall time of the whole conversion "
        f"(connect, list, submit, parse, shuffle, write, rename, counters), best of {args.repeats} interleaved "
        f"rounds after a warm-up run (median in brackets); 1-min load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after." + (f" {args.note}" if args.note else ""),
        "",
        f"Goal: 2 workers at least {GOAL_RATIO}x 1 worker. Measured: **{main_row['ratio']:.2f}x** on "
        f"{main_row['files']} files ({'met' if result['goal_met'] else 'NOT met'}), "
        f"**{sizes[-1]['ratio']:.2f}x** on {sizes[-1]['files']} ({'met' if result['goal_met_largest'] else 'NOT met'}).",
        "",
        "| files | plain, in-process | 1 worker | 2 workers | 2 workers vs 1 | records as plain |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for row in sizes:
        fps = row["files_per_s"]
        lines.append(
            f"| {row['files']} | {min(row['plain_s']):.2f} s ({np.median(row['plain_s']):.2f}), "
            f"{fps['plain']:.0f} files/s | {min(row['one_worker_s']):.2f} s ({np.median(row['one_worker_s']):.2f}), "
            f"{fps['1 worker']:.0f} files/s | {min(row['two_workers_s']):.2f} s ({np.median(row['two_workers_s']):.2f}), "
            f"{fps['2 workers']:.0f} files/s | {row['ratio']:.2f}x ({row['ratio_median']:.2f}x) | "
            f"{'identical' if row['records_identical_1_worker'] and row['records_identical_2_workers'] else 'DIFFERENT'} |"
        )
    lines += [
        "",
        "Where the time of one more run of each went (the scheduler's task stream): before the first task starts "
        "(Beam builds the pipeline, the runner translates and submits it), while tasks run, after the last one "
        "(reading the counters back); compute is the sum over the workers' tasks.",
        "",
        "| files | workers | wall | before first task | tasks running | after | tasks | compute (per worker) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in sizes:
        for w, ph in ((1, row["phases_1_worker"]), (2, row["phases_2_workers"])):
            lines.append(
                f"| {row['files']} | {w} | {ph['wall_s']:.2f} s | {ph['before_first_task_s']:.2f} s | "
                f"{ph['tasks_span_s']:.2f} s | {ph['after_last_task_s']:.2f} s | {ph['tasks']} | "
                f"{ph['task_compute_s']:.2f} s ({', '.join(f'{b:.2f}' for b in ph['busy_s_per_worker'])}) |"
            )
    lines += [
        "",
        "While tasks run, 2 workers against 1: "
        + ", ".join(f"{row['tasks_span_ratio']:.2f}x on {row['files']} files" for row in sizes)
        + ". Task time summed over the workers, 2 workers against 1 (the same tasks: 1.00 if the second worker "
        "had a core of its own, up to 2.00 if the two shared one): "
        + ", ".join(f"{row['task_time_ratio']:.2f} on {row['files']} files" for row in sizes)
        + ".",
        "",
    ]
    timing.write_results(args.out, "dask_scaling", result, "\n".join(lines))
    return result


if __name__ == "__main__":
    main()
