"""`melody_rnn_generate`: write MIDI melodies from a ``.mag`` bundle or a training run, as Magenta's command.

    melody_rnn_generate --bundle_file basic_rnn.mag --output_dir out --num_outputs 10 --num_steps 128 \\
        --primer_melody "[60, -2, 60, -2, 67, -2, 67, -2]" [--temperature 1.0] \\
        [--beam_size 1 --branch_factor 1 --steps_per_iteration 1] [--qpm 120] [--seed 0]

    melody_rnn_generate --run_dir runs/attn --primer_midi primer.mid --output_dir out

    # a run folder of Magenta's own melody_rnn_train (RUN/train/model.ckpt-N): --config names its config
    melody_rnn_generate --config attention_rnn --run_dir logdir/run1 [--hparams "attn_length=40"] --output_dir out

    # write a .mag bundle from a run folder (Magenta's or this toolkit's) instead of generating
    melody_rnn_generate --config attention_rnn --run_dir logdir/run1 --save_generator_bundle \\
        --bundle_file attention_rnn.mag [--bundle_description "..."]

``--run_dir`` takes either kind of run folder: this toolkit's (``config.json`` and ``ckpt-N``) or
Magenta's (``train/checkpoint`` and ``train/model.ckpt-N.*``), see :mod:`melody_rnn_ext.magenta_run`.
For Magenta's, the architecture comes from the variables and ``--config`` (required) must fit them.
``--hparams`` (Magenta's syntax) may set ``attn_length``, which no variable records; sizes it names
must agree with the variables; training-only hparams (batch size, dropout, ...) are ignored.
``--primer_melody``: Magenta's list syntax (-2 = no event, -1 = note off, 0..127 = note on, one
event per 16th note). ``--primer_midi``: the first melody of a MIDI file (its tempo is used unless
``--qpm`` is given). Without either, a single middle C (Magenta's default). ``--num_steps`` counts
the whole melody, primer included. Files are named ``<date>_<time>_<index>.mid`` (Magenta's
naming); the log-likelihood of each output is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import List, Optional, Sequence

from events_rnn import generate_cli as generate_core
from melody_rnn_ext import CONFIG_IDS
from tfmusic import cli_support


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``melody_rnn_generate`` (``--bundle`` is an alias of ``--bundle_file``,
    ``--model_dir`` of ``--run_dir``)."""
    p = cli_support.make_parser("melody_rnn_generate", __doc__)
    p.add_argument(
        "--bundle_file",
        "--bundle",
        dest="bundle_file",
        help=".mag bundle, or a zoo model's name, to generate from (default with no "
        "--run_dir either: the zoo's Melody RNN); with --save_generator_bundle: the .mag to write",
    )
    p.add_argument(
        "--run_dir",
        "--model_dir",
        dest="run_dir",
        help="run folder of melody_rnn_train, this toolkit's or Magenta's (newest checkpoint)",
    )
    p.add_argument(
        "--config",
        choices=CONFIG_IDS,
        default=None,
        help="config id: checked against a bundle / our run; required for a Magenta run folder",
    )
    p.add_argument("--hparams", default="", help="Magenta-style hparams, e.g. 'attn_length=40' (see above)")
    generate_core.add_bundle_writing_arguments(p)
    p.add_argument("--output_dir", default=None, help="folder for the MIDI files (required when generating)")
    p.add_argument("--num_outputs", type=int, default=10, help="melodies to write (default 10)")
    p.add_argument("--num_steps", type=int, default=128, help="melody length in 16th notes, primer included")
    primer = p.add_mutually_exclusive_group()
    primer.add_argument("--primer_melody", default="", help='e.g. "[60, -2, 60, -2, 67, -2, 67, -2]"')
    primer.add_argument("--primer_midi", default="", help="MIDI file whose first melody primes the model")
    generate_core.add_search_arguments(p)
    p.add_argument("--qpm", type=float, default=None, help="tempo of the output (default: primer MIDI's, else 120)")
    p.add_argument("--seed", type=int, default=None, help="random seed (outputs i use seed + i)")
    return p


