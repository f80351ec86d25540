"""Music Transformer benchmarks, side by side in one run.

1. Relative self-attention, skewed (t2t's ``dot_product_relative_v2``: ``O(L*D)`` relative
   embeddings, one ``[H, L, L]`` logits tensor) against the naive per-pair method (the paper's
   ``O(L^2*D)`` tensor of relative embeddings): forward + backward of one layer, batch 1, hidden
   256, 8 heads, ``max_relative_position = L``, at L = 512, 1024, 2048. Each case runs in its own
   process; peak memory is that process's resident-set high-water mark (``VmHWM``) minus its
   value just before the first step (on CPU; ``tf.config.experimental.get_memory_info`` peak on
   GPU), plus the analytic size of the relative-logit tensors. Graph mode (``tf.function``)
   without XLA, so each method allocates what it asks for. Naive cases whose per-pair tensor
   alone exceeds ``--naive_cap_gib`` are skipped and recorded as such. ``--xla`` compiles the
   steps with XLA instead.

   ``blocked`` is the same computation in causal query row blocks (the Music Transformer's
   default, ``attention.blocked_causal_relative_attention``).

   ``plain_skew`` (issue 14 item 1's reference row): the Music Transformer paper's plain skew
   (``bench/plain_skew.py``, one relative table shared by the heads) around the same layer's
   projections, timed alternately with ours (``blocked``, the default, and ``skew``, built with the
   same shared table) in one process; ``ratio_vs_plain_skew`` is the default's speed over the plain
   skew's (> 1: ours is faster), recorded with the issue's goal ``1.3``.
2. A whole training step (forward, backward, Adam) of a 6-layer, hidden-256, 4-head model with one
   relative table shared by the heads, ``blocked`` against ``skew`` (same weights, timed alternately
   in one process) at L = 512 (batch 2) and 1024 (batch 1), the issue's sizes.
3. Generation: events/s producing 1024 events with the key/value cache (the XLA-compiled
   ``tf.while_loop`` of ``music_transformer_ext.sampling``) against recomputing the whole prefix
   at every step (graph mode, dynamic length), same sampling and seed; the tokens are compared.
   ``--gen_model tiny`` swaps in a 1-layer, hidden-32 model (checks the code path quickly).

``--only attention`` (or ``model``, ``generation``) runs one part; ``--methods`` picks the attention rows.

Writes ``OUT/music_transformer.json`` and ``OUT/music_transformer.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

HIDDEN, HEADS = 256, 8
METHODS = ("skew", "blocked", "naive", "plain_skew")
#: ``--methods`` default
DEFAULT_METHODS = METHODS
#: issue 14 item 1: ours at least this much faster than the paper's plain skew
PLAIN_SKEW_GOAL = 1.3
GEN_MODEL = dict(
    vocab_size=310,
    num_layers=4,
    hidden_size=128,
    filter_size=512,
    num_heads=8,
    self_attention_type="dot_product_relative_v2",
    max_relative_position=512,
    max_length=1088,
    layer_prepostprocess_dropout=0.0,
    attention_dropout=0.0,
    relu_dropout=0.0,
)
#: ``--gen_model``: the generation benchmark's model (``tiny`` only checks the code path quickly).
GEN_MODELS = {
    "default": GEN_MODEL,
    "tiny": dict(GEN_MODEL, num_layers=1, hidden_size=32, filter_size=64, num_heads=4, max_relative_position=32),
}


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _median(times) -> float:
    return sorted(times)[len(times) // 2]


def attention_child(method: str, length: int, repeats: int, xla: bool = False) -> dict:
    """Run in a fresh process: forward + backward of one relative attention layer; returns figures.

    ``plain_skew`` also times ours (``blocked`` and ``skew``, same shared table) alternately with it."""
    import numpy as np
    import tensorflow as tf

    from bench.plain_skew import plain_skew_attention
    from music_transformer_ext import attention

    gpu = bool(tf.config.list_physical_devices("GPU"))
    plain = method == "plain_skew"

    def make_layer(relative_method):
        made = attention.MultiHeadAttention(
            HIDDEN,
            HEADS,
            attention_type="dot_product_relative_v2",
            max_relative_position=length,
            relative_method=relative_method,
            heads_share_relative_embedding=plain,
        )
        made.build((None, None, HIDDEN))
        return made

    layer = make_layer("skew" if plain else method)
    x = tf.constant(np.random.default_rng(0).normal(size=(1, length, HIDDEN)).astype(np.float32))
    bias = attention.causal_bias(length)

    def ours_forward(x):
        return layer(x, bias=bias)

    def plain_forward(x):
        q = attention.split_heads(layer.q(x), HEADS)
        k, v = layer.project_memory(x)
        er = attention.relative_embeddings_left(layer.relative.key_relative_embeddings, length)
        return layer.output_transform(attention.combine_heads(plain_skew_attention(q, k, v, er)))

    def make_step(forward, owner):
        """The compiled forward + backward of ``forward``, differentiated by ``x`` and ``owner``'s weights."""

        @tf.function(jit_compile=True if xla else None)
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = forward(x)
                loss = tf.reduce_sum(tf.square(y))
            grads = tape.gradient(loss, [x] + owner.trainable_variables)
            return loss, tf.add_n([tf.reduce_sum(tf.abs(g)) for g in grads])

        return step

    step = make_step(plain_forward if plain else ours_forward, layer)
    step.get_concrete_function(x)  # trace outside the measurement
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
    base = _status_kib("VmRSS")
    t0 = time.perf_counter()
    out = step(x)
    float(out[1])
    first = time.perf_counter() - t0
    peak_mib = (
        (tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20)
        if gpu
        else (_status_kib("VmHWM") - base) / 1024
    )
    row = {
        "method": method,
        "length": length,
        "xla": xla,
        "peak_mib": round(peak_mib, 1),
        "memory_measure": "GPU allocator peak" if gpu else "process RSS high-water mark - RSS before the step",
        "first_step_s": round(first, 4),
    }
    if not plain:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            float(step(x)[1])
            times.append(time.perf_counter() - t0)
        row["step_s"] = round(_median(times), 4)
        return row
    blocked = make_layer("blocked")
    for source, target in zip(layer.weights, blocked.weights):
        target.assign(source)
    skew_step = make_step(ours_forward, layer)
    blocked_step = make_step(lambda x: blocked(x, bias=bias), blocked)
    for fn in (skew_step, blocked_step):  # compile and warm up outside the timing
        float(fn(x)[1])
    times, skew_times, blocked_times = [], [], []
    for _ in range(repeats):  # alternately, so all three see the same load
        for fn, into in ((step, times), (skew_step, skew_times), (blocked_step, blocked_times)):
            t0 = time.perf_counter()
            float(fn(x)[1])
            into.append(time.perf_counter() - t0)
    row.update(
        {
            "heads_share_relative_embedding": True,
            "step_s": round(_median(times), 4),
            "ours_method": "blocked",
            "ours_step_s": round(_median(blocked_times), 4),
            "skew_step_s": round(_median(skew_times), 4),
            "ratio_vs_plain_skew": round(_median(times) / _median(blocked_times), 3),
            "skew_ratio_vs_plain_skew": round(_median(times) / _median(skew_times), 3),
            "goal_ratio": PLAIN_SKEW_GOAL,
        }
    )
    return row


