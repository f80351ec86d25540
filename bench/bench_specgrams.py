"""Benchmark: waves -> mel-IF specgrams, the tf.data pipeline against plain librosa/NumPy.

Usage (from the repository root):

    .venv/bin/python bench/bench_specgrams.py --out bench/results

Both sides compute GANSynth's mel-IF specgram of 4 s notes at 16 kHz (128x1024 by
default): left-padded STFT (2048-sample Hann frames, hop 512, DC bin dropped), log
magnitude, IF (unwrap along time, difference, / pi), then the mel map (log of mel power;
phase cumulated, mapped to mel, unwrapped, differenced).

* ``tf.data`` variants: ``gansynth_tf.data.make_specgram_dataset`` (batch, then a parallel
  vectorised map; XLA-compiled or not) and, for contrast, a per-example map; plus the
  XLA-compiled batch function called directly on pre-made batches (no tf.data).
* ``librosa/numpy``: one example at a time, ``librosa.stft(center=False)``, ``np.unwrap``,
  ``np.diff``, the same mel matrix as a dense float32 ``@``; the textbook transform. Timed
  with one BLAS thread and with OpenBLAS's default; ratios use the faster of the two.

Inputs are the 12 real NSynth sample notes tiled to ``--num-examples``. Every variant is
warmed up with one full pass (tracing, XLA compilation), then timed over ``--repeats``
interleaved rounds (one pass per variant per round, so outside load hits all alike); the
best pass counts, the median is reported too. Writes ``specgrams.json`` and ``specgrams.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import platform
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import timing  # noqa: E402  (bench/timing.py)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import tensorflow as tf  # noqa: E402

try:  # ships with scikit-learn; without it the BLAS thread count cannot be pinned
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    import contextlib

    def threadpool_limits(limits=None, user_api=None):
        return contextlib.nullcontext()


from gansynth_tf import data as gdata  # noqa: E402
from gansynth_tf.specgrams import PRESETS, SpecgramsHelper  # noqa: E402

DEFAULT_SAMPLES = REPO_ROOT.parent / "shared" / "data" / "nsynth_sample" / "audio"
LIBROSA_1 = "librosa/numpy per example, 1 BLAS thread"
LIBROSA_N = "librosa/numpy per example, default BLAS threads"


def load_waves(sample_dir: pathlib.Path, num_examples: int, audio_length: int) -> np.ndarray:
    """Real notes tiled to float32 [num_examples, audio_length]; synthetic tones if none found."""
    files = sorted(sample_dir.glob("*.wav")) if sample_dir.is_dir() else []
    if files:
        notes = [sf.read(f, dtype="float32")[0][:audio_length] for f in files]
        notes = np.stack([np.pad(n, (0, audio_length - len(n))) for n in notes])
    else:
        t = np.arange(audio_length) / 16000.0
        notes = np.stack([0.5 * np.sin(2 * np.pi * 110.0 * 2 ** (k / 12) * t) for k in range(12)]).astype(np.float32)
    reps = -(-num_examples // len(notes))
    return np.tile(notes, (reps, 1))[:num_examples]


class LibrosaMelIF:
    """The plain per-example reference: one float32 wave [time] -> float32 [frames, freq, 2]."""

    def __init__(self, helper: SpecgramsHelper):
        c = helper.config
        self.c = c
        self.l2m = helper.linear_to_mel_matrix.astype(np.float32)
        self.window = "hann"  # librosa's get_window('hann', n) is periodic (fftbins=True)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        c = self.c
        padded = np.pad(wave, (c.pad_left, c.pad_right))
        stft = librosa.stft(padded, n_fft=c.frame_length, hop_length=c.frame_step, window=self.window, center=False)
        stft = stft.T[:, 1:] if c.discard_dc else stft.T[:, :-1]  # [frames, freq]
        logmag = np.log(np.abs(stft) + 1e-6)
        unwrapped = np.unwrap(np.angle(stft), axis=0)
        ifreq = np.concatenate([unwrapped[:1], np.diff(unwrapped, axis=0)], axis=0) / np.pi
        mag2 = np.exp(2.0 * logmag)
        phase = np.cumsum(ifreq * np.pi, axis=0)
        logmelmag2 = np.log(mag2 @ self.l2m + 1e-6)
        mel_unwrapped = np.unwrap(phase @ self.l2m, axis=0)
        mel_if = np.concatenate([mel_unwrapped[:1], np.diff(mel_unwrapped, axis=0)], axis=0) / np.pi
        return np.stack([logmelmag2, mel_if], axis=-1).astype(np.float32)


def main(argv=None) -> dict:
    """Run the benchmark (command-line ``argv``); writes the JSON and Markdown, returns the JSON dict."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"))
    parser.add_argument("--num-examples", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--preset", default="128x1024", choices=sorted(PRESETS))
    parser.add_argument("--samples", default=str(DEFAULT_SAMPLES))
    args = parser.parse_args(argv)

    helper = SpecgramsHelper(PRESETS[args.preset])
    if not helper.config.mel:
        parser.error("the benchmark measures the mel-IF transform; pick a mel preset")
    n = args.num_examples
    waves = load_waves(pathlib.Path(args.samples), n, helper.config.audio_length)
    elements = {"audio": waves, "pitch": np.full([n], 60, np.int64)}
    source = tf.data.Dataset.from_tensor_slices(elements).cache()

    def tf_pass(ds):
        def run():
            count = 0
            for specs, _ in ds:
                count += int(specs.shape[0])
            assert count == n, count

        return run

    variants = {}
    for name, jit in (("tf.data batch+map, XLA", True), ("tf.data batch+map, no XLA", False)):
        ds = gdata.make_specgram_dataset(source, helper, None, args.batch_size, drop_remainder=False, jit_compile=jit)
        variants[name] = tf_pass(ds)
    # The same XLA-compiled batch function called directly on pre-made batches (no tf.data):
    # shows how much of the pipeline's time is the transform itself.
    batch_fn = gdata.make_batch_fn(helper, None)
    premade = [
        {
            "audio": tf.constant(waves[i : i + args.batch_size]),
            "pitch": tf.constant(elements["pitch"][i : i + args.batch_size]),
        }
        for i in range(0, n, args.batch_size)
    ]

    def direct_pass():
        for batch in premade:
            batch_fn(batch)[0].numpy()

    variants["XLA batch function, called directly"] = direct_pass
    per_example = source.map(gdata.make_example_fn(helper, None), num_parallel_calls=tf.data.AUTOTUNE).prefetch(8)
    per_example = per_example.batch(1)
    variants["tf.data per-example map"] = tf_pass(per_example)

    reference = LibrosaMelIF(helper)

    def librosa_pass(blas_threads):
        def run():
            with threadpool_limits(limits=blas_threads, user_api="blas"):
                for w in waves:
                    reference(w)

        return run

    # OpenBLAS's default threading collapses when other processes share the cores, so the
    # baseline is timed with one BLAS thread and with the default, and the faster counts.
    variants[LIBROSA_1] = librosa_pass(1)
    variants[LIBROSA_N] = librosa_pass(None)

    load_before = os.getloadavg()
    times, cpu = timing.time_interleaved(variants, args.repeats, announce_warmup=True)
    load_after = os.getloadavg()
    rows = [
        timing.throughput_row(
            name, times, cpu, n, "examples", cpu_ms_per_example_median=1e3 * float(np.median(cpu[name])) / n
        )
        for name in times
    ]
    base = max((r for r in rows if r["implementation"] in (LIBROSA_1, LIBROSA_N)), key=lambda r: r["examples_per_s"])
    base["baseline"] = True
    for r in rows:
        r["ratio_vs_librosa"] = r["examples_per_s"] / base["examples_per_s"]
        r["ratio_vs_librosa_median"] = r["examples_per_s_median"] / base["examples_per_s_median"]
        r["cpu_ratio_vs_librosa"] = base["cpu_ms_per_example_median"] / r["cpu_ms_per_example_median"]

    # Agreement check between the fastest TF path and the reference on a few notes.
    specs, _ = next(iter(gdata.make_specgram_dataset(source, helper, None, 4, drop_remainder=False)))
    ref = np.stack([reference(w) for w in waves[:4]])
    strong = ref[..., 0] > ref[..., 0].max() - 12.0  # bins within ~12 nepers of the peak power
    circ = np.abs((specs.numpy()[..., 1] - ref[..., 1] + 1.0) % 2.0 - 1.0)
    agreement = {
        "logmelmag2_max_abs_diff_strong_bins": float(np.abs(specs.numpy()[..., 0] - ref[..., 0])[strong].max()),
        "mel_if_max_circular_diff_strong_bins": float(circ[strong].max()),
    }

    result = {
        "benchmark": "waves -> mel-IF specgrams",
        "preset": args.preset,
        "spec_shape": list(helper.config.spec_shape),
        "num_examples": n,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "librosa": librosa.__version__,
        "numpy": np.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average_before_after": [list(load_before), list(load_after)],
        "baseline": base["implementation"],
        "results": rows,
        "agreement": agreement,
    }
    lines = [
        f"# waves -> mel-IF specgrams ({args.preset}, {n} examples of {helper.config.audio_length} samples)",
        "",
        f"{os.cpu_count()} CPU cores, TensorFlow {tf.__version__}, librosa {librosa.__version__}; "
        f"batch size {args.batch_size}; {args.repeats} interleaved timed passes after a warm-up pass "
        f"(examples/s from the best pass; median in brackets); 1-min load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after.",
        "",
        f"Ratios are against the faster librosa row ({base['implementation']}).",
        "",
        "| implementation | examples/s | ratio vs librosa | CPU ms/example | CPU ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['implementation']} | {r['examples_per_s']:.1f} ({r['examples_per_s_median']:.1f}) "
        f"| {r['ratio_vs_librosa']:.2f}x ({r['ratio_vs_librosa_median']:.2f}x) "
        f"| {r['cpu_ms_per_example_median']:.2f} | {r['cpu_ratio_vs_librosa']:.2f}x |"
        for r in rows
    ]
    lines += [
        "",
        "CPU ms/example: process CPU time (all threads) per example, median pass; it measures work",
        "done and is less sensitive than wall time to other processes sharing the machine.",
    ]
    lines += [
        "",
        "Agreement with the librosa/NumPy output on bins within 12 nepers of the peak mel power: "
        f"log-mel max |diff| {agreement['logmelmag2_max_abs_diff_strong_bins']:.2e}, "
        f"mel IF max circular |diff| {agreement['mel_if_max_circular_diff_strong_bins']:.2e}.",
        "",
    ]
    timing.write_results(args.out, "specgrams", result, "\n".join(lines), indent=2)
    return result


if __name__ == "__main__":
    main()
