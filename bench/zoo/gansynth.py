"""Trains, evaluates and ships the zoo's GANSynth model (``gansynth_multisf``) on multi-SoundFont renders.

Usage (from the repository root, after ``make zoo-deps``; hours on a CPU; resumable: run it again after
a stop and it goes on from the newest checkpoint)::

    .venv/bin/python bench/zoo/gansynth.py [--work /tmp/zoo/gansynth] [--steps 12000] [--stage all]

Stages (``--stage``; ``all`` runs them in order):

1. ``data``: the pitch classifier's renders (``bench/zoo/pitch_classifier.py``'s split of four General
   MIDI SoundFonts; rendered here when ``--renders`` holds none). GANSynth trains on the acoustic notes
   of the training split, as the paper trains on NSynth's acoustic subset.
2. ``train``: ``gansynth_train --preset cpu_zoo_hf`` (1.02 s of each note as 16x1024 mel-IF specgrams,
   GANSynth's 61 pitches) on the training split; resumable. ``--preset cpu_zoo`` starts a run on the
   earlier 32x512 specgrams instead (same size, half the frequency resolution; see ``ceiling``).
3. ``evaluate``: one generated note per held-out real note (held-out instruments and the held-out
   SoundFont, acoustic, the same pitch; seeded latents), both cut to the model's 1.02 s and scored
   by the zoo's ``pitch_classifier`` as GANSynth's Table 1: NDB, FID, IS, pitch accuracy, pitch
   entropy (``music_eval gan``'s code).
4. ``ship``: the generator's moving-average weights alone (``generator_ema``; no critic, no optimizer
   state) with ``config.json`` and ``normalizer.json`` in ``models/gansynth_multisf/run/`` (what
   ``GANSynthSynthesizer.from_model_dir`` and ``gansynth_generate --model_dir`` read), ``model.json``,
   samples (notes and a chorale line, wav), rainbowgrams of generated notes beside real ones, the card.

Also ``samples`` (run on its own): the shipped model's samples and card made again from its own weights
(``models/gansynth_multisf/run``; weights and metrics untouched), after a change to what the samples show.

Also ``ceiling`` (run on its own): the held-out real notes encoded to each representation of
:data:`CEILING_SETTINGS` (the shipped model's among them) and decoded back, scored by the pitch
classifier: the pitch accuracy a perfect generator of that representation could reach. Writes
``bench/results/gansynth_representation.{json,md}`` and adds the shipped model's row to its card.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import shutil
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/zoo/common.py)

NAME = "gansynth_multisf"
PRESET = "cpu_zoo_hf"  # the shipped model's (16x1024 specgrams); --preset cpu_zoo: the earlier 32x512 model
HELDOUT_SPLITS = ("valid_instruments", "valid_soundfont")
CHECK_PITCHES = tuple(range(24, 85, 2))  # the test regenerates these (seed CHECK_SEED) and re-scores them
CHECK_SEED = 7
SAMPLE_PITCHES = (36, 48, 60, 72, 84)
#: The shipped run trained 12,000 steps on the renders' own pitch counts (4.7x fewer notes at MIDI 24-35
#: than at 60-71; its low notes came out at the wrong pitch), then on pitch-balanced notes.
BALANCE_FROM = 12000
#: ``WORK/balance.json``: {"balance_from": the step from which the run saw pitch-balanced notes (0: from
#: the start), or null: never}
BALANCE_RECORD = "balance.json"


def data_stage(renders: pathlib.Path) -> None:
    """Makes sure ``renders`` holds the pitch classifier's split (renders it if not: ~15 min)."""
    if (renders / "splits.json").is_file():
        return
    import pitch_classifier as pc  # bench/zoo/pitch_classifier.py
    from pipelines import nsynth_render as nr

    sfs = pc.soundfonts()
    splits = pc.choose_notes(sfs, 0.2, 0)
    counters = nr.render_splits(renders, splits, nr.RenderSettings(soundfonts=sfs), workers=1, progress=False)
    for name, c in counters.items():
        print(f"{name}: {c.summary()}", flush=True)


def _newest_step(run_dir: pathlib.Path) -> int:
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(run_dir))
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def train_stage(
    work: pathlib.Path, renders: pathlib.Path, steps: int, overrides, balance_from: int = 0, preset: str = PRESET
) -> None:
    """``gansynth_train --preset PRESET`` on the training split (resumes a stopped run). With
    ``balance_from`` (> 0), steps from there on see pitch-balanced real notes
    (``data.balance_pitches=true``): the run first goes to ``balance_from`` on the data's own counts."""
    record = work / BALANCE_RECORD
    if not record.is_file():  # how the run's pitches were balanced, for its card (first call of a run)
        from tfmusic import files

        balanced_from = balance_from if 0 < balance_from < steps else None
        if balanced_from is None and "data.balance_pitches=true" in overrides:
            balanced_from = 0
        files.atomic_write_json(record, {"balance_from": balanced_from})
    if 0 < balance_from < steps:
        if _newest_step(work / "run") < balance_from:
            train_stage(work, renders, balance_from, overrides, preset=preset)
        overrides = [*overrides, "data.balance_pitches=true"]
    from gansynth_tf import train_cli

    argv = [
        "--model_dir",
        str(work / "run"),
        "--train_data",
        str(renders / "train"),
        "--preset",
        preset,
        "--set",
        f"trainer.train_steps={steps}",
        "--set",
        "trainer.progress=false",
    ]
    for o in overrides:
        argv += ["--set", o]
    with common.WallClock(work / "train_time.json"):
        rc = train_cli.main(argv)
    if rc:
        raise SystemExit(f"gansynth_train failed ({rc})")


