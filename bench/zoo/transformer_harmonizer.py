"""Trains, evaluates and ships the zoo's melody-conditioned Music Transformer (``transformer_harmonizer``):
given a melody (a soprano line), it plays the whole piece around it, on music21's Bach.

Usage (from the repository root; resumable: run it again after a stop and it goes on)::

    .venv/bin/python bench/zoo/transformer_harmonizer.py [--work /tmp/zoo/transformer_harmonizer] [--steps 3000]

Stages (``--stage``; ``all`` runs them in order):

1. ``data``: the Bach works of music21's corpus (the file list of ``transformer_chorales``) ->
   ``convert_dir_to_note_sequences`` -> ``music_transformer_create_dataset --problem melody_conditioned``
   (score2perf's melody-conditioned datagen: 5-30 s segments, their melody inferred by note-seq's
   melody HMM as 92-id inputs at 10 steps/s, the whole performance as 310-id targets truncated to 384
   events with EOS; augmentation: transpositions -3..+3; 90 % / 10 % train / eval by score2perf's
   hash of the sequence id, the split of ``transformer_chorales``), then a sanity check of the
   examples (inputs present, the melody is the targets' top line).
2. ``train``: ``music_transformer_train`` from scratch: an encoder-decoder (3 encoder and 3 decoder
   layers, hidden 192, filter 512, 8 heads) with relative attention in the decoder's self-attention
   (192 relative positions), no dropout, batch 8, t2t's learning-rate schedule; resumable,
   ``--set trainer.max_minutes=M`` trains in time slices.
3. ``evaluate``: NLL per event and accuracy on the eval split (``music_transformer_ext.task.evaluate``,
   as ``transformer_chorales``) beside a unigram baseline; the study's default primer (bwv66.6, first
   8 s): its top line (``case_study.study.top_line``) accompanied as ``tfmusic_study`` does, and the
   accompaniment's key, in-scale share and pitch range against the primer's key.
4. ``ship``: the weights as a tensor2tensor-named checkpoint in ``models/transformer_harmonizer/t2t/``
   (what ``tfmusic_study``'s accompaniment, ``music_transformer_generate --model_dir`` and
   ``tfmusic.zoo.load`` read; no optimizer state), ``model.json``, the accompaniment of the primer's
   top line (MIDI, wav, piano roll) and the model card.

``--max_files N`` (with ``--work`` somewhere scratch) runs every stage on a handful of files, for a
quick end-to-end check.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import common  # noqa: E402  (bench/zoo/common.py: also puts the repository on sys.path)
import music_transformer as chorales  # noqa: E402  (bench/zoo/music_transformer.py: the same Bach files)

REPO_ROOT = common.REPO_ROOT

NAME = "transformer_harmonizer"
MAX_LENGTH = 384  # target events per example (segments are truncated to it); 320 events accompany 8 s
INPUT_LENGTH = 320  # melody steps per example: a 30 s segment is 300 steps
SPLIT = "train=0.9,eval=0.1"  # as transformer_chorales
# Augmentation: score2perf's transpositions (-3..+3), one cutting per piece and no time stretches, so
# that the hour's training (~7,000 examples) goes once through most pieces instead of through 35
# variants of a few (the shards hold records in piece order).
NUM_REPLICATIONS = 1
STRETCH_FACTORS = "1.0"
NUM_SHARDS = 16
MODEL_OVERRIDES = (
    f"data.sequence_length={MAX_LENGTH}",
    f"data.input_length={INPUT_LENGTH}",
    "model.encoder_layers=3",
    "model.num_layers=3",
    "model.hidden_size=192",
    "model.filter_size=512",
    "model.num_heads=8",
    "model.attention_key_channels=0",
    f"model.max_relative_position={MAX_LENGTH // 2}",
    "model.max_length=1024",
    "model.layer_prepostprocess_dropout=0.0",
    "model.attention_dropout=0.0",
    "model.relu_dropout=0.0",
    "trainer.global_batch_size=8",
    "optimizer.learning_rate_constant=0.8",
    "optimizer.warmup_steps=250",
)
PRIMER_SECONDS = 8.0
EXTRA_SEEDS = (1, 2, 3)  # the primer check's other samples (seed 0 is the study's and the card's)
# the key control: the same top line transposed (semitones), accompanied with seeds 0 and 1
CONTROL_SHIFTS = (3, -4)
CONTROL_SEEDS = (0, 1)


def _files(max_files: int):
    """The Bach files (all, or ``max_files`` of them with at least one of each split)."""
    files = chorales._bach_files()
    if not max_files:
        return files
    from music_transformer_ext import data
    from pipelines import note_sequences

    config = data.melody_conditioned_config(split_fractions=_split_fractions())
    by_split = {"train": [], "eval": []}
    for path in files:
        ns_id = note_sequences.note_sequence_id(os.path.basename(path), "bach", "musicxml")
        by_split[data.assign_split(ns_id, config.split_fractions)].append(path)
    n_eval = max(1, max_files // 5)
    return sorted(by_split["train"][: max_files - n_eval] + by_split["eval"][:n_eval])


def _split_fractions():
    return tuple((name, float(value)) for name, value in (item.split("=") for item in SPLIT.split(",")))


def data_stage(work: pathlib.Path, max_files: int = 0) -> dict:
    """NoteSequences and melody-conditioned tf.Example shards of the Bach corpus under ``work``; returns the
    dataset summary with the sanity check of the examples under ``"sanity"``."""
    from music_transformer_ext import create_dataset_cli, data
    from tfmusic import files

    summary_path = work / "dataset" / data.SUMMARY_NAME
    if not summary_path.exists():
        ns_file = common.note_sequences_of(_files(max_files), work)
        if create_dataset_cli.main(
            [
                "--input",
                str(ns_file),
                "--output_dir",
                str(work / "dataset"),
                "--problem",
                "melody_conditioned",
                "--max_length",
                str(MAX_LENGTH),
                "--num_replications",
                str(NUM_REPLICATIONS),
                "--stretch_factors",
                STRETCH_FACTORS,
                "--num_shards",
                str(NUM_SHARDS),
                "--split_fractions",
                SPLIT,
                "--no_progress",
            ]
        ):
            raise SystemExit("music_transformer_create_dataset failed")
    sanity_path = work / "sanity.json"
    if not sanity_path.exists():
        sanity = {split: data_sanity(work / "dataset", split) for split in ("train", "eval")}
        sanity["tempi"] = tempo_counts(work / "ns" / "bach.tfrecord")
        files.atomic_write_json(sanity_path, sanity)
    sanity = json.loads(sanity_path.read_text())
    print("data sanity", json.dumps(sanity), flush=True)
    for split in ("train", "eval"):
        s = sanity[split]
        if s["examples"] == 0 or s["empty_inputs"] or s["top_line_agreement"] < 0.8:
            raise SystemExit(f"the {split} examples are not sane: {s}")
    return {**json.loads(summary_path.read_text()), "sanity": sanity}


def _records(pattern: str, limit: int = 0):
    """The examples (``{"targets", "inputs"}`` lists) of the shards matching ``pattern``, in order
    (the first ``limit`` only, if given)."""
    import tensorflow as tf

    from music_transformer_ext import data
    from pipelines import tfrecord_io

    records = tf.data.TFRecordDataset(tfrecord_io.list_files(pattern))
    for record in records.take(limit) if limit else records:
        yield data.parse_example(record.numpy())


def tempo_counts(path: pathlib.Path) -> dict:
    """``{"120": pieces, ...}``: the tempi (quarter notes per minute) the NoteSequences are read at
    ("mixed" for pieces with several)."""
    import collections

    import note_seq
    import tensorflow as tf

    counts = collections.Counter()
    for record in tf.data.TFRecordDataset(str(path)):
        qpms = {f"{t.qpm:g}" for t in note_seq.NoteSequence.FromString(record.numpy()).tempos} or {"120"}
        counts[qpms.pop() if len(qpms) == 1 else "mixed"] += 1
    return dict(counts.most_common())


def top_line_agreement(inputs, targets) -> tuple:
    """``(agreeing, compared)`` melody steps: steps where the melody (``inputs``, 10 steps/s) sounds a
    pitch, within the span the targets cover, and how many of them have that pitch as the highest
    pitch sounding in the performance (``targets``, its notes rounded to the melody's steps) at that step."""
    import numpy as np

    from music_transformer_ext import encoding

    mel = encoding.MelodyEncoder()
    events = mel.decode_events(inputs)
    ns = encoding.PerformanceEncoder().decode_to_note_sequence(targets)
    fps = mel.steps_per_second
    frames = min(len(events), int(ns.total_time * fps))
    top = np.full(frames, -1)
    for note in ns.notes:
        a, b = int(round(note.start_time * fps)), int(round(note.end_time * fps))
        top[a : min(b, frames)] = np.maximum(top[a : min(b, frames)], note.pitch)
    agree = compared = 0
    pitch = None
    for step, e in enumerate(events[:frames]):
        pitch = None if e == -1 else (e if e >= 0 else pitch)
        if pitch is not None and top[step] >= 0:
            compared += 1
            agree += int(top[step] == pitch)
    return agree, compared


def data_sanity(dataset: pathlib.Path, split: str, limit: int = 300) -> dict:
    """Counts over the first ``limit`` examples of ``split``: inputs and targets lengths, empty
    inputs, and the share of melody steps whose pitch is the performance's top line."""
    from music_transformer_ext import data

    n = empty = inputs_len = targets_len = agree = compared = 0
    for example in _records(data.split_file_pattern(str(dataset), split), limit):
        n += 1
        inputs, targets = example.get("inputs", []), example["targets"]
        empty += int(not inputs)
        inputs_len += len(inputs)
        targets_len += len(targets)
        if inputs:
            a, c = top_line_agreement(inputs, targets)
            agree, compared = agree + a, compared + c
    return {
        "examples": n,
        "empty_inputs": empty,
        "mean_inputs_length": inputs_len / max(n, 1),
        "mean_targets_length": targets_len / max(n, 1),
        "top_line_agreement": agree / max(compared, 1),
        "melody_steps_compared": compared,
    }


def start_from_shipped(work: pathlib.Path, models: pathlib.Path) -> dict:
    """Makes a new run in ``work`` continue the shipped model (``models/<NAME>/t2t``) when its own run
    folder is gone: copies the checkpoint to ``work/warm_start_t2t`` (shipping overwrites the original)
    and records its steps and wall time in ``work/warm_start.json``. The run then starts from those
    weights (Adam's moments and t2t's learning-rate schedule afresh) and counts its steps on top. A run
    folder that exists resumes from its own checkpoint instead. Returns the record; raises
    ``SystemExit`` when nothing is shipped."""
    if (work / "run" / "config.json").exists():
        print(f"{work / 'run'} exists: resuming it (--from_shipped only starts new runs)", flush=True)
        return common.warm_start_record(work)
    shipped = models / NAME
    if not (shipped / "t2t" / "checkpoint").is_file() or not (shipped / "model.json").is_file():
        raise SystemExit(f"--from_shipped: no shipped model in {shipped} (t2t/ and model.json)")
    shutil.rmtree(work / "warm_start_t2t", ignore_errors=True)
    shutil.copytree(shipped / "t2t", work / "warm_start_t2t")
    return common.record_warm_start(work, shipped)


def train_stage(work: pathlib.Path, steps: int, overrides) -> None:
    """``music_transformer_train`` on the train split until the model has trained ``steps`` steps in all:
    from scratch, or on top of the shipped model's steps after :func:`start_from_shipped` (resumes a
    stopped run either way)."""
    base = common.warm_start_record(work).get("steps", 0)
    if steps <= base:
        raise SystemExit(f"--steps {steps}: the run continues a model of {base} steps; ask for more")
    init = str(work / "warm_start_t2t") if base else ""
    common.train_transformer(
        work, steps - base, (*MODEL_OVERRIDES, *overrides), checkpoint_every=100, init_checkpoint=init
    )


def unigram_baseline(work: pathlib.Path, limit: int = 20000) -> float:
    """NLL per event (nats) on the eval split of the targets' unigram distribution in the train split
    (add-one smoothed; from the first ``limit`` train examples): what a model that ignores context scores."""
    import numpy as np

    from music_transformer_ext import data, encoding

    counts = np.ones(encoding.PERFORMANCE_VOCAB_SIZE)
    for example in _records(data.split_file_pattern(str(work / "dataset"), "train"), limit):
        counts += np.bincount(np.asarray(example["targets"][:MAX_LENGTH]), minlength=len(counts))
    counts[encoding.PAD_ID] = 0
    log_p = np.log(counts / counts.sum(), where=counts > 0, out=np.full(len(counts), -np.inf))
    nll = tokens = 0.0
    for example in _records(data.split_file_pattern(str(work / "dataset"), "eval")):
        ids = np.asarray(example["targets"][:MAX_LENGTH])
        nll -= log_p[ids].sum()
        tokens += len(ids)
    return float(nll / max(tokens, 1))


def evaluate_stage(work: pathlib.Path) -> dict:
    """NLL per event and accuracy of the newest checkpoint on the eval split, the unigram baseline,
    and the primer check (from the run folder)."""
    from music_transformer_ext import data, generate_cli
    from music_transformer_ext import task as task_lib

    model = generate_cli.load_model(str(work / "run"))
    batches = data.make_dataset(
        data.split_file_pattern(str(work / "dataset"), "eval"),
        MAX_LENGTH,
        8,
        has_inputs=True,
        max_input_length=INPUT_LENGTH,
    )
    metrics = {k: float(v) for k, v in task_lib.evaluate(model, batches, jit_compile=False).items()}
    metrics["unigram_nll_per_token"] = unigram_baseline(work)
    print("eval", metrics, flush=True)
    primer = primer_check(["--model_dir", str(work / "run")], work / "primer_check")
    print("primer check", json.dumps(primer), flush=True)
    return {"held_out": metrics, "primer_check": primer}


def check_sample(model, count: int = 4) -> dict:
    """Eval metrics on the first ``count`` held-out Bach files (the tests re-evaluate them)."""
    from music_transformer_ext import data, evaluation

    config = data.melody_conditioned_config(split_fractions=_split_fractions())
    names, sequences = chorales.held_out_bach(config.split_fractions, count)
    metrics = evaluation.evaluate_note_sequences(model, sequences, MAX_LENGTH)
    return {"files": names, "max_length": MAX_LENGTH, "metrics": metrics}


def _accompany(source, melody: pathlib.Path, out: pathlib.Path, seed: int, xla: bool) -> pathlib.Path:
    """``music_transformer_generate`` with the arguments ``tfmusic_study`` gives it (one output,
    temperature 1, the melody's default length) -> the MIDI file written as ``out``."""
    from music_transformer_ext import generate_cli

    tmp = out.with_suffix(".tmp")
    argv = [*source, "--melody_midi", str(melody), "--output_dir", str(tmp), "--num_outputs", "1"]
    argv += ["--temperature", "1.0", "--seed", str(seed)] + ([] if xla else ["--no_xla"])
    if generate_cli.main(argv):
        raise SystemExit("music_transformer_generate failed")
    shutil.move(str(sorted(tmp.glob("*.mid"))[0]), out)
    shutil.rmtree(tmp)
    return out


def melody_kept(melody, midi, tolerance: float = 0.1) -> float:
    """Share of the melody's notes (``pretty_midi`` objects) that ``midi`` plays: same pitch, onset
    within ``tolerance`` seconds."""
    played = [(n.pitch, n.start) for i in midi.instruments for n in i.notes]
    notes = [n for i in melody.instruments for n in i.notes]
    hits = sum(any(p == n.pitch and abs(t - n.start) <= tolerance for p, t in played) for n in notes)
    return hits / max(len(notes), 1)


def describe(primer_midi, melody_midi, midi) -> dict:
    """Key check of an accompaniment against its primer, its pitch range, size and the melody kept."""
    pitches = [n.pitch for i in midi.instruments for n in i.notes]
    return {
        **common.key_check(primer_midi, midi),
        "pitch_range": [min(pitches), max(pitches)] if pitches else [],
        "notes": len(pitches),
        "seconds": round(midi.get_end_time(), 2),
        "melody_kept": melody_kept(melody_midi, midi),
    }


def transposed(midi, shift: int):
    """A copy of a one-line ``pretty_midi`` melody ``shift`` semitones up (same tempo and times)."""
    import pretty_midi

    out = pretty_midi.PrettyMIDI(initial_tempo=float(midi.get_tempo_changes()[1][0]))
    inst = pretty_midi.Instrument(program=0, name="melody")
    inst.notes = [
        pretty_midi.Note(n.velocity, n.pitch + shift, n.start, n.end) for i in midi.instruments for n in i.notes
    ]
    out.instruments.append(inst)
    return out


def key_control(source, melody: pathlib.Path, out_dir: pathlib.Path) -> list:
    """Does the accompaniment follow the melody's key? The top line transposed by each of
    :data:`CONTROL_SHIFTS` and accompanied (:data:`CONTROL_SEEDS`): the share of each accompaniment's note
    time in the transposed melody's scale (``in_melody_scale``) and in the untransposed one's (``in_original_scale``)."""
    import pretty_midi

    from music_eval import features_symbolic, theory

    original = pretty_midi.PrettyMIDI(str(melody))
    original_key = theory.estimate_key(features_symbolic.pitch_class_histogram(original))
    rows = []
    for shift in CONTROL_SHIFTS:
        line = transposed(original, shift)
        path = out_dir / f"primer_top_line_{shift:+d}.mid"
        line.write(str(path))
        key = theory.estimate_key(features_symbolic.pitch_class_histogram(line))
        for seed in CONTROL_SEEDS:
            out = _accompany(source, path, out_dir / f"accompanied_{shift:+d}_seed{seed}.mid", seed, xla=False)
            histogram = features_symbolic.pitch_class_histogram(pretty_midi.PrettyMIDI(str(out)))
            rows.append(
                {
                    "shift": shift,
                    "seed": seed,
                    "melody_key": key.name,
                    "piece_key": theory.estimate_key(histogram).name,
                    "in_melody_scale": theory.in_scale_share(histogram, key),
                    "in_original_scale": theory.in_scale_share(histogram, original_key),
                }
            )
    return rows


def primer_check(source, out_dir: pathlib.Path) -> dict:
    """The study's default primer (bwv66.6, first 8 s): its top line accompanied with seed 0 (as the
    study does) and with :data:`EXTRA_SEEDS`; key of each accompaniment against the primer's key; and
    the key control (:func:`key_control`)."""
    import pretty_midi

    from case_study import study
    from music_eval import features_symbolic, theory

    out_dir.mkdir(parents=True, exist_ok=True)
    primer = study.default_primer(out_dir / "primer_bwv66.6.mid", PRIMER_SECONDS)
    melody = study.top_line(primer, out_dir / "primer_top_line.mid")
    primer_midi, melody_midi = pretty_midi.PrettyMIDI(str(primer)), pretty_midi.PrettyMIDI(str(melody))
    melody_key = theory.estimate_key(features_symbolic.pitch_class_histogram(melody_midi))
    results = []
    for seed in (0, *EXTRA_SEEDS):
        path = _accompany(source, melody, out_dir / f"bwv66.6_accompanied_seed{seed}.mid", seed, xla=seed == 0)
        results.append({"seed": seed, **describe(primer_midi, melody_midi, pretty_midi.PrettyMIDI(str(path)))})
    return {
        "primer": f"bwv66.6 first {PRIMER_SECONDS:g} s",
        "melody_key": melody_key.name,
        "melody_tempo": float(melody_midi.get_tempo_changes()[1][0]),
        "samples": results,
        "key_kept": sum(r["key_score"] == 1.0 for r in results),
        "key_control": key_control(source, melody, out_dir),
    }


def ship_stage(work: pathlib.Path, models: pathlib.Path, summary: dict, evaluation: dict) -> None:
    """The t2t checkpoint, model.json, samples and card in ``models/<NAME>``."""

    folder = models / NAME
    t2t_dir = folder / "t2t"
    own_steps, model = common.export_t2t(work, t2t_dir)
    warm = common.warm_start_record(work)
    steps = warm.get("steps", 0) + own_steps
    if not model.config.conditioned:
        raise SystemExit(f"{t2t_dir}: the exported checkpoint reads back without its encoder")

    samples = folder / "samples"
    shutil.rmtree(samples, ignore_errors=True)
    samples.mkdir(parents=True)
    # seed 0 again from the shipped weights, as the study runs it
    shipped = primer_check_seed0(["--model_dir", str(t2t_dir)], samples)
    midi_path = samples / "bwv66.6_accompanied.mid"
    common.render_sample(midi_path, f"{NAME}: bwv66.6's top line (first {PRIMER_SECONDS:g} s) accompanied (seed 0)")
    check = evaluation["primer_check"]
    if shipped != {k: check["samples"][0][k] for k in shipped}:
        print(f"note: the shipped weights' sample differs from the run's: {shipped} vs {check['samples'][0]}")
    manifest = {
        "name": NAME,
        "family": "music_transformer",
        "weights": "t2t",
        "description": "melody-conditioned Music Transformer (encoder-decoder, relative attention) trained to "
        "write the whole piano performance around a given melody, on music21's Bach corpus",
        "metrics": {"held_out": evaluation["held_out"]},
        "training": common.training_record(
            work,
            steps,
            earlier_seconds=warm.get("seconds", 0),
            overrides=list(MODEL_OVERRIDES),
            **({"warm_start": warm} if warm else {}),
        ),
        "data": {"counts": summary.get("counts", {}), "sanity": summary.get("sanity", {})},
        "samples": [{**check, "shipped_seed0": shipped}],
        "check": check_sample(model),
    }
    common.write_model(folder, manifest, card(manifest))


def primer_check_seed0(source, samples: pathlib.Path) -> dict:
    """The card's sample: the primer's top line accompanied with seed 0 from ``source``, into ``samples``."""
    import pretty_midi

    from case_study import study

    primer = study.default_primer(samples / "primer_bwv66.6.mid", PRIMER_SECONDS)
    melody = study.top_line(primer, samples / "primer_top_line.mid")
    path = _accompany(source, melody, samples / "bwv66.6_accompanied.mid", 0, xla=True)
    return describe(
        pretty_midi.PrettyMIDI(str(primer)), pretty_midi.PrettyMIDI(str(melody)), pretty_midi.PrettyMIDI(str(path))
    )


def _warm_start_lines(training: dict) -> list:
    """The card's paragraph on a run that went on from the shipped model (``--from_shipped``), if it did."""
    return common.warm_start_lines(
        training,
        "a new run started from those shipped weights (`--from_shipped`: Adam's moments and t2t's learning-rate warm-up afresh)",
    )


def card(m: dict) -> str:
    """The model card's Markdown from ``model.json``'s content."""
    t, h, s = m["training"], m["metrics"]["held_out"], m["samples"][0]
    counts, sanity = m["data"]["counts"], m["data"]["sanity"]
    first = s["samples"][0]
    kept = s["key_kept"]
    n = len(s["samples"])
    others = ", ".join(
        f"seed {r['seed']}: {r['piece_key']} ({r['key_score']:.1f}, in scale {r['in_scale_share']:.2f})"
        for r in s["samples"][1:]
    )
    better = h["unigram_nll_per_token"] - h["nll_per_token"]
    control = s["key_control"]
    shifts = sorted({r["shift"] for r in control}, key=lambda x: -x)
    return "\n".join(
        [
            f"# `{m['name']}`: melody-conditioned Music Transformer on Bach",
            "",
            f"A {m['description']}: trained as Magenta's `melody_conditioned_model_16` is (score2perf's "
            "melody-conditioned problem), at toy scale; what it does so far is below. Weights: a "
            f"tensor2tensor-named checkpoint (`{m['weights']}/`, weights only), read by "
            f"`music_transformer_generate --model_dir {m['name']}` (or `--checkpoint`), "
            f"`tfmusic.zoo.load('{m['name']}')` and tensor2tensor itself; `tfmusic_study` uses it for its "
            "accompaniment of the primer's top line.",
            "",
            "```",
            f"music_transformer_generate --model_dir {m['name']} --melody_midi melody.mid --output_dir out/",
            "```",
            "",
            "## Data and split",
            "",
            "Every Bach work in music21's pip-installed corpus (MusicXML; mostly the chorales: the files of "
            "`transformer_chorales`), through `convert_dir_to_note_sequences` and "
            "`music_transformer_create_dataset --problem melody_conditioned` (score2perf's melody-conditioned "
            "datagen: each piece cut at random into 5-30 s segments; the melody of each segment inferred by "
            "note-seq's melody HMM and encoded as 92 ids at 10 steps/s (the inputs); the whole segment as "
            f"score2perf's 310-id performance with EOS, truncated to {MAX_LENGTH} events (the targets); "
            "augmentation: transpositions -3..+3). score2perf also stretches time (0.95-1.05) and cuts each "
            f"training piece 10 times; here one cutting ({NUM_REPLICATIONS}) and no stretch, so that the "
            "hour's training goes once through most pieces rather than through 35 variants of a few. Split "
            "90 / 10 by score2perf's md5 hash of the NoteSequence id: the split of `transformer_chorales`. "
            f"Dataset counts: `{json.dumps(counts)}`.",
            "",
            f"Sanity check of the examples (first {sanity['train']['examples']} train and "
            f"{sanity['eval']['examples']} eval): no empty inputs ({sanity['train']['empty_inputs']} / "
            f"{sanity['eval']['empty_inputs']}); the inferred melody is the performance's top line at "
            f"{100 * sanity['train']['top_line_agreement']:.1f} % / {100 * sanity['eval']['top_line_agreement']:.1f} % "
            "of its sounding steps (the soprano, as it should be); mean lengths "
            f"{sanity['eval']['mean_inputs_length']:.0f} melody steps and "
            f"{sanity['eval']['mean_targets_length']:.0f} events per eval example.",
            "",
            "## Training",
            "",
            f"From scratch: `score2perf_relative` with {', '.join(t['overrides'])} (relative attention in the "
            f"decoder's self-attention, as score2perf's models; the encoder and the encoder-decoder attention "
            f"use plain dot-product attention). {t['steps']} steps in {t['seconds'] / 60:.0f} min on "
            f"{t['hardware']} ({t['date']}), shared with other training. Retrain (resumable):",
            "",
            "```",
            f".venv/bin/python bench/zoo/transformer_harmonizer.py --stage all --steps {t['steps']}",
            "```",
            "",
            "(`make zoo-harmonizer` runs the same to 3,000 steps; add `--set trainer.max_minutes=M` to train in "
            "time slices: each rerun resumes from the newest checkpoint.)",
            *_warm_start_lines(t),
            "",
            "## Held-out figures",
            "",
            f"Eval split: NLL {h['nll_per_token']:.3f} nats per event, accuracy {h['accuracy']:.3f} over "
            f"{h['tokens']:.0f} events; the unigram distribution of the training targets scores "
            f"{h['unigram_nll_per_token']:.3f}, so the model is {better:.2f} nats per event better than "
            "ignoring context. (`transformer_chorales`, unconditioned, has its own figure on its own 512-event "
            "crops; the two are not the same examples.)",
            "",
            "## Sample and primer check",
            "",
            f"The study's default primer ({s['primer']}, {first['primer_key']}): its top line "
            f"(`case_study.study.top_line`, at {s['melody_tempo']:g} quarter notes per minute; alone it reads as "
            f"{s['melody_key']}) accompanied as `tfmusic_study` does it (temperature 1, seed 0, 40 events per "
            f"second of melody): key of the accompaniment {first['piece_key']} (key score "
            f"{first['key_score']:.1f} against the primer's key), {100 * first['in_scale_share']:.0f} % of its "
            f"note time in the primer's scale, pitch range {first['pitch_range'][0]}-{first['pitch_range'][1]}, "
            f"{first['notes']} notes in {first['seconds']:.1f} s, {100 * first['melody_kept']:.0f} % of the "
            f"melody's notes played (same pitch, onset within 0.1 s). Other seeds: {others}; the primer's key "
            f"kept in {kept} of {n}.",
            "",
            f"Key control: the same top line transposed by {' and '.join(f'{x:+d}' for x in shifts)} semitones "
            f"(seeds {', '.join(str(x) for x in sorted({r['seed'] for r in control}))}): "
            + "; ".join(
                f"{r['shift']:+d} ({r['melody_key']}), seed {r['seed']}: {r['piece_key']}, "
                f"{100 * r['in_melody_scale']:.0f} % in the transposed melody's scale, "
                f"{100 * r['in_original_scale']:.0f} % in the original's"
                for r in control
            )
            + ".",
            "",
            "`samples/` holds the primer, its top line, the accompaniment (seed 0, from the shipped weights) as "
            "MIDI, a FluidSynth rendering (piano) and the piano roll:",
            "",
            "![piano roll](samples/bwv66.6_accompanied.png)",
            "",
            "## What it does and does not do",
            "",
            what_it_does(h, s, t, m["data"]["sanity"]),
            "",
        ]
    )


def what_it_does(h: dict, s: dict, t: dict, sanity: dict) -> str:
    """The card's plain statement of what the figures show (written from them, not by hand)."""
    kept, n = s["key_kept"], len(s["samples"])
    share = min(r["in_scale_share"] for r in s["samples"])
    melody = sum(r["melody_kept"] for r in s["samples"]) / n
    control = s["key_control"]
    follows = min(r["in_melody_scale"] for r in control) > max(r["in_original_scale"] for r in control)
    tempi = sanity.get("tempi", {})
    main_tempo, pieces = next(iter(tempi.items()), ("?", 0))
    first = s["samples"][0]
    missed = [r for r in s["samples"] if r["key_score"] < 1.0]
    related = " (the others in a related key)" if missed and all(r["key_score"] > 0 for r in missed) else ""
    parts = [
        f"It predicts held-out Bach performances from their melody "
        f"{h['unigram_nll_per_token'] - h['nll_per_token']:.2f} nats per event better than the unigram "
        f"baseline ({h['nll_per_token']:.3f} against {h['unigram_nll_per_token']:.3f}).",
        (
            f"It takes its key from the melody: on the study's primer it keeps the primer's key in {kept} of "
            f"{n} samples{related}, with at least {100 * share:.0f} % of every sample's "
            "note time in the primer's scale, and transposed melodies get accompaniments in their own scale "
            f"({100 * min(r['in_melody_scale'] for r in control):.0f} % or more of the note time, against at "
            f"most {100 * max(r['in_original_scale'] for r in control):.0f} % in the untransposed scale)."
            if follows
            else f"It keeps the primer's key in {kept} of {n} samples, with at least {100 * share:.0f} % of "
            "every sample's note time in the primer's scale, but the key control does not show it following "
            "a transposed melody's key."
        ),
        f"It does not follow the melody in time: it plays {100 * melody:.0f} % of the melody's notes (mean "
        f"over the {n} samples) and writes voices of its own. Its training pieces were {pieces} of "
        f"{sum(tempi.values())} at {main_tempo} quarter notes per minute (music21's chorales carry no tempo "
        f"mark), the primer's melody is at {s['melody_tempo']:g}."
        if melody < 0.5
        else f"It plays {100 * melody:.0f} % of the melody's notes (mean over the {n} samples).",
        (
            f"The study's sample (seed 0) ends after {first['seconds']:.1f} s of the "
            f"{PRIMER_SECONDS:g} s melody (the model writes EOS early). "
            if first["seconds"] < 0.75 * PRIMER_SECONDS
            else ""
        )
        + f"It is a small model (3 + 3 layers, hidden 192) trained for {t['seconds'] / 60:.0f} min on a "
        "shared CPU, far from converged; its voice leading is not checked.",
    ]
    return " ".join(parts)


def main(argv=None) -> int:
    parser = common.zoo_parser(__doc__, "/tmp/zoo/transformer_harmonizer")
    parser.add_argument("--steps", type=int, default=3000, help="total training steps")
    parser.add_argument("--stage", choices=("all", "data", "train", "evaluate", "ship"), default="all")
    parser.add_argument("--max_files", type=int, default=0, help="use only this many Bach files (a quick check)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra training overrides")
    parser.add_argument(
        "--from_shipped",
        action="store_true",
        help="start a new run from the shipped model's weights (when the old run folder is gone); "
        "--steps counts the shipped model's steps",
    )
    args = parser.parse_args(argv)
    work = pathlib.Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    summary = data_stage(work, args.max_files)
    if args.stage in ("all", "train"):
        if args.from_shipped:
            start_from_shipped(work, pathlib.Path(args.models))
        train_stage(work, args.steps, args.overrides)
    if args.stage in ("all", "evaluate", "ship"):
        import tensorflow as tf

        from tfmusic import files

        step = int(tf.train.latest_checkpoint(str(work / "run")).rsplit("-", 1)[1])
        saved = json.loads((work / "eval.json").read_text()) if (work / "eval.json").exists() else {}
        if args.stage != "ship" or saved.get("step") != step:  # 'ship' reuses this step's evaluation
            files.atomic_write_json(work / "eval.json", {"step": step, **evaluate_stage(work)})
    if args.stage in ("all", "ship"):
        ship_stage(work, pathlib.Path(args.models), summary, json.loads((work / "eval.json").read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
