"""Benchmark: GANSynth training throughput (images/s, step time) with XLA on/off, fp32 and mixed bf16.

Usage (from the repository root):

    .venv/bin/python bench/bench_gansynth.py --out bench/results [--presets cpu_small,mel_prog_hires] [--steps 5]

For each preset, XLA setting and precision, one run of the training step of
:class:`gansynth_tf.gan.GANSynthTask` through :class:`tfmusic.training.Runner` (discriminator phase
with gradient penalty, then generator phase) on synthetic specgrams of the preset's shape, so the
figure is the model's cost without the input pipeline. The first steps (tracing, XLA compilation)
are timed apart as "first step"; then ``--steps`` steps are timed at each of several points of the
progressive schedule (``--stages``: progress values; 0 = first stable stage, 1.5 = middle of the
first transition, ...). A progressive preset trains each stage with its own compiled program that
runs only the blocks whose weight can be non-zero there (``bench/bench_gansynth_stages.py`` compares
it with the single all-blocks program), so lower stages are cheaper; each stage's first step (its
tracing) is run before the timed ones. The model FLOPs below are those of the all-blocks program.

Model FLOPs per step (both phases: the discriminator's with its gradient penalty, the generator's)
are TensorFlow's profiler count over the traced loss-and-gradient graphs (``bench/flops.py``: the
convolutions and matmuls of forward, backward and the penalty's double backward; the optimizer
updates are not counted), so model FLOPs utilisation (MFU) = FLOPs per step / step time / the
device's peak (``--peak_tflops``, else the known peak of an H100 / H200 / A100 for the precision:
TF32 for float32, bf16 for mixed_bfloat16; none on a CPU).

Default presets: ``cpu_small`` on a CPU; ``cpu_small`` and the full ``mel_prog_hires`` (128x1024)
when a GPU is visible. Writes ``gansynth.json`` and ``gansynth.md`` to ``--out`` (rewritten after
each configuration, so a run cut short keeps what it measured).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import flops as flops_lib  # noqa: E402  (bench/flops.py)
import timing  # noqa: E402  (bench/timing.py)

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gansynth_tf import gan  # noqa: E402
from gansynth_tf.config import get_preset  # noqa: E402
from tfmusic import training  # noqa: E402


_STEP_FLOPS = {}  # (preset, batch) -> model FLOPs per step; the same for every XLA / precision setting


def step_flops(runner, task, key) -> dict:
    """Model FLOPs of one training step, per phase (``{"d": n, "g": n}``), counted once per ``key``;
    ``{}`` when they cannot be counted (reported, so that the timings are kept)."""
    if key not in _STEP_FLOPS:
        try:
            element = next(iter(task.build_inputs(tf.distribute.InputContext())))
            _STEP_FLOPS[key] = {
                phase.name: flops_lib.graph_flops(runner._compiled[phase.name].get_concrete_function(element))
                for phase in runner._phases
            }
        except Exception as e:  # noqa: BLE001  (a figure missing is not a reason to lose the timings)
            print(f"model FLOPs not counted: {type(e).__name__}: {e}"[:300], flush=True)
            _STEP_FLOPS[key] = {}
    return _STEP_FLOPS[key]


def measure(preset: str, jit: bool, precision: str, steps: int, stages, batch: int, peak=None):
    """Time one configuration; returns a dict of figures (seconds, images/s, FLOPs, MFU)."""
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
            start = task.schedule.images_at_progress(progress) // batch
            runner.step.assign(start)
            float(runner._train_step(iterator)["d/loss"])  # the stage's program traced, not timed
            runner.step.assign(start)
            times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                logs = runner._train_step(iterator)
                float(logs["d/loss"])
                times.append(time.perf_counter() - t0)
            med = float(np.median(times))
            per_stage[str(progress)] = {"step_s": med, "images_per_s": batch / med}
        phase_flops = step_flops(runner, task, (preset, batch))
    flops = sum(phase_flops.values()) or None
    peak = flops_lib.peak_tflops(precision, peak)
    for figures in per_stage.values():
        figures["tflops_per_s"] = flops / figures["step_s"] / 1e12 if flops else None
        figures["mfu"] = figures["tflops_per_s"] / peak if flops and peak else None
    import keras

    keras.mixed_precision.set_global_policy("float32")
    return {
        "preset": preset,
        "xla": jit,
        "precision": precision,
        "batch": batch,
        "first_step_s": first,
        "stages": per_stage,
        "flops_per_step": flops,
        "flops_per_phase": phase_flops,
        "peak_tflops": peak,
        "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
        "device_name": flops_lib.device_name(),
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
    parser.add_argument("--xla", default="on,off", help="XLA settings to time: on, off or both (default)")
    parser.add_argument("--precisions", default="float32,mixed_bfloat16", help="precisions to time (default: both)")
    parser.add_argument(
        "--peak_tflops", type=float, default=None, help="device peak TFLOP/s for MFU (default: known GPUs' peaks)"
    )
    args = parser.parse_args(argv)
    stages = [float(s) for s in args.stages.split(",")]
    rows = []
    for preset in args.presets.split(","):
        for jit in [{"on": True, "off": False}[x] for x in args.xla.split(",")]:
            for precision in args.precisions.split(","):
                print(f"-- {preset} xla={jit} {precision}", flush=True)
                try:
                    rows.append(measure(preset, jit, precision, args.steps, stages, args.batch, args.peak_tflops))
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
                text = write_results(pathlib.Path(args.out), rows, stages, args.batch)
    print(text)
    return 0


def _cell(figures: dict) -> str:
    text = f"{figures['step_s']:.3f} / {figures['images_per_s']:.1f}"
    if figures.get("tflops_per_s") is not None:
        text += f" / {figures['tflops_per_s']:.3g}"
    return text + (f" ({100 * figures['mfu']:.1f} %)" if figures.get("mfu") is not None else "")


def write_results(out: pathlib.Path, rows: list, stages, batch: int) -> str:
    """Writes ``gansynth.json`` and ``gansynth.md`` for the rows measured so far; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    meta = timing.tf_meta(device_name=flops_lib.device_name())
    (out / "gansynth.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [
        f"# GANSynth training step ({meta['device_name']}, {meta['cpus']} cores, TF {tf.__version__}, batch {batch})",
        "",
        "Cells: step s / images/s / model TFLOP/s (MFU against the device's peak for the precision, where known). "
        "Model FLOPs per step: TF's profiler over the traced discriminator and generator phases "
        "(bench/flops.py).",
        "",
        "| preset | XLA | precision | first step (s) | GFLOP per step | "
        + " | ".join(f"progress {s}" for s in stages)
        + " |",
        "|---|---|---|---:|---:|" + "---:|" * len(stages),
    ]
    for r in rows:
        if "error" in r:
            lines.append(
                f"| {r['preset']} | {r['xla']} | {r['precision']} | error: {r['error'][:80]} | |" + " |" * len(stages)
            )
            continue
        cells = [_cell(r["stages"][str(s)]) for s in stages]
        lines.append(
            f"| {r['preset']} | {'on' if r['xla'] else 'off'} | {r['precision']} | {r['first_step_s']:.1f} | "
            f"{r['flops_per_step'] / 1e9 if r['flops_per_step'] else float('nan'):.4g} | " + " | ".join(cells) + " |"
        )
    text = "\n".join(lines) + "\n"
    (out / "gansynth.md").write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
