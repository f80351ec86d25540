"""Trains and ships the zoo's JSB Chorales note-wise Music Transformer (``transformer_jsb``).

Usage (from the repository root)::

    .venv/bin/python bench/zoo/jsb.py [--work /tmp/zoo/jsb] [--max_minutes 75] [--stage all]

Stages (``--stage``; ``all`` runs them in order):

1. ``train``: the Music Transformer paper's JSB experiment (``bench/jsb_experiment.py --preset
   jsb_relative --scale cpu``: relative attention, 3 layers, hidden 128, 256-token crops of the
   raster serialisation S, A, T, B per 16th note, 49 ids) on the 229 training chorales of
   ``../shared/data/jsb_chorales``, the whole validation split scored every ``--eval_every`` steps;
   the best validation checkpoint is kept in ``WORK/run/jsb_relative_cpu/best``.
2. ``ship``: that checkpoint as a tensor2tensor-named checkpoint in ``models/transformer_jsb/t2t/``
   (what ``tfmusic.zoo.load('transformer_jsb')`` and t2t read), its validation NLL per note
   re-measured on the ported weights beside the paper's Table 2, continuations of the first bar of
   three validation chorales (MIDI, wav, piano roll), ``model.json`` and the card.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys


sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/zoo/common.py: also puts the repository on sys.path)

REPO_ROOT = common.REPO_ROOT
sys.path.insert(0, str(REPO_ROOT / "bench"))

NAME = "transformer_jsb"
PRESET, SCALE = "jsb_relative", "cpu"
#: the first validation chorales whose NLL the zoo test re-measures (seconds on a CPU)
CHECK_CHORALES = 6
#: each sample continues the first PRIMER_STEPS 16th steps of one validation chorale by SAMPLE_STEPS
PRIMER_STEPS, SAMPLE_STEPS = 16, 48
SAMPLE_CHORALES = (0, 1, 2)
#: ``jsb_experiment --set`` overrides of every zoo run: at the preset's dropout 0.1 the CPU-size model
#: overfits the 229 chorales after ~1,500 steps (best 0.535); at 0.3 it reached 0.494 at step 3,000 of a
#: 75-minute run before overfitting in turn.
OVERRIDES = ("model.layer_prepostprocess_dropout=0.3",)


def run_record(work: pathlib.Path, scale: str = SCALE) -> dict:
    """The training run's record (``bench/jsb_experiment.py``'s ``jsb.json`` entry for the preset)."""
    path = work / "results" / "jsb.json"
    if not path.is_file():
        raise SystemExit(f"{path}: no training record; run --stage train first")
    return json.loads(path.read_text())["runs"][f"{PRESET}@{scale}"]


def train_stage(
    work: pathlib.Path,
    max_minutes: float,
    eval_every: int,
    scale: str = SCALE,
    steps: int = 0,
    overrides=OVERRIDES,
) -> None:
    """``bench/jsb_experiment.py`` on ``PRESET`` at ``scale`` with ``overrides`` (``--set`` strings) for
    ``max_minutes`` (and at most ``steps`` steps, if given; a rerun resumes the run)."""
    import jsb_experiment

    argv = ["--preset", PRESET, "--scale", scale, "--max_minutes", str(max_minutes), "--eval_every", str(eval_every)]
    argv += ["--steps", str(steps)] if steps else []
    for override in overrides:
        argv += ["--set", override]
    argv += ["--model_dir", str(work / "run"), "--out", str(work / "results"), "--no_progress"]
    if jsb_experiment.main(argv):
        raise SystemExit("jsb_experiment failed")


def validation_nll(model, chorales, window: int) -> dict:
    """Note-wise NLL (nats per voice-step token, pooled) of ``model`` on ``chorales`` (``(T, 4)`` grids),
    scored as the training run scores them (half-overlapping windows of ``window`` tokens)."""
    import jsb_experiment

    from music_transformer_ext import jsb

    sequences = jsb.JsbEncoding().serialize_split(chorales)
    return jsb_experiment.make_evaluator(model)(jsb_experiment.windowed_eval_batches(sequences, window, 16384))


def check_sample(model, valid, window: int) -> dict:
    """The NLL of the first :data:`CHECK_CHORALES` of the validation chorales ``valid``: the figures the zoo
    test re-measures."""
    return {
        "split": "valid",
        "chorales": CHECK_CHORALES,
        "window": window,
        "metrics": validation_nll(model, valid[:CHECK_CHORALES], window),
    }


def continuations(model, valid, out: pathlib.Path) -> list:
    """The first bar of each of :data:`SAMPLE_CHORALES` (indices into the validation chorales ``valid``)
    continued by the model (temperature 1, seed = its index): MIDI, wav and piano roll in ``out``; returns
    their names, lengths and key checks."""
    import note_seq
    import pretty_midi

    from music_transformer_ext import jsb, sampling

    encoding = jsb.JsbEncoding(add_eos=False)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in SAMPLE_CHORALES:
        primer = encoding.serialize(valid[index][:PRIMER_STEPS])
        tokens = sampling.generate(
            model,
            primer,
            decode_length=SAMPLE_STEPS * jsb.NUM_VOICES,
            config=sampling.SamplingConfig(temperature=1.0, seed=index),
            jit_compile=False,
        )[0]
        grid = encoding.deserialize(tokens, allow_partial=True)
        stem = f"valid{index}_continued"
        note_seq.sequence_proto_to_midi_file(jsb.to_note_sequence(grid, qpm=80), str(out / f"{stem}.mid"))
        primer_path = out / f"valid{index}_primer.mid"
        note_seq.sequence_proto_to_midi_file(jsb.to_note_sequence(grid[:PRIMER_STEPS], qpm=80), str(primer_path))
        full = common.render_sample(out / f"{stem}.mid", f"{NAME}: validation chorale {index}, first bar continued")
        rows.append(
            {
                "chorale": index,
                "file": f"{stem}.mid",
                "steps": int(len(grid)),
                "generated_steps": int(len(grid) - PRIMER_STEPS),
                **common.key_check(pretty_midi.PrettyMIDI(str(primer_path)), full),
            }
        )
    return rows


def publish_result(record: dict, results: pathlib.Path, scale: str = SCALE) -> None:
    """The run's record into ``results/jsb.{json,md}`` (the JSB table beside the paper's Table 2), replacing
    the earlier run of the same preset and scale."""
    import jsb_experiment

    from tfmusic import files

    table = jsb_experiment._read_record(results / "jsb.json")
    table["runs"][f"{PRESET}@{scale}"] = record
    files.atomic_write_json(results / "jsb.json", table)
    files.atomic_write_text(results / "jsb.md", jsb_experiment.markdown(table["runs"]))


def ship_stage(work: pathlib.Path, models: pathlib.Path, results: pathlib.Path, scale: str = SCALE) -> None:
    """The best checkpoint as t2t weights, its figures, samples and card in ``models/<NAME>``; the run's
    record in ``results/jsb.{json,md}``."""
    import shutil

    import tensorflow as tf

    from music_transformer_ext import checkpoints, jsb
    from music_transformer_ext.config import MusicTransformerConfig
    from music_transformer_ext.model import MusicTransformer
    from tfmusic import config as config_lib

    record = run_record(work, scale)
    best = record["best"]
    model = MusicTransformer(config_lib.from_dict(MusicTransformerConfig, record["model"]))
    model(tf.zeros([1, 8], tf.int32), training=False)
    tf.train.Checkpoint(model=model).read(str(work / "run" / f"{PRESET}_{scale}" / "best" / "ckpt")).expect_partial()

    folder = models / NAME
    t2t_dir = folder / "t2t"
    shutil.rmtree(t2t_dir, ignore_errors=True)
    t2t_dir.mkdir(parents=True)
    checkpoints.save_as_t2t(model, str(t2t_dir / f"model.ckpt-{best['step']}"), global_step=best["step"])
    ported = checkpoints.port_t2t_checkpoint(str(t2t_dir))  # what tfmusic.zoo.load gives
    window = record["eval_window"]
    chorales = jsb.load_jsb_chorales()["valid"]
    valid = validation_nll(ported, chorales, window)
    if abs(valid["nll_per_note"] - best["valid_nll_per_note"]) > 1e-3:
        raise SystemExit(f"the ported weights score {valid} on the validation split, the run {best}")
    manifest = {
        "name": NAME,
        "family": "music_transformer",
        "weights": "t2t",
        "description": "Music Transformer (relative attention) on JSB Chorales, note-wise (the paper's Table 2 task)",
        "metrics": {"held_out": {"split": "valid", "chorales": record["valid_chorales"], **valid}},
        "paper_table_2": dict(jsb.PAPER_TABLE_2),
        "training": {
            "steps": record["steps"],
            "stopped_by": record["stopped_by"],
            "best_step": best["step"],
            "seconds": record["wall_s"],
            "hardware": record.get("machine", common.hardware()),
            "command": record.get("command", ""),
            "crop_length": record["crop_length"],
            "batch_size": record["batch_size"],
            "parameters": record["parameters"],
            "model": {k: record["model"][k] for k in ("num_layers", "hidden_size", "filter_size", "num_heads")},
            "max_relative_position": record["model"]["max_relative_position"],
            "dropout": record["model"]["layer_prepostprocess_dropout"],
            "max_minutes": record["max_minutes"],
            "history": [(h["step"], round(h["valid_nll_per_note"], 4)) for h in record["history"]],
            "evaluation": record["evaluation"],
            "date": record.get("finished", "")[:10],
        },
        "samples": continuations(ported, chorales, folder / "samples"),
        "check": check_sample(ported, chorales, window),
    }
    common.write_model(folder, manifest, card(manifest))
    publish_result(record, results, scale)


def _overfitting_note(training: dict, held_out: dict) -> str:
    """A sentence for the card when the validation NLL rose after its best step, else ''."""
    last_step, last_nll = training["history"][-1]
    if last_nll <= held_out["nll_per_note"] + 0.005:
        return ""
    return (
        f" After step {training['best_step']:,} the validation NLL rose (to {last_nll:.3f} at step {last_step:,}) "
        "while the training loss kept falling: at this size and dropout the model overfits the 229 training "
        "chorales, so the shipped weights are the best step's."
    )


def card(m: dict) -> str:
    """The model card's Markdown from ``model.json``'s content."""
    t, h = m["training"], m["metrics"]["held_out"]
    size = t["model"]
    lines = [
        f"# `{m['name']}`: Music Transformer on JSB Chorales (note-wise)",
        "",
        f"{m['description']}. Weights: a tensor2tensor-named checkpoint (`{m['weights']}/`), read by "
        f"`tfmusic.zoo.load('{m['name']}')` (a `MusicTransformer` over the 49 JSB ids) and tensor2tensor itself. "
        "Its vocabulary is the JSB raster serialisation, not the performance events of `music_transformer_generate`: "
        "sample it with `music_transformer_ext.sampling` and read the ids with `music_transformer_ext.jsb`:",
        "",
        "```",
        "from tfmusic import zoo",
        "from music_transformer_ext import jsb, sampling",
        f"model = zoo.load('{m['name']}')",
        "primer = jsb.JsbEncoding(add_eos=False).serialize(jsb.load_jsb_chorales()['valid'][0][:16])",
        "grid = jsb.JsbEncoding().deserialize(sampling.generate(model, primer, decode_length=192)[0], allow_partial=True)",
        "```",
        "",
        "## Data and split",
        "",
        "`../shared/data/jsb_chorales/Jsb16thSeparated.json`: Coconet's split of Boulanger-Lewandowski's JSB "
        f"Chorales (229 train / 76 validation / 77 test), the split of the paper's Table 2. Each chorale is a "
        "raster, time step by time step, soprano, alto, tenor, bass per 16th note (`music_transformer_ext.jsb`: "
        "PAD, EOS, REST and pitches 36-81, 49 ids). Trained on random crops of "
        f"{t['crop_length']} tokens of the training chorales; scored on every note of the validation split.",
        "",
        "## Training",
        "",
        f"`jsb_relative` at the CPU scale: {size['num_layers']} layers, hidden {size['hidden_size']}, "
        f"feed-forward {size['filter_size']}, {size['num_heads']} heads, relative attention over "
        f"{t['max_relative_position']} positions ({t['parameters'] / 1e6:.2f} M parameters), batch "
        f"{t['batch_size']}, Adam with t2t's schedule, dropout {t['dropout']}. {t['steps']:,} steps in "
        f"{t['seconds'] / 3600:.1f} h on {t['hardware']} ({t['date']}), stopped by "
        + ("its time budget" if t["stopped_by"] == "max_minutes" else "its step count")
        + f"; the weights are those of the best validation score (step {t['best_step']:,}). Retrain:",
        "",
        "```",
        f".venv/bin/python bench/zoo/jsb.py --stage all --max_minutes {t['max_minutes']:g}",
        "```",
        "",
        "## Held-out figures (the paper's Table 2)",
        "",
        f"Validation NLL per note (nats per voice-step token, pooled over the {h['chorales']} validation chorales, "
        f"{h['notes']:,.0f} notes; {t['evaluation']}), re-measured on the shipped weights:",
        "",
        "| model | validation NLL per note |",
        "|---|---|",
        f"| **this model** ({t['parameters'] / 1e6:.2f} M parameters, {t['steps']:,} steps on a CPU) | "
        f"**{h['nll_per_note']:.3f}** |",
    ]
    lines += [f"| paper: {row} | {value:.3f} |" for row, value in m["paper_table_2"].items()]
    lines += [
        f"| uniform over the 49 ids | {math.log(49):.3f} |",
        "",
        "The paper's rows are far larger models trained far longer (its relative Transformer: 5 layers, hidden 512, "
        "1024-token crops); this one is what a 2-core CPU trains in about an hour. Validation NLL during training: "
        + ", ".join(f"{nll:.3f} (step {step})" for step, nll in t["history"])
        + "."
        + _overfitting_note(t, h),
        "",
        "## Samples",
        "",
        f"The first bar ({PRIMER_STEPS} 16th steps) of validation chorales continued by {SAMPLE_STEPS} steps, "
        "temperature 1.0 (seed = the chorale's index); MIDI, a FluidSynth rendering and a piano roll in `samples/`. "
        "Key of the whole excerpt against the primer's (music_eval.theory: key score 1 = same key):",
        "",
        *common.key_table(
            ("validation chorale", "steps"), [((r["chorale"], r["steps"]), r) for r in m["samples"]], "excerpt"
        ),
    ]
    lines += ["", f"![piano roll](samples/{m['samples'][0]['file'].replace('.mid', '.png')})", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = common.zoo_parser(__doc__, "/tmp/zoo/jsb")
    parser.add_argument("--max_minutes", type=float, default=75.0, help="training budget of this session")
    parser.add_argument("--eval_every", type=int, default=250, help="steps between validation evaluations")
    parser.add_argument("--stage", choices=("all", "train", "ship"), default="all")
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results"), help="where jsb.{json,md} go")
    parser.add_argument("--scale", default=SCALE, choices=("cpu", "paper", "tiny"), help="jsb_experiment's scale")
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps too (0: the budget only)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=None,
        help=f"jsb_experiment override KEY=VALUE, repeatable (default: {' '.join(OVERRIDES)})",
    )
    args = parser.parse_args(argv)
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.stage in ("all", "train"):
        overrides = OVERRIDES if args.overrides is None else tuple(args.overrides)
        train_stage(work, args.max_minutes, args.eval_every, args.scale, args.steps, overrides)
    if args.stage in ("all", "ship"):
        ship_stage(work, pathlib.Path(args.models), pathlib.Path(args.results), args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())