def cut(audio: np.ndarray, length: int, total: int = 64000) -> np.ndarray:
    """Notes ``[n, T]`` kept for their first ``length`` samples and zero-padded to ``total``."""
    out = np.zeros((len(audio), total), np.float32)
    n = min(length, audio.shape[1], total)
    out[:, :n] = audio[:, :n]
    return out


def heldout_real(renders: pathlib.Path, synth):
    """The held-out acoustic notes in the model's pitch range, cut to its audio length
    (:class:`music_eval.classifier.NSynthArrays`), and the same notes uncut."""
    from music_eval import classifier as clf

    parts = [
        clf.load_nsynth_dir(renders / s, synth.min_pitch, synth.max_pitch, acoustic_only=True) for s in HELDOUT_SPLITS
    ]
    full = clf.NSynthArrays(
        np.concatenate([p.audio for p in parts]),
        np.concatenate([p.pitches for p in parts]),
        sum((p.names for p in parts), []),
    )
    return clf.NSynthArrays(cut(full.audio, synth.audio_length), full.pitches, full.names), full


def generate_like(synth, pitches, seed: int = 0):
    """One generated note per pitch (latents ``synth.random_latents(n, seed)``), peak-limited, cut and
    padded as the real ones (:class:`music_eval.classifier.NSynthArrays`)."""
    from gansynth_tf.synthesize import peak_limit
    from music_eval import classifier as clf

    pitches = np.asarray(pitches, np.int64)
    audio = synth.synthesize(synth.random_latents(len(pitches), seed), pitches)
    audio = np.stack([peak_limit(a) for a in audio]) if len(audio) else audio
    return clf.NSynthArrays(cut(audio, synth.audio_length), pitches, [f"gen-{i:05d}" for i in range(len(pitches))])


def check_figures(synth, classifier) -> dict:
    """Pitch accuracy and mean top probability of the :data:`CHECK_PITCHES` notes (seed
    :data:`CHECK_SEED`): the figures the zoo test re-measures."""
    gen = generate_like(synth, CHECK_PITCHES, CHECK_SEED)
    probs = classifier.probabilities(gen.audio)
    pred = probs.argmax(-1) + classifier.min_pitch
    return {
        "pitches": list(CHECK_PITCHES),
        "seed": CHECK_SEED,
        "metrics": {
            "pitch_accuracy": float(np.mean(pred == gen.pitches)),
            "mean_top_probability": float(probs.max(-1).mean()),
            "rms": float(np.sqrt(np.mean(gen.audio[:, : synth.audio_length] ** 2))),
        },
    }


def round_trip(audio: np.ndarray, spectral, batch_size: int = 128) -> np.ndarray:
    """Notes ``[n, T]`` (float32, 16 kHz) through specgrams of ``spectral`` (a
    :class:`gansynth_tf.specgrams.SpectralConfig`) and back to audio: their first
    ``spectral.audio_length`` samples encoded and decoded, zero-padded to ``T``. What the best
    possible generator of that representation could give back."""
    import tensorflow as tf

    from gansynth_tf.specgrams import SpecgramsHelper

    helper, n = SpecgramsHelper(spectral), spectral.audio_length
    out = []
    for i in range(0, len(audio), batch_size):
        waves = tf.constant(audio[i : i + batch_size, :n, None])
        out.append(helper.decode(helper.encode(waves))[..., 0].numpy()[:, :n])
    return cut(np.concatenate(out) if out else np.zeros((0, n), np.float32), n, audio.shape[1])


def error_intervals(predicted: np.ndarray, asked: np.ndarray) -> dict:
    """How the notes named at the wrong pitch are wrong: of ``predicted`` against ``asked`` (MIDI pitches,
    ``[n]`` each), the counts ``wrong``, ``octaves_below`` / ``octaves_above`` (off by a whole number of
    octaves), ``semitone`` (off by one) and ``other``."""
    diff = np.asarray(predicted, np.int64) - np.asarray(asked, np.int64)
    wrong = diff[diff != 0]
    octaves = wrong % 12 == 0
    return {
        "wrong": int(len(wrong)),
        "octaves_below": int(np.sum(octaves & (wrong < 0))),
        "octaves_above": int(np.sum(octaves & (wrong > 0))),
        "semitone": int(np.sum(np.abs(wrong) == 1)),
        "other": int(np.sum(~octaves & (np.abs(wrong) != 1))),
    }


def pitch_bands(pitches: np.ndarray) -> dict:
    """``{"24-35": mask, ...}``: the octaves (MIDI, from 24 in steps of 12) that hold any of ``pitches``."""
    bands = {}
    for low in range(24, 85, 12):
        band = (pitches >= low) & (pitches < low + 12)
        if band.any():
            bands[f"{low}-{min(low + 11, 84)}"] = band
    return bands


