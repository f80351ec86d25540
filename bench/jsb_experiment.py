"""The Music Transformer paper's JSB Chorales experiment: validation NLL per note beside Table 2.

Trains the Transformer baseline (``jsb_baseline``: dot-product attention, sinusoidal timing) and
the relative-attention Transformer (``jsb_relative``: t2t's ``dot_product_relative_v2``, 256
relative positions) as language models over :mod:`music_transformer_ext.jsb`'s raster
serialisation (S, A, T, B per 16th note, 49 ids), through :class:`tfmusic.training.Runner`
(:class:`music_transformer_ext.task.MusicTransformerTask`), and scores the validation split with
:class:`music_transformer_ext.jsb.NoteWiseNLL` (mean nats per voice-step token, EOS/PAD excluded).

Training: random crops of ``--crop_length`` tokens (starting on a 16th-step boundary) of the 229
training chorales, shuffled, batches of ``--batch_size``; Adam (beta2 0.997, eps 1e-9) with
t2t's ``constant*linear_warmup*rsqrt_decay*rsqrt_hidden_size`` schedule; the presets' t2t dropouts
(0.1 on sublayer outputs, attention weights and FFN ReLUs); no label smoothing.

Evaluation: every ``--eval_every`` steps (and at step 0 and at the end) every note of every
validation chorale is scored once. By default in half-overlapping windows of the training crop
length (``jsb.scoring_windows``): the models add absolute sinusoidal positions, and a model trained
on 256-token crops, scored on a whole chorale (up to 2305 tokens), meets positions it never saw;
on the tiny model that made the validation NLL *rise* while the training loss fell. With
``--eval_window 0`` each chorale is scored whole (each note predicted from all notes before it in
raster order), which is right when the training crops cover whole chorales. Pieces are sorted by
length and batched up to ``--eval_batch_tokens`` padded tokens per batch. The best evaluation is
kept (its weights are written to ``<model_dir>/best`` when ``--model_dir`` is given).

Scales (``--scale``):

* ``paper``: the paper's sizes (baseline 5 layers, hidden 256, ffn 1024, 8 heads; relative 5
  layers, hidden 512, ffn 512, 8 heads, 256 relative positions), crops of 1024 tokens, batch 16,
  warmup 4000, learning-rate constant 2.0 (t2t's ``transformer_base`` schedule). Meant for a GPU.
* ``cpu``: the largest setting that makes real progress in under an hour on a 2-core CPU
  (1,000-1,400 steps in 50 minutes; validation NLL 0.69 baseline, 0.53 relative): for *both*
  models 3 layers, hidden 128, ffn 512, 8 heads (the relative one with 256 relative positions),
  crops of 256 tokens (64 sixteenth steps), batch 16, warmup 400, constant 1.0. Both models share one
  backbone here so that the comparison isolates the attention type.
* ``tiny``: 2 layers, hidden 32, ffn 64, 4 heads, crops of 64 tokens; for tests.

Outputs (``--out``, default ``bench/results``): ``jsb.json`` (settings, steps, wall time, NLL
per evaluation, best; runs are merged by ``preset@scale`` so a later paper-scale run joins the
CPU one) and ``jsb.md`` (the table beside the paper's Table 2), written atomically.

Usage::

    python bench/jsb_experiment.py --preset both --scale cpu --max_minutes 50 --eval_every 250
    python bench/jsb_experiment.py --preset both --scale paper --steps 20000 --max_minutes 120  # GPU
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import pathlib
import platform
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

_REPO = pathlib.Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

PRESETS = ("jsb_baseline", "jsb_relative")
SCALES = ("cpu", "paper", "tiny")

#: Paper row matching each preset (the paper's Table 2 names, as in ``jsb.PAPER_TABLE_2``).
PAPER_ROW = {"jsb_baseline": "Transformer baseline", "jsb_relative": "Transformer with relative attention"}


@dataclasses.dataclass(frozen=True)
class ScaleSettings:
    """Model overrides and training settings of one ``--scale``.

    Attributes:
      model: ``MusicTransformerConfig`` fields to replace in *every* preset (empty for ``paper``).
      crop_length: training example length in tokens (a multiple of 4: whole 16th steps).
      batch_size: examples per step.
      warmup_steps, learning_rate_constant: t2t schedule parameters.
      steps: default number of training steps.
      eval_every: default steps between evaluations.
    """

    model: Dict[str, Any]
    crop_length: int
    batch_size: int
    warmup_steps: int
    learning_rate_constant: float
    steps: int
    eval_every: int


SCALE_SETTINGS = {
    # scale: ScaleSettings(model, crop_length, batch_size, warmup_steps, learning_rate_constant, steps, eval_every)
    "paper": ScaleSettings({}, 1024, 16, 4000, 2.0, 20000, 1000),
    "cpu": ScaleSettings(
        dict(num_layers=3, hidden_size=128, filter_size=512, num_heads=8), 256, 16, 400, 1.0, 100000, 300
    ),
    "tiny": ScaleSettings(dict(num_layers=2, hidden_size=32, filter_size=64, num_heads=4), 64, 8, 20, 1.0, 60, 30),
}


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--preset", default="both", choices=PRESETS + ("both",))
    p.add_argument("--scale", default="cpu", choices=SCALES)
    p.add_argument("--steps", type=int, default=None, help="training steps per model (default: the scale's)")
    p.add_argument(
        "--max_minutes", type=float, default=0.0, help="wall-clock budget per model, training + evaluation (0 = none)"
    )
    p.add_argument("--eval_every", type=int, default=None, help="steps between validation evaluations")
    p.add_argument("--crop_length", type=int, default=None, help="training crop in tokens (multiple of 4)")
    p.add_argument("--batch_size", type=int, default=None)
    p.add_argument("--warmup_steps", type=int, default=None)
    p.add_argument("--learning_rate_constant", type=float, default=None)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="model.FIELD=VALUE",
        help="override an experiment field, e.g. model.layer_prepostprocess_dropout=0.2 (repeatable)",
    )
    p.add_argument("--data", default=None, help="Jsb16thSeparated.json (default: ../shared/data/jsb_chorales/)")
    p.add_argument("--valid_limit", type=int, default=0, help="score only the first N validation chorales (tests)")
    p.add_argument("--eval_batch_tokens", type=int, default=16384, help="padded tokens per evaluation batch")
    p.add_argument(
        "--eval_window",
        type=int,
        default=None,
        help="score chorales in windows of this many tokens, half-overlapping (jsb.scoring_windows); "
        "default the crop length (the positions training saw); 0 = each chorale whole",
    )
    p.add_argument("--model_dir", default=None, help="checkpoints (default: a temporary folder, deleted)")
    p.add_argument("--out", default=str(_REPO / "bench" / "results"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no_jit", action="store_true", help="do not XLA-compile the training step")
    p.add_argument("--no_progress", action="store_true", help="no tqdm bar")
    p.add_argument("--no_initial_eval", action="store_true", help="skip the evaluation of the untrained model")
    args = p.parse_args(argv)
    for name in ("steps", "eval_every", "crop_length", "batch_size", "warmup_steps"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            p.error(f"--{name} must be positive")
    if args.crop_length is not None and args.crop_length % 4:
        p.error("--crop_length must be a multiple of 4 (whole 16th steps)")
    if args.eval_window is not None and (args.eval_window < 0 or args.eval_window % 4):
        p.error("--eval_window must be 0 (whole chorales) or a positive multiple of 4")
    return args


# --------------------------------------------------------------------------- evaluation


def eval_batches(
    sequences: Sequence, max_batch_tokens: int, pad_multiple: int = 64, first_scored: Optional[Sequence[int]] = None
) -> List:
    """Sequences -> ``(targets, scored)`` int32/float32 batches ``[B, L]``, sorted by length so
    little is padded.

    Args:
      sequences: token arrays (whole serialised chorales, or ``jsb.scoring_windows`` of them).
      max_batch_tokens: ``B * L`` bound per batch (a batch always holds at least one sequence).
      pad_multiple: ``L`` is rounded up to a multiple of this.
      first_scored: per sequence, the index of its first scored token (default 0: all scored).

    Returns:
      a list of ``(targets, scored)`` numpy pairs: ``targets`` PAD-filled ids, ``scored`` 1.0 on
      the tokens to count; every input token appears exactly once.
    """
    import numpy as np

    from music_transformer_ext import jsb

    first_scored = list(first_scored) if first_scored is not None else [0] * len(sequences)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    batches, current = [], []

    def flush():
        width = -(-max(len(sequences[i]) for i in current) // pad_multiple) * pad_multiple
        arr = np.full((len(current), width), jsb.PAD_ID, np.int32)
        scored = np.zeros((len(current), width), np.float32)
        for row, i in enumerate(current):
            arr[row, : len(sequences[i])] = sequences[i]
            scored[row, first_scored[i] : len(sequences[i])] = 1.0
        batches.append((arr, scored))

    for i in order:
        width = -(-len(sequences[i]) // pad_multiple) * pad_multiple
        if current and (len(current) + 1) * width > max_batch_tokens:
            flush()
            current = []
        current.append(i)
    if current:
        flush()
    return batches


def windowed_eval_batches(sequences: Sequence, window: int, max_batch_tokens: int) -> List:
    """``eval_batches`` of every chorale cut by ``jsb.scoring_windows(seq, window)`` (0: whole)."""
    from music_transformer_ext import jsb

    pieces = [piece for seq in sequences for piece in jsb.scoring_windows(seq, window)]
    return eval_batches([p[0] for p in pieces], max_batch_tokens, first_scored=[p[1] for p in pieces])


def describe_evaluation(window: int) -> str:
    """How ``windowed_eval_batches(..., window, ...)`` scores a chorale, in words for the report."""
    from music_transformer_ext import jsb

    if window <= 0:
        return "each validation chorale scored whole (no sliding window), EOS/PAD excluded"
    stride = jsb.default_stride(window)
    return (
        f"windows of {window} tokens every {stride} (each token scored once; after the first window "
        f"with at least {window - stride} tokens of context), EOS/PAD excluded"
    )


def make_evaluator(model):
    """``batches -> (note-wise NLL, note count)`` for ``model`` (a traced call with a dynamic
    ``[B, L]`` signature, so batches of any length reuse one graph)."""
    import tensorflow as tf

    from music_transformer_ext import jsb

    @tf.function(
        input_signature=[tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.float32)],
        reduce_retracing=True,
    )
    def sums(targets, scored):
        logits = model(targets, training=False)
        return jsb.note_nll_sums(logits, targets, scored)

    def evaluate(batches) -> Dict[str, float]:
        metric = jsb.NoteWiseNLL()
        for batch, scored in batches:
            total, count = sums(tf.convert_to_tensor(batch), tf.convert_to_tensor(scored))
            metric.total += float(total)
            metric.count += float(count)
        return {"nll_per_note": metric.result(), "notes": metric.count}

    return evaluate


# --------------------------------------------------------------------------- one model


def experiment_config(preset: str, scale: str, args: argparse.Namespace, max_length: int):
    """The :class:`MusicTransformerExperiment` of ``preset`` at ``scale`` with the CLI's overrides."""
    from music_transformer_ext import config as model_config
    from music_transformer_ext import jsb
    from music_transformer_ext import task as task_lib
    from tfmusic import config as config_lib
    from tfmusic import runtime as runtime_lib
    from tfmusic import training

    settings = SCALE_SETTINGS[scale]
    model = model_config.get(preset)
    fields = dict(settings.model)
    if model.relative:
        fields["max_relative_position"] = min(model.max_relative_position, settings.crop_length)
    # The JSB vocabulary is jsb.VOCAB_SIZE (49); whole validation chorales need max_length >= 2305.
    fields.update(vocab_size=jsb.VOCAB_SIZE, max_length=max(model.max_length, max_length))
    model = dataclasses.replace(model, **fields)
    crop = args.crop_length or settings.crop_length
    exp = task_lib.MusicTransformerExperiment(
        model=model,
        optimizer=task_lib.OptimizerConfig(
            name="adam",
            learning_rate_constant=args.learning_rate_constant or settings.learning_rate_constant,
            warmup_steps=args.warmup_steps or settings.warmup_steps,
        ),
        data=task_lib.DataConfig(sequence_length=crop),
        seed=args.seed,
        trainer=training.TrainerConfig(
            train_steps=args.steps or settings.steps,
            global_batch_size=args.batch_size or settings.batch_size,
            checkpoint_every=10**9,
            max_checkpoints=1,
            summary_every=50,
            progress=not args.no_progress,
        ),
        runtime=runtime_lib.RuntimeConfig(distribution="one_device", jit_compile=not args.no_jit),
    )
    return config_lib.apply_overrides(exp, args.set)


