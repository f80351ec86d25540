"""Trains, evaluates and ships the zoo's Melody RNN (``attention_rnn``) on music21's folk tunes and chorales.

Usage (from the repository root; resumable: run it again after a stop and it goes on)::

    .venv/bin/python bench/zoo/melody_rnn.py [--work /tmp/zoo/melody_rnn] [--steps 6000] [--stage all]

    # the run folder is gone (another machine): go on from the shipped model's weights
    .venv/bin/python bench/zoo/melody_rnn.py --stage all --from_shipped --steps 4000

Stages (``--stage``; ``all`` runs them in order, each skipped when its output exists):

1. ``data``: every tune of music21's Essen, Ryan's Mammoth and O'Neill collections and the soprano line
   of every Bach chorale (:mod:`pipelines.music21_corpus`), through ``melody_rnn_create_dataset``'s
   pipeline (:func:`melody_rnn_ext.data.create_dataset`, Magenta's defaults, the ``attention_rnn``
   encoding), one folder per collection; 10 % of each collection's pieces held out by Magenta's hashed
   split (the chorales' held-out lines are the same as ``bench/melody_rnn_real_data.py``'s).
2. ``train``: ``melody_rnn_train --config attention_rnn`` on every collection's training melodies
   (checkpoints every 250 steps; a stopped run resumes).
3. ``evaluate``: Magenta's eval metrics (``melody_rnn_train --eval``) on each collection's held-out
   melodies and on all of them; the rhythm diagnostics on the chorales.
4. ``ship``: the model as a ``.mag`` bundle in ``models/melody_rnn_attention/``, its ``model.json``,
   sample melodies (MIDI + FluidSynth wav), a piano roll and the model card ``README.md``.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
from typing import List

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/zoo/common.py: also puts the repository on sys.path)

REPO_ROOT = common.REPO_ROOT

NAME = "melody_rnn_attention"
CONFIG_ID = "attention_rnn"
COLLECTIONS = ("bach_soprano", "essen", "ryans_mammoth", "oneills")
REFERENCE = {  # bench/results/melody_rnn_real_data.md, held-out chorale melodies, 2,000 steps (basic_rnn 64x64)
    "case_study_lstm": {"perplexity": 2.16, "accuracy": 0.77},
    "scratch_2000": {"perplexity": 2.235, "accuracy": 0.775, "event_accuracy": 0.0},
    "finetuned_2000": {"perplexity": 1.791, "accuracy": 0.818, "event_accuracy": 0.292},
}
PRIMERS = {  # (name, Magenta primer melody: MIDI pitch, -2 = no event, -1 = note off)
    "c_major_scale_up": [60, -2, 62, -2, 64, -2, 65, -2, 67, -2, -2, -2],
    "twinkle": [60, -2, 60, -2, 67, -2, 67, -2, 69, -2, 69, -2, 67, -2, -2, -2],
    "a_minor_arpeggio": [57, -2, 60, -2, 64, -2, 69, -2, -2, -2, 64, -2],
}


MIX_FILENAME = "mix.json"
MIX_PREFIX = "training_melodies_mix"  # + -00000-of-00001.tfrecord, beside training_melodies.tfrecord


@dataclasses.dataclass(frozen=True)
class Mix:
    """How many times per pass the training sees a melody, by where it comes from (the default pass sees
    each once). Minor-key tunes are a quarter of the corpus and chorale lines 3.5 %; a model that sees
    them more keeps a minor chorale primer's key more often (``bench/zoo/key_check.py``).

    Attributes:
      minor_repeats: melodies of a piece whose Krumhansl key (:func:`piece_mode`) is minor.
      chorale_repeats: Bach soprano lines, whatever their key (a melody that is both gets the larger).
    """

    minor_repeats: int = 3
    chorale_repeats: int = 4

    def repeats(self, collection: str, mode: str) -> int:
        """Passes over one melody of ``collection`` from a piece in ``mode`` (``"major"``/``"minor"``)."""
        chorale = self.chorale_repeats if collection == "bach_soprano" else 1
        return max(chorale, self.minor_repeats if mode == "minor" else 1)


def piece_mode(sequence) -> str:
    """``"major"`` or ``"minor"``: the Krumhansl–Schmuckler key (music_eval.theory) of a NoteSequence's
    pitch classes weighted by note duration."""
    import numpy as np

    from music_eval import theory

    weights = np.zeros(12)
    for note in sequence.notes:
        weights[note.pitch % 12] += note.end_time - note.start_time
    return theory.estimate_key(weights).mode


def mix_stage(work: pathlib.Path, mix: Mix) -> dict:
    """Writes ``work/data/<collection>/training_melodies_mix-00000-of-00001.tfrecord``: the extra passes of
    :class:`Mix` (``repeats - 1`` copies of each training melody it repeats; made by the same pipeline
    from the chosen pieces, so the hashed split, and so the held-out melodies, stay as they are) and
    ``mix.json`` beside it (the mix and the counts). Returns ``{collection: counts}``."""
    import collections
    import tempfile

    from melody_rnn_ext import data
    from pipelines import tfrecord_io
    from pipelines.note_sequence_io import read_note_sequences, write_note_sequences
    from tfmusic import files

    out = {}
    for name in COLLECTIONS:
        folder = work / "data" / name
        done = folder / MIX_FILENAME
        if done.exists() and json.loads(done.read_text()).get("mix") == dataclasses.asdict(mix):
            out[name] = json.loads(done.read_text())
            continue
        by_repeats = collections.defaultdict(list)
        modes = collections.Counter()
        for sequence in read_note_sequences(str(folder / "notesequences.tfrecord")):
            mode = piece_mode(sequence)
            modes[mode] += 1
            by_repeats[mix.repeats(name, mode)].append(sequence)
        records = []
        extra_melodies = collections.Counter()
        for repeats, sequences in sorted(by_repeats.items()):
            if repeats < 2:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                ns_path = write_note_sequences(str(pathlib.Path(tmp) / "ns.tfrecord"), sequences)
                data.create_dataset(
                    ns_path, tmp, data.MelodyPipelineConfig(config_id=CONFIG_ID, eval_ratio=0.1), progress=False
                )
                melodies = list(tfrecord_io.iter_records(data.output_path(tmp, "training")))
            records += melodies * (repeats - 1)
            extra_melodies[repeats] = len(melodies)
        tfrecord_io.write_sharded(str(folder / MIX_PREFIX), ((str(i), r) for i, r in enumerate(records)), 1)
        record = {
            "mix": dataclasses.asdict(mix),
            "pieces_by_mode": dict(modes),
            "training_melodies_by_repeats": {str(k): v for k, v in sorted(extra_melodies.items())},
            "extra_records": len(records),
        }
        files.atomic_write_json(done, record)
        out[name] = record
        print(name, "mix:", record, flush=True)
    return out


def data_stage(work: pathlib.Path, limit: int) -> dict:
    """Builds each collection's NoteSequences and melody dataset under ``work/data``; returns the summaries."""
    from melody_rnn_ext import data
    from pipelines import music21_corpus
    from pipelines.note_sequence_io import write_note_sequences
    from tfmusic import files

    summaries = {}
    for name in COLLECTIONS:
        folder = work / "data" / name
        done = folder / "collection.json"
        if not done.exists():
            read = music21_corpus.read_collection(name, limit=limit)
            folder.mkdir(parents=True, exist_ok=True)
            ns_path = write_note_sequences(str(folder / "notesequences.tfrecord"), read.sequences)
            summary = data.create_dataset(
                ns_path, str(folder), data.MelodyPipelineConfig(config_id=CONFIG_ID, eval_ratio=0.1), progress=False
            ).to_dict()
            files.atomic_write_json(
                done,
                {
                    "pieces": len(read.sequences),
                    "skipped_pieces": len(read.skipped),
                    "skipped_examples": read.skipped[:20],
                    "train_melodies": summary["outputs"]["training"]["examples"],
                    "eval_melodies": summary["outputs"]["eval"]["examples"],
                },
            )
        summaries[name] = json.loads(done.read_text())
        print(name, {k: v for k, v in summaries[name].items() if k != "skipped_examples"}, flush=True)
    return summaries


