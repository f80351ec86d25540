"""Benchmark: GANSynth synthesis speed, seconds of audio generated per second of wall time.

Usage (from the repository root):

    .venv/bin/python bench/bench_synthesis.py --out bench/results [--batch_sizes 1,4,16] [--notes 16]
        [--repeats 2] [--timbres fixed,interpolate] [--no_midi] [--zoo auto|none|NAME] [--preset P]

What is timed is the library's synthesis, as ``gansynth_generate`` runs it
(:class:`gansynth_tf.synthesize.GANSynthSynthesizer`: generator -> denormalise -> inverse mel-IF
transform -> waves, in one ``tf.function``, ``batch_size`` notes per call):

1. ``notes`` (what ``gansynth_generate notes`` computes, without writing the wav files): a pass
   synthesises ``--notes`` notes (latents from seeds, pitches spread over the model's range) in
   calls of each batch size. The model is the ``--preset``'s generator (default ``mel_prog_hires``:
   the paper's IF-Mel + H network, 4 s notes as 128x1024 mel-IF specgrams, 7.3 M parameters),
   **randomly initialised**: the weights' values do not change the arithmetic, so the speed is that
   of a trained model of this shape.
2. ``midi`` (what ``gansynth_generate midi`` computes): :func:`gansynth_tf.synthesize.render_midi`
   on the soprano line of Bach's chorale BWV 66.6 (music21's corpus written to MIDI by music21, as
   the demo does): the MIDI is read, every distinct (pitch, latent) note generated in calls of
   ``--midi_batch_size`` (the command's default 16), enveloped and mixed; timbre ``interpolate``
   (the command's default: a latent per onset) and ``fixed`` (one latent: a note per distinct pitch).
3. The zoo's GANSynth models (``models/``, family ``gansynth``) the same way as 1, at their own
   note length, when the zoo has one (``--zoo auto``).

The first call of each synthesizer traces (and optimises) its graph: it is timed alone, as "first
call", and is also the warm-up. Then ``--repeats`` interleaved rounds time one pass of every
variant (``bench/timing.py``), so load from other processes hits every variant alike; figures come
from the median pass (best in brackets). ms per note and seconds of audio per wall second use the
notes' full length (4 s for ``mel_prog_hires``); for MIDI also the piece's own length per wall
second. Model FLOPs per note are TensorFlow's profiler count of the synthesis graph
(``bench/flops.py``: convolutions and matmuls; FFTs not counted).

The published figures are set beside ours: the GANSynth paper (Engel et al., ICLR 2019) reports
20 ms per 4 s note for IF-Mel on a TitanX GPU, against 1,077 s for its WaveNet baseline.

Defaults: batch sizes 1, 4, 16, 16 notes per pass, 2 timed passes (1 per MIDI timbre) on a CPU (about
3 minutes on a loaded 2-core machine); 1, 8, 32, 128, 128 notes per pass and 5 passes on a GPU. Writes ``synthesis.json`` and ``synthesis.md`` to
``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import pathlib
import platform
import statistics
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

#: The GANSynth paper's generation times for one 4 s note (seconds), TitanX GPU.
PAPER_SECONDS_PER_NOTE = {"GANSynth IF-Mel (paper, TitanX GPU)": 0.020, "WaveNet baseline (paper, TitanX GPU)": 1077.0}
PAPER_NOTE_SECONDS = 4.0
CHORALE = "bach/bwv66.6"


def chorale_midi(folder: pathlib.Path) -> pathlib.Path:
    """The soprano line of BWV 66.6 (music21's corpus) as a MIDI file, written as the demo writes it."""
    import music21

    score = music21.corpus.parse(CHORALE)
    soprano = score.parts[0].flatten().notes.stream()
    path = folder / "chorale_bwv66.6_soprano.mid"
    soprano.write("midi", fp=str(path))
    return path


def synthesis_flops(synth) -> int:
    """Model FLOPs of one note through ``synth``'s synthesis graph (batch 1)."""
    import tensorflow as tf

    concrete = tf.function(synth.synthesis_graph).get_concrete_function(
        tf.TensorSpec([1, synth.latent_size], tf.float32), tf.TensorSpec([1], tf.int32)
    )
    return flops_lib.graph_flops(concrete)


def spread_pitches(synth, n: int):
    """n MIDI pitches spread evenly over the model's range (as ``--pitches LO-HI`` would)."""
    import numpy as np

    return np.round(np.linspace(synth.min_pitch, synth.max_pitch, n)).astype(np.int32)


def notes_rows(label: str, make_synth, batch_sizes, notes: int, repeats: int, seed: int) -> list:
    """Times ``gansynth_generate notes``' synthesis at each batch size; one row per batch size.

    ``make_synth(batch_size)`` returns a fresh :class:`GANSynthSynthesizer` (its own, untraced
    ``tf.function``) sharing one generator.
    """
    synths, variants, first_calls, counts = {}, {}, {}, {}
    for b in batch_sizes:
        synth = make_synth(b)
        n = math.ceil(notes / b) * b  # whole calls only: a ragged last call would retrace
        latents = synth.random_latents(n, seed)
        pitches = spread_pitches(synth, n)
        t0 = time.perf_counter()
        synth.generate(latents[:b], pitches[:b])
        first_calls[b] = time.perf_counter() - t0
        print(f"{label}: batch {b}: first call {first_calls[b]:.2f} s", flush=True)
        synths[b], counts[b] = synth, n
        variants[f"batch {b}"] = lambda s=synth, z=latents, p=pitches: s.generate(z, p)
    times, cpu = timing.time_interleaved(variants, repeats, warmup=False)
    rows = []
    for b in batch_sizes:
        synth, n = synths[b], counts[b]
        ts, cs = times[f"batch {b}"], cpu[f"batch {b}"]
        med, best = statistics.median(ts), min(ts)
        note_s = synth.audio_length / synth.sample_rate
        calls = n // b
        rows.append(
            {
                "model": label,
                "path": "notes",
                "batch_size": b,
                "notes_per_pass": n,
                "calls_per_pass": calls,
                "note_seconds": note_s,
                "first_call_s": first_calls[b],
                "steady_call_s": med / calls,
                "first_call_overhead_s": first_calls[b] - med / calls,
                "pass_s": ts,
                "pass_cpu_s": cs,
                "ms_per_note": 1000 * med / n,
                "ms_per_note_best": 1000 * best / n,
                "cpu_ms_per_note": 1000 * statistics.median(cs) / n,
                "audio_s_per_wall_s": n * note_s / med,
                "audio_s_per_wall_s_best": n * note_s / best,
            }
        )
    return rows


def midi_rows(make_synth, midi_path, timbres, batch_size: int, repeats: int, seed: int) -> list:
    """Times ``gansynth_generate midi``'s rendering (:func:`render_midi`) per timbre; one row each."""
    from gansynth_tf import synthesize as S

    variants, first, info = {}, {}, {}
    for timbre in timbres:
        synth = make_synth(batch_size)
        t0 = time.perf_counter()
        rendering = S.render_midi(synth, str(midi_path), timbre=timbre, seed=seed)
        first[timbre] = time.perf_counter() - t0
        info[timbre] = (synth, rendering)
        print(f"midi {timbre}: first pass {first[timbre]:.2f} s", flush=True)
        variants[timbre] = lambda s=synth, t=timbre: S.render_midi(s, str(midi_path), timbre=t, seed=seed)
    times, cpu = timing.time_interleaved(variants, repeats, warmup=False)
    rows = []
    for timbre in timbres:
        synth, r = info[timbre]
        ts, cs = times[timbre], cpu[timbre]
        med, best = statistics.median(ts), min(ts)
        note_s = synth.audio_length / synth.sample_rate
        piece_s = len(r.audio) / r.sample_rate
        rows.append(
            {
                "path": "midi",
                "timbre": timbre,
                "batch_size": batch_size,
                "piece": f"{CHORALE} soprano line",
                "notes": len(r.notes),
                "generated_notes": r.num_generated,
                "piece_seconds": piece_s,
                "note_seconds": note_s,
                "first_pass_s": first[timbre],
                "pass_s": ts,
                "pass_cpu_s": cs,
                "wall_s": med,
                "ms_per_generated_note": 1000 * med / r.num_generated,
                "piece_s_per_wall_s": piece_s / med,
                "piece_s_per_wall_s_best": piece_s / best,
                "audio_s_per_wall_s": r.num_generated * note_s / med,
            }
        )
    return rows


def markdown(result: dict) -> str:
    m = result["machine"]
    model = result["model"]
    lines = [
        f"# GANSynth synthesis speed ({m['device']}, {m['cpu_count']} CPU cores, TF {m['tensorflow']})",
        "",
        f"Model: preset `{model['preset']}`'s generator ({model['parameters']:,} parameters, "
        f"{model['note_seconds']:g} s notes as {model['spec_shape'][0]}x{model['spec_shape'][1]} "
        f"{'mel-IF' if model['mel'] else 'IF'} specgrams), **randomly initialised** (weights do not change the "
        f"cost); {model['gflops_per_note']:.3g} GFLOP per note (TF profiler: convolutions and matmuls). "
        f"Timed: the library's `GANSynthSynthesizer` (what `gansynth_generate` runs), wav writing excluded. "
        f"First call (tracing + graph optimisation + one call) apart; then {result['repeats']} interleaved "
        f"timed pass(es), median (best in brackets). 1-min load average {m['load_avg_1min_before']:.1f} before, "
        f"{m['load_avg_1min_after']:.1f} after" + (f"; {result['note']}" if result.get("note") else "") + ".",
        "",
        "| model / path | batch | notes per pass | first call (s) | steady call (s) | ms per note | "
        "audio s per wall s | CPU ms per note |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["notes"]:
        lines.append(
            f"| {r['model']}, notes | {r['batch_size']} | {r['notes_per_pass']} | {r['first_call_s']:.2f} | "
            f"{r['steady_call_s']:.3f} | {r['ms_per_note']:.1f} ({r['ms_per_note_best']:.1f}) | "
            f"{r['audio_s_per_wall_s']:.2f} ({r['audio_s_per_wall_s_best']:.2f}) | {r['cpu_ms_per_note']:.0f} |"
        )
    for name, seconds in PAPER_SECONDS_PER_NOTE.items():
        lines.append(f"| {name} | - | - | - | - | {1000 * seconds:,.0f} | {PAPER_NOTE_SECONDS / seconds:.4g} | - |")
    zoo = result.get("zoo")
    if isinstance(zoo, str):
        lines += ["", f"Zoo: {zoo}"]
    if result.get("midi"):
        r0 = result["midi"][0]
        lines += [
            "",
            f"`gansynth_generate midi` path: {r0['piece']} ({r0['notes']} notes, {r0['piece_seconds']:.1f} s), "
            f"rendered with batch {r0['batch_size']}: MIDI read, distinct notes generated, enveloped and mixed; "
            f"first pass apart, then {result['midi_repeats']} timed pass(es), median (best in brackets).",
            "",
            "| timbre | notes generated | first pass (s) | pass (s) | ms per generated note | "
            "piece s per wall s | generated audio s per wall s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in result["midi"]:
            lines.append(
                f"| {r['timbre']} | {r['generated_notes']} | {r['first_pass_s']:.2f} | {r['wall_s']:.2f} | "
                f"{r['ms_per_generated_note']:.1f} | {r['piece_s_per_wall_s']:.2f} "
                f"({r['piece_s_per_wall_s_best']:.2f}) | {r['audio_s_per_wall_s']:.2f} |"
            )
    paper = PAPER_NOTE_SECONDS / PAPER_SECONDS_PER_NOTE["GANSynth IF-Mel (paper, TitanX GPU)"]
    ours = [r for r in result["notes"] if r["model"] == model["label"]]
    if ours:
        fastest = max(ours, key=lambda r: r["audio_s_per_wall_s"])
        lines += [
            "",
            f"Fastest here: {fastest['audio_s_per_wall_s']:.2f} s of audio per wall second (batch "
            f"{fastest['batch_size']}), {fastest['audio_s_per_wall_s'] / paper:.3g}x the paper's GANSynth figure "
            f"on a TitanX and {fastest['audio_s_per_wall_s'] * PAPER_SECONDS_PER_NOTE['WaveNet baseline (paper, TitanX GPU)'] / PAPER_NOTE_SECONDS:,.0f}x "
            "its WaveNet baseline.",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    """Run the benchmark (command-line ``argv``); writes the JSON and Markdown, returns the JSON dict."""
    import tensorflow as tf

    gpu = bool(tf.config.list_physical_devices("GPU"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results"))
    parser.add_argument("--preset", default="mel_prog_hires", help="GANSynth preset whose generator is timed")
    parser.add_argument("--batch_sizes", default="1,8,32,128" if gpu else "1,4,16")
    parser.add_argument("--notes", type=int, default=0, help="notes per timed pass (default: the largest batch)")
    parser.add_argument("--repeats", type=int, default=5 if gpu else 2, help="timed passes per variant")
    parser.add_argument(
        "--midi_repeats",
        type=int,
        default=0,
        help="timed passes per MIDI timbre (default: --repeats on a GPU, 1 on a CPU)",
    )
    parser.add_argument("--no_midi", action="store_true", help="skip the gansynth_generate midi path")
    parser.add_argument("--timbres", default="interpolate,fixed", help="timbres of the MIDI path")
    parser.add_argument("--midi_batch_size", type=int, default=16, help="notes per call on the MIDI path")
    parser.add_argument(
        "--zoo", default="auto", help="'auto': every zoo GANSynth in models/ as well; 'none'; or a zoo model's name"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--note", default="", help="a sentence added to the Markdown (e.g. what else ran)")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b]
    if not batch_sizes or min(batch_sizes) < 1 or args.repeats < 1:
        parser.error("--batch_sizes must be positive integers and --repeats at least 1")
    notes = args.notes or max(batch_sizes)
    midi_repeats = args.midi_repeats or (args.repeats if gpu else 1)

    import numpy as np

    from gansynth_tf.config import get_preset
    from gansynth_tf.generator import build_generator
    from gansynth_tf.synthesize import GANSynthSynthesizer
    from tfmusic import zoo

    load_before = os.getloadavg()[0]
    cfg = get_preset(args.preset)
    generator = build_generator(cfg.model, cfg.data.num_pitches, name="generator")
    label = f"{args.preset} (random init)"

    def make_synth(b):
        return GANSynthSynthesizer(cfg, generator, batch_size=b)

    probe = make_synth(1)
    spectral = cfg.data.spectral
    model = {
        "preset": args.preset,
        "label": label,
        "weights": "random initialisation (speed does not depend on the values)",
        "parameters": int(sum(np.prod(v.shape) for v in generator.weights)),
        "note_seconds": probe.audio_length / probe.sample_rate,
        "sample_rate": probe.sample_rate,
        "spec_shape": list(spectral.spec_shape),
        "mel": bool(spectral.mel),
        "gflops_per_note": synthesis_flops(probe) / 1e9,
    }
    print(f"model: {model}", flush=True)
    rows = notes_rows(label, make_synth, batch_sizes, notes, args.repeats, args.seed)

    zoo_result = "none requested"
    if args.zoo != "none":
        wanted = zoo.names("gansynth") if args.zoo == "auto" else [args.zoo]
        if not wanted:
            where = (
                os.path.relpath(zoo.zoo_dir(), REPO_ROOT) if zoo.zoo_dir().is_relative_to(REPO_ROOT) else zoo.zoo_dir()
            )
            zoo_result = f"no GANSynth model in the zoo ({where}/) yet, so none timed."
        else:
            zoo_result = []
            for name in wanted:
                base = zoo.load(name)

                def make_zoo_synth(b, base=base):
                    return GANSynthSynthesizer(
                        base.config, base.generator, base.normalizer, batch_size=b, progress=base.progress
                    )

                zoo_result.append(name)
                rows += notes_rows(f"zoo {name}", make_zoo_synth, batch_sizes, notes, args.repeats, args.seed)

    midi = []
    if not args.no_midi:
        timbres = [t for t in args.timbres.split(",") if t]
        with tempfile.TemporaryDirectory() as tmp:
            path = chorale_midi(pathlib.Path(tmp))
            midi = midi_rows(make_synth, path, timbres, args.midi_batch_size, midi_repeats, args.seed)

    gpus = tf.config.list_physical_devices("GPU")
    result = {
        "benchmark": "synthesis",
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "device": flops_lib.device_name() if gpus else "CPU",
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "tensorflow": tf.__version__,
            "gpus": [d.name for d in gpus],
            "load_avg_1min_before": load_before,
            "load_avg_1min_after": os.getloadavg()[0],
        },
        "model": model,
        "repeats": args.repeats,
        "midi_repeats": midi_repeats,
        "notes": rows,
        "midi": midi,
        "zoo": zoo_result,
        "paper_seconds_per_4s_note": PAPER_SECONDS_PER_NOTE,
        "command": "python bench/bench_synthesis.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "note": args.note,
    }
    timing.write_results(args.out, "synthesis", result, markdown(result))
    return result


if __name__ == "__main__":
    main()
