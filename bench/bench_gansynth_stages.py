"""Benchmark: GANSynth's per-stage step programs against the single all-blocks program.

Usage (from the repository root):

    .venv/bin/python bench/bench_gansynth_stages.py --out bench/results [--resolutions 4] [--steps 4]

A reduced progressive configuration (the ``tiny`` preset widened: ``--resolutions`` blocks from 2x8,
``--channels`` channels (half in the last block), a 32-d latent, batch ``--batch``) is trained through
:class:`tfmusic.training.Runner` on synthetic specgrams twice in one process: with one compiled step
program per progressive stage, each running only the blocks whose weight can be non-zero in it
(:meth:`gansynth_tf.gan.GANSynthTask.step_variant`, the default), and with the single program that runs
every block at every stage (``per_stage_programs=False``). At every stage (stable stages at their
progress, transitions at their middle) each runner's first step there is timed apart (the per-stage
runner traces a new program on it), then ``--steps`` steps of the two runners are timed alternately,
so that a CPU shared with other work slows both alike. On a shared CPU single steps vary several-fold
with the other work, so the fastest step (the cost with the CPU to itself) is the main figure and the
median is given beside it. The whole schedule's time at equal images is the sum over stages of
(steps in that stage) x (fastest step time), for the configuration's
stage lengths (``--stage_images`` images per stable and per transition stage); the tracing
time is reported beside it. Writes ``gansynth_stages.json`` and ``gansynth_stages.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from gansynth_tf import gan  # noqa: E402
from gansynth_tf.config import get_preset  # noqa: E402
from tfmusic import training  # noqa: E402

import timing  # noqa: E402  (bench/timing.py)


def make_config(resolutions: int, channels: int, batch: int, stage_images: int):
    """The ``tiny`` preset widened to ``resolutions`` blocks from 2x8, progressive, batch ``batch``."""
    cfg = get_preset("tiny", ["runtime.jit_compile=false"])
    start = (2, 8)
    f = 2 ** (resolutions - 1)
    shape = (start[0] * f, start[1] * f)
    hop = shape[1] // 2  # frame length 2 x freq bins, 75 % overlap
    model = dataclasses.replace(
        cfg.model,
        start_shape=start,
        num_resolutions=resolutions,
        fmap_base=channels * 2 ** (resolutions - 1),  # every block `channels` wide but the last (half)
        fmap_max=channels,
        latent_size=32,
        progressive=True,
        stable_stage_num_images=stage_images,
        transition_stage_num_images=stage_images,
        total_num_images=(2 * resolutions - 1) * stage_images,
        minibatch_stddev_group_size=0,
    )
    spectral = dataclasses.replace(cfg.data.spectral, spec_shape=shape, audio_length=shape[0] * hop)
    data = dataclasses.replace(cfg.data, spectral=spectral)
    trainer = dataclasses.replace(
        cfg.trainer,
        global_batch_size=batch,
        train_steps=10**9,
        summary_every=10**9,
        checkpoint_every=10**9,
        media_every=0,
        progress=False,
    )
    return dataclasses.replace(cfg, model=model, data=data, trainer=trainer)


def stage_start_step(schedule: gan.ProgressiveSchedule, stage: int, batch: int) -> int:
    """A step inside ``stage``: a stable stage's first, a transition's middle."""
    whole, transition = divmod(stage, 2)
    progress = whole + (0.5 if transition else 0.0)
    return schedule.images_at_progress(progress) // batch


def run(args) -> dict:
    cfg = make_config(args.resolutions, args.channels, args.batch, args.stage_images)
    shape = tuple(cfg.data.spectral.spec_shape)
    dataset_fn = gan.synthetic_dataset_fn(64, shape, cfg.data.num_pitches, seed=0)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with tempfile.TemporaryDirectory() as tmp:
        runners, iterators = {}, {}
        for mode, per_stage in (("per_stage", True), ("single", False)):
            task = gan.GANSynthTask(cfg, dataset_fn, per_stage_programs=per_stage)
            runners[mode] = training.Runner(task, cfg, os.path.join(tmp, mode), strategy=strategy)
            iterators[mode] = runners[mode].make_iterator()
        schedule = runners["single"].task.schedule
        stages = []
        for stage in range(2 * args.resolutions - 1):
            step = stage_start_step(schedule, stage, args.batch)
            row = {"stage": stage, "progress": float(stage // 2 + (0.5 if stage % 2 else 0.0))}
            times = {mode: [] for mode in runners}
            for i in range(args.steps + 1):
                for mode, runner in runners.items():
                    runner.step.assign(step)  # stay at this point of the schedule
                    t0 = time.perf_counter()
                    logs = runner._train_step(iterators[mode])
                    float(logs["d/loss"])
                    dt = time.perf_counter() - t0
                    if i == 0:
                        row[f"{mode}_first_s"] = dt
                    else:
                        times[mode].append(dt)
            for mode in runners:
                row[f"{mode}_step_s"] = float(np.min(times[mode]))
                row[f"{mode}_step_median_s"] = float(np.median(times[mode]))
            row["speedup"] = row["single_step_s"] / row["per_stage_step_s"]
            steps_in_stage = (
                cfg.model.transition_stage_num_images if stage % 2 else cfg.model.stable_stage_num_images
            ) // args.batch
            row["steps_in_stage"] = steps_in_stage
            print(json.dumps(row), flush=True)
            stages.append(row)
        traced = runners["per_stage"].step_variants()
    totals = {
        mode: {
            "schedule_s": sum(r["steps_in_stage"] * r[f"{mode}_step_s"] for r in stages),
            "first_steps_s": sum(r[f"{mode}_first_s"] for r in stages),
        }
        for mode in ("per_stage", "single")
    }
    return {
        "config": {
            "resolutions": args.resolutions,
            "spec_shape": list(shape),
            "channels": args.channels,
            "batch": args.batch,
            "stage_images": args.stage_images,
            "timed_steps": args.steps,
            "xla": False,
            "precision": "float32",
        },
        "stages": stages,
        "totals": totals,
        "per_stage_programs_traced": len(traced),
    }


def write_results(out: pathlib.Path, result: dict) -> str:
    out.mkdir(parents=True, exist_ok=True)
    meta = timing.tf_meta()
    (out / "gansynth_stages.json").write_text(json.dumps({"meta": meta, **result}, indent=1))
    c = result["config"]
    t = result["totals"]
    lines = [
        f"# GANSynth: per-stage step programs vs one program ({meta['cpus']} CPU cores, TF {tf.__version__})",
        "",
        f"{c['resolutions']} resolutions 2x8 -> {c['spec_shape'][0]}x{c['spec_shape'][1]}, at most {c['channels']} "
        f"channels, batch {c['batch']}, float32, XLA off; {c['timed_steps']} steps per stage and program, the two "
        f"programs timed alternately; step times: fastest (median). Load average at the end: "
        f"{', '.join(f'{x:.1f}' for x in meta['load_avg'])} (the CPU may be shared with other work).",
        "",
        "| stage | progress | single program step (s) | per-stage program step (s) | speed-up (fastest) | "
        "first step there: single / per-stage (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["stages"]:
        lines.append(
            f"| {r['stage']} | {r['progress']:g} | {r['single_step_s']:.4f} ({r['single_step_median_s']:.3f}) | "
            f"{r['per_stage_step_s']:.4f} ({r['per_stage_step_median_s']:.3f}) | "
            f"{r['speedup']:.2f}x | {r['single_first_s']:.2f} / {r['per_stage_first_s']:.2f} |"
        )
    lines += [
        "",
        f"Whole schedule at equal images ({c['stage_images']} images per stable and per transition stage, "
        f"{sum(r['steps_in_stage'] for r in result['stages'])} steps, fastest step times): single program "
        f"{t['single']['schedule_s'] / 3600:.2f} h, per-stage programs {t['per_stage']['schedule_s'] / 3600:.2f} h "
        f"({t['single']['schedule_s'] / t['per_stage']['schedule_s']:.2f}x), plus first steps (tracing) "
        f"{t['single']['first_steps_s']:.1f} s vs {t['per_stage']['first_steps_s']:.1f} s "
        f"({result['per_stage_programs_traced']} per-stage programs traced).",
    ]
    text = "\n".join(lines) + "\n"
    (out / "gansynth_stages.md").write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"))
    parser.add_argument("--resolutions", type=int, default=4, help="progressive blocks (from 2x8)")
    parser.add_argument("--channels", type=int, default=32, help="at most this many channels per block")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per stage and program")
    parser.add_argument("--stage_images", type=int, default=800_000, help="images per stable / transition stage")
    args = parser.parse_args(argv)
    print(write_results(pathlib.Path(args.out), run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
