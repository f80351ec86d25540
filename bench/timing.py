"""Timing shared by the benchmarks: variants timed in interleaved rounds, so that load from other
processes hits every variant alike (run as scripts, the benchmarks find this module beside them)."""

from __future__ import annotations

import time


def time_interleaved(variants: dict, repeats: int, announce_warmup: bool = False, warmup: bool = True):
    """Warm every variant (``{name: callable}``) up with one pass, then time ``repeats`` rounds of one
    pass each, interleaved. Returns ``({name: [wall s per pass]}, {name: [process CPU s per pass]})``.
    ``warmup=False`` skips the warm-up passes (for callers that warmed up, and timed it, themselves)."""
    for name, run in variants.items() if warmup else ():
        if announce_warmup:
            print(f"warming up {name} ...", flush=True)
        run()
    times = {name: [] for name in variants}
    cpu = {name: [] for name in variants}
    for r in range(repeats):
        for name, run in variants.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
        print(f"round {r + 1}/{repeats}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in times.items()), flush=True)
    return times, cpu


def throughput_row(name: str, times: dict, cpu: dict, count: int, unit: str, **extra) -> dict:
    """The result row of variant ``name`` (``times`` / ``cpu``: :func:`time_interleaved`'s, ``count`` items a
    pass): ``<unit>_per_s`` from the best pass and ``<unit>_per_s_median``, the ``extra`` fields, then the
    raw ``times_s`` and ``cpu_times_s``."""
    import numpy as np

    ts = times[name]
    return {
        "implementation": name,
        f"{unit}_per_s": count / min(ts),
        f"{unit}_per_s_median": count / float(np.median(ts)),
        **extra,
        "times_s": ts,
        "cpu_times_s": cpu[name],
    }


def machine(load_before: float, **extra) -> dict:
    """The ``"machine"`` record of a benchmark's JSON: platform, CPU count, Python, the 1-minute load
    average before the timing (``load_before``) and now, plus ``extra`` fields."""
    import os
    import platform

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_avg_1min_before": load_before,
        "load_avg_1min_after": os.getloadavg()[0],
        **extra,
    }


def write_results(out, stem: str, result: dict, markdown: str, indent: int = 1) -> None:
    """Write a benchmark's figures: ``OUT/<stem>.json`` (``result``) and ``OUT/<stem>.md`` (``markdown``, the
    table, also printed); the folder ``out`` is created."""
    import json
    import pathlib

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(result, indent=indent) + "\n")
    (out / f"{stem}.md").write_text(markdown)
    print(markdown)


def tf_meta(**extra) -> dict:
    """When and where a TensorFlow benchmark ran: date, platform, CPU count, TensorFlow version, GPUs,
    load averages (1, 5, 15 min), plus ``extra``."""
    import datetime
    import os
    import platform

    import tensorflow as tf

    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        **extra,
        "load_avg": os.getloadavg(),
    }
