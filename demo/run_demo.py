"""`make demo`: the project's main job end to end, on embedded default data.

Stages (each prints where its outputs are):
  0. music from the zoo (`models/`), before anything is trained: melodies from the zoo's Melody RNN, a
     chorale continued by the zoo's Music Transformer, the zoo's pitch classifier on real NSynth notes;
  then the training paths, briefly, on small data and small models:
  1. render a small NSynth-format set from pretty_midi's General MIDI SoundFont (`nsynth_render`);
  2. convert it to sharded NSynth TFRecords with GANSynth's filters (`nsynth_to_tfrecord`);
  3. read the records back through the tf.data reader, fit the spectrogram normalizer, and turn
     every note into a 128x1024 mel-IF specgram through the tf.data pipeline;
  4. draw rainbowgrams of original notes and of their mel-IF specgrams, and write the audio
     resynthesised from those specgrams so the round trip can be heard;
  5. train a small GANSynth (`gansynth_train --preset cpu_small`) on the rendered notes for a
     couple of minutes, and generate notes from it (`gansynth_generate notes`);
  6. turn a Bach chorale's soprano line (music21 corpus) into audio with GANSynth, with a fixed
     and with an interpolated timbre, and with FluidSynth for reference;
  7. write the evaluation report (music_eval) comparing the renderings with the chorale;
  8. Melody RNN: music21 chorales -> `convert_dir_to_note_sequences` -> `melody_rnn_create_dataset` ->
     `melody_rnn_train` (exported as a .mag bundle, then fine-tuned from it with `--bundle`) ->
     `melody_rnn_generate` (beam search) -> FluidSynth;
  9. Music Transformer: a tensor2tensor-named checkpoint ported, fine-tuned briefly on chorales
     (`music_transformer_create_dataset`, `music_transformer_train`), continuing a primer;
 10. `tfmusic_study`: a chorale opening continued by the zoo's models (the demo's own, listed in
     OUT/models.json, for families the zoo lacks), rendered by FluidSynth and GANSynth (fixed and
     interpolated timbre), one report.

It lives outside the packages because it joins packages that must not import each other.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pathlib
import sys
import time
from typing import Callable

import demo_common  # noqa: F401  (demo/demo_common.py: puts the repository on sys.path)

os.environ.setdefault("MPLBACKEND", "Agg")

# Acoustic GM programs from several NSynth families, so GANSynth's acoustic filter keeps them.
DEMO_PROGRAMS = "0,24,40,56,71,73"  # piano, nylon guitar, violin, trumpet, clarinet, flute
DEMO_PITCHES = ",".join(str(p) for p in range(36, 85, 4))  # every fourth pitch, C2 to C6
DEMO_VELOCITIES = "75,127"


def _stage(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.perf_counter()


def _done(t0: float, what: str) -> None:
    print(f"    {what} ({time.perf_counter() - t0:.1f} s)", flush=True)


def _run(command: str, main: Callable[[list], int], argv: list) -> None:
    """``main(argv)``, the entry point of ``command``; a non-zero exit status stops the demo."""
    rc = main(argv)
    if rc:
        raise SystemExit(f"{command} failed with exit code {rc}")


def _module_stage(title: str, name: str, out_dir: pathlib.Path, done: Callable[[dict], str]) -> dict:
    """A stage that is ``run(out_dir)`` of the module ``demo/<name>.py``: its title, its log lines indented
    under it, then ``done(outputs)`` with the time taken. Returns the module's outputs."""
    t0 = _stage(title)
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    module = importlib.import_module(name)
    outputs = module.run(out_dir, log=lambda text: print(f"  {text}", flush=True))
    _done(t0, done(outputs))
    return outputs


def zoo_music(out: pathlib.Path) -> dict:
    """Stage 0: music from the zoo's models, each named by its zoo name only."""
    title = "0. the zoo: music from models trained here and shipped in models/ (no training)"
    return _module_stage(title, "zoo_stage", out / "zoo", lambda _: f"outputs in {out / 'zoo'}")


