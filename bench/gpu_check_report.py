"""Joins the parts of ``bench/gpu_check.sh`` into ``gpu_check.json`` and ``gpu_check.md`` (printed).

Reads, from ``--out``: ``parts.tsv`` (each part's exit status, seconds and command, written by the
shell script) and the parts' own results: ``gansynth.json`` (bench_gansynth.py), ``synthesis.json``
(bench_synthesis.py), ``music_transformer.json`` (bench_music_transformer.py) and ``jsb.json``
(jsb_experiment.py). A part is ``ok`` when it exited 0 and its JSON holds its figures; otherwise
``failed``, ``timed out`` (its cap reached) or ``no figures``. One table lists the parts, a second the
headline figures of each; the parts' own Markdown tables follow. Exit status 0 when every part is ok.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import pathlib
import platform
import sys
from typing import Dict, List, Optional

PARTS = ("gansynth", "synthesis", "attention", "jsb")
FILES = {
    "gansynth": "gansynth",
    "synthesis": "synthesis",
    "attention": "music_transformer",
    "jsb": "jsb",
}


def _load(out: pathlib.Path, stem: str) -> Optional[dict]:
    try:
        return json.loads((out / f"{stem}.json").read_text())
    except (OSError, ValueError):
        return None


def gansynth_figures(data: dict) -> List[dict]:
    rows = []
    for r in data.get("rows", []):
        what = f"GANSynth {r['preset']} training step, XLA {'on' if r['xla'] else 'off'}, {r['precision']}"
        if "error" in r:
            rows.append({"what": what, "figure": f"error: {r['error'][:120]}"})
            continue
        last = list(r["stages"].values())[-1]
        model = (
            f"{r['flops_per_step'] / 1e9:.4g} GFLOP/step, {last['tflops_per_s']:.3g} TFLOP/s, "
            if r.get("flops_per_step")
            else "FLOPs not counted, "
        )
        mfu = f"MFU {100 * last['mfu']:.1f} %; " if last.get("mfu") is not None else ""
        rows.append(
            {
                "what": what,
                "figure": f"{last['step_s']:.3f} s/step, {last['images_per_s']:.1f} images/s, {model}{mfu}"
                f"first step {r['first_step_s']:.1f} s",
                "step_s": last["step_s"],
                "images_per_s": last["images_per_s"],
                "flops_per_step": r["flops_per_step"],
                "mfu": last.get("mfu"),
            }
        )
    return rows


def synthesis_figures(data: dict) -> List[dict]:
    rows = []
    for r in data.get("notes", []):
        rows.append(
            {
                "what": f"synthesis, {r['model']}, batch {r['batch_size']}",
                "figure": f"{r['ms_per_note']:.1f} ms per {r['note_seconds']:g} s note, "
                f"{r['audio_s_per_wall_s']:.1f} s of audio per wall s; first call {r['first_call_s']:.2f} s",
                "ms_per_note": r["ms_per_note"],
                "audio_s_per_wall_s": r["audio_s_per_wall_s"],
            }
        )
    for r in data.get("midi", []):
        rows.append(
            {
                "what": f"synthesis, MIDI ({r['piece']}, {r['timbre']} timbre)",
                "figure": f"{r['piece_s_per_wall_s']:.1f} s of piece per wall s ({r['generated_notes']} notes "
                f"generated, {r['ms_per_generated_note']:.1f} ms each)",
                "piece_s_per_wall_s": r["piece_s_per_wall_s"],
            }
        )
    return rows


def attention_figures(data: dict) -> List[dict]:
    rows = []
    for r in data.get("attention", []):
        what = f"relative attention L={r['length']}, {r['method']} (fwd+bwd, 1 layer)"
        if "step_s" in r:
            rows.append(
                {
                    "what": what,
                    "figure": f"{r['step_s']:.4f} s, peak {r['peak_mib']:.0f} MiB",
                    "step_s": r["step_s"],
                    "peak_mib": r["peak_mib"],
                }
            )
        else:
            rows.append({"what": what, "figure": r.get("skipped") or f"error: {r.get('error', '?')}"})
        if "ratio_vs_plain_skew" in r:
            rows.append(
                {
                    "what": f"relative attention L={r['length']}, blocked and skew vs the paper's plain skew",
                    "figure": f"{r['ratio_vs_plain_skew']:.2f}x and {r['skew_ratio_vs_plain_skew']:.2f}x",
                    "ratio_vs_plain_skew": r["ratio_vs_plain_skew"],
                }
            )
    for r in data.get("model_step", []):
        what = f"Music Transformer training step, L={r['length']}, batch {r['batch']} ({r.get('model', '?')} model)"
        if "error" in r:
            rows.append({"what": what, "figure": f"error: {r['error']}"})
            continue
        rows.append(
            {
                "what": what,
                "figure": f"blocked {r['blocked_step_s']:.4f} s vs skew {r['skew_step_s']:.4f} s "
                f"({r['ratio_blocked_vs_skew']:.2f}x)",
                "ratio_blocked_vs_skew": r["ratio_blocked_vs_skew"],
            }
        )
    g = data.get("generation")
    if g:
        rows.append(
            {
                "what": f"Music Transformer generation, {g['events']} events",
                "figure": f"KV cache {g['cached_events_per_s']} events/s vs prefix recomputed "
                f"{g['uncached_events_per_s']} events/s ({g['speedup']}x)",
                "cached_events_per_s": g["cached_events_per_s"],
            }
        )
    return rows


def jsb_figures(data: dict, scale: str) -> List[dict]:
    rows = []
    wanted = "paper" if scale == "full" else "tiny"
    for key, run in sorted(data.get("runs", {}).items()):
        if run.get("scale") != wanted:
            continue
        best = run.get("best") or {}
        nll = best.get("valid_nll_per_note", run.get("final_valid_nll_per_note"))
        rows.append(
            {
                "what": f"JSB {key}",
                "figure": f"{run['steps']} steps, {run['sec_per_step']:.3f} s/step, valid NLL/note "
                f"{nll:.3f} (paper {run['paper_nll']}, after 20k+ steps)",
                "steps": run["steps"],
                "sec_per_step": run["sec_per_step"],
                "valid_nll_per_note": nll,
            }
        )
    return rows


def read_status(out: pathlib.Path) -> Dict[str, dict]:
    status = {}
    path = out / "parts.tsv"
    if path.exists():
        with open(path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                status[row["part"]] = {
                    "rc": int(row["rc"]),
                    "seconds": int(row["seconds"]),
                    "cap_s": int(row["cap_s"]),
                    "command": row["command"],
                }
    return status


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the folder gpu_check.sh wrote to")
    parser.add_argument("--scale", default="full", choices=("full", "tiny"))
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    status = read_status(out)
    extract = {
        "gansynth": gansynth_figures,
        "synthesis": synthesis_figures,
        "attention": attention_figures,
        "jsb": lambda d: jsb_figures(d, args.scale),
    }
    parts = []
    device = "CPU"
    for name in PARTS:
        st = status.get(name, {"rc": None, "seconds": None, "cap_s": None, "command": "not run"})
        data = _load(out, FILES[name])
        figures = extract[name](data) if data else []
        if name == "synthesis" and data:
            device = data.get("machine", {}).get("device", device)
        if st["rc"] is None:
            state = "not run"
        elif st["rc"] in (124, 137):
            state = "timed out"
        elif st["rc"] != 0:
            state = "failed"
        elif not figures:
            state = "no figures"
        else:
            state = "ok"
        parts.append({"part": name, "status": state, **st, "json": f"{FILES[name]}.json", "figures": figures})
    total = sum(p["seconds"] or 0 for p in parts)
    result = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "scale": args.scale,
        "device": device,
        "machine": f"{platform.platform()}, {os.cpu_count()} CPU cores",
        "total_s": total,
        "ok": all(p["status"] == "ok" for p in parts),
        "parts": parts,
    }
    (out / "gpu_check.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# gpu_check ({args.scale} scale, {device}): {total} s in all",
        "",
        "| part | status | seconds (cap) | command |",
        "|---|---|---:|---|",
    ]
    for p in parts:
        lines.append(f"| {p['part']} | {p['status']} | {p['seconds']} ({p['cap_s']}) | `{p['command']}` |")
    lines += ["", "| part | what | figure |", "|---|---|---|"]
    for p in parts:
        for f in p["figures"]:
            lines.append(f"| {p['part']} | {f['what']} | {f['figure']} |")
    for name in PARTS:
        md = out / f"{FILES[name]}.md"
        if md.exists():
            lines += ["", md.read_text().strip()]
    text = "\n".join(lines) + "\n"
    (out / "gpu_check.md").write_text(text)
    print(text)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