def evaluate_stage(work: pathlib.Path, renders: pathlib.Path, run_dir: pathlib.Path = None) -> dict:
    """GANSynth's Table 1 for the newest checkpoint against held-out real renders."""
    from gansynth_tf.synthesize import GANSynthSynthesizer
    from music_eval import gan_eval
    from tfmusic import files, zoo

    synth = GANSynthSynthesizer.from_model_dir(run_dir or work / "run")
    classifier = zoo.load("pitch_classifier")
    real, real_full = heldout_real(renders, synth)
    generated = generate_like(synth, real.pitches, seed=0)
    evaluation = gan_eval.evaluate_gan(real, generated, classifier)
    gan_eval.write_gan_tables(evaluation, work / "eval", stem="gan_metrics")
    full_pa = gan_eval.classifier_metrics(classifier, real_full.audio, real_full.pitches)["pitch_accuracy"]
    predicted = classifier.predict_pitches(generated.audio)
    within1 = float(np.mean(np.abs(predicted - generated.pitches) <= 1))
    real_predicted = classifier.predict_pitches(real.audio)
    # the ceiling: the real notes through the model's own specgrams and back
    trip_predicted = classifier.predict_pitches(round_trip(real.audio, synth.config.data.spectral))
    by_band = {
        name: {
            "notes": int(band.sum()),
            "generated": float(np.mean(predicted[band] == generated.pitches[band])),
            "real": float(np.mean(real_predicted[band] == real.pitches[band])),
            "real_round_trip": float(np.mean(trip_predicted[band] == real.pitches[band])),
        }
        for name, band in pitch_bands(generated.pitches).items()
    }
    result = {
        "step": int(synth.checkpoint.rsplit("-", 1)[1]),
        "rows": evaluation.to_dict()["rows"],
        "real_full_length_pitch_accuracy": full_pa,
        "generated_pitch_accuracy_within_1": within1,
        "generated_errors": error_intervals(predicted, generated.pitches),
        "real_round_trip_pitch_accuracy": float(np.mean(trip_predicted == real.pitches)),
        "pitch_accuracy_by_band": by_band,
        "num_real": len(real),
        "check": check_figures(synth, classifier),
    }
    files.atomic_write_json(work / "eval.json", result, indent=1)
    print(evaluation.to_markdown(with_paper=True), flush=True)
    print(
        f"step {result['step']}: real notes uncut PA {full_pa:.3f}; generated within 1 semitone {within1:.3f}",
        flush=True,
    )
    return result


#: The representations the ``ceiling`` stage compares (1.02 s notes at 16 kHz; (frames, bins), overlap):
#: the zoo model's own, the same pixel count with twice the frequency resolution, and the paper's 75 %
#: overlap at either frame length (twice the pixels).
CEILING_SETTINGS = (((32, 512), 0.5), ((16, 1024), 0.5), ((64, 512), 0.75), ((32, 1024), 0.75))
CEILING_RESULTS = "gansynth_representation"


def ceiling_stage(renders: pathlib.Path, models: pathlib.Path, results: pathlib.Path) -> dict:
    """How much pitch each representation of :data:`CEILING_SETTINGS` keeps: the held-out real notes
    encoded to its specgrams and decoded back (:func:`round_trip`), scored by the zoo's pitch classifier,
    overall and by octave. Writes ``results/gansynth_representation.{json,md}``, adds the shipped
    model's own row to its ``model.json`` and card, and returns the result."""
    import dataclasses

    from gansynth_tf.synthesize import GANSynthSynthesizer
    from tfmusic import files, zoo

    synth = GANSynthSynthesizer.from_model_dir(models / NAME / "run")
    classifier = zoo.load("pitch_classifier")
    real, _ = heldout_real(renders, synth)
    bands = pitch_bands(real.pitches)

    def scores(audio):
        hit = classifier.predict_pitches(audio) == real.pitches
        return {"all": float(hit.mean()), **{name: float(hit[band].mean()) for name, band in bands.items()}}

    own = synth.config.data.spectral
    rows = [{"setting": "not encoded", "scores": scores(real.audio)}]
    for shape, overlap in CEILING_SETTINGS:
        spectral = dataclasses.replace(own, spec_shape=shape, overlap=overlap)
        rows.append(
            {
                "setting": f"{shape[0]}x{shape[1]}, {100 * overlap:.0f} % overlap",
                "frame_length": spectral.frame_length,
                "frame_step": spectral.frame_step,
                "pixels": shape[0] * shape[1],
                "shipped_model": spectral == own,
                "scores": scores(round_trip(real.audio, spectral)),
            }
        )
    result = {
        "notes": len(real),
        "band_notes": {name: int(band.sum()) for name, band in bands.items()},
        "audio_length": own.audio_length,
        "rows": rows,
        "date": datetime.date.today().isoformat(),
        "command": "python bench/zoo/gansynth.py --stage ceiling",
    }
    files.atomic_write_json(results / f"{CEILING_RESULTS}.json", result, indent=1)
    files.atomic_write_text(results / f"{CEILING_RESULTS}.md", ceiling_markdown(result))
    print(ceiling_markdown(result), flush=True)

    mine = next((r for r in rows if r.get("shipped_model")), None)
    manifest_path = models / NAME / "model.json"
    if mine and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        for name, band in manifest["metrics"].get("pitch_accuracy_by_band", {}).items():
            band["real_round_trip"] = mine["scores"].get(name)
        manifest["metrics"]["real_round_trip_pitch_accuracy"] = mine["scores"]["all"]
        files.atomic_write_json(manifest_path, manifest, indent=1)
        files.atomic_write_text(models / NAME / "README.md", card(manifest))
    return result