def render(out: pathlib.Path) -> pathlib.Path:
    """Stage 1: an NSynth-format folder rendered with FluidSynth."""
    from pipelines import nsynth_render

    t0 = _stage("1. nsynth_render: NSynth-format notes from the General MIDI SoundFont")
    nsynth_dir = out / "nsynth"
    selection = ["--programs", DEMO_PROGRAMS, "--pitches", DEMO_PITCHES, "--velocities", DEMO_VELOCITIES]
    _run("nsynth_render", nsynth_render.main, ["--output_dir", str(nsynth_dir), *selection])
    count = len(json.loads((nsynth_dir / "examples.json").read_text()))
    _done(t0, f"{count} notes in {nsynth_dir}/examples.json + audio/*.wav")
    return nsynth_dir


def convert(nsynth_dir: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
    """Stage 2: sharded TFRecords in the official NSynth schema, GANSynth's subset."""
    from pipelines import nsynth_to_tfrecord_cli

    t0 = _stage("2. nsynth_to_tfrecord: sharded tf.Example records (acoustic, pitch 24-84)")
    tfr_dir = out / "tfrecords"
    argv = ["--input_dir", str(nsynth_dir), "--output_dir", str(tfr_dir), "--num_shards", "2", "--gansynth_subset"]
    _run("nsynth_to_tfrecord", nsynth_to_tfrecord_cli.main, argv)
    _done(t0, f"shards and summary in {tfr_dir}")
    return tfr_dir


def specgrams(tfr_dir: pathlib.Path, out: pathlib.Path):
    """Stage 3: tf.data reader -> normalizer fit -> batched mel-IF specgrams."""
    import numpy as np

    from gansynth_tf import data as gdata
    from gansynth_tf.specgrams import HIGH_FREQ_RES, SpecgramsHelper
    from pipelines import nsynth

    t0 = _stage("3. tf.data: records -> 128x1024 mel-IF specgrams, normalizer fitted from the data")
    pattern = str(tfr_dir / "nsynth-*.tfrecord")
    helper = SpecgramsHelper(HIGH_FREQ_RES)
    normalizer = gdata.fit_normalizer(nsynth.read_tfrecords(pattern), helper, num_examples=1000)
    normalizer_path = normalizer.save(out / "specgram_normalizer.json")
    batches = gdata.make_specgram_dataset(
        nsynth.read_tfrecords(pattern), helper, normalizer, batch_size=8, drop_remainder=False
    )
    n, lo, hi = 0, np.inf, -np.inf
    for spec, _ in batches:
        n += int(spec.shape[0])
        lo, hi = min(lo, float(np.min(spec))), max(hi, float(np.max(spec)))
    _done(
        t0,
        f"{n} specgrams of shape {helper.config.spec_shape} x 2, normalized range [{lo:.2f}, {hi:.2f}]; "
        f"normalizer in {normalizer_path}",
    )
    return helper


def rainbowgrams(tfr_dir: pathlib.Path, helper, out: pathlib.Path) -> pathlib.Path:
    """Stage 4: rainbowgrams of originals and mel-IF specgrams, and resynthesised audio."""
    import numpy as np

    from pipelines import nsynth
    from tfmusic import audio, plotting

    t0 = _stage("4. rainbowgrams and mel-IF round-trip audio")
    plot_dir = out / "rainbowgrams"
    wav_dir = out / "round_trip"
    chosen = {}
    for element in nsynth.read_tfrecords(str(tfr_dir / "nsynth-*.tfrecord")).as_numpy_iterator():
        family = element["instrument_family_str"].decode()
        if family not in chosen and element["pitch"] in (60, 64):
            chosen[family] = element
    mel_freqs = helper.mel_bin_frequencies()
    for family, element in sorted(chosen.items()):
        name = element["note_str"].decode()
        waves = element["audio"][None, :, None]
        mel = helper.waves_to_melspecgrams(waves).numpy()[0]
        back = helper.melspecgrams_to_waves(mel[None]).numpy()[0, :, 0]
        plotting.plot_rainbowgram(plot_dir / f"{name}.audio.png", audio=element["audio"], title=f"{name} (audio)")
        plotting.plot_rainbowgram(
            plot_dir / f"{name}.melif.png",
            specgram=mel,
            bin_frequencies=mel_freqs,
            frame_step=helper.config.frame_step,
            start_time=-helper.config.pad_left / 16000,
            title=f"{name} (mel-IF specgram)",
        )
        audio.write_wav(wav_dir / f"{name}.original.wav", element["audio"], 16000)
        audio.write_wav(wav_dir / f"{name}.mel_if_resynth.wav", np.clip(back, -1, 1), 16000)
    _done(t0, f"{2 * len(chosen)} rainbowgrams in {plot_dir}; original and resynthesised wavs in {wav_dir}")
    return plot_dir


def gansynth(nsynth_dir: pathlib.Path, out: pathlib.Path, steps: int) -> pathlib.Path:
    """Stage 5: a small GANSynth run on the rendered notes, then notes generated from it."""
    from gansynth_tf import generate_cli, train_cli

    t0 = _stage(f"5. gansynth_train: cpu_small preset, {steps} steps on the rendered notes (resumes if rerun)")
    run = out / "gansynth_run"
    argv = ["--model_dir", str(run), "--train_data", str(nsynth_dir), "--preset", "cpu_small"]
    for setting in (f"trainer.train_steps={steps}", "trainer.checkpoint_every=50", "trainer.media_every=50"):
        argv += ["--set", setting]
    _run("gansynth_train", train_cli.main, argv)
    argv = ["notes", "--model_dir", str(run), "--output_dir", str(out / "gansynth_notes")]
    _run(
        "gansynth_generate notes",
        generate_cli.main,
        argv + "--pitches 48,55,60,64,67,72 --seeds 0,1 --rainbowgrams".split(),
    )
    _done(t0, f"run (checkpoints, TensorBoard logs) in {run}; generated notes in {out / 'gansynth_notes'}")
    return run


def chorale_midi(out: pathlib.Path) -> pathlib.Path:
    """The soprano line of a Bach chorale from music21's corpus, as a MIDI file."""
    import music21

    score = music21.corpus.parse("bach/bwv66.6")
    soprano = score.parts[0].flatten().notes.stream()
    path = out / "chorale_bwv66.6_soprano.mid"
    soprano.write("midi", fp=str(path))
    return path


def midi_to_audio(run: pathlib.Path, out: pathlib.Path) -> tuple[pathlib.Path, list[pathlib.Path]]:
    """Stage 6: the chorale line rendered by GANSynth (fixed and interpolated timbre) and FluidSynth."""
    from case_study.render import render_fluidsynth
    from gansynth_tf import generate_cli

    t0 = _stage("6. gansynth_generate midi: a Bach chorale line with a fixed and an interpolated timbre")
    midi_path = chorale_midi(out)
    rendered = out / "midi_renderings"
    outputs = []
    for timbre in ("fixed", "interpolate"):
        wav = rendered / f"chorale_gansynth_{timbre}.wav"
        argv = ["midi", "--model_dir", str(run), "--midi_file", str(midi_path), "--output_file", str(wav)]
        _run("gansynth_generate midi", generate_cli.main, argv + ["--timbre", timbre, "--seed", "0"])
        outputs.append(wav)
    fluid = rendered / "chorale_fluidsynth.wav"
    render_fluidsynth(midi_path, fluid)  # at the evaluation's loudness reference
    outputs.append(fluid)
    _done(t0, f"{midi_path.name} rendered to {', '.join(p.name for p in outputs)} in {rendered}")
    return midi_path, outputs


def evaluation(midi_path: pathlib.Path, renderings: list[pathlib.Path], out: pathlib.Path, gansynth_steps: int) -> str:
    """Stage 7: the music_eval report comparing every rendering with the chorale, rows named by what made them."""
    import music_eval

    t0 = _stage("7. music_eval: comparison report (tempo, meter, key, energy, histograms, plots, audio)")
    gansynth = f"GANSynth (this demo's cpu_small run, {gansynth_steps} steps)"
    names = {str(midi_path): "Bach chorale bwv66.6, soprano line (MIDI)"}
    for path in renderings:
        if path.stem.endswith("_fluidsynth"):
            names[str(path)] = "the same line rendered by FluidSynth"
        elif path.stem.endswith("_fixed"):
            names[str(path)] = f"{gansynth} rendering, fixed timbre"
        elif path.stem.endswith("_interpolate"):
            names[str(path)] = f"{gansynth} rendering, interpolated timbre"
    html = music_eval.write_report(
        str(midi_path),
        [str(p) for p in renderings],
        str(out / "evaluation"),
        title="Demo: chorale line vs its renderings",
        names=names,
    )
    table = pathlib.Path(html).parent / "comparison.md"
    if table.exists():
        print(table.read_text().split("\n## Columns")[0])  # the table; the glossary is in the file
    _done(t0, f"report: {html}")
    return html


def melody_rnn(out: pathlib.Path) -> dict:
    """Stage 8: chorales -> NoteSequences -> melodies -> Melody RNN trained, exported as .mag, fine-tuned, generating."""
    return _module_stage(
        "8. Melody RNN: convert_dir_to_note_sequences -> melody_rnn_create_dataset -> melody_rnn_train "
        "(and --bundle fine-tune) -> melody_rnn_generate -> FluidSynth",
        "melody_rnn_stage",
        out / "melody_rnn",
        lambda outputs: f"bundles {outputs['bundle']} and {outputs['finetuned_bundle']}; melody {outputs['midi']}",
    )


def music_transformer(out: pathlib.Path) -> dict:
    """Stage 9: a t2t-named checkpoint ported, fine-tuned on chorales, continuing a primer."""
    return _module_stage(
        "9. Music Transformer: t2t checkpoint ported -> music_transformer_create_dataset -> "
        "music_transformer_train -> music_transformer_generate -> FluidSynth",
        "music_transformer_stage",
        out / "music_transformer",
        lambda outputs: f"run {outputs['run_dir']}; continuation {outputs['continuation_midi']}",
    )


def write_manifest(out: pathlib.Path, gansynth_run: pathlib.Path, melody: dict, transformer: dict) -> pathlib.Path:
    """``OUT/models.json``: the demo's models, where ``tfmusic_study`` finds them by default."""
    from case_study import study
    from tfmusic import files

    manifest = {
        "melody_rnn_bundle": str(melody["finetuned_bundle"]),
        "transformer_model_dir": str(transformer["run_dir"]),
        "gansynth_run": str(gansynth_run),
    }
    path = out / study.MANIFEST
    files.atomic_write_json(path, manifest)
    return path


def case_study(out: pathlib.Path) -> str:
    """Stage 10: ``tfmusic_study`` on the demo's models and a Bach chorale opening."""
    from case_study import study

    t0 = _stage(
        "10. tfmusic_study: the chorale opening continued by Melody RNN and Music Transformer, rendered by "
        "FluidSynth and GANSynth, compared in one report"
    )
    # shorter Transformer continuations than the study's default; the Melody RNN's at the study's own
    # length (128 steps), the one bench/zoo/key_check.py measures over seeds
    lengths = "--primer_seconds 8 --transformer_events 256 --transformer_primer_events 192"
    _run("tfmusic_study", study.main, ["--out_dir", str(out / "study"), "--demo_dir", str(out), *lengths.split()])
    report = out / "study" / "evaluation" / "report.html"
    _done(t0, f"report: {report}")
    return str(report)


def main(argv=None) -> int:
    from tfmusic import cli_support

    cli_support.start(argv)  # TensorFlow's start-up lines and third-party warnings only with --verbose
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli_support.add_verbose_flag(parser)
    parser.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument("--gansynth_steps", type=int, default=150, help="GANSynth training steps (default 150)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    zoo_music(out)
    nsynth_dir = render(out)
    tfr_dir = convert(nsynth_dir, out)
    helper = specgrams(tfr_dir, out)
    plots = rainbowgrams(tfr_dir, helper, out)
    run = gansynth(nsynth_dir, out, args.gansynth_steps)
    midi_path, renderings = midi_to_audio(run, out)
    report = evaluation(midi_path, renderings, out, args.gansynth_steps)
    melody = melody_rnn(out)
    transformer = music_transformer(out)
    write_manifest(out, run, melody, transformer)
    study_report = case_study(out)
    print(f"\nDemo finished in {time.perf_counter() - t0:.0f} s. Outputs:")
    print(f"  from the zoo        : {out / 'zoo'}  (melodies, chorale continuation: MIDI and wav)")
    print(f"  NSynth-format notes : {nsynth_dir}")
    print(f"  TFRecords           : {tfr_dir}")
    print(f"  rainbowgrams        : {plots}")
    print(f"  round-trip audio    : {out / 'round_trip'}")
    print(f"  GANSynth run        : {run}  (tensorboard --logdir {run})")
    print(f"  GANSynth notes      : {out / 'gansynth_notes'}")
    print(f"  MIDI renderings     : {out / 'midi_renderings'}")
    print(f"  evaluation report   : {report}")
    print(f"  Melody RNN          : {out / 'melody_rnn'}  (bundles, run folders, generated melody)")
    print(f"  Music Transformer   : {out / 'music_transformer'}  (t2t checkpoint, run, continuation)")
    print(f"  case study          : {study_report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