MODEL_STEP = dict(
    GEN_MODEL,
    num_layers=6,
    hidden_size=256,
    filter_size=1024,
    num_heads=4,
    heads_share_relative_embedding=True,
    layer_prepostprocess_dropout=0.1,
    attention_dropout=0.1,
    relu_dropout=0.1,
)
#: ``--step_model``: the whole-step benchmark's model (``tiny`` only checks the code path quickly).
STEP_MODELS = {"default": MODEL_STEP, "tiny": dict(MODEL_STEP, num_layers=1, hidden_size=32, filter_size=64)}


def model_step_child(length: int, batch: int, repeats: int, xla: bool = True, step_model: str = "default") -> dict:
    """Run in a fresh process: one whole training step (forward, backward, Adam) of the
    ``STEP_MODELS[step_model]`` model at ``length``, ``blocked`` against ``skew`` (same weights), timed
    alternately."""
    import keras
    import numpy as np
    import tensorflow as tf

    from music_transformer_ext.config import MusicTransformerConfig
    from music_transformer_ext.model import MusicTransformer

    config = MusicTransformerConfig(
        **{**STEP_MODELS[step_model], "max_relative_position": length, "max_length": length}
    )
    ids = tf.constant(np.random.default_rng(0).integers(1, 310, size=(batch, length)).astype(np.int32))
    models = {method: MusicTransformer(config, relative_method=method) for method in ("skew", "blocked")}
    models["blocked"].set_weights(models["skew"].get_weights())
    params = int(sum(np.prod(v.shape) for v in models["skew"].trainable_variables))
    steps = {}
    for method, model in models.items():
        optimizer = keras.optimizers.Adam(1e-4)
        optimizer.build(model.trainable_variables)

        def loss_and_grads(ids, model=model):
            with tf.GradientTape() as tape:
                logits = model(ids, training=True)
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids[:, 1:], logits=logits[:, :-1])
                )
            return loss, tape.gradient(loss, model.trainable_variables)

        compiled = tf.function(loss_and_grads, jit_compile=True if xla else None)

        @tf.function
        def train_step(ids, model=model, optimizer=optimizer, compiled=compiled):
            loss, grads = compiled(ids)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        t0 = time.perf_counter()
        float(train_step(ids))
        steps[method] = (train_step, time.perf_counter() - t0)
    times = {method: [] for method in steps}
    for _ in range(repeats):
        for method, (fn, _) in steps.items():
            t0 = time.perf_counter()
            float(fn(ids))
            times[method].append(time.perf_counter() - t0)
    skew_s, blocked_s = _median(times["skew"]), _median(times["blocked"])
    return {
        "length": length,
        "batch": batch,
        "xla": xla,
        "model": step_model,
        "parameters": params,
        "skew_step_s": round(skew_s, 4),
        "blocked_step_s": round(blocked_s, 4),
        "ratio_blocked_vs_skew": round(skew_s / blocked_s, 3),
        "first_step_s_with_compile": {m: round(t, 1) for m, (_, t) in steps.items()},
    }