def start_from_shipped(work: pathlib.Path, models: pathlib.Path) -> dict:
    """Makes a new run in ``work`` continue the shipped model (``models/<NAME>``) when its own run folder
    is gone (run folders live outside the repo and do not outlive their machine): copies the bundle to
    ``work/warm_start.mag`` (shipping overwrites the original) and records the shipped model's steps and
    wall time in ``work/warm_start.json``. The run then fine-tunes the bundle (every weight restored,
    Adam's state fresh) and counts its steps on top. A run folder that exists resumes from its own
    checkpoint instead (so the same command may be rerun after a stop). Returns the record; raises
    ``SystemExit`` when there is no shipped model to start from."""
    import shutil

    if (work / "run" / "config.json").exists():
        print(f"{work / 'run'} exists: resuming it (--from_shipped only starts new runs)", flush=True)
        return common.warm_start_record(work)
    shipped = models / NAME
    bundle = shipped / f"{CONFIG_ID}.mag"
    if not bundle.is_file() or not (shipped / "model.json").is_file():
        raise SystemExit(f"--from_shipped: no shipped model in {shipped} ({bundle.name} and model.json)")
    shutil.copyfile(bundle, work / "warm_start.mag")
    return common.record_warm_start(work, shipped)


def mix_record(work: pathlib.Path) -> dict:
    """From which step the run in ``work`` trained on :class:`Mix`'s repeats (``from_step``, counting a
    warm start's steps) and with which mix; ``{}`` for a run that never did."""
    path = work / MIX_FILENAME
    return json.loads(path.read_text()) if path.is_file() else {}


