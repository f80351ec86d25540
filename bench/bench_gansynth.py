"""Benchmark: GANSynth training throughput (images/s, step time) with XLA on/off, fp32 and mixed bf16.

Usage (from the repository root):

    .venv/bin/python bench/bench_gansynth.py --out bench/results [--presets cpu_small,mel_prog_hires] [--steps 5]

For each preset, XLA setting and precision, one run of the training step of
:class:`gansynth_tf.gan.GANSynthTask` through :class:`tfmusic.training.Runner` (discriminator phase
with gradient penalty, then generator phase) on synthetic specgrams of the preset's shape, so the
figure is the model's cost without the input pipeline. The first steps (tracing, XLA compilation)
are timed apart as "first step"; then ``--steps`` steps are timed at each of several points of the
progressive schedule (``--stages``: progress values; 0 = first stable stage, 1.5 = middle of the
first transition, ...). In this implementation every block runs at every stage (the resolutions are
blended by weight), so per-stage figures differ only through the blending, not through the network
size; they are measured anyway to show it.

Default presets: ``cpu_small`` on a CPU; ``cpu_small`` and the full ``mel_prog_hires`` (128x1024)
when a GPU is visible. Writes ``gansynth.json`` and ``gansynth.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gansynth_tf import gan  # noqa: E402
from gansynth_tf.config import get_preset  # noqa: E402
from tfmusic import training  # noqa: E402


def measure(preset: str, jit: bool, precision: str, steps: int, stages, batch: int):
    """Time one configuration; returns a dict of figures (seconds, images/s)."""
    cfg = get_preset(
        preset,
        [
            f"runtime.jit_compile={jit}",
            f"runtime.precision={precision}",
            "trainer.progress=false",
            "trainer.media_every=0",
            "trainer.summary_every=1000000",
            "trainer.checkpoint_every=1000000",
            f"trainer.global_batch_size={batch}",
            "trainer.train_steps=1000000",
        ],
    )
    shape = tuple(cfg.data.spectral.spec_shape)
    dataset_fn = gan.synthetic_dataset_fn(64, shape, cfg.data.num_pitches, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        task = gan.GANSynthTask(cfg, dataset_fn)
        runner = training.Runner(task, cfg, tmp)
        iterator = runner.make_iterator()
        t0 = time.perf_counter()
        logs = runner._train_step(iterator)
        float(logs["d/loss"])
        first = time.perf_counter() - t0
        per_stage = {}
        for progress in stages:
            # Jump the schedule: images seen decides the stage, as on resume.
            runner.step.assign(task.schedule.images_at_progress(progress) // batch)
            times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                logs = runner._train_step(iterator)
                float(logs["d/loss"])
                times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            per_stage[str(progress)] = {"step_s": med, "images_per_s": batch / med}
    import keras

    keras.mixed_precision.set_global_policy("float32")
    return {
        "preset": preset,
        "xla": jit,
        "precision": precision,
        "batch": batch,
        "first_step_s": first,
        "stages": per_stage,
        "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
        "spec_shape": list(shape),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"))
    gpu = bool(tf.config.list_physical_devices("GPU"))
    parser.add_argument("--presets", default="cpu_small,mel_prog_hires" if gpu else "cpu_small")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per stage")
    parser.add_argument("--stages", default="0,0.5,6", help="progress values to time at")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    stages = [float(s) for s in args.stages.split(",")]
    rows = []
    for preset in args.presets.split(","):
        for jit in (True, False):
            for precision in ("float32", "mixed_bfloat16"):
                print(f"-- {preset} xla={jit} {precision}", flush=True)
                try:
                    rows.append(measure(preset, jit, precision, args.steps, stages, args.batch))
                except Exception as e:  # a combination the platform cannot run is reported, not fatal
                    rows.append(
                        {
                            "preset": preset,
                            "xla": jit,
                            "precision": precision,
                            "error": f"{type(e).__name__}: {e}"[:300],
                        }
                    )
                print(json.dumps(rows[-1]), flush=True)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "tensorflow": tf.__version__,
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "load_avg": os.getloadavg(),
    }
    (out / "gansynth.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        f"# GANSynth training step ({'GPU' if meta['gpus'] else 'CPU'}, {meta['cpus']} cores, TF {tf.__version__}, "
        f"batch {args.batch})",
        "",
        "| preset | XLA | precision | first step (s) | "
        + " | ".join(f"progress {s}: step s / images/s" for s in stages)
        + " |",
        "|---|---|---|---:|" + "---:|" * len(stages),
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['preset']} | {r['xla']} | {r['precision']} | error: {r['error'][:80]} |" + " |" * len(stages)
            )
            continue
        cells = [f"{r['stages'][str(s)]['step_s']:.3f} / {r['stages'][str(s)]['images_per_s']:.1f}" for s in stages]
        lines.append(
            f"| {r['preset']} | {'on' if r['xla'] else 'off'} | {r['precision']} | {r['first_step_s']:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    (out / "gansynth.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