def ceiling_markdown(result: dict) -> str:
    """``bench/results/gansynth_representation.md`` from :func:`ceiling_stage`'s result."""
    bands = list(result["band_notes"])
    lines = [
        "# GANSynth representations: how much pitch survives the specgrams",
        "",
        f"The {result['notes']} held-out acoustic notes of the zoo's renders (held-out instruments and the "
        f"held-out SoundFont; first {result['audio_length']:,} samples, 16 kHz) encoded to mel-IF specgrams and "
        "decoded back, then scored by the zoo's `pitch_classifier`: the pitch accuracy a perfect generator of "
        f"each representation could reach. `{result['command']}` ({result['date']}).",
        "",
        "| representation | frame / hop | pixels | all | " + " | ".join(f"MIDI {b}" for b in bands) + " |",
        "|---|---|---|---|" + "---|" * len(bands),
        "| notes in the band | | | "
        + f"{result['notes']} | "
        + " | ".join(str(result["band_notes"][b]) for b in bands)
        + " |",
    ]
    for r in result["rows"]:
        name = r["setting"] + (" (the shipped model's)" if r.get("shipped_model") else "")
        frame = f"{r['frame_length']} / {r['frame_step']}" if "frame_length" in r else "-"
        pixels = f"{r['pixels']:,}" if "pixels" in r else "-"
        lines.append(
            f"| {name} | {frame} | {pixels} | {100 * r['scores']['all']:.1f} % | "
            + " | ".join(f"{100 * r['scores'][b]:.1f} %" for b in bands)
            + " |"
        )
    lines.append("")
    return "\n".join(lines)


def _reusable_evaluation(work: pathlib.Path):
    """``eval.json`` when it scores the run's newest checkpoint (so ``--stage ship`` need not re-evaluate)."""
    import tensorflow as tf

    path, latest = work / "eval.json", tf.train.latest_checkpoint(str(work / "run"))
    if not path.is_file() or not latest:
        return None
    metrics = json.loads(path.read_text())
    return metrics if metrics.get("step") == int(latest.rsplit("-", 1)[1]) else None


def balanced_from(work: pathlib.Path, balanced_now: bool):
    """The step from which the run in ``work`` trained on pitch-balanced notes (0: from the start; None:
    never), from ``WORK/balance.json``; runs older than that record balanced from :data:`BALANCE_FROM`."""
    record = work / BALANCE_RECORD
    if record.is_file():
        return json.loads(record.read_text())["balance_from"]
    return BALANCE_FROM if balanced_now else None


def run_preset(run_dir: pathlib.Path) -> str:
    """The ``--preset`` the run in ``run_dir`` was started with (its ``run_flags.json``); runs from before
    that record were ``cpu_zoo``."""
    flags = run_dir / "run_flags.json"
    recorded = json.loads(flags.read_text()).get("--preset") if flags.is_file() else None
    return recorded or "cpu_zoo"


def export_generator(run_dir: pathlib.Path, out_dir: pathlib.Path) -> str:
    """Writes the run's moving-average generator alone (``generator_ema`` checkpoint item, the
    run's ``config.json`` and ``normalizer.json``) to ``out_dir``; returns the checkpoint prefix."""
    import tensorflow as tf

    from gansynth_tf.synthesize import GANSynthSynthesizer, _EMAWeights
    from tfmusic import config as config_lib

    synth = GANSynthSynthesizer.from_model_dir(run_dir)
    step = int(synth.checkpoint.rsplit("-", 1)[1])
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    ema = _EMAWeights(synth.generator)
    for avg, w in zip(ema.averages, synth.generator.weights):
        avg.assign(w)
    checkpoint = tf.train.Checkpoint(generator_ema=ema)
    checkpoint.save_counter.assign(1)  # created (and so written) as a run's checkpoints hold it
    prefix = checkpoint.write(str(out_dir / f"ckpt-{step}"))
    shutil.copy(run_dir / config_lib.CONFIG_FILENAME, out_dir / config_lib.CONFIG_FILENAME)
    shutil.copy(run_dir / "normalizer.json", out_dir / "normalizer.json")
    return prefix