def _run_step(work: pathlib.Path) -> int:
    """The step the run in ``work`` stands at: its newest checkpoint's, plus a warm start's steps."""
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(work / "run"))
    own = int(latest.rsplit("-", 1)[1]) if latest else 0
    return common.warm_start_record(work).get("steps", 0) + own


def train_stage(work: pathlib.Path, steps: int, overrides, mix: Mix = None) -> None:
    """``melody_rnn_train`` on every collection's training melodies until the model has trained ``steps``
    steps in all (resumes a stopped run; a run warm-started by :func:`start_from_shipped` counts the
    shipped model's steps). With ``mix`` (:func:`mix_stage` must have run), the training also reads
    the repeats, and ``work/mix.json`` records the step from which it did (the first such call's)."""
    from melody_rnn_ext import train_cli
    from tfmusic import files

    base = common.warm_start_record(work).get("steps", 0)
    if steps <= base:
        raise SystemExit(f"--steps {steps}: the run continues a model of {base} steps; ask for more")
    pattern = "training_melodies*.tfrecord" if mix else "training_melodies.tfrecord"
    if mix:
        if not all((work / "data" / name / "notesequences.tfrecord").is_file() for name in COLLECTIONS):
            raise SystemExit(f"{work / 'data'}: no data to train on: run --stage data first")
        mix_stage(work, mix)  # made here too for a data folder from before the mix (quick when made)
        recorded = mix_record(work)
        if not recorded:
            files.atomic_write_json(work / MIX_FILENAME, {"from_step": _run_step(work), "mix": dataclasses.asdict(mix)})
        elif recorded["mix"] != dataclasses.asdict(mix):
            raise SystemExit(f"{work}: the run already trains on another mix ({recorded['mix']})")
    argv = [
        "--config",
        CONFIG_ID,
        "--run_dir",
        str(work / "run"),
        "--sequence_example_file",
        str(work / "data" / "*" / pattern),
        "--eval_file",
        str(work / "data" / "bach_soprano" / "eval_melodies.tfrecord"),
        "--num_training_steps",
        str(steps - base),
    ]
    if base and not (work / "run" / "config.json").exists():
        argv += ["--bundle", str(work / "warm_start.mag")]
    settings = ("trainer.checkpoint_every=250", "trainer.summary_every=50", "runtime.jit_compile=false")
    common.train(train_cli.main, argv, (*settings, *overrides), work, "melody_rnn_train")


def evaluate_stage(work: pathlib.Path) -> dict:
    """Eval metrics of the newest checkpoint on each collection's held-out melodies and on all of them."""
    sys.path.insert(0, str(REPO_ROOT / "bench"))
    from melody_rnn_ext.generate import MelodyGenerator
    from melody_rnn_ext import data
    from melody_rnn_ext import task as task_lib
    from melody_rnn_real_data import rhythm_diagnostics

    gen = MelodyGenerator.from_run_dir(str(work / "run"))
    out = {}
    for name in (*COLLECTIONS, "all"):
        pattern = str(work / "data" / ("*" if name == "all" else name) / "eval_melodies.tfrecord")
        if not data.count_records(pattern):
            print("eval", name, "has no held-out melody: skipped", flush=True)
            continue
        ds = data.make_sequence_example_dataset(pattern, gen.config.input_size, 64, shuffle=False)
        out[name] = {k: float(v) for k, v in task_lib.evaluate(gen.model, ds, gen.config.no_event_label).items()}
        print("eval", name, out[name], flush=True)
    if "bach_soprano" in out:
        out["bach_soprano"].update(rhythm_diagnostics(gen.model, gen.config, work / "data" / "bach_soprano"))
    return out


