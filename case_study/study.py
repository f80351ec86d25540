"""``tfmusic_study``: the case study of the people who started this project, end to end.

1. A primer piece (a MIDI file; by default the opening of a music21 Bach chorale) is continued by
   Melody RNN (from its top line) and by Music Transformer (from its performance), and its top line
   is accompanied by the melody-conditioned Music Transformer when one is given.
2. Every result is rendered twice: by FluidSynth from a General MIDI SoundFont, and by GANSynth as
   the instrument, with a fixed and with an interpolated timbre.
3. One evaluation report (``music_eval``) compares every output, MIDI and audio, with the primer:
   tempo, meter, key and harmonic field, energy ratio, pitch and rhythm histograms, plots and audio;
   its rows are named by model and role ("Melody RNN (melody_rnn_attention) continuation, FluidSynth").

The models are given by path; those not given come from the zoo (``models/``, :mod:`tfmusic.zoo`:
see :data:`ZOO_DEFAULTS`), then from the demo's manifest (``DEMO_DIR/models.json``, written by
``make demo``) for any family the zoo does not hold yet. ``--no_zoo`` leaves the zoo out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import sys
import time
from typing import Dict, List, Optional, Sequence

from tfmusic import cli_support

MANIFEST = "models.json"


class StudyError(RuntimeError):
    """A model or input the study needs is missing or failed; the message says which and how to fix it."""


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """What the study runs on.

    Attributes:
      primer: MIDI file; None takes the first ``primer_seconds`` of music21's chorale ``bwv66.6``.
      out_dir: everything is written here (``generated/``, ``audio/``, ``evaluation/``).
      melody_rnn_bundle / melody_rnn_run: a ``.mag`` bundle, or a ``melody_rnn_train`` run folder.
      transformer_model_dir: a ``music_transformer_train`` run folder (continuation).
      transformer_accompany_dir: a melody-conditioned ``music_transformer_train`` run (accompaniment).
      transformer_checkpoint / transformer_preset: instead of a run folder, a tensor2tensor checkpoint
        (ported by name) and, where its variables do not say it, its architecture preset.
      gansynth_run: a ``gansynth_train`` run folder.
      soundfont: ``.sf2`` for FluidSynth (None: pretty_midi's General MIDI SoundFont).
      melody_steps: Melody RNN steps to generate (16th notes); transformer_events: performance events.
      transformer_primer_events: keep only the primer's last N performance events (0: all), for
        models whose ``max_length`` cannot hold the whole primer plus the continuation.
      temperature, seed, num_outputs: sampling.
      melody_beam_size, melody_branch_factor, melody_steps_per_iteration: Magenta's beam search for the
        Melody RNN (``melody_rnn_generate``'s flags; 1, 1, 1 is plain sampling, Magenta's default). The
        default, beam 2, branch 2, 16 steps per iteration, keeps the default primer's key in 79 of 100
        seeds (plain sampling: 67) with few more repeated figures; it was chosen by
        ``bench/zoo/key_check.py --choose`` on seeds 100-199 (``bench/results/melody_key_select.md``),
        and ``bench/results/melody_key_check.md`` compares settings on seeds 0-15.
    """

    primer: Optional[str] = None
    out_dir: str = "study_output"
    melody_rnn_bundle: Optional[str] = None
    melody_rnn_run: Optional[str] = None
    transformer_model_dir: Optional[str] = None
    transformer_accompany_dir: Optional[str] = None
    transformer_checkpoint: Optional[str] = None
    transformer_preset: Optional[str] = None
    gansynth_run: Optional[str] = None
    soundfont: Optional[str] = None
    primer_seconds: float = 8.0
    melody_steps: int = 128
    transformer_events: int = 512
    transformer_primer_events: int = 0
    temperature: float = 1.0
    seed: int = 0
    num_outputs: int = 1
    melody_beam_size: int = 2
    melody_branch_factor: int = 2
    melody_steps_per_iteration: int = 16


def _log(text: str) -> None:
    print(f"[tfmusic_study] {text}", flush=True)


def default_primer(path: pathlib.Path, seconds: float = 8.0) -> pathlib.Path:
    """The first ``seconds`` of music21's Bach chorale bwv66.6 (four voices, piano) as a MIDI file."""
    import music21
    import pretty_midi

    score = music21.corpus.parse("bach/bwv66.6")
    path.parent.mkdir(parents=True, exist_ok=True)
    full = path.with_name(path.stem + "_full.mid")
    score.write("midi", fp=str(full))
    midi = pretty_midi.PrettyMIDI(str(full))
    tempi = midi.get_tempo_changes()[1]
    out = pretty_midi.PrettyMIDI(initial_tempo=float(tempi[0]) if len(tempi) else 120.0)
    for inst in midi.instruments:
        new = pretty_midi.Instrument(program=0, name=inst.name)
        new.notes = [
            pretty_midi.Note(n.velocity, n.pitch, n.start, min(n.end, seconds)) for n in inst.notes if n.start < seconds
        ]
        out.instruments.append(new)
    for ts in midi.time_signature_changes:
        if ts.time < seconds:
            out.time_signature_changes.append(ts)
    for ks in midi.key_signature_changes:
        if ks.time < seconds:
            out.key_signature_changes.append(ks)
    path.parent.mkdir(parents=True, exist_ok=True)
    out.write(str(path))
    full.unlink()
    return path


def top_line(midi_path: pathlib.Path, out_path: pathlib.Path) -> pathlib.Path:
    """The skyline of ``midi_path``: the highest note at each onset, unless a higher note is still held (the melody the RNN continues and the
    conditioned Transformer accompanies), as a one-instrument MIDI file."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(midi_path))
    notes = sorted(
        (n for inst in midi.instruments if not inst.is_drum for n in inst.notes), key=lambda n: (n.start, -n.pitch)
    )
    line: List = []
    for n in notes:
        if line and abs(n.start - line[-1].start) < 1e-3:
            continue  # a lower note of the same onset
        if line and line[-1].end > n.start + 1e-3 and line[-1].pitch > n.pitch:
            continue  # a lower voice moving under a held top note
        if line and line[-1].end > n.start:
            line[-1] = pretty_midi.Note(line[-1].velocity, line[-1].pitch, line[-1].start, n.start)
        line.append(pretty_midi.Note(n.velocity, n.pitch, n.start, n.end))
    tempi = midi.get_tempo_changes()[1]
    out = pretty_midi.PrettyMIDI(initial_tempo=float(tempi[0]) if len(tempi) else 120.0)
    inst = pretty_midi.Instrument(program=0, name="melody")
    inst.notes = line
    out.instruments.append(inst)
    out.time_signature_changes = list(midi.time_signature_changes)
    out.write(str(out_path))
    return out_path


# StudyConfig field -> the zoo model (tfmusic.zoo) the study uses when the field is not given
def _zoo_defaults() -> Dict[str, str]:
    from tfmusic import zoo

    # zoo Transformers are tensor2tensor-named checkpoints, so they fill the *_checkpoint fields
    return {
        "melody_rnn_bundle": zoo.DEFAULTS["melody_rnn"],
        "transformer_checkpoint": zoo.DEFAULTS["music_transformer"],
        "transformer_accompany_dir": "transformer_harmonizer",
        "gansynth_run": zoo.DEFAULTS["gansynth"],
    }


ZOO_DEFAULTS = _zoo_defaults()
#: The StudyConfig fields that name a model (each also a command-line option and a key of ``models.json``).
MODEL_FIELDS = (
    "melody_rnn_bundle",
    "melody_rnn_run",
    "transformer_model_dir",
    "transformer_accompany_dir",
    "transformer_checkpoint",
    "transformer_preset",
    "gansynth_run",
)
# a field is "given" when it or one of its alternatives is set
_ALTERNATIVES = {"melody_rnn_bundle": ("melody_rnn_run",), "transformer_checkpoint": ("transformer_model_dir",)}


def zoo_models(config: StudyConfig) -> StudyConfig:
    """Fill every model the user did not give with the zoo's default model for it (where the zoo has one)."""
    from tfmusic import zoo

    available = set(zoo.names())
    updates = {}
    for field, name in ZOO_DEFAULTS.items():
        given = any(getattr(config, f) for f in (field, *_ALTERNATIVES.get(field, ())))
        if not given and name in available:
            updates[field] = zoo.path(name)
            _log(f"{field.replace('_', ' ')}: zoo model {name}")
    return dataclasses.replace(config, **updates)


def resolve_models(config: StudyConfig, demo_dir: Optional[str], use_zoo: bool = True) -> StudyConfig:
    """Fill unset models: first from the zoo (unless ``use_zoo`` is False), then from
    ``DEMO_DIR/models.json`` (written by ``make demo``) for what the zoo does not hold."""
    if use_zoo:
        config = zoo_models(config)
    if not demo_dir:
        return config
    manifest = pathlib.Path(demo_dir) / MANIFEST
    if not manifest.is_file():
        return config
    try:
        models = json.loads(manifest.read_text())
    except json.JSONDecodeError as e:
        raise StudyError(f"{manifest}: not valid JSON ({e})") from None
    updates = {}
    for field in MODEL_FIELDS:
        alternatives = (
            field,
            *_ALTERNATIVES.get(field, ()),
            *[f for f, alts in _ALTERNATIVES.items() if field in alts],
        )
        if not any(getattr(config, f) for f in alternatives) and models.get(field):
            updates[field] = str(models[field])
    return dataclasses.replace(config, **updates)


def _melody_rnn(config: StudyConfig, melody_midi: pathlib.Path, out: pathlib.Path) -> List[pathlib.Path]:
    from melody_rnn_ext import generate_cli

    source = (
        ["--bundle_file", config.melody_rnn_bundle]
        if config.melody_rnn_bundle
        else ["--run_dir", config.melody_rnn_run]
    )
    search = (config.melody_beam_size, config.melody_branch_factor, config.melody_steps_per_iteration)
    _log(
        "Melody RNN: "
        + ("plain sampling" if search == (1, 1, 1) else "beam %d, branch %d, %d steps per iteration" % search)
        + f", temperature {config.temperature:g}, seed {config.seed}"
    )
    rc = generate_cli.main(
        source
        + [
            "--output_dir",
            str(out),
            "--primer_midi",
            str(melody_midi),
            "--num_outputs",
            str(config.num_outputs),
            "--num_steps",
            str(config.melody_steps),
            "--temperature",
            str(config.temperature),
            "--seed",
            str(config.seed),
            "--beam_size",
            str(config.melody_beam_size),
            "--branch_factor",
            str(config.melody_branch_factor),
            "--steps_per_iteration",
            str(config.melody_steps_per_iteration),
        ]
    )
    if rc:
        raise StudyError(f"melody_rnn_generate failed (exit code {rc}) with {' '.join(source)}")
    return sorted(out.glob("*.mid"))


def _transformer(
    source: Sequence[str], args: Sequence[str], out: pathlib.Path, config: StudyConfig
) -> List[pathlib.Path]:
    from music_transformer_ext import generate_cli

    rc = generate_cli.main(
        list(source)
        + [
            "--output_dir",
            str(out),
            "--num_outputs",
            str(config.num_outputs),
            "--temperature",
            str(config.temperature),
            "--seed",
            str(config.seed),
        ]
        + list(args)
    )
    if rc:
        raise StudyError(f"music_transformer_generate failed (exit code {rc}) with {' '.join(source)}")
    return sorted(out.glob("*.mid"))


def generate(
    config: StudyConfig, primer: pathlib.Path, melody: pathlib.Path, out: pathlib.Path
) -> Dict[str, List[pathlib.Path]]:
    """Step 1: {label: MIDI files} for every model given (at least one is needed)."""
    results: Dict[str, List[pathlib.Path]] = {}
    if config.melody_rnn_bundle or config.melody_rnn_run:
        t0 = time.perf_counter()
        results["melody_rnn"] = _melody_rnn(config, melody, out / "melody_rnn")
        _log(
            f"Melody RNN continued the top line: {len(results['melody_rnn'])} file(s), {time.perf_counter() - t0:.1f} s"
        )
    if config.transformer_model_dir or config.transformer_checkpoint:
        source = (
            ["--model_dir", config.transformer_model_dir]
            if config.transformer_model_dir
            else ["--checkpoint", config.transformer_checkpoint]
            + (["--preset", config.transformer_preset] if config.transformer_preset else [])
        )
        t0 = time.perf_counter()
        results["transformer"] = _transformer(
            source,
            [
                "--primer_midi",
                str(primer),
                "--decode_length",
                str(config.transformer_events),
                "--max_primer_events",
                str(config.transformer_primer_events),
            ],
            out / "transformer",
            config,
        )
        _log(
            f"Music Transformer continued the primer: {len(results['transformer'])} file(s), "
            f"{time.perf_counter() - t0:.1f} s"
        )
    if config.transformer_accompany_dir:
        t0 = time.perf_counter()
        results["transformer_accompaniment"] = _transformer(
            ["--model_dir", config.transformer_accompany_dir],
            ["--melody_midi", str(melody)],
            out / "transformer_accompaniment",
            config,
        )
        _log(
            f"Music Transformer accompanied the top line: {len(results['transformer_accompaniment'])} file(s), "
            f"{time.perf_counter() - t0:.1f} s"
        )
    if not results:
        raise StudyError(
            "no model to generate with: pass --melody_rnn_bundle/--melody_rnn_run and/or "
            "--transformer_model_dir, or run `make demo` first so that demo_output/models.json exists"
        )
    for label, files in results.items():
        if not files:
            raise StudyError(f"{label}: the generator wrote no MIDI file into {out / label}")
    return results


# generate()'s labels -> (model family as people call it, the config field naming the model, role)
_OUTPUTS = {
    "melody_rnn": ("Melody RNN", ("melody_rnn_bundle", "melody_rnn_run"), "continuation"),
    "transformer": ("Music Transformer", ("transformer_model_dir", "transformer_checkpoint"), "continuation"),
    "transformer_accompaniment": ("Music Transformer", ("transformer_accompany_dir",), "accompaniment"),
}
_RENDERINGS = {
    "fluidsynth": "FluidSynth",
    "gansynth_fixed": "GANSynth {model}, fixed timbre",
    "gansynth_interpolate": "GANSynth {model}, interpolated timbre",
}


def model_name(path: Optional[str]) -> str:
    """A model's short name for the report: its zoo name where ``path`` lies in a zoo folder, else the
    last two parts of its path (``melody_rnn/finetuned``, ``music_transformer/run``)."""
    if not path:
        return "?"
    from tfmusic import zoo

    p = pathlib.Path(path).resolve()
    root = zoo.zoo_dir().resolve()
    for folder in [p, *list(p.parents)[:3]]:
        if folder.parent == root and (folder / zoo.MANIFEST).is_file():
            return folder.name
    return f"{p.parent.name}/{p.stem if p.suffix in ('.mag', '.index', '.json') else p.name}"


def output_names(config: StudyConfig, midis: Dict[str, List[pathlib.Path]]) -> Dict[str, str]:
    """``{MIDI path: "Melody RNN (melody_rnn_attention) continuation"}`` for generate()'s results
    (numbered when a model wrote several)."""
    names = {}
    for label, files in midis.items():
        family, fields, role = _OUTPUTS.get(label, (label, (), "output"))
        source = next((getattr(config, f) for f in fields if getattr(config, f)), None)
        for i, midi in enumerate(files):
            number = f" {i + 1}" if len(files) > 1 else ""
            names[str(midi)] = f"{family} ({model_name(source)}) {role}{number}"
    return names


def render(
    config: StudyConfig, midis: Dict[str, List[pathlib.Path]], out: pathlib.Path, names: Optional[Dict[str, str]] = None
) -> List[pathlib.Path]:
    """Step 2: each MIDI result (and the primer) by FluidSynth, and by GANSynth with both timbres.
    ``names`` (``{MIDI path: row name}``, see :func:`output_names`) gets an entry for each wav:
    the MIDI's name and how it was rendered."""
    from case_study import render as render_lib

    synth = None
    if config.gansynth_run:
        import gansynth_tf

        synth = gansynth_tf.load(config.gansynth_run)
    else:
        _log("no GANSynth run given: FluidSynth renderings only")
    wavs: List[pathlib.Path] = []
    gansynth_name = model_name(config.gansynth_run)
    for label, files in midis.items():
        for midi in files:
            stem = f"{label}__{midi.stem}"
            t0 = time.perf_counter()
            made = {"fluidsynth": render_lib.render_fluidsynth(midi, out / f"{stem}_fluidsynth.wav", config.soundfont)}
            if synth is not None:
                made.update(
                    {
                        f"gansynth_{timbre}": path
                        for timbre, path in render_lib.render_gansynth(synth, midi, out, stem, seed=config.seed).items()
                    }
                )
            wavs.extend(made.values())
            if names is not None and str(midi) in names:
                for kind, path in made.items():
                    names[str(path)] = f"{names[str(midi)]}, {_RENDERINGS[kind].format(model=f'({gansynth_name})')}"
            _log(f"rendered {midi.name} ({label}) in {time.perf_counter() - t0:.1f} s")
    return wavs


def run(config: StudyConfig) -> Dict[str, object]:
    """The whole study; returns {"primer", "midi" (label -> files), "audio", "report"} paths."""
    out = pathlib.Path(config.out_dir).resolve()
    (out / "generated").mkdir(parents=True, exist_ok=True)
    if config.primer:
        primer = pathlib.Path(config.primer)
        if not primer.is_file():
            raise StudyError(f"{primer}: primer MIDI file not found")
    else:
        primer = default_primer(out / "primer_bwv66.6.mid", config.primer_seconds)
        _log(f"primer: the first {config.primer_seconds:g} s of Bach's chorale bwv66.6 -> {primer}")
    melody = top_line(primer, out / "generated" / "primer_top_line.mid")
    midis = generate(config, primer, melody, out / "generated")
    names = output_names(config, midis)
    names[str(primer)] = (
        f"primer: {primer.name}"
        if config.primer
        else f"primer: Bach chorale bwv66.6, first {config.primer_seconds:g} s"
    )
    wavs = render(config, midis, out / "audio", names)
    import music_eval

    generated = [str(p) for files in midis.values() for p in files] + [str(p) for p in wavs]
    report = music_eval.write_report(
        str(primer),
        generated,
        str(out / "evaluation"),
        title=f"tfmusic study: {primer.name} against its continuations",
        names=names,
    )
    table = pathlib.Path(report).parent / "comparison.md"
    if table.exists():
        print(table.read_text().split("\n## Columns")[0])  # the table; the glossary is in the file
    _log(f"report: {report}")
    return {"primer": primer, "midi": midis, "audio": wavs, "report": report}


def build_parser() -> argparse.ArgumentParser:
    parser = cli_support.make_parser("tfmusic_study", __doc__)
    parser.add_argument("primer", nargs="?", default=None, help="primer MIDI (default: a Bach chorale opening)")
    parser.add_argument("--out_dir", default="study_output")
    parser.add_argument(
        "--demo_dir",
        default="demo_output",
        help="take models given neither below nor by the zoo from DEMO_DIR/models.json (written by make demo)",
    )
    parser.add_argument(
        "--no_zoo", action="store_true", help="do not use the zoo's models (models/) for the models not given"
    )
    for field in (*MODEL_FIELDS, "soundfont"):
        parser.add_argument(f"--{field}", default=None)
    parser.add_argument("--primer_seconds", type=float, default=8.0)
    parser.add_argument("--melody_steps", type=int, default=128)
    parser.add_argument("--transformer_events", type=int, default=512)
    parser.add_argument("--transformer_primer_events", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num_outputs", type=int, default=1)
    beam = "Melody RNN: Magenta's beam search (melody_rnn_generate's flag; 1 1 1 = plain sampling; default 2 2 16)"
    for field in ("melody_beam_size", "melody_branch_factor", "melody_steps_per_iteration"):
        parser.add_argument(f"--{field}", type=int, default=getattr(StudyConfig, field), help=beam)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``tfmusic_study``; returns the exit code (2 for a missing model or input)."""
    cli_support.start(argv)
    args = build_parser().parse_args(argv)
    fields = {f.name for f in dataclasses.fields(StudyConfig)}
    config = StudyConfig(**{k: v for k, v in vars(args).items() if k in fields})
    try:
        config = resolve_models(config, args.demo_dir, use_zoo=not args.no_zoo)
        run(config)
    except StudyError as e:
        print(f"tfmusic_study: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