def _check_flags(args, parser: argparse.ArgumentParser) -> None:
    """Magenta's rules: generating takes --bundle_file or --run_dir (not both) and --output_dir;
    --save_generator_bundle takes --run_dir (the source) and --bundle_file (the output)."""
    if args.save_generator_bundle:
        if not (args.run_dir and args.bundle_file):
            parser.error(
                "--save_generator_bundle needs --run_dir (the run to bundle) and --bundle_file (the .mag to write)"
            )
        return
    if args.bundle_file and args.run_dir:
        parser.error("pass either --bundle_file or --run_dir (both only with --save_generator_bundle)")
    if not args.output_dir:
        parser.error("--output_dir is required when generating")
    if args.num_outputs < 1:
        parser.error("--num_outputs must be >= 1")


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model ready to generate or bundle.

    Attributes:
      model: the Keras model (no dropout).
      config: its :class:`melody_rnn_ext.config.MelodyRnnConfig`.
      global_step: the training step of its weights.
      naming: TF1 leaf names its source used (``kernel`` or ``weights``), kept when bundling.
      source: the file the weights came from.
    """

    model: object
    config: object
    global_step: int
    naming: str
    source: str


def _hparams_overrides(text: str) -> List[str]:
    from melody_rnn_ext.train_cli import parse_hparams

    return parse_hparams(text)


def _attn_length_override(overrides: Sequence[str]) -> Optional[int]:
    for item in overrides:
        key, _, value = item.partition("=")
        if key == "model.hparams.attn_length":
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"--hparams attn_length={value!r}: not an integer") from None
    return None


def check_hparams(config, overrides: Sequence[str], source: str) -> None:
    """Raise ``ValueError`` when ``--hparams`` overrides contradict the loaded model's architecture
    (``rnn_layer_sizes``, ``attn_length``, ``attention_layout``); other hparams only matter for training."""
    if not overrides:
        return
    from melody_rnn_ext.config import MelodyRnnExperiment
    from tfmusic import config as config_lib

    wanted = config_lib.apply_overrides(MelodyRnnExperiment(model=config), list(overrides)).model.hparams
    have = config.hparams
    for field in ("rnn_layer_sizes", "attn_length", "attention_layout"):
        if any(o.startswith(f"model.hparams.{field}=") for o in overrides) and getattr(wanted, field) != getattr(
            have, field
        ):
            raise ValueError(
                f"--hparams {field}={getattr(wanted, field)} but {source} holds a model with "
                f"{field}={getattr(have, field)}"
            )


def load_model(
    bundle_file: Optional[str] = None, run_dir: Optional[str] = None, config_id: Optional[str] = None, hparams: str = ""
) -> LoadedModel:
    """The model of a ``.mag`` bundle or of a run folder (this toolkit's or Magenta's, see
    :func:`melody_rnn_ext.magenta_run.run_folder_kind`), ``config_id`` and ``hparams`` checked against it.

    Raises ``ValueError`` subclasses naming the file: ``BundleError``, ``PortingError``,
    ``GenerationError``, ``RunFolderError``, or a plain ``ValueError`` for contradicting flags.
    """
    from melody_rnn_ext import bundle as bundle_lib
    from melody_rnn_ext import generate, magenta_run

    overrides = _hparams_overrides(hparams)
    attn_length = _attn_length_override(overrides)
    if bundle_file:
        model, config, bundle = bundle_lib.load_bundle(bundle_file, attn_length=attn_length)
        spec = bundle_lib.infer_model_spec(bundle.variables, source=bundle.path)
        loaded = LoadedModel(model, config, int(bundle.variables.get("global_step", 0)), spec.naming, bundle.path)
    elif magenta_run.run_folder_kind(run_dir) == "magenta":
        model, config, ckpt = magenta_run.load_magenta_model(run_dir, config_id, attn_length)
        loaded = LoadedModel(model, config, ckpt.global_step, ckpt.spec.naming, ckpt.path)
    else:
        model, config, path = generate.load_run_checkpoint(run_dir)
        loaded = LoadedModel(model, config, magenta_run.checkpoint_step_from_prefix(path), "kernel", path)
    if config_id and config_id != loaded.config.config_id:
        raise ValueError(f"--config {config_id} but {loaded.source} holds a {loaded.config.config_id!r} model")
    check_hparams(loaded.config, overrides, loaded.source)
    return loaded


def load_generator(
    bundle_file: Optional[str] = None, run_dir: Optional[str] = None, config_id: Optional[str] = None, hparams: str = ""
):
    """A :class:`melody_rnn_ext.generate.MelodyGenerator` from a bundle or a run folder (see :func:`load_model`)."""
    from melody_rnn_ext.generate import MelodyGenerator

    loaded = load_model(bundle_file, run_dir, config_id, hparams)
    return MelodyGenerator(loaded.model, loaded.config)


def save_generator_bundle(loaded: LoadedModel, path: str, description: str = "") -> str:
    """Write ``loaded`` as a ``.mag`` at ``path`` (Magenta's ``--save_generator_bundle``): its weights
    bit for bit under their TF1 names (the source's naming kept), its step as ``global_step``."""
    from melody_rnn_ext import bundle as bundle_lib

    return bundle_lib.write_bundle(
        loaded.model, loaded.config, path, description=description, global_step=loaded.global_step, naming=loaded.naming
    )


@dataclasses.dataclass(frozen=True)
class _MelodyFiles:
    """A :class:`melody_rnn_ext.generate.MelodyGenerator` whose ``generate`` returns what
    :func:`events_rnn.generate_cli.generate_files` writes: (the melody as a NoteSequence at ``qpm``,
    its log-likelihood)."""

    generator: object
    qpm: float

    def generate(self, primer, options):
        from melody_rnn_ext import generate

        result = self.generator.generate(primer, options)
        return generate.melody_to_sequence(result.melody, qpm=self.qpm), result.log_likelihood


def generate_files(generator, primer, output_dir: str, num_outputs: int, options, qpm: float) -> List[tuple]:
    """Generate ``num_outputs`` melodies and write one MIDI file each; returns [(path, log-likelihood)].

    Output ``i`` uses seed ``options.seed + i`` (when a seed is set), so runs are reproducible
    (:func:`events_rnn.generate_cli.generate_files`, Magenta's file names).
    """
    return generate_core.generate_files(_MelodyFiles(generator, qpm), primer, output_dir, num_outputs, options)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``melody_rnn_generate``; returns 0, 1 on a bad bundle / run / primer, 2 on bad flags."""
    cli_support.start(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_flags(args, parser)
    from melody_rnn_ext import generate
    from tfmusic import zoo
    from tfmusic.tf1_checkpoints import CheckpointReadError

    load_errors = (ValueError, CheckpointReadError, OSError)  # BundleError, PortingError, RunFolderError...
    if args.save_generator_bundle:
        try:
            loaded = load_model(run_dir=args.run_dir, config_id=args.config, hparams=args.hparams)
            path = save_generator_bundle(loaded, args.bundle_file, args.bundle_description)
        except load_errors as e:
            print(f"melody_rnn_generate: {e}", file=sys.stderr)
            return 1
        print(
            f"melody_rnn_generate: wrote bundle {path} ({loaded.config.config_id} "
            f"{list(loaded.config.hparams.rnn_layer_sizes)}, step {loaded.global_step}, from {loaded.source})"
        )
        return 0
    try:
        options = generate_core.options_from_flags(args)
    except generate.GenerationError as e:
        parser.error(str(e))
    qpm = args.qpm
    try:
        if args.primer_midi:
            primer, midi_qpm = generate.primer_from_midi(args.primer_midi)
            qpm = qpm or midi_qpm
        elif args.primer_melody:
            primer = generate.parse_primer_melody(args.primer_melody)
        else:
            print("melody_rnn_generate: no primer given; starting from a single middle C", file=sys.stderr)
            primer = generate.parse_primer_melody("[60]")
    except generate.GenerationError as e:
        print(f"melody_rnn_generate: {e}", file=sys.stderr)
        return 1
    try:
        bundle_file = None
        if not args.run_dir:  # a bundle path, a zoo model's name, or (neither given) the zoo's default
            bundle_file = zoo.resolve(args.bundle_file, "melody_rnn")
            if bundle_file != args.bundle_file:
                print(
                    f"melody_rnn_generate: zoo model {args.bundle_file or zoo.DEFAULTS['melody_rnn']} ({bundle_file})",
                    file=sys.stderr,
                )
        generator = load_generator(bundle_file, args.run_dir, args.config, args.hparams)
    except (*load_errors, zoo.ZooError) as e:
        print(f"melody_rnn_generate: {e}", file=sys.stderr)
        return 1
    try:
        written = generate_files(
            generator, primer, args.output_dir, args.num_outputs, options, qpm or generate.DEFAULT_QPM
        )
    except generate.GenerationError as e:
        print(f"melody_rnn_generate: {e}", file=sys.stderr)
        return 1
    generate_core.report_written("melody_rnn_generate", written, args.output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