def samples(bundle_path: str, out_dir: pathlib.Path, num_steps: int = 128) -> list:
    """Sample melodies from the shipped bundle, one per primer of :data:`PRIMERS` (seeded):
    MIDI, FluidSynth wav and a piano roll each; returns their key checks."""
    import note_seq

    from melody_rnn_ext import generate
    from music_eval import plots
    from tfmusic import audio, files

    gen = generate.MelodyGenerator.from_bundle(bundle_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed, (name, events) in enumerate(PRIMERS.items()):
        primer = generate.parse_primer_melody(str(events))
        result = gen.generate(primer, generate.GenerationOptions(num_steps=num_steps, temperature=1.0, seed=seed))
        sequence = generate.melody_to_sequence(result.melody, program=73)
        primer_sequence = generate.melody_to_sequence(primer, program=73)
        midi = note_seq.note_sequence_to_pretty_midi(sequence)
        note_seq.sequence_proto_to_midi_file(sequence, str(out_dir / f"{name}.mid"))
        wav = audio.render_midi(midi, sample_rate=16000)
        audio.write_wav(str(out_dir / f"{name}.wav"), wav / max(1e-6, float(abs(wav).max())) * 0.8, 16000)
        files.atomic_write_bytes(
            out_dir / f"{name}.png",
            plots.figure_to_png(
                plots.piano_roll(midi, title=f"{NAME}: primer {name} (first {len(events)} steps), seed {seed}")
            ),
        )
        rows.append(
            {
                "primer": name,
                "seed": seed,
                **common.key_check(note_seq.note_sequence_to_pretty_midi(primer_sequence), midi),
            }
        )
    return rows


def check_sample(bundle_path: str, count: int = 6) -> dict:
    """Eval metrics of the bundle on the first ``count`` held-out chorale lines (music21's order):
    a sample the tests re-evaluate from the corpus to check the card (see tests/test_zoo.py)."""
    import music21

    from melody_rnn_ext import data, evaluation, generate
    from pipelines import music21_corpus

    names = [f"{n}:soprano" for n in music21.corpus.chorales.Iterator(returnType="filename")]
    ids = [n for n in names if data.partition_of(n, 0.1) == "eval"][:count]
    read = music21_corpus.read_collection("bach_soprano", only=set(ids), progress=False)
    gen = generate.MelodyGenerator.from_bundle(bundle_path)
    return {
        "collection": "bach_soprano",
        "ids": ids,
        "metrics": evaluation.evaluate_sequences(gen.model, gen.config, read.sequences),
    }


def ship_stage(work: pathlib.Path, models: pathlib.Path, data: dict, metrics: dict) -> None:
    """The bundle, model.json, samples and model card in ``models/<NAME>``."""
    from melody_rnn_ext import train_cli

    folder = models / NAME
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / f"{CONFIG_ID}.mag"
    rc = train_cli.main(
        [
            "--run_dir",
            str(work / "run"),
            "--eval",
            "--eval_file",
            str(work / "data" / "bach_soprano" / "eval_melodies.tfrecord"),
            "--export_bundle",
            str(bundle),
            "--bundle_description",
            "tfmusic zoo: attention_rnn on music21's Essen, Ryan's Mammoth, O'Neill tunes and Bach soprano lines",
        ]
    )
    if rc:
        raise SystemExit(f"export failed ({rc})")
    run_cfg = json.loads((work / "run" / "config.json").read_text())

    warm = common.warm_start_record(work)
    mixed = mix_record(work)
    step = _run_step(work)  # the run's own steps, on top of the shipped model's when it was warm-started
    keys = samples(str(bundle), folder / "samples")
    manifest = {
        "name": NAME,
        "family": "melody_rnn",
        "weights": bundle.name,
        "description": "Melody RNN attention_rnn trained on folk tunes and Bach soprano lines (music21 corpus)",
        "metrics": {f"held_out_{k}": metrics[k] for k in ("all", *COLLECTIONS) if k in metrics},
        "training": common.training_record(
            work,
            step,
            earlier_seconds=warm.get("seconds", 0),
            **({"warm_start": warm} if warm else {}),
            **({"mix": mixed} if mixed else {}),
            rnn_layer_sizes=run_cfg["model"]["hparams"]["rnn_layer_sizes"],
            batch_size=run_cfg["trainer"]["global_batch_size"],
            overrides=[
                f"model.hparams.batch_size={run_cfg['model']['hparams']['batch_size']}",
                f"trainer.global_batch_size={run_cfg['trainer']['global_batch_size']}",
            ],
        ),
        "data": {k: {kk: vv for kk, vv in v.items() if kk != "skipped_examples"} for k, v in data.items()},
        "mix": _mix_counts(work),
        "samples": keys,
        "check": check_sample(str(bundle)),
    }
    common.write_model(folder, manifest, card(manifest))


def _mix_counts(work: pathlib.Path) -> dict:
    """Each collection's ``mix.json`` (:func:`mix_stage`), for the card; ``{}`` where none was made."""
    found = {name: work / "data" / name / MIX_FILENAME for name in COLLECTIONS}
    return {name: json.loads(path.read_text()) for name, path in found.items() if path.is_file()}


def _mix_lines(m: dict) -> list:
    """The card's paragraph on the repeated melodies (:class:`Mix`), if the run used them."""
    counts, record = m.get("mix") or {}, m["training"].get("mix")
    if not counts or not record:
        return []
    mix = record["mix"]
    extra = sum(c["extra_records"] for c in counts.values())
    base = sum(d["train_melodies"] for d in m["data"].values())
    minor = {k: c["pieces_by_mode"].get("minor", 0) for k, c in counts.items()}
    pieces = {k: sum(c["pieces_by_mode"].values()) for k, c in counts.items()}
    shares = ", ".join(f"{k} {minor[k]} of {pieces[k]}" for k in COLLECTIONS if k in counts)
    return [
        "",
        f"Repeats (`Mix` in `bench/zoo/melody_rnn.py`): each pass over the data sees every training melody of a "
        f"minor-key piece {mix['minor_repeats']} times and every chorale line {mix['chorale_repeats']} times, "
        f"so the training reads {base + extra:,} melodies per pass instead of {base:,}. The piece's key is the "
        f"Krumhansl-Schmuckler estimate of its note durations; minor pieces: {shares}. Magenta's pipeline "
        "transposes every melody to C major or A minor, and a model that saw mostly major tunes drifted from "
        "a minor primer to its relative major (`bench/results/melody_key_check.md`). The held-out melodies are "
        "the same with and without repeats (`--no_mix` trains without them).",
    ]


def _mix_step_lines(training: dict) -> list:
    """The card's sentence on the step from which the run read the repeats, when it was not the first."""
    record = training.get("mix")
    if not record or not record.get("from_step"):
        return []
    return [
        "",
        f"This run read the repeats from step {record['from_step']:,} (the steps before saw each melody once per "
        f"pass); the other {training['steps'] - record['from_step']:,} steps fine-tuned on the mix. The "
        "retraining command reads them from the first step.",
    ]


def _warm_start_lines(training: dict) -> list:
    """The card's paragraph on a run that went on from the shipped model (``--from_shipped``), if it did."""
    return common.warm_start_lines(
        training,
        "the run went on from that shipped bundle (`--from_shipped`: every weight restored, Adam's moments started afresh)",
    )


def card(m: dict) -> str:
    """The model card's Markdown from ``model.json``'s content."""
    t, d, mt = m["training"], m["data"], m["metrics"]
    lines = [
        f"# `{m['name']}`: Melody RNN `{CONFIG_ID}`",
        "",
        f"{m['description']}. A Magenta `.mag` bundle (`{m['weights']}`): Magenta's own `melody_rnn_generate "
        f"--bundle_file` reads it, and so does ours:",
        "",
        "```",
        f'melody_rnn_generate --bundle_file {m["name"]} --primer_melody "[60, -2, 62, -2, 64]" --output_dir out/',
        f"python -c \"from tfmusic import zoo; gen = zoo.load('{m['name']}')\"",
        "```",
        "",
        "## Data and split",
        "",
        "music21's pip-installed corpus (BSD), parsed by music21 and converted through MIDI "
        "(`pipelines/music21_corpus.py`), then `melody_rnn_create_dataset`'s pipeline with Magenta's defaults "
        "(`attention_rnn` encoding, 4 steps per quarter, melodies of >= 7 bars, at most 512 steps, no "
        "transposition). 10 % of each collection's pieces are held out by Magenta's hashed split; the held-out "
        "chorale lines are the same as in `bench/results/melody_rnn_real_data.md`.",
        "",
        "| collection | pieces read | pieces music21 could not convert | training melodies | held-out melodies |",
        "|---|---|---|---|---|",
    ]
    for k in COLLECTIONS:
        lines.append(
            f"| {k} | {d[k]['pieces']} | {d[k]['skipped_pieces']} | {d[k]['train_melodies']} | "
            f"{d[k]['eval_melodies']} |"
        )
    lines += _mix_lines(m)
    lines += [
        "",
        "## Training",
        "",
        f"Layers {t['rnn_layer_sizes']}, batch {t['batch_size']}, Magenta's other `attention_rnn` hparams "
        f"(attention length 40, dropout keep 0.5, clip norm 3, Adam 0.001). {t['steps']} steps in "
        f"{t['seconds'] / 3600:.1f} h on {t['hardware']} ({t['date']}). Retrain (resumable; stop and rerun at will):",
        "",
        "```",
        f".venv/bin/python bench/zoo/melody_rnn.py --stage all --steps {t['steps']} "
        + " ".join(f"--set {o}" for o in t["overrides"]),
        "```",
        "",
        "(`make zoo-melody-rnn` runs the same to 20,000 steps; add `--set trainer.max_minutes=M` to train in "
        "time slices: each rerun resumes from the newest checkpoint.)",
        *_warm_start_lines(t),
        *_mix_step_lines(t),
        "",
        "## Held-out figures",
        "",
        "Magenta's eval metrics (`melody_rnn_train --eval`): perplexity = exp(loss per step), accuracy over all "
        "steps, event accuracy over steps whose label is a note-on or note-off.",
        "",
        "| held-out melodies | perplexity | accuracy | event accuracy | no-event accuracy |",
        "|---|---|---|---|---|",
    ]
    for k in ("all", *COLLECTIONS):
        if f"held_out_{k}" not in mt:
            lines.append(f"| {k} | - | - | - | - |")
            continue
        r = mt[f"held_out_{k}"]
        lines.append(
            f"| {k} | {r['perplexity']:.3f} | {r['accuracy']:.3f} | {r['event_accuracy']:.3f} | "
            f"{r['no_event_accuracy']:.3f} |"
        )
    ref = REFERENCE
    bach = mt.get(
        "held_out_bach_soprano", {"perplexity": float("nan"), "accuracy": float("nan"), "event_accuracy": float("nan")}
    )
    lines += [
        "",
        "Beside earlier figures on the same held-out chorale lines (`bench/results/melody_rnn_real_data.md`; "
        "`basic_rnn` 64x64, so a 38-class softmax against this model's 40 classes):",
        "",
        "| model | perplexity | accuracy | event accuracy |",
        "|---|---|---|---|",
        f"| this model | {bach['perplexity']:.3f} | {bach['accuracy']:.3f} | {bach['event_accuracy']:.3f} |",
        f"| basic_rnn from scratch, 2,000 steps | {ref['scratch_2000']['perplexity']} | "
        f"{ref['scratch_2000']['accuracy']} | {ref['scratch_2000']['event_accuracy']} |",
        f"| basic_rnn fine-tuned from a folk bundle, 2,000 steps | {ref['finetuned_2000']['perplexity']} | "
        f"{ref['finetuned_2000']['accuracy']} | {ref['finetuned_2000']['event_accuracy']} |",
        f"| case study's LSTM (its own data, 20k steps) | {ref['case_study_lstm']['perplexity']} | "
        f"{ref['case_study_lstm']['accuracy']} | - |",
        "",
        "## Samples",
        "",
        "128 steps (8 bars) each, temperature 1.0, primer first; MIDI, a FluidSynth rendering (flute, TimGM6mb) "
        "and a piano roll in `samples/`. Key of the whole melody against the primer's (music_eval.theory: "
        "key score 1 = same key, in-scale share = notes in the primer's scale):",
        "",
        *common.key_table(("primer", "seed"), [((r["primer"], r["seed"]), r) for r in m["samples"]], "melody"),
    ]
    first = m["samples"][0]["primer"]
    lines += ["", f"![piano roll](samples/{first}.png)", ""]
    lines += key_check_lines(m)
    return "\n".join(lines)


def key_check_lines(m: dict) -> List[str]:
    """The card's section on the study's default primer over seeds: from ``m["key_checks"]`` (results stem
    -> record, added by ``bench/zoo/key_check.py --card``: ``first_seed``, ``seeds``, ``settings`` (each
    ``label``, ``kept``, ``in_scale``, ``mean_distinct_4grams``, ``first_seed_key``) and the ``chosen``
    label or None); no section without it."""
    checks = m.get("key_checks") or {}
    if not checks:
        return []
    lines = [
        "## The study's primer over seeds",
        "",
        "`tfmusic_study` continues its default primer, the top line of bwv66.6's first 8 s (F# minor), by 128 "
        "steps. One seed is one draw; how often the whole line keeps F# minor (key score 1.0) over many, by "
        "sampling setting (`bench/zoo/key_check.py`; distinct 4-note figures: the share of the continuation's "
        "4-note figures that occur once, low for a loop; the study's own draw is seed 0):",
        "",
    ]
    for stem, rec in sorted(checks.items(), key=lambda item: item[1]["first_seed"]):  # model.json sorts keys
        last = rec["first_seed"] + rec["seeds"] - 1
        lines.append(f"Seeds {rec['first_seed']}-{last} (`bench/results/{stem}.md`):")
        lines.append("")
        lines += [
            f"- {s['label']}: key kept in {s['kept']} of {rec['seeds']}, at least 99 % of the note time in the "
            f"primer's scale in {s['in_scale']}, distinct 4-note figures {s['mean_distinct_4grams']:.2f}; "
            f"seed {rec['first_seed']}: {s['first_seed_key']}"
            for s in rec["settings"]
        ]
        lines.append("")
        if rec.get("chosen"):
            lines += [
                f"`--choose` picked **{rec['chosen']}** on these seeds: the key kept most often among the "
                "settings that loop little more than the first (plain sampling). `tfmusic_study` uses it; "
                "Magenta's beam search keeps a key more often the more it repeats the primer's figures.",
                "",
            ]
    return lines


def main(argv=None) -> int:
    from tfmusic import cli_flags

    parser = common.zoo_parser(__doc__, "/tmp/zoo/melody_rnn")
    parser.add_argument("--steps", type=int, default=6000, help="total training steps")
    parser.add_argument("--stage", choices=("all", "data", "train", "evaluate", "ship"), default="all")
    parser.add_argument("--limit", type=int, default=0, help="pieces per collection (0 = all; for a smoke run)")
    parser.add_argument(
        "--from_shipped",
        action="store_true",
        help="start a new run from the shipped model's weights (when the old run folder is gone); "
        "--steps counts the shipped model's steps",
    )
    parser.add_argument(
        "--no_mix",
        action="store_true",
        help="see every training melody once per pass (default: minor-key tunes 3 times, chorale lines 4; Mix)",
    )
    cli_flags.add_overrides_flag(
        parser, "config overrides for training, e.g. model.hparams.batch_size=64", metavar=None
    )
    args = parser.parse_args(argv)
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.stage in ("all", "data"):
        data_stage(work, args.limit)
    mix = None if args.no_mix else Mix()
    if args.stage == "data" and mix:
        mix_stage(work, mix)  # 'all' makes it in train_stage
    if args.stage in ("all", "train"):
        if args.from_shipped:
            start_from_shipped(work, pathlib.Path(args.models))
        train_stage(work, args.steps, args.overrides, mix)
    if args.stage in ("all", "evaluate", "ship"):
        metrics = evaluate_stage(work)
        from tfmusic import files

        files.atomic_write_json(work / "eval.json", metrics)
    if args.stage in ("all", "ship"):
        ship_stage(
            work, pathlib.Path(args.models), data_stage(work, args.limit), json.loads((work / "eval.json").read_text())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