def samples(synth, renders: pathlib.Path, out: pathlib.Path) -> dict:
    """Generated and real notes at :data:`SAMPLE_PITCHES` (wav + rainbowgram grid) and the study's
    default chorale line rendered with a fixed timbre (wav, pYIN pitch range against the MIDI's)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pretty_midi

    from case_study import study
    from gansynth_tf.synthesize import render_midi
    from music_eval import features_audio
    from tfmusic import audio as audio_lib
    from tfmusic import plotting

    out.mkdir(parents=True, exist_ok=True)
    real, _ = heldout_real(renders, synth)
    gen = generate_like(synth, SAMPLE_PITCHES, seed=0)
    rng = np.random.default_rng(0)
    real_rows = []
    for p in SAMPLE_PITCHES:
        idx = np.flatnonzero(real.pitches == p)
        real_rows.append(real.audio[rng.choice(idx)] if idx.size else np.zeros(64000, np.float32))
    n = synth.audio_length
    fig, axes = plt.subplots(2, len(SAMPLE_PITCHES), figsize=(2.4 * len(SAMPLE_PITCHES), 4.6), dpi=80)
    for col, p in enumerate(SAMPLE_PITCHES):
        for row, (label, wave) in enumerate((("generated", gen.audio[col]), ("real", real_rows[col]))):
            audio_lib.write_wav(str(out / f"{label}_pitch{p}.wav"), wave[:n], synth.sample_rate)
            logmag, ifreq, _ = plotting.stft_logmag_ifreq(wave[:n], frame_length=1024, frame_step=128)
            rgb = plotting.rainbowgram_rgb(logmag, ifreq)
            axes[row, col].imshow(rgb, origin="lower", aspect="auto")
            axes[row, col].set_title(f"{label}, MIDI {p}", fontsize=9)
            axes[row, col].set_xticks([])
            axes[row, col].set_yticks([])
    fig.suptitle(f"{NAME}: rainbowgrams (1.02 s, linear frequency 0-8 kHz); top: generated, bottom: held-out real")
    fig.tight_layout()
    fig.savefig(out / "rainbowgrams.png")
    plt.close(fig)

    primer = study.default_primer(out / "chorale.mid", 8.0)
    chorale = render_midi(synth, pretty_midi.PrettyMIDI(str(primer)), timbre="fixed", seed=0)
    audio_lib.write_wav(str(out / "chorale_fixed_timbre.wav"), chorale.audio, synth.sample_rate)
    # pYIN follows one voice: the pitch range is measured on the top line (the melody the study continues)
    line = study.top_line(primer, out / "chorale_line.mid")
    midi = pretty_midi.PrettyMIDI(str(line))
    rendering = render_midi(synth, midi, timbre="fixed", seed=0)
    audio_lib.write_wav(str(out / "chorale_line_fixed_timbre.wav"), rendering.audio, synth.sample_rate)
    feats = features_audio.audio_features(rendering.audio, synth.sample_rate)
    notes = sorted((nt for inst in midi.instruments for nt in inst.notes), key=lambda nt: nt.start)
    pitches = [nt.pitch for nt in notes]
    return {
        "midi": "the top line of bwv66.6's first 8 s (the study's default primer; the whole chorale is "
        "chorale_fixed_timbre.wav)",
        "midi_pitch_range": [min(pitches), max(pitches)],
        "audio_pitch_range": [round(float(feats.pitch_low), 1), round(float(feats.pitch_high), 1)],
        "note_pitches": line_note_pitches(rendering.audio, synth.sample_rate, midi, notes),
    }


def line_note_pitches(audio, sample_rate: int, midi, notes) -> dict:
    """pYIN's pitch of each note of a GANSynth rendering (``audio``) of the line ``midi`` (its ``notes``
    in time order) beside FluidSynth's rendering of the same line (TimGM6mb piano, the reference):
    ``{"midi": [...], "gansynth": [...], "fluidsynth": [...]}`` (MIDI numbers, one decimal, None where
    unvoiced) and each rendering's :func:`music_eval.features_audio.pitch_agreement` counts."""
    from music_eval import features_audio
    from music_eval.io import render_symbolic

    reference = render_symbolic(midi, sample_rate)
    out = {"midi": [int(nt.pitch) for nt in notes]}
    for name, wave in (("gansynth", audio), ("fluidsynth", reference)):
        est = features_audio.note_pitches(wave, sample_rate, notes)
        out[name] = [None if np.isnan(e) else round(float(e), 1) for e in est]
        out[f"{name}_agreement"] = features_audio.pitch_agreement(est, out["midi"])
    return out


def _note_pitch_sentence(check: dict) -> str:
    """The card's sentence on :func:`line_note_pitches`: how many notes pYIN hears at their MIDI pitch in
    each rendering, and which it hears elsewhere."""
    if not check:
        return ""
    parts = []
    for name, label in (("gansynth", "this model's rendering"), ("fluidsynth", "FluidSynth's piano")):
        a = check[f"{name}_agreement"]
        off = [
            f"MIDI {m} heard as {'unvoiced' if e is None else e}"
            for m, e in zip(check["midi"], check[name])
            if e is None or abs(e - m) > 1.0
        ]
        parts.append(
            f"{label} {a['within_semitone']} of {a['notes']} notes within a semitone of the MIDI"
            + (
                f" ({a['octave_low']} an octave low, {a['octave_high']} an octave high: {', '.join(off)})"
                if off
                else ""
            )
        )
    a = check["gansynth_agreement"]
    misread = a["octave_low"] + a["octave_high"]
    heard = [(m, e) for m, e in zip(check["midi"], check["gansynth"]) if e is not None]
    right = {m for m, e in heard if abs(e - m) <= 1.0}
    # every pitch pYIN misheard somewhere it also heard right elsewhere in the same timbre
    ambiguous = all(m in right for m, e in heard if abs(e - m) > 1.0)
    return (
        " Note by note (the median pYIN pitch of each note, `music_eval.features_audio.note_pitches`): "
        + "; ".join(parts)
        + "."
        + (
            f" A range beyond the MIDI's comes from these {misread} notes heard an octave away; notes of the same "
            "pitch elsewhere in the line are heard at their pitch (see the list above): an octave ambiguity of the "
            "tracker on these renderings, not a line played in another octave."
            if misread and ambiguous and a["within_semitone"] + misread == a["notes"]
            else ""
        )
    )