def train_dataset_fn(sequences, crop_length: int, seed: int):
    """``input_context -> Dataset`` of unbatched ``{"targets": [crop_length]}`` random crops."""
    import tensorflow as tf

    from music_transformer_ext import jsb

    def dataset_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
        ds = jsb.make_dataset(
            sequences, crop_length, 1, random_crop=True, shuffle=True, repeat=True, seed=seed + ctx.input_pipeline_id
        )
        return ds.unbatch()

    return dataset_fn


def run_model(preset: str, scale: str, args: argparse.Namespace, data: Dict[str, list]) -> Dict[str, Any]:
    """Train one preset, evaluating as it goes; returns the run's record (see the module doc)."""
    import numpy as np
    import tensorflow as tf

    from music_transformer_ext import jsb
    from music_transformer_ext import task as task_lib
    from tfmusic import config as config_lib
    from tfmusic import training

    encoding = jsb.JsbEncoding()
    train = encoding.serialize_split(data["train"])
    valid_chorales = data["valid"][: args.valid_limit] if args.valid_limit else data["valid"]
    valid = encoding.serialize_split(valid_chorales)
    longest = max(len(s) for s in valid)
    exp = experiment_config(preset, scale, args, max_length=-(-longest // 64) * 64)
    eval_every = args.eval_every or SCALE_SETTINGS[scale].eval_every
    budget = args.max_minutes * 60.0 if args.max_minutes > 0 else math.inf

    tmp = None
    model_dir = args.model_dir and os.path.join(args.model_dir, f"{preset}_{scale}")
    if model_dir is None:
        tmp = model_dir = tempfile.mkdtemp(prefix=f"jsb_{preset}_")
    t0 = time.perf_counter()
    try:
        task = task_lib.MusicTransformerTask(
            exp, train_dataset_fn(train, exp.data.sequence_length, args.seed), skip_consumed_on_resume=False
        )
        runner = training.Runner(task, exp, model_dir)
        evaluate = make_evaluator(task.model)
        window = exp.data.sequence_length if args.eval_window is None else args.eval_window
        batches = windowed_eval_batches(valid, window, args.eval_batch_tokens)
        history = []
        best = None
        train_seconds = eval_seconds = 0.0
        sec_per_step = None
        last_eval = 0.0

        def do_eval(step, train_logs):
            nonlocal best, eval_seconds, last_eval
            t = time.perf_counter()
            result = evaluate(batches)
            last_eval = time.perf_counter() - t
            eval_seconds += last_eval
            entry = {
                "step": step,
                "valid_nll_per_note": result["nll_per_note"],
                "notes": result["notes"],
                "wall_s": round(time.perf_counter() - t0, 1),
                "eval_s": round(last_eval, 1),
            }
            entry.update({f"train_{k}": v for k, v in train_logs.items() if k in ("nll", "accuracy", "learning_rate")})
            history.append(entry)
            print(
                f"[{preset}@{scale}] step {step}: valid NLL/note {result['nll_per_note']:.4f} "
                f"({result['notes']:.0f} notes, eval {last_eval:.0f} s, wall {entry['wall_s']:.0f} s)",
                flush=True,
            )
            if best is None or result["nll_per_note"] < best["valid_nll_per_note"]:
                best = dict(entry)
                if args.model_dir:
                    tf.train.Checkpoint(model=task.model).write(os.path.join(model_dir, "best", "ckpt"))

        step = runner.restore()
        start_step = step
        evaluated_at = -1
        if not args.no_initial_eval:
            do_eval(step, {})
            evaluated_at = step
        stop_reason = "steps"
        # Train in short pieces so that the wall budget is checked often (the first piece includes
        # XLA compilation); evaluate every eval_every steps and once more when the run stops.
        piece = max(1, min(eval_every, 50))
        logs: Dict[str, float] = {}
        while step < exp.trainer.train_steps:
            elapsed = time.perf_counter() - t0
            next_eval = (step // eval_every + 1) * eval_every
            chunk = min(piece, next_eval - step, exp.trainer.train_steps - step)
            if sec_per_step is not None and budget < math.inf:
                chunk = min(chunk, int((budget - elapsed - last_eval) / sec_per_step))
            if elapsed >= budget or chunk <= 0:
                stop_reason = "max_minutes"
                break
            t = time.perf_counter()
            result = runner.train(stop_after=chunk)
            took = time.perf_counter() - t
            train_seconds += took
            done = result.final_step - step
            step = result.final_step
            logs = result.logs
            if done > 0:
                sec_per_step = took / done
            if step % eval_every == 0:
                do_eval(step, logs)
                evaluated_at = step
        if evaluated_at != step:
            do_eval(step, logs)
        wall = time.perf_counter() - t0
        return {
            "preset": preset,
            "scale": scale,
            "paper_row": PAPER_ROW[preset],
            "paper_nll": jsb.PAPER_TABLE_2[PAPER_ROW[preset]],
            "model": config_lib.to_dict(exp.model),
            "parameters": int(sum(np.prod(v.shape) for v in task.model.trainable_variables)),
            "optimizer": config_lib.to_dict(exp.optimizer),
            "crop_length": exp.data.sequence_length,
            "batch_size": exp.trainer.global_batch_size,
            "steps": step,
            "requested_steps": exp.trainer.train_steps,
            "stopped_by": stop_reason,
            "max_minutes": args.max_minutes,
            "wall_s": round(wall, 1),
            "train_s": round(train_seconds, 1),
            "eval_s": round(eval_seconds, 1),
            # this invocation's mean training time per step (evaluations excluded)
            "sec_per_step": round(train_seconds / (step - start_step), 4) if step > start_step else None,
            "train_chorales": len(train),
            "valid_chorales": len(valid),
            "eval_window": window,
            "evaluation": describe_evaluation(window),
            "history": history,
            "best": best,
            "final_valid_nll_per_note": history[-1]["valid_nll_per_note"],
        }
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------- report


def markdown(runs: Dict[str, Dict[str, Any]]) -> str:
    """The results table beside the paper's Table 2 (nats per note, validation split)."""
    from music_transformer_ext import jsb

    lines = [
        "## JSB Chorales: validation NLL per note (Music Transformer, Table 2)",
        "",
        "Note-wise NLL: mean nats per voice-step token (S, A, T, B per 16th note; EOS/PAD excluded), "
        "pooled over the whole validation split; how each chorale is scored is given per run below.",
        "",
        "| Model | Paper | Ours (best) | at step | Ours (last) | steps | scale | layers / hidden / ffn / heads "
        "| params | wall |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(runs):
        r = runs[key]
        m = r["model"]
        size = f"{m['num_layers']} / {m['hidden_size']} / {m['filter_size']} / {m['num_heads']}"
        if m["self_attention_type"] != "dot_product":
            size += f", rel {m['max_relative_position']}"
        best = r["best"] or {}
        lines.append(
            f"| {r['paper_row']} (`{r['preset']}`) | {r['paper_nll']:.3f} | "
            f"{best.get('valid_nll_per_note', float('nan')):.3f} | {best.get('step', 0)} | "
            f"{r['final_valid_nll_per_note']:.3f} | {r['steps']} | {r['scale']} | {size} | "
            f"{r['parameters'] / 1e6:.2f} M | {r['wall_s'] / 60:.1f} min |"
        )
    shown = {runs[k]["paper_row"] for k in runs}
    for row, value in jsb.PAPER_TABLE_2.items():
        if row not in shown:
            lines.append(f"| {row} | {value:.3f} | not run | | | | | | | |")
    lines += ["", f"Uniform over the 49 ids: ln 49 = {math.log(49):.3f} nats.", ""]
    for key in sorted(runs):
        r = runs[key]
        lines.append(
            f"- `{key}`: crops of {r['crop_length']} tokens, batch {r['batch_size']}, Adam with t2t schedule "
            f"(constant {r['optimizer']['learning_rate_constant']}, warmup {r['optimizer']['warmup_steps']}), "
            f"dropout {r['model']['layer_prepostprocess_dropout']}; stopped by {r['stopped_by']} "
            f"({r['steps']} steps, {r['sec_per_step']} s/step); {r.get('machine', '')}; scored in "
            f"{r.get('evaluation', 'whole chorales')}."
        )
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the experiment; returns 0. Writes ``<out>/jsb.json`` and ``<out>/jsb.md``."""
    args = _parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from music_transformer_ext import jsb
    from tfmusic import files

    data = jsb.load_jsb_chorales(args.data)
    presets = PRESETS if args.preset == "both" else (args.preset,)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "jsb.json"
    record = {"runs": {}}
    for preset in presets:
        run = run_model(preset, args.scale, args, data)
        run["machine"] = _machine()
        run["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        run["command"] = "python bench/jsb_experiment.py " + " ".join(argv if argv is not None else sys.argv[1:])
        record = _read_record(json_path)  # re-read: other runs may have finished meanwhile
        record["runs"][f"{preset}@{args.scale}"] = run
        files.atomic_write_json(json_path, record)
        files.atomic_write_text(out / "jsb.md", markdown(record["runs"]))
    print(markdown(record["runs"]))
    return 0


def _read_record(path: pathlib.Path) -> Dict[str, Any]:
    """The results JSON at ``path`` (earlier runs kept, keyed ``preset@scale``), or a fresh one."""
    from music_transformer_ext import jsb

    record = {"runs": {}}
    if path.exists():
        try:
            previous = json.loads(path.read_text())
            if isinstance(previous.get("runs"), dict):
                record["runs"].update(previous["runs"])
        except (OSError, ValueError):
            pass  # an unreadable earlier result is replaced
    record["paper_table_2"] = dict(jsb.PAPER_TABLE_2)
    return record


def _machine() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return f"{platform.machine()}, {os.cpu_count()} CPU cores" + (f", {len(gpus)} GPU" if gpus else ", no GPU")


if __name__ == "__main__":
    sys.exit(main())
