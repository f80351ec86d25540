"""``music_eval``: the evaluation suite's command line.

    music_eval compare ORIGINAL GENERATED... [--out DIR] [--max_seconds S] [--no_pitch_range]
    music_eval gan REAL_DIR GENERATED_DIR [--classifier ZOO_NAME|MODEL_DIR | --train_classifier] [--out DIR] [--k 50]
    music_eval validate [--num N] [--no_audio] [--out FILE.json]

``compare`` takes MIDI / MusicXML / audio files or folders of them, prints the Markdown table and
writes ``comparison.{md,csv,json}`` and a self-contained ``report.html`` into ``--out``.
``gan`` prints GANSynth's metrics table (NDB, FID, IS, PA, PE) and writes
``gan_metrics.{md,csv,json}`` and ``gan_report.html``; its pitch classifier is the zoo's
``pitch_classifier`` unless ``--classifier`` names another zoo model or a folder from
``music_eval_train_classifier``; ``--train_classifier`` trains one on REAL_DIR instead (``OUT/classifier``).
``validate`` runs the Bach-chorale validation of key, meter and tempo estimation.

Exit status: 0 on success, 2 on bad input (the message names the file).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from tfmusic import cli_flags, cli_support

DEFAULT_CLASSIFIER = "pitch_classifier"  # the zoo's (models/pitch_classifier), as Magenta shipped one
#: ``music_eval_train_classifier --preset`` names (``music_eval.classifier.PRESETS``), here so that ``--help``
#: imports no TensorFlow; tests/test_commands.py checks them against the registry.
CLASSIFIER_PRESETS = ("gansynth", "tiny")


def _compare(args) -> int:
    from music_eval import report
    from music_eval.compare import compare_files

    comparison = compare_files(
        args.original,
        args.generated,
        max_seconds=args.max_seconds,
        with_pitch_range=not args.no_pitch_range,
        soundfont=args.soundfont,
    )
    print(comparison.to_markdown())
    html_path = report.write_comparison_report(comparison, args.out)
    print(f"\nwrote {os.path.join(args.out, 'comparison.md')}, comparison.csv, comparison.json")
    print(f"report: {html_path}")
    return 0


def _gan(args) -> int:
    from music_eval import classifier as clf
    from music_eval import gan_eval, report
    from tfmusic import config as config_lib

    from tfmusic import zoo

    real, real_bad = clf.load_note_folder(args.real_dir)
    gen, gen_bad = clf.load_note_folder(args.generated_dir)
    if not args.train_classifier:
        path = zoo.resolve(args.classifier, family="pitch_classifier")
        print(f"pitch classifier: {path}", file=sys.stderr)
        classifier = clf.load_classifier(path)
    else:
        model_dir = os.path.join(args.out, "classifier")
        print(f"no --classifier given: training one on {args.real_dir} into {model_dir}", file=sys.stderr)
        overrides = [f"trainer.train_steps={args.train_steps}", "trainer.progress=false"]
        cfg, _ = config_lib.resolve_run_config(model_dir, clf.PRESETS.get("gansynth"), overrides)
        result = clf.train_classifier(cfg, model_dir, data=real)
        classifier = result.classifier
        print(f"classifier held-out accuracy {result.metrics['heldout_accuracy']:.3f}", file=sys.stderr)
    evaluation = gan_eval.evaluate_gan(
        real, gen, classifier, k=args.k, alpha=args.alpha, pitch_tolerance=args.pitch_tolerance, seed=args.seed
    )
    evaluation.skipped = list(real_bad) + list(gen_bad)
    print(evaluation.to_markdown())
    html_path = report.write_gan_report(evaluation, args.out, real, gen)
    print(f"\nwrote {os.path.join(args.out, 'gan_metrics.md')}, gan_metrics.csv, gan_metrics.json")
    print(f"report: {html_path}")
    return 0


def _validate(args) -> int:
    from music_eval import validation

    argv = []
    if args.num is not None:
        argv += ["--num", str(args.num)]
    if args.no_audio:
        argv.append("--no_audio")
    if args.out:
        argv += ["--out", args.out]
    return validation.main(argv)


def build_parser() -> argparse.ArgumentParser:
    """The ``music_eval`` parser with its subcommands."""
    p = cli_support.make_parser("music_eval", "Evaluation suite: MIR comparisons and GANSynth metrics.", raw=False)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("compare", help="compare an original piece with generated ones (MIDI/MusicXML/audio)")
    cli_support.add_verbose_flag(c, suppress_default=True)
    c.add_argument("original", help="the original piece (file)")
    c.add_argument("generated", nargs="+", help="generated pieces: files or folders")
    c.add_argument("--out", default="music_eval_report", help="output folder (default: music_eval_report)")
    c.add_argument("--max_seconds", type=float, default=120.0, help="analyze at most this much of each piece")
    c.add_argument("--no_pitch_range", action="store_true", help="skip pYIN on audio-only pieces (faster)")
    c.add_argument("--soundfont", default=None, help=".sf2 for rendering MIDI (default: TimGM6mb)")
    c.set_defaults(func=_compare)

    g = sub.add_parser("gan", help="GANSynth's metrics of generated notes against real notes")
    cli_support.add_verbose_flag(g, suppress_default=True)
    g.add_argument("real_dir", help="NSynth jsonwav folder or folder of 16 kHz wavs")
    g.add_argument("generated_dir", help="same formats; pitches from examples.json or pitch_NN paths")
    g.add_argument(
        "--classifier",
        default=DEFAULT_CLASSIFIER,
        help=f"a zoo model name or a folder from music_eval_train_classifier (default: the zoo's {DEFAULT_CLASSIFIER})",
    )
    g.add_argument(
        "--train_classifier",
        action="store_true",
        help="train a classifier on REAL_DIR (OUT/classifier) instead of using --classifier",
    )
    g.add_argument("--out", default="music_eval_gan", help="output folder")
    g.add_argument("--k", type=int, default=50, help="NDB k-means cells (paper: 50)")
    g.add_argument("--alpha", type=float, default=0.05, help="NDB per-cell significance")
    g.add_argument("--pitch_tolerance", type=int, default=0, help="PA slack in semitones (Magenta's code: 1)")
    cli_flags.add_train_steps_flag(g, "steps with --train_classifier", name="train_steps", default=1500)
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(func=_gan)

    v = sub.add_parser("validate", help="key / meter / tempo estimation against music21's Bach chorales")
    cli_support.add_verbose_flag(v, suppress_default=True)
    v.add_argument("--num", type=int, default=None, help="number of chorales (default: all 371)")
    v.add_argument("--no_audio", action="store_true")
    v.add_argument("--out", default=None, help="JSON file for per-chorale results")
    v.set_defaults(func=_validate)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``music_eval`` console script; returns the exit status."""
    cli_support.start(argv)
    args = build_parser().parse_args(argv)
    from music_eval.io import MusicFileError
    from pipelines.errors import InputError
    from music_eval.classifier import ClassifierFileError
    from tfmusic.audio import AudioFileError
    from tfmusic.zoo import ZooError

    try:
        return args.func(args)
    except (MusicFileError, InputError, AudioFileError, FileNotFoundError, ZooError, ClassifierFileError) as e:
        print(f"music_eval {args.command}: error: {e}", file=sys.stderr)
        return 2