def ship_stage(work: pathlib.Path, renders: pathlib.Path, models: pathlib.Path, metrics: dict) -> None:
    """Weights, model.json, samples, card in ``models/<NAME>``."""
    from gansynth_tf.synthesize import GANSynthSynthesizer
    from tfmusic import config as config_lib
    from tfmusic import zoo

    folder = models / NAME
    export_generator(work / "run", folder / "run")
    synth = GANSynthSynthesizer.from_model_dir(folder / "run")
    check = check_figures(synth, zoo.load("pitch_classifier"))
    if abs(check["metrics"]["pitch_accuracy"] - metrics["check"]["metrics"]["pitch_accuracy"]) > 1e-9:
        raise SystemExit(f"exported generator disagrees with the run: {check} vs {metrics['check']}")
    cfg = config_lib.load_json(type(synth.config), work / "run" / config_lib.CONFIG_FILENAME)
    manifest = {
        "name": NAME,
        "family": "gansynth",
        "weights": "run",
        "description": "GANSynth (mel-IF, pitch-conditioned WGAN-GP) on acoustic notes rendered from three GM "
        "SoundFonts; 1.02 s notes, MIDI 24-84",
        "metrics": {
            "held_out": {r["set"]: r for r in metrics["rows"]},
            "real_full_length_pitch_accuracy": metrics["real_full_length_pitch_accuracy"],
            "generated_pitch_accuracy_within_1": metrics["generated_pitch_accuracy_within_1"],
            "generated_errors": metrics.get("generated_errors"),
            "real_round_trip_pitch_accuracy": metrics.get("real_round_trip_pitch_accuracy"),
            "pitch_accuracy_by_band": metrics.get("pitch_accuracy_by_band", {}),
        },
        "training": {
            "steps": metrics["step"],
            "seconds": round(common.WallClock.total(work / "train_time.json")),
            "hardware": common.hardware(),
            "preset": run_preset(work / "run"),
            "balance_from": balanced_from(work, cfg.data.balance_pitches),
            "config": config_lib.to_dict(cfg),
            "date": datetime.date.today().isoformat(),
        },
        "samples": samples(synth, renders, folder / "samples"),
        "check": check,
    }
    common.write_model(folder, manifest, card(manifest))


def refresh_samples(renders: pathlib.Path, models: pathlib.Path) -> None:
    """Makes the shipped model's ``samples/`` and card again from its own weights (``models/<NAME>/run``):
    ``model.json``'s ``samples`` entry is replaced, its weights, metrics and training record stay."""
    from gansynth_tf.synthesize import GANSynthSynthesizer

    folder = models / NAME
    manifest = json.loads((folder / "model.json").read_text())
    synth = GANSynthSynthesizer.from_model_dir(folder / "run")
    manifest["samples"] = samples(synth, renders, folder / "samples")
    common.write_model(folder, manifest, card(manifest))


#: The pitch accuracy a zoo GANSynth should reach (issue 12), on the held-out notes above.
PITCH_ACCURACY_GOAL = 0.80


def _errors_sentence(errors) -> str:
    """The card's sentence on how the wrong generated notes are wrong (:func:`error_intervals`), or ''."""
    if not errors or not errors["wrong"]:
        return ""
    share = {k: 100 * errors[k] / errors["wrong"] for k in ("octaves_below", "octaves_above", "semitone", "other")}
    return (
        f"Of the {errors['wrong']} generated notes named at another pitch, {share['octaves_below']:.0f} % are "
        f"whole octaves below the asked pitch, {share['octaves_above']:.0f} % whole octaves above, "
        f"{share['semitone']:.0f} % a semitone off and {share['other']:.0f} % elsewhere. "
    )


def _balance_sentence(balance_from) -> str:
    """The card's sentence on which steps saw pitch-balanced real notes (``balance_from``: a step, 0 or None)."""
    if balance_from is None:
        return ""
    if balance_from == 0:
        return (
            "Every step saw pitch-balanced real notes (`--set data.balance_pitches=true`; the renders hold 4.7x "
            "fewer notes at MIDI 24-35 than at 60-71), as the generator's pitches are. "
        )
    return (
        f"The first {balance_from:,} steps saw the renders' own pitch counts (4.7x fewer notes at MIDI 24-35 "
        "than at 60-71), the rest pitch-balanced real notes (`--set data.balance_pitches=true`), as the "
        "generator's pitches are. "
    )


