"""Retrains the zoo's ``pitch_classifier`` (the classifier behind ``music_eval gan``'s metrics).

Usage (from the repository root, after ``make zoo-deps``; ~45 min on one CPU core):

    taskset -c 1 .venv/bin/python bench/zoo/pitch_classifier.py --work /tmp/zoo/pitch_classifier \\
        --out models/pitch_classifier

Data (``nsynth_render`` from four General MIDI SoundFonts; each (SoundFont, program) pair is one
instrument; pitches 24-84, GANSynth's 61 classes; one velocity per instrument and pitch, drawn
from NSynth's 25/50/75/100/127 with a seeded generator):

* training SoundFonts: FluidR3 (``fluid-soundfont-gm``), Csound's GM bank (``csound-soundfont``)
  and MuseScore General (``musescore-general-soundfont``; a seeded ``--musescore_fraction`` of its
  notes only, as its .sf3 samples are decoded for every note, ~0.3 s each);
* 15 % of the training SoundFonts' instruments, drawn per family, are held out
  (``valid_instruments``: instruments never trained on);
* pretty_midi's ``TimGM6mb.sf2`` is held out entirely (``valid_soundfont``); it ships with the
  Python package, so the zoo's tests re-render a sample of it on any machine.

The run folder (``--work``) keeps the renders, the training run (resumable: a rerun continues
from its newest checkpoint and reuses the renders) and ``results.json``. ``--out`` gets the
exported weights (model-only checkpoint), ``model.json``, ``README.md`` (the card, filled in from
``model.json``; ``--card_only`` rewrites just the card) and ``accuracy_by_pitch.png``; ``bench/results/`` gets
``pitch_classifier.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from music_eval import classifier as clf  # noqa: E402
from pipelines import nsynth_render as nr  # noqa: E402
from tfmusic import config as config_lib  # noqa: E402
from tfmusic import files  # noqa: E402

TRAIN_SOUNDFONTS = (
    ("fluidr3_gm", "/usr/share/sounds/sf2/FluidR3_GM.sf2", "fluid-soundfont-gm"),
    ("sf_gmbank", "/usr/share/sounds/sf2/sf_GMbank.sf2", "csound-soundfont"),
    ("musescore_general", "/usr/share/sounds/sf3/MuseScore_General.sf3", "musescore-general-soundfont"),
)
HELDOUT_SOUNDFONT = "timgm6mb"
MIN_PITCH, MAX_PITCH = 24, 84
REAL_DIR = REPO.parent / "shared" / "data" / "nsynth_sample"
# the held-out sample the zoo test re-renders and re-scores (small: seconds on a CPU)
CARD_SAMPLE_SIZE = 61


def soundfonts() -> tuple:
    """The run's SoundFonts (training ones first, the held-out one last); exits naming the
    Debian packages to install when one is missing."""
    from tfmusic.audio import default_soundfont

    missing = [pkg for _, path, pkg in TRAIN_SOUNDFONTS if not os.path.isfile(path)]
    if missing:
        sys.exit(f"missing SoundFonts: run `make zoo-deps` (apt-get install {' '.join(missing)})")
    return tuple(nr.SoundFont(name, path) for name, path, _ in TRAIN_SOUNDFONTS) + (
        nr.SoundFont(HELDOUT_SOUNDFONT, default_soundfont()),
    )


def one_velocity_each(notes, seed: int):
    """Keeps one velocity per (SoundFont, program, pitch), drawn with a seeded generator."""
    rng = np.random.default_rng(seed)
    groups = {}
    for n in notes:
        groups.setdefault((n.soundfont, n.program, n.pitch), []).append(n)
    return [g[rng.integers(len(g))] for _, g in sorted(groups.items())]


def choose_notes(sfs, musescore_fraction: float, seed: int):
    """All included programs x pitches 24-84 x one velocity, MuseScore thinned; then split."""
    notes = one_velocity_each(
        nr.select_notes(pitches=range(MIN_PITCH, MAX_PITCH + 1), soundfonts=range(len(sfs))), seed
    )
    muse = [i for i, sf in enumerate(sfs) if sf.name == "musescore_general"][0]
    rng = np.random.default_rng(seed + 1)
    notes = [n for n in notes if n.soundfont != muse or rng.random() < musescore_fraction]
    return nr.split_notes(notes, heldout_instrument_fraction=0.15, holdout_soundfont=len(sfs) - 1, seed=seed)


def card_sample(heldout_notes, seed: int, audio_dir=None):
    """A fixed sample of the held-out SoundFont's notes: one per pitch 24-84, seeded; only notes
    that rendered (have a wav in ``audio_dir``) when it is given."""
    rng = np.random.default_rng(seed + 2)
    by_pitch = {}
    for n in heldout_notes:
        if audio_dir is None or (pathlib.Path(audio_dir) / f"{n.note_str}.wav").is_file():
            by_pitch.setdefault(n.pitch, []).append(n)
    return [by_pitch[p][rng.integers(len(by_pitch[p]))] for p in sorted(by_pitch)][:CARD_SAMPLE_SIZE]


def evaluate(classifier, feats, pitches):
    """Exact and within-a-semitone accuracy of ``classifier`` on features ``[n, ...]``."""
    pred = (
        np.concatenate(
            [
                np.asarray(classifier.network(feats[i : i + 256], training=False)).argmax(-1)
                for i in range(0, len(feats), 256)
            ]
        )
        + classifier.min_pitch
    )
    return {
        "accuracy": float(np.mean(pred == pitches)),
        "accuracy_within_1": float(np.mean(abs(pred - pitches) <= 1)),
        "num": int(len(pitches)),
    }, pred


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def plot_accuracy(path, per_split):
    """Accuracy per pitch of each held-out split, one line each (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 2.8), dpi=90)
    for label, (pitches, pred) in per_split.items():
        xs = np.arange(MIN_PITCH, MAX_PITCH + 1)
        acc = [np.mean(pred[pitches == p] == p) if np.any(pitches == p) else np.nan for p in xs]
        ax.plot(xs, acc, marker=".", label=label)
    ax.set_xlabel("MIDI pitch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("pitch_classifier: held-out accuracy by pitch")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


CARD = """# pitch_classifier

The pitch classifier behind GANSynth's metrics (`music_eval gan` uses it by default, as Magenta shipped one):
a small CNN on per-example standardized log-mel spectrograms (`music_eval/classifier.py`; {params:,} parameters),
MIDI pitches 24-84 (GANSynth's 61 classes), {num_frames} frames x {num_mel_bins} mel bins of a 4 s, 16 kHz note.
Load it with `tfmusic.zoo.load("pitch_classifier")` or `music_eval.classifier.load_classifier("{weights_path}")`.

## Data and split

NSynth-format notes rendered by `nsynth_render` (FluidSynth, 4 s, key held 3 s) from four General MIDI
SoundFonts; every (SoundFont, program) pair is its own instrument (the GM programs `nsynth_render` maps onto
NSynth's families), one velocity per instrument and pitch (seeded draw from 25/50/75/100/127):

| split | SoundFonts | notes |
|---|---|---|
| train | FluidR3 (`fluid-soundfont-gm`), Csound's GM bank (`csound-soundfont`), MuseScore General (`musescore-general-soundfont`; a seeded {muse_pct} % of its notes) | {n_train:,} |
| held-out instruments | 15 % of the training SoundFonts' instruments, drawn per family (as NSynth splits) | {n_inst:,} |
| held-out SoundFont | pretty_midi's `TimGM6mb.sf2`, never trained on | {n_sf:,} |

The 12 real NSynth notes of `../shared/data/nsynth_sample` (all pitch 60) are scored too; they are not training data.

## Held-out figures

Measured by `bench/zoo/pitch_classifier.py` (the numbers in `model.json`; the zoo tests re-render the
card's {sample_num} held-out SoundFont notes, one per pitch it renders, and re-score them and the real notes):

| held-out set | notes | accuracy | within 1 semitone |
|---|---|---|---|
| held-out SoundFont (TimGM6mb) | {n_sf:,} notes | {acc_sf:.1f} % | {acc1_sf:.1f} % |
| held-out instruments | {n_inst:,} notes | {acc_inst:.1f} % | {acc1_inst:.1f} % |
| real NSynth notes | 12 | {real_correct} of 12 | {real1:.0f} of 12 |

Predicted pitches of the real notes: {real_pred}. Training accuracy: {acc_train:.1f} %.
The note to beat was 97 % on held-out renders and 11 of 12 real notes, from one SoundFont.

![accuracy by pitch](accuracy_by_pitch.png)

The weak spot is the bottom of the range (MIDI 24-27): few GM programs reach it (pianos, church organ, harp,
synth bass, strings and brass), so few instruments train it and the held-out instruments there are only one or two.

## Training

{steps:,} steps of batch {batch} (Adam, lr {lr}): {render_min:.0f} min of rendering and {train_min:.0f} min of
training ({total_min:.0f} min, wall time summed over the run's sessions; feature extraction and evaluation add
about a minute each) on {hardware} (`taskset -c 1`; the machine's 2 cores were shared with other jobs), no GPU.{sessions}
To retrain (idempotent, resumes from its run folder):

```
make zoo-deps   # installs fluid-soundfont-gm, musescore-general-soundfont, csound-soundfont (~200 MB)
taskset -c 1 .venv/bin/python bench/zoo/pitch_classifier.py --work /tmp/zoo/pitch_classifier \\
    --out models/pitch_classifier {cmd_args}
```

`make demo` and `make test` need none of the large SoundFonts.
"""


def write_card(out, manifest, cmd_args: str = "", musescore_fraction: float = 0.25) -> None:
    """Writes ``out/README.md`` (the model card) from ``model.json``'s figures."""
    m, t = manifest["metrics"], manifest["training"]
    cfg = t["config"]
    params = _count_params(out / manifest["weights"])
    pct = lambda key, field="accuracy": 100 * m[key][field]  # noqa: E731
    real = m["real_nsynth_sample"]
    text = CARD.format(
        params=params,
        num_frames=1
        + (cfg["features"]["num_samples"] - cfg["features"]["frame_length"]) // cfg["features"]["hop_length"],
        num_mel_bins=cfg["features"]["num_mel_bins"],
        weights_path=f"models/pitch_classifier/{manifest['weights']}",
        muse_pct=round(100 * t.get("musescore_fraction", musescore_fraction)),
        n_train=t["split_counts"]["train"],
        n_inst=m["heldout_instruments"]["num"],
        n_sf=m["heldout_soundfont"]["num"],
        sample_num=m["heldout_soundfont_sample"]["num"],
        acc_sf=pct("heldout_soundfont"),
        acc1_sf=pct("heldout_soundfont", "accuracy_within_1"),
        acc_inst=pct("heldout_instruments"),
        acc1_inst=pct("heldout_instruments", "accuracy_within_1"),
        real_correct=real["correct"],
        real1=12 * real["accuracy_within_1"],
        real_pred=", ".join(map(str, real["predicted"])),
        acc_train=pct("train"),
        steps=t["steps"],
        batch=t["batch"],
        lr=cfg["model"]["learning_rate"],
        train_min=t["train_seconds"] / 60,
        render_min=t["render_seconds"] / 60,
        total_min=t["total_seconds"] / 60,
        hardware=t["hardware"],
        cmd_args=cmd_args,
        sessions=_sessions(t),
    )
    files.atomic_write_text(out / "README.md", text)


def _sessions(training: dict) -> str:
    sessions = training.get("sessions") or []
    if len(sessions) < 2:
        return ""
    parts = [
        f"steps {s['steps']}: {s['render_seconds'] / 60:.0f} min rendering, {s['train_seconds'] / 60:.0f} min training"
        for s in sessions
    ]
    return (
        f"\nThe run had {len(sessions)} sessions (the later ones resumed from its checkpoint): "
        + "; ".join(parts)
        + "."
    )


def _count_params(weights) -> int:
    return int(clf.load_classifier(weights).network.count_params())


def main(argv=None) -> int:
    """Renders, trains (resumably), evaluates and exports the zoo's pitch classifier."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--work", default="/tmp/zoo/pitch_classifier", help="run folder (renders, checkpoints)")
    p.add_argument("--out", default=str(REPO / "models" / "pitch_classifier"), help="zoo folder to write")
    p.add_argument("--results", default=str(REPO / "bench" / "results"), help="where pitch_classifier.{json,md} go")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--musescore_fraction", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], dest="overrides", help="classifier config override")
    p.add_argument("--card_only", action="store_true", help="only rewrite OUT/README.md from OUT/model.json")
    args = p.parse_args(argv)
    cmd_args = f"--steps {args.steps} --batch {args.batch} --musescore_fraction {args.musescore_fraction}"
    if args.card_only:
        out = pathlib.Path(args.out)
        write_card(out, json.loads((out / "model.json").read_text()), cmd_args, args.musescore_fraction)
        print(f"wrote {out / 'README.md'}")
        return 0

    t0 = time.time()
    work = pathlib.Path(args.work)
    data_dir = work / "data"
    sfs = soundfonts()
    splits = choose_notes(sfs, args.musescore_fraction, args.seed)
    settings = nr.RenderSettings(soundfonts=sfs)
    if not (data_dir / "splits.json").is_file():
        counters = nr.render_splits(data_dir, splits, settings, workers=1, progress=False)
        for name, c in counters.items():
            print(f"{name}: {c.summary()}", flush=True)
    t_render = time.time() - t0
    print(f"renders ready in {t_render:.0f} s", flush=True)

    cfg = clf.PRESETS.get("gansynth")
    overrides = [
        f"trainer.train_steps={args.steps}",
        f"trainer.global_batch_size={args.batch}",
        "trainer.checkpoint_every=500",
        "trainer.progress=false",
        "trainer.summary_every=100",
        "data.holdout_fraction=0",
        f"data.train_dir={data_dir / nr.SPLIT_TRAIN}",
        f"data.seed={args.seed}",
        *args.overrides,
    ]
    run_dir = work / "run"
    cfg, resumed = config_lib.resolve_run_config(str(run_dir), cfg, overrides)
    feats = {}
    for name in (nr.SPLIT_TRAIN, nr.SPLIT_INSTRUMENTS, nr.SPLIT_SOUNDFONT):
        x, y, _ = clf.load_features(data_dir / name, cfg.features, MIN_PITCH, MAX_PITCH)
        feats[name] = (x, y)
        print(f"{name}: {len(y)} notes", flush=True)
    real_x, real_y, _ = clf.load_features(REAL_DIR, cfg.features, MIN_PITCH, MAX_PITCH)
    t1 = time.time()
    result = clf.train_classifier(cfg, str(run_dir), features=feats[nr.SPLIT_TRAIN])
    t_train = time.time() - t1
    # wall time summed over the run's sessions (a resumed run adds to what the earlier ones spent)
    timing_path = work / "timing.json"
    timing = json.loads(timing_path.read_text()) if timing_path.is_file() else {"render_seconds": 0, "train_seconds": 0}
    timing["render_seconds"] += round(t_render)
    timing["train_seconds"] += round(t_train)
    files.atomic_write_json(timing_path, timing)
    print(f"trained to step {result.metrics['final_step']} in {t_train:.0f} s", flush=True)
    classifier = result.classifier

    metrics, preds = {}, {}
    for key, name in (("heldout_soundfont", nr.SPLIT_SOUNDFONT), ("heldout_instruments", nr.SPLIT_INSTRUMENTS)):
        metrics[key], pred = evaluate(classifier, *feats[name])
        preds[key] = (feats[name][1], pred)
    metrics["train"], _ = evaluate(classifier, *feats[nr.SPLIT_TRAIN])
    metrics["real_nsynth_sample"], real_pred = evaluate(classifier, real_x, real_y)
    metrics["real_nsynth_sample"]["correct"] = int(np.sum(real_pred == real_y))
    metrics["real_nsynth_sample"]["predicted"] = [int(v) for v in real_pred]
    sample = card_sample(splits[nr.SPLIT_SOUNDFONT], args.seed, data_dir / nr.SPLIT_SOUNDFONT / "audio")
    sample_dir = work / "card_sample"
    # rendered on its own from the one SoundFont, exactly as the zoo test renders it
    sample = [nr.NoteSpec(n.program, n.pitch, n.velocity) for n in sample]
    nr.render_dataset(sample_dir, sample, nr.RenderSettings(soundfont=sfs[-1].path), workers=1, progress=False)
    sx, sy, _ = clf.load_features(sample_dir, cfg.features, MIN_PITCH, MAX_PITCH)
    sm, spred = evaluate(classifier, sx, sy)
    metrics["heldout_soundfont_sample"] = {
        "soundfont": HELDOUT_SOUNDFONT,
        "notes": [[n.program, n.pitch, n.velocity] for n in sample],
        "correct": int(np.sum(spred == sy)),
        "num": sm["num"],
        "accuracy": sm["accuracy"],
    }
    for key in ("heldout_soundfont", "heldout_instruments", "real_nsynth_sample"):
        print(f"{key}: {json.dumps({k: v for k, v in metrics[key].items() if k != 'predicted'})}", flush=True)

    out = pathlib.Path(args.out)
    weights = out / "classifier"
    if weights.exists():
        shutil.rmtree(weights)
    clf.export_classifier(classifier, weights)
    plot_accuracy(
        out / "accuracy_by_pitch.png",
        {
            "held-out SoundFont (TimGM6mb)": preds["heldout_soundfont"],
            "held-out instruments": preds["heldout_instruments"],
        },
    )
    info = {
        "steps": int(result.metrics["final_step"]),
        "batch": args.batch,
        "resumed": resumed,
        "render_seconds": timing["render_seconds"],
        "train_seconds": timing["train_seconds"],
        "total_seconds": timing["render_seconds"] + timing["train_seconds"],
        "hardware": f"{cpu_name()}, {len(os.sched_getaffinity(0))} core(s)",
        "soundfonts": [sf.name for sf in sfs],
        "split_counts": {k: len(v[1]) for k, v in feats.items()},
        "musescore_fraction": args.musescore_fraction,
        "config": config_lib.to_dict(cfg),
    }
    manifest = {
        "name": "pitch_classifier",
        "family": "pitch_classifier",
        "weights": "classifier",
        "description": "Pitch classifier (MIDI 24-84, 61 classes) on log-mel spectrograms for GANSynth's "
        "metrics (IS, PA, PE, FID); trained on renders of three GM SoundFonts.",
        "metrics": metrics,
        "training": info,
    }
    files.atomic_write_json(out / "model.json", manifest, indent=1)
    os.makedirs(args.results, exist_ok=True)
    files.atomic_write_json(pathlib.Path(args.results) / "pitch_classifier.json", manifest, indent=1)
    lines = ["| split | notes | accuracy | within 1 semitone |", "|---|---|---|---|"]
    for key in ("heldout_soundfont", "heldout_instruments", "real_nsynth_sample", "train"):
        m = metrics[key]
        lines.append(f"| {key} | {m['num']} | {m['accuracy']:.4f} | {m['accuracy_within_1']:.4f} |")
    files.atomic_write_text(pathlib.Path(args.results) / "pitch_classifier.md", "\n".join(lines) + "\n")
    files.atomic_write_json(work / "results.json", manifest, indent=1)
    write_card(out, manifest, cmd_args, args.musescore_fraction)
    print("\n".join(lines))
    print(f"wrote {out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
