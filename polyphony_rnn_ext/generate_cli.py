"""`polyphony_rnn_generate`: polyphonic MIDI from a ``.mag`` bundle or a Magenta run folder, as Magenta's command.

    polyphony_rnn_generate --bundle_file polyphony_rnn.mag --output_dir out --num_outputs 10 --num_steps 128 \\
        --primer_pitches "[67, 64, 60]" [--condition_on_primer] [--noinject_primer_during_generation] \\
        [--temperature 1.0] [--beam_size 1 --branch_factor 1 --steps_per_iteration 1] [--qpm 120] [--seed 0]

    polyphony_rnn_generate --bundle_file polyphony_rnn.mag --primer_midi primer.mid --output_dir out

    # a run folder of Magenta's own polyphony_rnn_train (RUN/train/model.ckpt-N)
    polyphony_rnn_generate --run_dir logdir/run1 [--config polyphony] --output_dir out

    # write a .mag bundle from a Magenta run folder instead of generating
    polyphony_rnn_generate --run_dir logdir/run1 --save_generator_bundle --bundle_file polyphony.mag

Primers (one of them; without any, an empty sequence, as Magenta): ``--primer_pitches`` a chord one
quarter note long; ``--primer_melody`` a ``note_seq.Melody`` event list; ``--primer_midi`` a MIDI
file (its tempo is used). ``--num_steps`` counts 16th-note steps, primer included.
``--condition_on_primer`` (default off) lets the RNN read the primer before generating;
``--inject_primer_during_generation`` (default on; ``--noinject_primer_during_generation``) forces
the primer's notes into the generated track. Files are named ``<date>_<time>_<index>.mid``.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import List, Optional, Sequence

PROG = "polyphony_rnn_generate"


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes"):
        return True
    if value in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_absl_bool(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """An absl-style boolean flag: ``--name``, ``--name=false`` and ``--noname``."""
    parser.add_argument(f"--{name}", nargs="?", const=True, default=default, type=_bool,
                        help=f"{help} (default {str(default).lower()})")
    parser.add_argument(f"--no{name}", dest=name, action="store_false", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``polyphony_rnn_generate`` (Magenta's flags, plus ``--seed``)."""
    from polyphony_rnn_ext import config as config_lib

    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle_file", help=".mag bundle to generate from (with --save_generator_bundle: to write)")
    p.add_argument("--run_dir", help="run folder of Magenta's polyphony_rnn_train (RUN/train/model.ckpt-N)")
    p.add_argument("--config", choices=config_lib.CONFIG_IDS, default="polyphony", help="config id (polyphony)")
    p.add_argument("--hparams", default="", help="Magenta-style hparams; only attn_length matters here")
    p.add_argument("--save_generator_bundle", action="store_true",
                   help="write --run_dir's model as the .mag --bundle_file instead of generating")
    p.add_argument("--bundle_description", default="", help="bundle_details.description of --save_generator_bundle")
    p.add_argument("--output_dir", default=None, help="folder for the MIDI files (required when generating)")
    p.add_argument("--num_outputs", type=int, default=10, help="tracks to write (default 10)")
    p.add_argument("--num_steps", type=int, default=128, help="length in 16th-note steps, primer included")
    primer = p.add_mutually_exclusive_group()
    primer.add_argument("--primer_pitches", default="", help='a starting chord one quarter long, e.g. "[60, 64, 67]"')
    primer.add_argument("--primer_melody", default="", help='e.g. "[60, -2, 60, -2, 67, -2, 67, -2]"')
    primer.add_argument("--primer_midi", default="", help="MIDI file whose polyphonic track primes the model")
    add_absl_bool(p, "condition_on_primer", False, "the RNN reads the primer before generating")
    add_absl_bool(p, "inject_primer_during_generation", True, "force the primer's notes into the generated track")
    p.add_argument("--qpm", type=float, default=None, help="tempo (a primer MIDI's tempo overrides it; else 120)")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (<= 0: argmax)")
    p.add_argument("--beam_size", type=int, default=1)
    p.add_argument("--branch_factor", type=int, default=1)
    p.add_argument("--steps_per_iteration", type=int, default=1)
    p.add_argument("--seed", type=int, default=None, help="random seed (output i uses seed + i)")
    return p