def build_train_classifier_parser() -> argparse.ArgumentParser:
    """The ``music_eval_train_classifier`` parser (no heavy import; :func:`parse_train_classifier_args` reads it).

    The run folder is ``--model_dir`` (alias ``--run_dir``) or, as before, the positional argument; the step
    count ``--num_training_steps`` (aliases ``--num_steps``, ``--train_steps``) is ``--set trainer.train_steps``.
    """
    p = cli_support.make_parser(
        "music_eval_train_classifier",
        raw=False,
        description="Train the pitch classifier used by GANSynth's metrics (IS, PA, PE, FID) on an "
        "NSynth jsonwav folder; resumes from MODEL_DIR's newest checkpoint.",
    )
    p.add_argument(
        "model_dir",
        nargs="?",
        default=None,
        metavar="MODEL_DIR",
        help="run folder (checkpoints, config.json, classifier_metrics.json); or --model_dir",
    )
    p.add_argument(
        "--model_dir",
        "--run_dir",
        dest="model_dir_flag",
        default=None,
        metavar="MODEL_DIR",
        help="the run folder, named (the positional MODEL_DIR's other form)",
    )
    p.add_argument("--train_dir", help="NSynth jsonwav folder (sets data.train_dir)")
    p.add_argument("--preset", default=None, choices=CLASSIFIER_PRESETS, help="default: gansynth")
    cli_flags.add_overrides_flag(p, "override a config field, e.g. trainer.train_steps=500 (repeatable)")
    cli_flags.add_train_steps_flag(p, "total training steps (trainer.train_steps)")
    p.add_argument(
        "--eval_dir",
        action="append",
        default=[],
        help="also report accuracy on this NSynth folder (repeatable), e.g. ../shared/data/nsynth_sample",
    )
    return p


def parse_train_classifier_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parsed ``music_eval_train_classifier`` flags: ``model_dir`` from either form (exit 2 with neither, or two
    different ones), the step count put in front of ``overrides`` (an explicit ``--set`` wins)."""
    parser = build_train_classifier_parser()
    args = parser.parse_args(argv)
    if args.model_dir and args.model_dir_flag and args.model_dir != args.model_dir_flag:
        parser.error(f"two run folders: {args.model_dir} and --model_dir {args.model_dir_flag}")
    args.model_dir = args.model_dir or args.model_dir_flag
    if not args.model_dir:
        parser.error("the run folder is required: --model_dir RUN (or RUN as the first argument)")
    if args.num_training_steps is not None:
        args.overrides = [f"trainer.train_steps={args.num_training_steps}"] + list(args.overrides)
    return args


def train_classifier_main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``music_eval_train_classifier`` console script."""
    cli_support.start(argv)
    parse_train_classifier_args(argv)  # --help and flag errors before TensorFlow is imported
    from music_eval import classifier

    return classifier.main(argv)


if __name__ == "__main__":
    sys.exit(main())
