"""`gansynth_generate`: notes, MIDI files and SavedModels from a GANSynth training run.

    gansynth_generate notes --model_dir RUN --output_dir OUT --pitches 48-72 --seeds 0,1,2 [--rainbowgrams]
    gansynth_generate notes --model_dir RUN --output_dir OUT --pitches 60 --latents z.npy [--latents w.npy]
    gansynth_generate midi  --model_dir RUN --midi_file song.mid --output_file song.wav \
        [--timbre fixed|interpolate] [--seed 0] [--seconds_per_anchor 2] [--interpolation slerp|linear] \
        [--latent_file z.npy] [--release 0.3] [--attack 0.01]
    gansynth_generate export --model_dir RUN --export_dir SAVED_MODEL

Common options: ``--checkpoint N`` (default the newest), ``--raw_weights`` (the trained
weights instead of their moving average), ``--batch_size``. ``--ckpt_dir`` is accepted
for ``--model_dir`` (Magenta's flag name), and either may name an unzipped Magenta GANSynth
folder (``experiment.json`` + ``stage_NNNNN/``, e.g. the released ``acoustic_only``), which is
converted on load (:mod:`gansynth_tf.convert_magenta`).

``notes`` writes ``pitch{P}_seed{S}.wav`` (or ``pitch{P}_{file stem}[_{row}].wav`` for
latents from ``.npy`` files holding [latent_size] or [N, latent_size]) at the model's
sample rate, peak-limited to 0.99, with ``--rainbowgrams`` a PNG of the model's own
specgram beside each. ``midi`` renders every non-drum note of a MIDI file and reports how
many pitches were moved into the model's range. ``export`` writes a SavedModel whose
``serving_default(latent, pitch) -> {"audio"}`` needs only TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional, Sequence

from tfmusic import cli_support


def parse_pitches(text: str) -> List[int]:
    """``"60"``, ``"60,64,67"`` or ranges ``"48-72"`` (inclusive), mixed: -> list of MIDI ints."""
    out: List[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                out.extend(range(lo_i, hi_i + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a pitch list: {text!r} (use e.g. 60,64 or 48-72)") from None
    if not out:
        raise argparse.ArgumentTypeError("no pitches given")
    return out


def parse_ints(text: str) -> List[int]:
    """``"0,1,2"`` or ``"0-9"`` -> list of ints (seeds)."""
    return parse_pitches(text)


def load_latent_file(path: str, latent_size: int):
    """float32 [N, latent_size] from an ``.npy`` file ([latent_size] or [N, latent_size]),
    loaded with ``allow_pickle=False``. Raises ValueError naming the file on a bad shape."""
    import numpy as np

    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a readable .npy latent file ({e})") from None
    if z.ndim == 1:
        z = z[None]
    if z.ndim != 2 or z.shape[1] != latent_size or not np.issubdtype(z.dtype, np.floating):
        raise ValueError(
            f"{path}: latents must be float [{latent_size}] or [N, {latent_size}], got {z.dtype} {z.shape}"
        )
    if not np.all(np.isfinite(z)):
        raise ValueError(f"{path}: latents hold NaN or infinite values")
    return z.astype(np.float32)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    cli_support.add_verbose_flag(p, suppress_default=True)
    p.add_argument(
        "--model_dir",
        "--ckpt_dir",
        "--run_dir",
        dest="model_dir",
        default=None,
        help="training run folder (config.json, ckpt-N.*, normalizer.json), an unzipped Magenta GANSynth "
        "folder (experiment.json, stage_NNNNN/), or a zoo model's name (default: the zoo's GANSynth "
        "model)",
    )
    p.add_argument("--checkpoint", default=None, help="checkpoint number N or prefix path (default: the newest)")
    p.add_argument(
        "--raw_weights",
        action="store_true",
        help="use the trained generator weights instead of their moving average (EMA)",
    )
    p.add_argument("--batch_size", type=int, default=16, help="notes per generator call")


def build_parser() -> argparse.ArgumentParser:
    parser = cli_support.make_parser(
        "gansynth_generate", "Generate audio with a trained GANSynth model, or export it.", raw=False
    )
    sub = parser.add_subparsers(dest="command", required=True)

    notes = sub.add_parser("notes", help="single notes: one wav per (pitch, latent)")
    _add_model_args(notes)
    notes.add_argument("--output_dir", required=True)
    notes.add_argument("--pitches", type=parse_pitches, required=True, help="e.g. 60,64,67 or 48-72")
    notes.add_argument(
        "--seeds",
        type=parse_ints,
        default=None,
        help="latent seeds, e.g. 0,1,2 or 0-7 (default 0 unless --latents is given)",
    )
    notes.add_argument(
        "--latents",
        action="append",
        default=[],
        metavar="NPY",
        help=".npy file of latents [latent_size] or [N, latent_size]; repeatable",
    )
    notes.add_argument("--rainbowgrams", action="store_true", help="also write a rainbowgram PNG per note")

    midi = sub.add_parser("midi", help="render a MIDI file")
    _add_model_args(midi)
    midi.add_argument("--midi_file", required=True)
    midi.add_argument("--output_file", default=None, help="wav to write (default: OUTPUT_DIR/<midi name>.wav)")
    midi.add_argument("--output_dir", default=".", help="folder for the default output file")
    midi.add_argument(
        "--timbre",
        choices=("fixed", "interpolate"),
        default="interpolate",
        help="one latent for the whole piece, or latents interpolated over time (the default, as the GANSynth demo)",
    )
    midi.add_argument("--seed", type=int, default=0, help="seed of the random latent(s)")
    midi.add_argument(
        "--latent_file",
        default=None,
        help=".npy latents: [latent_size] fixes the timbre, [A, latent_size] are the anchors",
    )
    midi.add_argument(
        "--seconds_per_anchor",
        "--secs_per_instrument",
        dest="seconds_per_anchor",
        type=float,
        default=2.0,
        help="spacing of the random anchor latents (interpolate)",
    )
    midi.add_argument("--interpolation", choices=("slerp", "linear"), default="slerp")
    midi.add_argument("--attack", type=float, default=0.01, help="note fade-in, seconds")
    midi.add_argument("--release", type=float, default=0.3, help="fade-out after each note's end, seconds")

    export = sub.add_parser("export", help="write the generator as a TensorFlow SavedModel")
    _add_model_args(export)
    export.add_argument("--export_dir", required=True)
    return parser


def _load(args):
    from gansynth_tf.synthesize import GANSynthSynthesizer

    from gansynth_tf.convert_magenta import is_magenta_dir
    from tfmusic import zoo

    model_dir = zoo.resolve(args.model_dir, "gansynth")
    if is_magenta_dir(model_dir):
        if args.checkpoint is not None:
            raise ValueError(
                f"{model_dir}: --checkpoint does not apply to a Magenta GANSynth folder (the last "
                "stage's newest checkpoint is used, as Magenta's gansynth_generate does)"
            )
        return GANSynthSynthesizer.from_magenta_dir(model_dir, use_ema=not args.raw_weights, batch_size=args.batch_size)
    return GANSynthSynthesizer.from_model_dir(
        model_dir, checkpoint=args.checkpoint, use_ema=not args.raw_weights, batch_size=args.batch_size
    )


def _run_notes(args) -> int:
    import numpy as np

    from gansynth_tf import synthesize as S
    from tfmusic import audio

    synth = _load(args)
    bad = [p for p in args.pitches if not synth.min_pitch <= p <= synth.max_pitch]
    if bad:
        print(
            f"gansynth_generate: pitches {bad} are outside the model's range {synth.min_pitch}..{synth.max_pitch}",
            file=sys.stderr,
        )
        return 2
    named = []  # (name, latent)
    seeds = args.seeds if args.seeds is not None else ([] if args.latents else [0])
    for s in seeds:
        named.append((f"seed{s}", synth.random_latents(1, s)[0]))
    for path in args.latents:
        z = load_latent_file(path, synth.latent_size)
        stem = os.path.splitext(os.path.basename(path))[0]
        for i, row in enumerate(z):
            named.append((stem if len(z) == 1 else f"{stem}_{i}", row))
    jobs = [(p, name, z) for p in args.pitches for name, z in named]
    latents = np.stack([z for _, _, z in jobs])
    pitches = np.array([p for p, _, _ in jobs])
    waves, specs = synth.generate(latents, pitches)
    os.makedirs(args.output_dir, exist_ok=True)
    for (p, name, _), wave, spec in zip(jobs, waves, specs):
        base = os.path.join(args.output_dir, f"pitch{p}_{name}")
        audio.write_wav(base + ".wav", S.peak_limit(wave), synth.sample_rate)
        if args.rainbowgrams:
            _plot_specgram(synth, spec, base + ".png", title=f"pitch {p}, {name}")
    print(
        f"wrote {len(jobs)} notes ({synth.audio_length} samples at {synth.sample_rate} Hz) to {args.output_dir}"
        f" from {synth.checkpoint}{' (EMA weights)' if synth.uses_ema else ''}"
    )
    return 0


def _plot_specgram(synth, spec, path: str, title: str) -> None:
    from tfmusic import plotting

    spectral = synth.config.data.spectral
    bins = synth.helper.mel_bin_frequencies() if spectral.mel else synth.helper.linear_bin_frequencies()
    plotting.plot_rainbowgram(
        path,
        specgram=spec,
        sample_rate=spectral.sample_rate,
        frame_step=spectral.frame_step,
        bin_frequencies=bins,
        log_power=spectral.mel,
        start_time=-spectral.pad_left / spectral.sample_rate,
        title=title,
    )


def _run_midi(args) -> int:
    from gansynth_tf import synthesize as S
    from tfmusic import audio

    # Read the MIDI first: a bad file fails before the model loads.
    notes = S.load_midi_notes(args.midi_file)
    synth = _load(args)
    kwargs = dict(
        timbre=args.timbre,
        seed=args.seed,
        seconds_per_anchor=args.seconds_per_anchor,
        interpolation=args.interpolation,
        attack_s=args.attack,
        release_s=args.release,
    )
    if args.latent_file:
        z = load_latent_file(args.latent_file, synth.latent_size)
        if args.timbre == "fixed":
            if len(z) != 1:
                raise ValueError(f"{args.latent_file}: --timbre fixed takes one latent, the file holds {len(z)}")
            kwargs["latent"] = z[0]
        else:
            kwargs["anchors"] = z
    result = S.render_midi(synth, notes, **kwargs)
    out = args.output_file or os.path.join(
        args.output_dir, os.path.splitext(os.path.basename(args.midi_file))[0] + ".wav"
    )
    audio.write_wav(out, result.audio, result.sample_rate)
    print(
        f"wrote {out}: {len(notes)} notes, {len(result.audio) / result.sample_rate:.2f} s, "
        f"{result.num_generated} generated, timbre {args.timbre}"
        + (f" ({len(result.anchors)} anchors)" if args.timbre == "interpolate" else "")
    )
    if result.num_transposed or result.num_clipped:
        print(
            f"gansynth_generate: {args.midi_file}: {result.num_transposed} notes transposed by octaves, "
            f"{result.num_clipped} clipped into the model's pitch range {synth.min_pitch}..{synth.max_pitch}",
            file=sys.stderr,
        )
    return 0


def _run_export(args) -> int:
    from gansynth_tf.export import export_saved_model

    synth = _load(args)
    path = export_saved_model(synth, args.export_dir)
    print(
        f"wrote SavedModel {path}: serving_default(latent float32 [None, {synth.latent_size}], pitch int32 "
        f"[None] in {synth.min_pitch}..{synth.max_pitch}) -> audio float32 [None, {synth.audio_length}] "
        f"at {synth.sample_rate} Hz"
    )
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``gansynth_generate``; returns the exit status (2 on bad input)."""
    cli_support.start(argv)
    args = build_parser().parse_args(argv)
    from gansynth_tf.synthesize import MidiFileError
    from tfmusic.config import ConfigError
    from tfmusic.zoo import ZooError

    try:
        return {"notes": _run_notes, "midi": _run_midi, "export": _run_export}[args.command](args)
    except (MidiFileError, FileNotFoundError, FileExistsError, ConfigError, ValueError, ZooError) as e:
        print(f"gansynth_generate: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
