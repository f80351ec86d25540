"""Run every benchmark in bench/ (files named bench_*.py), then join their tables.

Each benchmark is run as ``python bench/bench_X.py --out DIR`` and must write ``DIR/X.json`` and
``DIR/X.md``. This script writes ``DIR/summary.md`` (issue 14's figures beside their goals, then all
tables, with the machine they ran on) and
exits non-zero if any benchmark failed. Never part of ``make test``.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def _load(out: pathlib.Path, name: str):
    path = out / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _fmt(x) -> str:
    return "not measured" if x is None else f"{x:.2f}x"


def _ratio_row(figure: str, ratio, goal: float) -> tuple:
    """(figure, measured, goal, met) for a speed ratio that must reach ``goal``."""
    return figure, _fmt(ratio), f">= {goal:g}x", "-" if ratio is None else ("yes" if ratio >= goal else "no")


def goal_rows(out: pathlib.Path) -> list:
    """Issue 14's figures beside their goals, from the benchmarks' JSON in ``out``: a list of
    ``(figure, measured, goal, met)`` strings (``met`` is ``yes``/``no``/``-`` where the issue sets no
    number). Missing or older files give ``not measured``."""
    rows = []
    # make bench's own run first; bench/results/relative_attention.json holds an attention-only run
    attention = [
        r for name in ("music_transformer", "relative_attention") for r in (_load(out, name) or {}).get("attention", [])
    ]
    for length in (1024, 2048):
        ratio = next(
            (r["ratio_vs_plain_skew"] for r in attention if r.get("length") == length and r.get("ratio_vs_plain_skew")),
            None,
        )
        rows.append(_ratio_row(f"relative attention vs the paper's plain skew, L={length}", ratio, 1.3))
    rows.append(_ratio_row("MIDI -> NoteSequence vs note-seq", (_load(out, "midi_parse") or {}).get("ratio"), 10.0))
    rows.append(_ratio_row("Beam on Dask, 1 -> 2 workers", (_load(out, "dask_scaling") or {}).get("ratio"), 1.8))
    stages = _load(out, "gansynth_stages") or {}
    totals = stages.get("totals", {})
    try:
        ratio = totals["single"]["schedule_s"] / totals["per_stage"]["schedule_s"]
    except (KeyError, TypeError, ZeroDivisionError):
        ratio = None
    rows.append(("GANSynth schedule, per-stage programs vs one program", _fmt(ratio), "report", "-"))
    synth = _load(out, "synthesis") or {}
    best = max((r.get("audio_s_per_wall_s", 0.0) for r in synth.get("notes", [])), default=None)
    paper = (synth.get("paper_seconds_per_4s_note") or {}).get("GANSynth IF-Mel (paper, TitanX GPU)", 0.02)
    rows.append(
        (
            "GANSynth synthesis, s of audio per wall s (4 s notes)",
            "not measured" if best is None else f"{best:.1f}",
            f"report (paper: {4.0 / paper:.0f} on a TitanX)",
            "-",
        )
    )
    xla = _load(out, "xla") or {}
    xla_rows = xla.get("rows", [])
    agree = sum(r.get("auto") == r.get("faster") for r in xla_rows)
    rows.append(
        (
            "XLA auto picks the faster setting",
            f"{agree} of {len(xla_rows)} families" if xla_rows else "not measured",
            "all",
            "-" if not xla_rows else ("yes" if agree == len(xla_rows) else "no"),
        )
    )
    return rows


def goals_table(out: pathlib.Path) -> str:
    """:func:`goal_rows` as a Markdown table."""
    lines = ["## Goals (issue 14)", "", "| figure | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in goal_rows(out)]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--only", default="", help="comma-separated benchmark names (e.g. specgrams)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = {w for w in args.only.split(",") if w}
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem[len("bench_") :] in wanted)
    failures = []
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.time()
        rc = subprocess.call([sys.executable, str(script), "--out", str(out)], env=env)
        print(f"== {script.name}: exit {rc} in {time.time() - t0:.0f} s", flush=True)
        if rc:
            failures.append(script.name)
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}.",
        "",
    ]
    lines += [goals_table(out), ""]
    for script in scripts:
        table = out / f"{script.stem[len('bench_') :]}.md"
        if table.exists():
            lines += [table.read_text().strip(), ""]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print((out / "summary.md").read_text())
    if failures:
        print("failed:", ", ".join(failures), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