def _attn_length(hparams: str) -> Optional[int]:
    for item in filter(None, (s.strip() for s in hparams.split(","))):
        key, _, value = item.partition("=")
        if key.strip() == "attn_length":
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"--hparams attn_length={value!r}: not an integer") from None
    return None


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model ready to generate or bundle: ``model``, ``config``, ``global_step``, ``naming``
    (TF1 leaf names of its source), ``source`` (the file its weights came from)."""

    model: object
    config: object
    global_step: int
    naming: str
    source: str


def load_model(bundle_file: Optional[str] = None, run_dir: Optional[str] = None, config_id: str = "polyphony",
               hparams: str = "") -> LoadedModel:
    """The model of a ``.mag`` or of a Magenta run folder's newest ``train/model.ckpt-N``, ported strictly.

    Raises ``ValueError`` subclasses naming the file (``BundleError``, ``PortingError``,
    ``CheckpointReadError``) when it is not a fitting Polyphony RNN.
    """
    import tensorflow as tf

    from events_rnn import bundle as core
    from polyphony_rnn_ext import bundle as bundle_lib
    from tfmusic.tf1_checkpoints import read_checkpoint

    attn_length = _attn_length(hparams)
    if bundle_file:
        model, config, bundle = bundle_lib.load_bundle(bundle_file, attn_length=attn_length)
        if config_id and config_id != config.config_id:
            raise ValueError(f"--config {config_id} but {bundle_file} holds a {config.config_id!r} model")
        naming = core.infer_model_spec(bundle.variables, bundle.path).naming
        return LoadedModel(model, config, int(bundle.variables.get("global_step", 0)), naming, bundle.path)
    train = os.path.join(os.fspath(run_dir), "train")
    prefix = tf.train.latest_checkpoint(train) if os.path.isdir(train) else None
    if not prefix:
        raise ValueError(f"{run_dir}: no train/checkpoint with a model.ckpt-N (not a run folder of Magenta's "
                         "polyphony_rnn_train)")
    variables = read_checkpoint(prefix)
    model, config, spec = core.load_variables(bundle_lib.FAMILY, variables, config_id, prefix, attn_length)
    return LoadedModel(model, config, int(variables.get("global_step", 0)), spec.naming, prefix)


def read_primer(args):
    """(primer NoteSequence, qpm) from the primer flags, as Magenta's ``run_with_flags``."""
    from events_rnn.generate import parse_int_list
    from polyphony_rnn_ext import generate

    qpm = args.qpm or generate.DEFAULT_QPM
    if args.primer_pitches:
        return generate.primer_from_pitches(parse_int_list(args.primer_pitches, "--primer_pitches"), qpm), qpm
    if args.primer_melody:
        return generate.primer_from_melody(parse_int_list(args.primer_melody, "--primer_melody"), qpm), qpm
    if args.primer_midi:
        sequence, midi_qpm = generate.primer_from_midi(args.primer_midi)
        if midi_qpm:
            qpm = midi_qpm
        if not sequence.tempos:
            sequence.tempos.add().qpm = qpm
        return sequence, qpm
    print(f"{PROG}: no primer given; starting from an empty sequence", file=sys.stderr)
    return generate.empty_primer(qpm), qpm


def generate_files(generator, primer, output_dir: str, num_outputs: int, options) -> List[tuple]:
    """Generate ``num_outputs`` tracks, one MIDI file each; returns [(path, score)]. Output ``i`` uses
    seed ``options.seed + i`` when a seed is set."""
    import note_seq

    os.makedirs(output_dir, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H%M%S")
    digits = len(str(num_outputs))
    out = []
    for i in range(num_outputs):
        opts = dataclasses.replace(options, seed=None if options.seed is None else options.seed + i)
        sequence, score = generator.generate(primer, opts)
        path = os.path.join(output_dir, f"{stamp}_{str(i + 1).zfill(digits)}.mid")
        note_seq.sequence_proto_to_midi_file(sequence, path)
        out.append((path, score))
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``polyphony_rnn_generate``; 0, 1 on a bad bundle / run / primer, 2 on bad flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.save_generator_bundle:
        if not (args.run_dir and args.bundle_file):
            parser.error("--save_generator_bundle needs --run_dir (the run to bundle) and --bundle_file (the .mag)")
    else:
        if bool(args.bundle_file) == bool(args.run_dir):
            parser.error("pass either --bundle_file or --run_dir (both only with --save_generator_bundle)")
        if not args.output_dir:
            parser.error("--output_dir is required when generating")
        if args.num_outputs < 1:
            parser.error("--num_outputs must be >= 1")
    from polyphony_rnn_ext import bundle as bundle_lib
    from polyphony_rnn_ext import generate
    from tfmusic.tf1_checkpoints import CheckpointReadError

    errors = (ValueError, CheckpointReadError, OSError)
    try:
        loaded = load_model(None if args.save_generator_bundle else args.bundle_file, args.run_dir, args.config,
                            args.hparams)
    except errors as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    if args.save_generator_bundle:
        path = bundle_lib.write_bundle(loaded.model, loaded.config, args.bundle_file, args.bundle_description,
                                       loaded.global_step, loaded.naming)
        print(f"{PROG}: wrote bundle {path} ({loaded.config.config_id} "
              f"{list(loaded.config.hparams.rnn_layer_sizes)}, step {loaded.global_step}, from {loaded.source})")
        return 0
    try:
        options = generate.PolyphonyOptions(
            num_steps=args.num_steps, temperature=args.temperature, beam_size=args.beam_size,
            branch_factor=args.branch_factor, steps_per_iteration=args.steps_per_iteration, seed=args.seed,
            condition_on_primer=args.condition_on_primer,
            inject_primer_during_generation=args.inject_primer_during_generation)
    except generate.GenerationError as e:
        parser.error(str(e))
    try:
        primer, _ = read_primer(args)
        written = generate_files(generate.PolyphonyGenerator(loaded.model, loaded.config), primer, args.output_dir,
                                 args.num_outputs, options)
    except generate.GenerationError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    for path, score in written:
        print(f"{path}  log-likelihood {score:.3f}")
    print(f"{PROG}: wrote {len(written)} MIDI file(s) to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
