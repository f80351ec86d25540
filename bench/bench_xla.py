"""Benchmark: one training step of each model family with XLA on and off (what ``runtime.jit_compile=auto`` decides by).

Usage (from the repository root):

    .venv/bin/python bench/bench_xla.py --out bench/results [--families basic_rnn,music_transformer] [--repeats 7]

For each family, two :class:`tfmusic.training.Runner` s are built over the family's real task, one
with ``runtime.jit_compile=true`` and one with ``false`` (one device: the first GPU if there is one,
else the CPU), on synthetic batches of a fixed shape, so the figure is the model's step without the
input pipeline. One step is the whole training step: forward, backward (the XLA-compiled part when
on) and the optimizer update. The first step (tracing, and XLA's compilation when on) is timed
apart, one more step warms up, then ``--repeats`` rounds time one step of each setting in turn
(``bench/timing.py``: interleaved, so load from other processes hits both alike); the median
counts. Process CPU time per step is recorded too (less sensitive to other processes than wall time).

Families and sizes (small, but the shapes their CPU runs train at):

* ``basic_rnn``: events RNN (Melody RNN ``basic_rnn``), 2x128 LSTM, batch 64, 256 steps;
* ``attention_rnn``: events RNN with Magenta's attention (``attention_rnn``: 2x128 LSTM, window 40),
  batch 64, 128 steps;
* ``music_transformer``: relative attention, 4 layers, hidden 256, filter 512, 8 heads,
  256 tokens, batch 8 (the zoo's CPU model at half its length);
* ``gansynth``: the ``cpu_small`` preset (64x256 mel-IF, 6 resolutions, 32 channels), batch 8,
  both phases (discriminator with gradient penalty, generator).

The row's ``auto`` column is what :func:`tfmusic.runtime.resolve_jit_compile` picks for that family
on this device, so the table shows whether the rule still agrees with the measurement.
Writes ``xla.json`` and ``xla.md`` to ``--out`` (rewritten after each family, so a run cut short
keeps what it measured).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import timing  # noqa: E402  (bench/timing.py)

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfmusic import runtime as runtime_lib  # noqa: E402
from tfmusic import training  # noqa: E402

#: Overrides every family's run gets: one device, no checkpoints, summaries or progress bar.
COMMON = [
    "runtime.distribution=one_device",
    "trainer.progress=false",
    "trainer.summary_every=1000000",
    "trainer.checkpoint_every=1000000",
    "trainer.train_steps=1000000",
]


def _events_rnn(preset: str, batch: int, steps: int):
    """An events-RNN family (Melody RNN ``preset``) at ``batch`` x ``steps``; returns ``make(jit)``."""
    from melody_rnn_ext import config as mconfig
    from melody_rnn_ext import task as mtask

    def dataset_fn(ctx, batch_size):
        cfg = mconfig.get_preset(preset)
        rng = np.random.default_rng(0)
        labels = rng.integers(0, cfg.model.num_classes, (batch_size, steps))
        inputs = np.eye(cfg.model.input_size, dtype=np.float32)[
            rng.integers(0, cfg.model.input_size, (batch_size, steps))
        ]
        lengths = np.full([batch_size], steps, np.int32)
        return tf.data.Dataset.from_tensors((inputs, labels.astype(np.int64), lengths)).repeat()

    def make(jit: bool):
        cfg = mconfig.get_preset(
            preset,
            [
                *COMMON,
                f"runtime.jit_compile={jit}",
                f"trainer.global_batch_size={batch}",
                f"data.pad_to_multiple={steps}",
            ],
        )
        return mtask.MelodyRnnTask(cfg, dataset_fn=dataset_fn, eval_file=""), cfg

    layers = "x".join(str(n) for n in mconfig.get_preset(preset).model.hparams.rnn_layer_sizes)
    return make, f"{preset}: LSTM {layers}, batch {batch}, {steps} steps"


def _music_transformer(batch: int, length: int):
    import dataclasses

    from music_transformer_ext import config as tconfig
    from music_transformer_ext import task as ttask
    from tfmusic import config as config_lib

    model = dataclasses.replace(
        tconfig.get("score2perf_relative"),
        num_layers=4,
        hidden_size=256,
        filter_size=512,
        num_heads=8,
        attention_key_channels=0,
        max_relative_position=256,
        max_length=1024,
    )
    rng = np.random.default_rng(0)
    tokens = rng.integers(2, model.vocab_size, (64, length)).astype(np.int32)

    def dataset_fn(ctx):
        return tf.data.Dataset.from_tensor_slices({"targets": tokens})

    def make(jit: bool):
        cfg = ttask.experiment_for(model, data=ttask.DataConfig(sequence_length=length))
        cfg = config_lib.apply_overrides(
            cfg, [*COMMON, f"runtime.jit_compile={jit}", f"trainer.global_batch_size={batch}"]
        )
        return ttask.MusicTransformerTask(cfg, dataset_fn), cfg

    desc = (
        f"relative, {model.num_layers} layers, hidden {model.hidden_size}, filter {model.filter_size}, "
        f"{model.num_heads} heads, batch {batch}, {length} tokens"
    )
    return make, desc


def _gansynth(batch: int):
    from gansynth_tf import config as gconfig
    from gansynth_tf import gan

    def make(jit: bool):
        cfg = gconfig.get_preset(
            "cpu_small",
            [*COMMON, "trainer.media_every=0", f"runtime.jit_compile={jit}", f"trainer.global_batch_size={batch}"],
        )
        shape = tuple(cfg.data.spectral.spec_shape)
        return gan.GANSynthTask(cfg, gan.synthetic_dataset_fn(64, shape, cfg.data.num_pitches, seed=0)), cfg

    cfg = gconfig.get_preset("cpu_small")
    shape = "x".join(str(n) for n in cfg.data.spectral.spec_shape)
    return make, f"cpu_small: {shape} mel-IF, {cfg.model.num_resolutions} resolutions, batch {batch}, D + G phases"


#: name -> (the resolver's family, builder of ``(make(jit) -> (task, config), description)``).
FAMILIES = {
    "basic_rnn": (runtime_lib.EVENTS_RNN, lambda: _events_rnn("basic_rnn", 64, 256)),
    "attention_rnn": (runtime_lib.EVENTS_RNN, lambda: _events_rnn("attention_rnn", 64, 128)),
    "music_transformer": (runtime_lib.MUSIC_TRANSFORMER, lambda: _music_transformer(8, 256)),
    "gansynth": (runtime_lib.GANSYNTH, lambda: _gansynth(8)),
}


def _stepper(runner):
    iterator = runner.make_iterator()

    def step():
        logs = runner._train_step(iterator)
        float(next(iter(logs.values())))  # wait for the step

    return step


def measure(name: str, repeats: int) -> dict:
    """Times one family's training step with XLA on and off; returns the row's figures."""
    family, builder = FAMILIES[name]
    make, description = builder()
    device = runtime_lib.device_type()
    row = {"family": name, "resolver_family": family, "size": description, "device": device}
    with tempfile.TemporaryDirectory() as tmp:
        steps, first = {}, {}
        for label, jit in (("on", True), ("off", False)):
            task, cfg = make(jit)
            runner = training.Runner(task, cfg, os.path.join(tmp, label))
            steps[label] = _stepper(runner)
            t0 = time.perf_counter()
            steps[label]()
            first[label] = time.perf_counter() - t0
            steps[label]()  # one more warm-up step (the optimizer's first update, caches)
            print(f"{name} XLA {label}: first step {first[label]:.1f} s", flush=True)
        times, cpu = timing.time_interleaved(steps, repeats, warmup=False)
    for label in ("on", "off"):
        row[f"xla_{label}"] = {
            "first_step_s": first[label],
            "step_s": float(np.median(times[label])),
            "cpu_s": float(np.median(cpu[label])),
            "times_s": times[label],
            "cpu_times_s": cpu[label],
        }
    row["speedup_of_xla"] = row["xla_off"]["step_s"] / row["xla_on"]["step_s"]
    row["faster"] = "on" if row["speedup_of_xla"] > 1.0 else "off"
    row["auto"] = "on" if runtime_lib.resolve_jit_compile(runtime_lib.RuntimeConfig(), family, device) else "off"
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"))
    parser.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated, of {', '.join(FAMILIES)}")
    parser.add_argument("--repeats", type=int, default=7, help="timed steps of each setting (interleaved)")
    parser.add_argument("--note", default="", help="a sentence for the table (e.g. what else loaded the machine)")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    rows = []
    for name in args.families.split(","):
        print(f"-- {name}", flush=True)
        try:
            rows.append(measure(name, args.repeats))
        except Exception as e:  # a family that cannot run here is reported, not fatal
            rows.append({"family": name, "error": f"{type(e).__name__}: {e}"[:300]})
        print(json.dumps({k: v for k, v in rows[-1].items() if not k.startswith("xla_")}), flush=True)
        text = write_results(pathlib.Path(args.out), rows, args.repeats, load_before, args.note)
    print(text)
    return 1 if any("error" in r for r in rows) else 0


def write_results(out: pathlib.Path, rows: list, repeats: int, load_before: float, note: str = "") -> str:
    """Writes ``xla.json`` and ``xla.md`` for the rows measured so far; returns the Markdown."""
    out.mkdir(parents=True, exist_ok=True)
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    record = {
        "benchmark": "training step, XLA on vs off",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "tensorflow": tf.__version__,
        "repeats": repeats,
        "note": note,
        "machine": timing.machine(load_before, device=runtime_lib.device_type(), gpus=gpus),
        "rows": rows,
    }
    (out / "xla.json").write_text(json.dumps(record, indent=1) + "\n")
    m = record["machine"]
    lines = [
        f"# Training step, XLA on vs off ({m['device']}{': ' + ', '.join(gpus) if gpus else ''}, "
        f"{m['cpu_count']} CPU cores, TF {tf.__version__})",
        "",
        "One whole training step (forward, backward, optimizer update) through `tfmusic.training.Runner`, "
        f"synthetic batches; median of {repeats} steps per setting, timed in interleaved rounds after the first "
        "step (tracing + XLA compilation, shown apart) and one warm-up step. Wall ms / process CPU ms per step. "
        "`auto`: what `runtime.jit_compile=auto` picks for the family on this device "
        f"(`tfmusic.runtime.resolve_jit_compile`). 1-min load average {m['load_avg_1min_before']:.2f} before, "
        f"{m['load_avg_1min_after']:.2f} after." + (f" {note}" if note else ""),
        "",
        "| family | size | XLA on (ms) | XLA off (ms) | XLA speed-up (off / on) | first step on / off (s) "
        "| faster | auto |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['family']} | error: {r['error'][:100]} | | | | | | |")
            continue
        on, off = r["xla_on"], r["xla_off"]
        lines.append(
            f"| {r['family']} | {r['size']} | {1e3 * on['step_s']:.0f} / {1e3 * on['cpu_s']:.0f} "
            f"| {1e3 * off['step_s']:.0f} / {1e3 * off['cpu_s']:.0f} | {r['speedup_of_xla']:.2f} "
            f"| {on['first_step_s']:.1f} / {off['first_step_s']:.1f} | {r['faster']} | {r['auto']} |"
        )
    text = "\n".join(lines) + "\n"
    (out / "xla.md").write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(main())
