"""How often a zoo Melody RNN keeps the study's default primer's key, over several seeds.

``tfmusic_study`` continues the top line of bwv66.6's first 8 s (F# minor) with ``melody_rnn_generate``
(128 steps, temperature 1.0, seed 0). One seed is one draw; this script makes the same call for seeds
0..N-1 and prints, per seed, the key of the whole line against the primer's (``key_score``: 1 = same
key) and the share of the line's note time in the primer's scale, then the counts. Writes
``bench/results/melody_key_check.{json,md}``.

    .venv/bin/python bench/zoo/key_check.py [--model melody_rnn_attention] [--seeds 8] [--temperature 1.0]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/zoo/common.py: also puts the repository on sys.path)

REPO_ROOT = common.REPO_ROOT


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="melody_rnn_attention", help="zoo name or .mag path")
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=128, help="16th-note steps generated (the study's default)")
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results"))
    args = parser.parse_args(argv)

    import pretty_midi

    from case_study import study
    from melody_rnn_ext import generate_cli
    from tfmusic import files

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        primer = study.default_primer(tmp / "primer.mid", 8.0)
        line = study.top_line(primer, tmp / "top_line.mid")
        for seed in range(args.seeds):
            out = tmp / f"seed{seed}"
            if generate_cli.main(
                [
                    "--bundle_file",
                    args.model,
                    "--output_dir",
                    str(out),
                    "--primer_midi",
                    str(line),
                    "--num_outputs",
                    "1",
                    "--num_steps",
                    str(args.steps),
                    "--temperature",
                    str(args.temperature),
                    "--seed",
                    str(seed),
                ]
            ):
                raise SystemExit("melody_rnn_generate failed")
            piece = pretty_midi.PrettyMIDI(str(sorted(out.glob("*.mid"))[0]))
            rows.append({"seed": seed, **common.key_check(pretty_midi.PrettyMIDI(str(line)), piece)})
    kept = sum(r["key_score"] == 1.0 for r in rows)
    in_scale = sum(r["in_scale_share"] >= 0.99 for r in rows)
    lines = [
        f"# {args.model}: the study's default primer (bwv66.6 top line, {rows[0]['primer_key']}) continued "
        f"{args.steps} steps, temperature {args.temperature}",
        "",
        "| seed | key of the whole line | key score | in-scale share |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['seed']} | {r['piece_key']} | {r['key_score']:.2f} | {r['in_scale_share']:.2f} |" for r in rows]
    lines += [
        "",
        f"Key kept (score 1.0) in {kept} of {len(rows)} seeds; at least 99 % of note time in the primer's "
        f"scale in {in_scale} of {len(rows)}.",
    ]
    results = pathlib.Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    files.atomic_write_json(
        results / "melody_key_check.json",
        {
            "model": args.model,
            "temperature": args.temperature,
            "steps": args.steps,
            "rows": rows,
            "kept": kept,
            "in_scale": in_scale,
        },
        indent=1,
    )
    files.atomic_write_text(results / "melody_key_check.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