def _band_lines(m: dict) -> list:
    """The card's per-octave pitch accuracy and the goal, as Markdown lines."""
    bands = m["metrics"].get("pitch_accuracy_by_band", {})
    pa = m["metrics"]["held_out"]["generated"]["pitch_accuracy"]
    verdict = "met" if pa >= PITCH_ACCURACY_GOAL else "**not met yet**"
    ceiling = m["metrics"].get("real_round_trip_pitch_accuracy")
    lines = [
        f"The zoo's goal is {100 * PITCH_ACCURACY_GOAL:.0f} % pitch accuracy on these notes: {verdict} "
        f"({100 * pa:.1f} %). By octave (MIDI):",
        "",
        "| MIDI | notes | generated | real (cut to 1.02 s) |"
        + (" real through the model's specgrams |" if ceiling is not None else ""),
        "|---|---|---|---|" + ("---|" if ceiling is not None else ""),
    ]
    lines += [
        f"| {band} | {b['notes']} | {100 * b['generated']:.1f} % | {100 * b['real']:.1f} % |"
        + (f" {100 * b['real_round_trip']:.1f} % |" if ceiling is not None else "")
        for band, b in bands.items()
    ]
    if ceiling is None:
        return [
            *lines,
            "",
            "Notes from MIDI 60 up come out at their pitch; below 48 most do not (the renders hold few low "
            "notes, and balancing them from step 12,000 on lifted the middle octaves more than the lowest).",
            "",
        ]
    low = [b for b in bands.values() if b["real_round_trip"] < 0.8]
    return [
        *lines,
        "",
        "The last column is the ceiling: the real notes encoded to this model's specgrams and decoded back "
        f"score {100 * ceiling:.1f} % in all"
        + (
            f", and below 80 % in {len(low)} octave{'s' if len(low) > 1 else ''} "
            f"(lowest {100 * min(b['real_round_trip'] for b in low):.1f} %): the specgrams lose the pitch of "
            "many low notes before any generator is involved."
            if low
            else "."
        )
        + f" `bench/results/{CEILING_RESULTS}.md` (`python bench/zoo/gansynth.py --stage ceiling`) compares "
        "other frame sizes and overlaps at the same note length.",
        "",
    ]


def card(m: dict) -> str:
    """The model card's Markdown from ``model.json``'s content."""
    t, h = m["training"], m["metrics"]["held_out"]
    real, gen, s = h["real"], h["generated"], m["samples"]
    cfg = t["config"]
    row = lambda name, r: (
        f"| {name} | {r['num_notes']} | {r['ndb']} (k={r['k']}) | {r['fid']:.1f} | "  # noqa: E731
        f"{r['inception_score']:.1f} | {100 * r['pitch_accuracy']:.1f} % | {r['pitch_entropy']:.3f} |"
    )
    return "\n".join(
        [
            f"# `{m['name']}`: GANSynth on multi-SoundFont notes",
            "",
            f"{m['description']}. Weights: the generator's moving average alone (`{m['weights']}/`: `config.json`, "
            "`normalizer.json`, one checkpoint), read by `gansynth_generate --model_dir " + m["name"] + "`, "
            f"`tfmusic.zoo.load('{m['name']}')` and `GANSynthSynthesizer.from_model_dir`. "
            "It is the default of `gansynth_generate`, `tfmusic_study` and the demo.",
            "",
            "```",
            f"gansynth_generate notes --model_dir {m['name']} --pitches 48,60,72 --output_dir notes/",
            f"gansynth_generate midi --model_dir {m['name']} --midi_file line.mid --output_dir out/",
            "```",
            "",
            "## Data and split",
            "",
            "The pitch classifier's renders (`bench/zoo/pitch_classifier.py`, see its card): `nsynth_render` from "
            "FluidR3, Csound's GM bank and MuseScore General for training (each SoundFont x program is one "
            "instrument), 15 % of those instruments held out, and pretty_midi's TimGM6mb held out entirely. "
            "GANSynth trains on the **acoustic** notes of the training split, as the paper trains on NSynth's "
            "acoustic subset, pitches 24-84.",
            "",
            "## Training",
            "",
            f"`gansynth_train --preset {t['preset']}`: the first {cfg['data']['spectral']['audio_length']:,} samples "
            f"(1.02 s) of each note as {cfg['data']['spectral']['spec_shape'][0]}x{cfg['data']['spectral']['spec_shape'][1]}"
            f" mel-IF specgrams ({2 * cfg['data']['spectral']['spec_shape'][1]}-sample frames, "
            f"{100 * cfg['data']['spectral']['overlap']:.0f} % overlap), {cfg['model']['num_resolutions']} resolutions from "
            f"{cfg['model']['start_shape'][0]}x{cfg['model']['start_shape'][1]}, at most {cfg['model']['fmap_max']} "
            f"channels, latent {cfg['model']['latent_size']}, not progressive, batch {cfg['trainer']['global_batch_size']}, "
            f"Adam lr {cfg['model']['generator_learning_rate']:g}, gradient penalty on the "
            f"{cfg['model']['gradient_penalty_space']} input, generator EMA {cfg['model']['generator_ema_decay']}. "
            + _balance_sentence(t.get("balance_from", BALANCE_FROM) if cfg["data"].get("balance_pitches") else None)
            + f"{t['steps']:,} steps in {t['seconds'] / 3600:.1f} h on {t['hardware']} ({t['date']}; the "
            "two shared with other jobs). Retrain (resumable; `make zoo-deps` first for the SoundFonts):",
            "",
            "```",
            f".venv/bin/python bench/zoo/gansynth.py --stage all --steps {t['steps']} "
            f"--balance_from {t.get('balance_from') or 0}"
            + (" --set data.balance_pitches=true" if t.get("balance_from") == 0 else "")
            + (f" --preset {t['preset']}" if t["preset"] != PRESET else ""),
            "```",
            "",
            "## Held-out figures (GANSynth's Table 1)",
            "",
            f"Against the {real['num_notes']} held-out acoustic notes (held-out instruments and the held-out SoundFont), "
            "one generated note per real note at the same pitch (seeded latents); both cut to the model's 1.02 s, "
            "scored by the zoo's `pitch_classifier` (`music_eval gan`'s code; the real row's NDB and FID compare "
            "two halves of the real notes):",
            "",
            "| set | notes | NDB | FID | IS | pitch accuracy | pitch entropy |",
            "|---|---|---|---|---|---|---|",
            row("held-out real", real),
            row("generated", gen),
            "| paper: real NSynth | | 2.2 (k=50) | 13.0 | 47.1 | 98.2 % | 0.220 |",
            "| paper: IF-Mel + H | | 29.3 (k=50) | 167.0 | 38.1 | 97.9 % | 0.400 |",
            "",
            f"Generated notes within one semitone: {100 * m['metrics']['generated_pitch_accuracy_within_1']:.1f} %. "
            + _errors_sentence(m["metrics"].get("generated_errors"))
            + f"The real notes uncut (4 s) score {100 * m['metrics']['real_full_length_pitch_accuracy']:.1f} %. "
            "The paper's rows are on NSynth with its own classifier: a sense of scale only.",
            "",
            *_band_lines(m),
            "## Samples",
            "",
            "![rainbowgrams](samples/rainbowgrams.png)",
            "",
            f"`samples/` holds the notes above (wav) and {s['midi']} rendered with one fixed timbre: "
            f"MIDI pitch range {s['midi_pitch_range'][0]}-{s['midi_pitch_range'][1]}, pYIN range of the rendering "
            f"{s['audio_pitch_range'][0]}-{s['audio_pitch_range'][1]}." + _note_pitch_sentence(s.get("note_pitches")),
            "",
        ]
    )