def _child_row(flag: str, *args) -> dict:
    """Runs this script with ``flag`` and ``args`` in a fresh process: the JSON row it prints last, or
    ``{"error": last line of its stderr}``."""
    cmd = [sys.executable, __file__, flag, *(str(a) for a in args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if proc.returncode:
        return {"error": (proc.stderr.strip().splitlines() or ["?"])[-1][:300]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def model_step_rows(cases, repeats: int, xla: bool = True, step_model: str = "default") -> list:
    """``model_step_child`` for each ``(length, batch)`` in its own process."""
    rows = []
    for length, batch in cases:
        row = {"length": length, "batch": batch}
        row.update(_child_row("--_model_child", length, batch, repeats, int(xla), step_model))
        rows.append(row)
        print(f"  model step L={length} batch {batch}: {row}", flush=True)
    return rows


def analytic_mib(method: str, length: int) -> float:
    """Size of the relative-position tensors of one forward pass (float32): naive
    ``[H, L, L, d]`` per-pair embeddings + ``[H, L, L]`` logits; skew ``[H, L, d]`` used
    embeddings + ``[H, L, L+1]`` padded logits; blocked the same embeddings + each row block's
    ``[H, n, b+1]`` padded logits."""
    d = HIDDEN // HEADS
    if method == "blocked":
        from music_transformer_ext.attention import relative_row_blocks

        n = HEADS * length * d + sum(HEADS * (b - a) * (b + 1) for a, b in relative_row_blocks(length))
    elif method == "naive":
        n = HEADS * length * length * d + HEADS * length * length
    elif method == "plain_skew":  # [L, d] shared table + [H, L, L+1] padded logits
        n = length * d + HEADS * length * (length + 1)
    else:
        n = HEADS * length * d + HEADS * length * (length + 1)
    return round(4 * n / 2**20, 1)


def attention_rows(lengths, cap_gib: float, repeats: int, xla: bool = False, methods=DEFAULT_METHODS) -> list:
    rows = []
    for length in lengths:
        for method in methods:
            row = {"method": method, "length": length, "analytic_relative_mib": analytic_mib(method, length)}
            pairs_gib = HEADS * length * length * (HIDDEN // HEADS) * 4 / 2**30
            if method == "naive" and pairs_gib > cap_gib:
                row["skipped"] = (
                    f"per-pair tensor alone {pairs_gib:.1f} GiB (x3 with its gradients) > cap "
                    f"{cap_gib} GiB on this shared CPU machine"
                )
                rows.append(row)
                print(f"  {method:10s} L={length}: skipped ({row['skipped']})", flush=True)
                continue
            row.update(_child_row("--_attention_child", method, length, repeats, int(xla)))
            rows.append(row)
            print(f"  {method:10s} L={length}: {row}", flush=True)
    return rows


def generation_figures(events: int, gen_model: dict = GEN_MODEL) -> dict:
    """Events/s of cached (XLA loop) and uncached (whole prefix every step) generation."""
    import numpy as np
    import tensorflow as tf

    from music_transformer_ext import sampling
    from music_transformer_ext.config import MusicTransformerConfig
    from music_transformer_ext.model import MusicTransformer

    model = MusicTransformer(MusicTransformerConfig(**gen_model))
    params = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    config = sampling.SamplingConfig(temperature=1.0, top_p=0.95, seed=0, stop_at_eos=False)
    sampler = sampling.Sampler(model)
    t0 = time.perf_counter()
    sampler.generate(None, events, 1, config)
    cached_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    cached = sampler.generate(None, events, 1, config)
    cached_s = time.perf_counter() - t0

    # the uncached reference, traced/compiled before timing (same steps as sampling.generate_uncached)
    forward = tf.function(
        lambda prefix: model(prefix, training=False)[:, -1], input_signature=[tf.TensorSpec([1, None], tf.int32)]
    )

    @tf.function(jit_compile=True)
    def choose(logits, tokens, position, finished):
        sampled = sampling.sample_logits(
            logits, config.temperature, config.top_k, config.top_p, sampling.step_seed(config.seed, position)
        )
        return sampling._next_tokens(tokens, sampled, position, 0, finished, False)

    tokens = tf.zeros([1, events], tf.int32)
    finished = tf.zeros([1], tf.bool)
    choose(forward(tokens[:, :1]), tokens, tf.constant(0), finished)  # warm up both
    t0 = time.perf_counter()
    for i in range(events):
        tokens, finished = choose(forward(tokens[:, : i + 1]), tokens, tf.constant(i), finished)
    uncached_s = time.perf_counter() - t0
    uncached = tokens.numpy()
    return {
        "events": events,
        "model": {**gen_model, "parameters": params},
        "cached_events_per_s": round(events / cached_s, 1),
        "cached_s": round(cached_s, 3),
        "cached_first_call_s_with_compile": round(cached_first, 2),
        "uncached_events_per_s": round(events / uncached_s, 1),
        "uncached_s": round(uncached_s, 3),
        "speedup": round(uncached_s / cached_s, 1),
        "identical_tokens": bool(np.array_equal(cached, uncached)),
        "matching_prefix": int(np.argmin(np.append(cached[0] == uncached[0], False))),
    }


def markdown(result: dict) -> str:
    load = result.get("load_average_1min", {})
    xla = "with XLA" if result.get("xla") else "graph mode without XLA"
    lines = [
        "## Music Transformer",
        "",
        f"Machine: {result['machine']}; 1-minute load average {load.get('start')} at the start, "
        f"{load.get('end')} at the end (other work shares these cores: absolute times are inflated).",
        "",
    ]
    if "attention" in result:
        lines += [
            f"Relative self-attention, forward + backward of one layer (batch 1, hidden {HIDDEN}, {HEADS} heads, "
            f"max_relative_position = L, {xla}). Peak memory: "
            f"{result['memory_measure']}; analytic: the relative-position tensors of the forward pass.",
            "",
            "| L | method | step (s) | peak memory (MiB) | analytic relative tensors (MiB) |",
            "|---:|---|---:|---:|---:|",
        ]
        for row in result["attention"]:
            if "skipped" in row or "error" in row:
                note = row.get("skipped") or f"error: {row['error']}"
                lines.append(f"| {row['length']} | {row['method']} | - | - ({note}) | {row['analytic_relative_mib']} |")
            else:
                lines.append(
                    f"| {row['length']} | {row['method']} | {row['step_s']:.3f} | {row['peak_mib']:.0f} | "
                    f"{row['analytic_relative_mib']} |"
                )
        plain = [r for r in result["attention"] if r["method"] == "plain_skew" and "skew_step_s" in r]
        if plain:
            lines += [
                "",
                "Against the paper's plain skew (bench/plain_skew.py; all with one relative table shared by "
                "the heads, timed alternately in one process): ratio = ours' speed / plain skew's speed "
                f"(> 1: ours is faster), goal >= {PLAIN_SKEW_GOAL} (issue 14 item 1) for the default "
                "(`blocked`); `skew` is t2t's full masked skew.",
                "",
                "| L | plain skew step (s) | skew step (s) | blocked step (s) | skew vs plain | blocked vs plain "
                "| goal met |",
                "|---:|---:|---:|---:|---:|---:|---|",
            ]
            for r in plain:
                met = "yes" if r["ratio_vs_plain_skew"] >= r["goal_ratio"] else "no"
                lines.append(
                    f"| {r['length']} | {r['step_s']:.3f} | {r['skew_step_s']:.3f} | {r['ours_step_s']:.3f} | "
                    f"{r['skew_ratio_vs_plain_skew']:.2f} | {r['ratio_vs_plain_skew']:.2f} | {met} |"
                )
    if result.get("model_step"):
        m = STEP_MODELS[result.get("step_model", "default")]
        lines += [
            "",
            "One whole training step (forward, backward, Adam; the loss and gradients XLA-compiled, as "
            f"`tfmusic.training` does) of a {m['num_layers']}-layer, hidden "
            f"{m['hidden_size']}, filter {m['filter_size']}, {m['num_heads']}-head model with one relative table "
            "shared by the heads (max_relative_position = L), `blocked` against `skew`, same weights, timed "
            "alternately in one process.",
            "",
            "| L | batch | parameters | skew step (s) | blocked step (s) | blocked vs skew | first steps incl. compile (s) |",
            "|---:|---:|---:|---:|---:|---:|---|",
        ]
        for r in result["model_step"]:
            if "error" in r:
                lines.append(f"| {r['length']} | {r['batch']} | - | - | - | - | error: {r['error']} |")
                continue
            first = ", ".join(f"{k} {v}" for k, v in r["first_step_s_with_compile"].items())
            lines.append(
                f"| {r['length']} | {r['batch']} | {r['parameters']:,} | {r['skew_step_s']:.3f} | "
                f"{r['blocked_step_s']:.3f} | {r['ratio_blocked_vs_skew']:.2f} | {first} |"
            )
    if "generation" in result:
        g = result["generation"]
        m = g["model"]
        lines += [
            "",
            f"Generation of {g['events']} events, batch 1, model: {m['num_layers']} layers, hidden "
            f"{m['hidden_size']}, filter {m['filter_size']}, {m['num_heads']} heads, relative "
            f"(M = {m['max_relative_position']}), {m['parameters']:,} parameters; top-p 0.95, same seed.",
            "",
            "| decoding | events/s | time (s) |",
            "|---|---:|---:|",
            f"| key/value cache, XLA while_loop | {g['cached_events_per_s']} | {g['cached_s']} |",
            f"| whole prefix recomputed each step | {g['uncached_events_per_s']} | {g['uncached_s']} |",
            "",
            f"Speed-up: **{g['speedup']}x** (goal >= 10x). Identical tokens: {g['identical_tokens']} "
            f"(first {g['matching_prefix']} equal). Cached first call incl. XLA compile: "
            f"{g['cached_first_call_s_with_compile']} s.",
        ]
    lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--lengths", default="512,1024,2048")
    parser.add_argument("--events", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--naive_cap_gib", type=float, default=1.5, help="skip naive cases whose per-pair tensor exceeds this (GiB)"
    )
    parser.add_argument(
        "--gen_model", choices=sorted(GEN_MODELS), default="default", help="the generation benchmark's model size"
    )
    parser.add_argument(
        "--only", choices=("all", "attention", "model", "generation"), default="all", help="run one part"
    )
    parser.add_argument(
        "--model_cases",
        default="512:2,1024:1",
        help="LENGTH:BATCH pairs of the whole-model training step, comma-separated",
    )
    parser.add_argument(
        "--methods", default=",".join(DEFAULT_METHODS), help=f"attention rows, comma-separated, of {', '.join(METHODS)}"
    )
    parser.add_argument("--xla", action="store_true", help="compile the attention steps with XLA")
    parser.add_argument("--_attention_child", nargs=4, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--step_model", choices=sorted(STEP_MODELS), default="default", help="the whole-step benchmark's model size"
    )
    parser.add_argument("--_model_child", nargs=5, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._attention_child:
        method, length, repeats, xla = args._attention_child
        print(json.dumps(attention_child(method, int(length), int(repeats), bool(int(xla)))))
        return 0
    if args._model_child:
        length, batch, repeats, xla = (int(x) for x in args._model_child[:4])
        print(json.dumps(model_step_child(length, batch, repeats, bool(xla), args._model_child[4])))
        return 0
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown --methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load_before = os.getloadavg()[0]
    result = {"machine": f"{platform.platform()}, {os.cpu_count()} CPU cores"}
    if args.only in ("all", "attention"):
        print("relative attention:", flush=True)
        rows = attention_rows(
            [int(x) for x in args.lengths.split(",")], args.naive_cap_gib, args.repeats, args.xla, methods
        )
        result["memory_measure"] = next((r["memory_measure"] for r in rows if "memory_measure" in r), "n/a")
        result["xla"] = args.xla
        result["plain_skew_goal_ratio"] = PLAIN_SKEW_GOAL
        result["attention"] = rows
    if args.only in ("all", "model"):
        print("whole-model training step:", flush=True)
        cases = [tuple(int(x) for x in case.split(":")) for case in args.model_cases.split(",") if case]
        result["model_step"] = model_step_rows(cases, args.repeats, xla=True, step_model=args.step_model)
        result["step_model"] = args.step_model
    if args.only in ("all", "generation"):
        print("generation:", flush=True)
        gen = generation_figures(args.events, GEN_MODELS[args.gen_model])
        print(f"  {gen}", flush=True)
        result["generation"] = gen
    result["load_average_1min"] = {"start": round(load_before, 1), "end": round(os.getloadavg()[0], 1)}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "music_transformer.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "music_transformer.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
