"""How often a zoo Melody RNN keeps the study's default primer's key, over seeds and sampling settings.

``tfmusic_study`` continues the top line of bwv66.6's first 8 s (F# minor) with ``melody_rnn_generate``
(128 steps, seed 0, and the study's sampling settings). One seed is one draw; this script makes the
same call for seeds 0..N-1 under each sampling setting given (temperature, and Magenta's beam search:
beam size, branch factor, steps per iteration) and prints, per seed, the key of the whole line against
the primer's (``key_score``: 1 = same key) and the share of the line's note time in the primer's scale,
then the counts per setting, with the generated part's variety (distinct pitches, distinct 4-note
figures: beam search can keep a key by looping the primer's figure). Writes
``bench/results/melody_key_check.{json,md}``.

    .venv/bin/python bench/zoo/key_check.py [--model melody_rnn_attention] [--seeds 16] \\
        [--search 1.0:1:1:1 --search 1.0:16:4:8 ...]

``--choose`` also names the setting :func:`choose` picks (the key kept most often, among settings that
loop little more than the first one); run it on seeds the report does not use (``--first_seed 100
--seeds 100 --name melody_key_select``), so that the study's default is not picked by how its own seed
0 comes out. That is how the study's default (beam 2, branch 2, 16 steps per iteration) was chosen:
``bench/results/melody_key_select.md``.

``--card`` (a zoo model by name) adds the counts to its ``model.json`` under ``key_checks`` (by
``--name``) and rewrites its card (``bench/zoo/melody_rnn.py``'s ``card``); reshipping the model drops them.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
import tempfile
from typing import List, Optional

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/zoo/common.py: also puts the repository on sys.path)

REPO_ROOT = common.REPO_ROOT


@dataclasses.dataclass(frozen=True)
class Search:
    """One sampling setting of ``melody_rnn_generate`` (Magenta's flags of the same names)."""

    temperature: float = 1.0
    beam_size: int = 1
    branch_factor: int = 1
    steps_per_iteration: int = 1

    @classmethod
    def parse(cls, text: str) -> "Search":
        """``"T:B:F:S"`` (temperature, beam size, branch factor, steps per iteration) -> a Search."""
        parts = text.split(":")
        if len(parts) != 4:
            raise argparse.ArgumentTypeError(f"{text!r}: expected TEMPERATURE:BEAM:BRANCH:STEPS, e.g. 1.0:4:2:16")
        return cls(float(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))

    def flags(self) -> List[str]:
        """The setting as ``melody_rnn_generate`` flags."""
        return [
            "--temperature",
            str(self.temperature),
            "--beam_size",
            str(self.beam_size),
            "--branch_factor",
            str(self.branch_factor),
            "--steps_per_iteration",
            str(self.steps_per_iteration),
        ]

    def label(self) -> str:
        """A short description for tables."""
        if self.beam_size == 1 and self.branch_factor == 1:
            return f"temperature {self.temperature}, no beam search"
        return (
            f"temperature {self.temperature}, beam {self.beam_size}, branch {self.branch_factor}, "
            f"{self.steps_per_iteration} steps per iteration"
        )


#: What ``key_check.py`` compares by default: plain sampling (Magenta's default), and Magenta's beam
#: search: the study's default (beam 2 x branch 2, 16 steps per iteration), short iterations (beam 16 x
#: branch 4, 8 steps), longer ones (4 x 4, 32 steps), and the most likely of 16 whole continuations (beam
#: 16, branch 1).
DEFAULT_SEARCHES = ("1.0:1:1:1", "1.0:2:2:16", "1.0:4:4:32", "1.0:16:4:8", "1.0:16:1:128")

#: :func:`choose`: how far below the first setting's share of distinct 4-note figures a setting may fall.
LOOP_MARGIN = 0.1


def check_keys(model: str, search: Search, seeds: int, steps: int, first_seed: int = 0) -> List[dict]:
    """The study's Melody RNN call for seeds ``first_seed..first_seed+seeds-1`` under ``search``: per seed,
    ``{seed, primer_key, piece_key, key_score, in_scale_share}`` (see ``common.key_check``)."""
    import pretty_midi

    from case_study import study
    from melody_rnn_ext import generate_cli

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        primer = study.default_primer(tmp / "primer.mid", 8.0)
        line = study.top_line(primer, tmp / "top_line.mid")
        primer_line = pretty_midi.PrettyMIDI(str(line))
        for seed in range(first_seed, first_seed + seeds):
            out = tmp / f"seed{seed}"
            argv = ["--bundle_file", model, "--output_dir", str(out), "--primer_midi", str(line), "--num_outputs", "1"]
            argv += ["--num_steps", str(steps), "--seed", str(seed), *search.flags()]
            if generate_cli.main(argv):
                raise SystemExit("melody_rnn_generate failed")
            piece = pretty_midi.PrettyMIDI(str(sorted(out.glob("*.mid"))[0]))
            rows.append(
                {"seed": seed, **common.key_check(primer_line, piece), **continuation_shape(primer_line, piece)}
            )
    return rows


def continuation_shape(primer_midi, piece_midi) -> dict:
    """What the generated part (notes starting at or after the primer's end) is like, to tell a tonal line
    from a degenerate one: ``notes``, ``distinct_pitches`` and ``distinct_4grams`` (the share of its
    4-note pitch patterns that occur once: 1.0 never repeats a 4-note figure, a loop scores low)."""
    end = max(n.end for inst in primer_midi.instruments for n in inst.notes)
    notes = sorted(
        (n for inst in piece_midi.instruments for n in inst.notes if n.start >= end - 1e-3), key=lambda n: n.start
    )
    pitches = [n.pitch for n in notes]
    grams = [tuple(pitches[i : i + 4]) for i in range(len(pitches) - 3)]
    return {
        "notes": len(pitches),
        "distinct_pitches": len(set(pitches)),
        "distinct_4grams": len(set(grams)) / len(grams) if grams else float("nan"),
    }


def summary(rows: List[dict]) -> dict:
    """Counts of ``rows``: ``kept`` (key score 1.0), ``in_scale`` (>= 99 % of note time in the primer's scale)."""
    return {
        **common.key_counts(rows),
        "mean_distinct_pitches": sum(r["distinct_pitches"] for r in rows) / len(rows),
        "mean_notes": sum(r["notes"] for r in rows) / len(rows),
        "mean_distinct_4grams": sum(r["distinct_4grams"] for r in rows) / len(rows),
    }


def choose(results: List[dict], loop_margin: float = LOOP_MARGIN) -> int:
    """The index in ``results`` (each with a ``summary``) of the setting that keeps the key most often
    (``kept``) among those whose mean share of distinct 4-note figures is at most ``loop_margin`` below
    the first setting's (the baseline, plain sampling): beam search keeps a key more often the more it
    loops, so the looping settings are out. Ties go to the earlier setting."""
    floor = results[0]["summary"]["mean_distinct_4grams"] - loop_margin
    eligible = [i for i, r in enumerate(results) if r["summary"]["mean_distinct_4grams"] >= floor]
    return max(eligible, key=lambda i: (results[i]["summary"]["kept"], -i))


def card_record(results: List[dict], first_seed: int, chosen: Optional[int]) -> dict:
    """What the model card keeps of a run (see ``melody_rnn.key_check_lines``): ``first_seed``, ``seeds``,
    per setting its ``label``, ``kept``, ``in_scale``, ``mean_distinct_4grams`` and ``first_seed_key`` (the
    key of the first seed's line), and the ``chosen`` label."""
    return {
        "first_seed": first_seed,
        "seeds": results[0]["summary"]["seeds"],
        "settings": [
            {
                "label": Search(**r["search"]).label(),
                **{k: r["summary"][k] for k in ("kept", "in_scale", "mean_distinct_4grams")},
                "first_seed_key": r["rows"][0]["piece_key"],
            }
            for r in results
        ],
        "chosen": Search(**results[chosen]["search"]).label() if chosen is not None else None,
    }


def card_manifest(models: pathlib.Path, name: str) -> dict:
    """Zoo model ``name``'s ``model.json``, for ``--card``; SystemExit, before any sampling, when ``name``
    is not a zoo Melody RNN whose card ``bench/zoo/melody_rnn.py`` writes."""
    import json

    import melody_rnn as zoo_melody  # bench/zoo/melody_rnn.py

    path = models / name / "model.json"
    if not path.is_file():
        raise SystemExit(f"--card: {path} not found (--model must name a zoo Melody RNN)")
    manifest = json.loads(path.read_text())
    if manifest.get("name") != zoo_melody.NAME:
        raise SystemExit(f"--card: {path} is not {zoo_melody.NAME}'s (its card is not melody_rnn.py's)")
    return manifest


def add_to_card(models: pathlib.Path, name: str, manifest: dict, stem: str, record: dict) -> None:
    """Adds ``record`` (:func:`card_record`) to ``manifest`` (:func:`card_manifest`) as
    ``key_checks[stem]`` and rewrites zoo model ``name``'s ``model.json`` and card."""
    import melody_rnn as zoo_melody  # bench/zoo/melody_rnn.py

    manifest = {**manifest, "key_checks": {**manifest.get("key_checks", {}), stem: record}}
    common.write_model(models / name, manifest, zoo_melody.card(manifest))


def markdown(model: str, steps: int, results: List[dict], chosen: Optional[int] = None) -> str:
    """The report: a summary row per setting, then each setting's seeds."""
    first = results[0]["rows"][0]
    seeds = f"seeds {first['seed']}-{results[0]['rows'][-1]['seed']}"
    lines = [
        f"# {model}: the study's default primer (bwv66.6 top line, {first['primer_key']}) continued {steps} steps, {seeds}",
        "",
        f"| sampling | key kept (score 1.0) | >= 99 % in scale | seed {first['seed']} | notes generated (mean) | distinct pitches (mean) | distinct 4-grams (mean) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s, seed0 = r["summary"], r["rows"][0]
        lines.append(
            f"| {Search(**r['search']).label()} | {s['kept']} of {s['seeds']} | {s['in_scale']} of {s['seeds']} | "
            f"{seed0['piece_key']} ({seed0['key_score']:.1f}) | {s['mean_notes']:.1f} | {s['mean_distinct_pitches']:.1f} | "
            f"{s['mean_distinct_4grams']:.2f} |"
        )
    if chosen is not None:
        floor = results[0]["summary"]["mean_distinct_4grams"] - LOOP_MARGIN
        lines += [
            "",
            f"Chosen (`--choose`): **{Search(**results[chosen]['search']).label()}**, the key kept most often among "
            f"the settings whose distinct 4-note figures are at least {floor:.2f} (the first row's less "
            f"{LOOP_MARGIN}).",
        ]
    for r in results:
        lines += [
            "",
            f"## {Search(**r['search']).label()}",
            "",
            "| seed | key of the whole line | key score | in-scale share | notes generated | distinct pitches | distinct 4-grams |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {x['seed']} | {x['piece_key']} | {x['key_score']:.2f} | {x['in_scale_share']:.2f} | {x['notes']} | "
            f"{x['distinct_pitches']} | {x['distinct_4grams']:.2f} |"
            for x in r["rows"]
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="melody_rnn_attention", help="zoo name or .mag path")
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument(
        "--first_seed",
        type=int,
        default=0,
        help="seeds first_seed.. (0: the study's seed 0 first; choose settings on seeds the report does not use)",
    )
    parser.add_argument("--name", default="melody_key_check", help="stem of the .json / .md written to --results")
    parser.add_argument("--choose", action="store_true", help="name the setting choose() picks (see the docstring)")
    parser.add_argument("--card", action="store_true", help="add the counts to the zoo model's card")
    parser.add_argument("--models", default=str(REPO_ROOT / "models"), help="the zoo folder (for --card)")
    parser.add_argument(
        "--search",
        type=Search.parse,
        action="append",
        default=None,
        help=f"TEMPERATURE:BEAM:BRANCH:STEPS, repeatable (default: {' '.join(DEFAULT_SEARCHES)})",
    )
    parser.add_argument("--steps", type=int, default=128, help="16th-note steps generated (the study's default)")
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results"))
    args = parser.parse_args(argv)

    from tfmusic import files

    manifest = card_manifest(pathlib.Path(args.models), args.model) if args.card else None
    results = []
    for search in args.search or [Search.parse(text) for text in DEFAULT_SEARCHES]:
        rows = check_keys(args.model, search, args.seeds, args.steps, args.first_seed)
        results.append({"search": dataclasses.asdict(search), "rows": rows, "summary": summary(rows)})
        print(search.label(), results[-1]["summary"], flush=True)
    chosen = choose(results) if args.choose else None
    out = pathlib.Path(args.results)
    out.mkdir(parents=True, exist_ok=True)
    report = {"model": args.model, "steps": args.steps, "results": results}
    if chosen is not None:
        report["chosen"] = results[chosen]["search"]
    files.atomic_write_json(out / f"{args.name}.json", report, indent=1)
    text = markdown(args.model, args.steps, results, chosen)
    files.atomic_write_text(out / f"{args.name}.md", text)
    print(text)
    if args.card:
        record = card_record(results, args.first_seed, chosen)
        add_to_card(pathlib.Path(args.models), args.model, manifest, args.name, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