def main(argv=None) -> int:
    parser = common.zoo_parser(__doc__, "/tmp/zoo/gansynth")
    parser.add_argument(
        "--renders",
        default="/tmp/zoo/pitch_classifier/data",
        help="the multi-SoundFont renders (the pitch classifier's; rendered when missing)",
    )
    parser.add_argument("--steps", type=int, default=12000, help="total training steps")
    parser.add_argument(
        "--stage",
        choices=("all", "data", "train", "evaluate", "ship", "check", "ceiling", "samples"),
        default="all",
        help="check: only the card's quick figures (31 check notes) of the newest checkpoint; ceiling: the "
        "pitch accuracy of real notes through each representation of CEILING_SETTINGS (bench/results/"
        f"{CEILING_RESULTS}.md, and the shipped model's card)",
    )
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results"), help="where 'ceiling' writes")
    parser.add_argument(
        "--balance_from",
        type=int,
        default=BALANCE_FROM,
        help="from this step on, train on pitch-balanced real notes (0: never)",
    )
    parser.add_argument(
        "--preset",
        default=PRESET,
        help=f"gansynth_train preset of a new run (default {PRESET}: 16x1024; cpu_zoo: 32x512)",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra training overrides")
    args = parser.parse_args(argv)
    work, renders = pathlib.Path(args.work), pathlib.Path(args.renders)
    work.mkdir(parents=True, exist_ok=True)
    if args.stage == "check":
        from gansynth_tf.synthesize import GANSynthSynthesizer
        from tfmusic import zoo

        synth = GANSynthSynthesizer.from_model_dir(work / "run")
        print(synth.checkpoint, json.dumps(check_figures(synth, zoo.load("pitch_classifier"))["metrics"]))
        return 0
    if args.stage == "samples":
        refresh_samples(renders, pathlib.Path(args.models))
        return 0
    if args.stage in ("all", "data", "ceiling"):
        data_stage(renders)
    if args.stage == "ceiling":
        ceiling_stage(renders, pathlib.Path(args.models), pathlib.Path(args.results))
        return 0
    if args.stage in ("all", "train"):
        train_stage(work, renders, args.steps, args.overrides, args.balance_from, args.preset)
    if args.stage in ("all", "evaluate", "ship"):
        metrics = _reusable_evaluation(work) if args.stage == "ship" else None
        metrics = metrics or evaluate_stage(work, renders)
    if args.stage in ("all", "ship"):
        ship_stage(work, renders, pathlib.Path(args.models), metrics)
    return 0


if __name__ == "__main__":
    sys.exit(main())
