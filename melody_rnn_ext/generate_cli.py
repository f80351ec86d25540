"""`melody_rnn_generate`: write MIDI melodies from a ``.mag`` bundle or a training run, as Magenta's command.

    melody_rnn_generate --bundle_file basic_rnn.mag --output_dir out --num_outputs 10 --num_steps 128 \\
        --primer_melody "[60, -2, 60, -2, 67, -2, 67, -2]" [--temperature 1.0] \\
        [--beam_size 1 --branch_factor 1 --steps_per_iteration 1] [--qpm 120] [--seed 0]

    melody_rnn_generate --run_dir runs/attn --primer_midi primer.mid --output_dir out

``--primer_melody``: Magenta's list syntax (-2 = no event, -1 = note off, 0..127 = note on, one
event per 16th note). ``--primer_midi``: the first melody of a MIDI file (its tempo is used unless
``--qpm`` is given). Without either, a single middle C (Magenta's default). ``--num_steps`` counts
the whole melody, primer included. Files are named ``<date>_<time>_<index>.mid`` (Magenta's
naming); the log-likelihood of each output is printed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional, Sequence


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``melody_rnn_generate``."""
    from melody_rnn_ext import encodings

    p = argparse.ArgumentParser(prog="melody_rnn_generate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--bundle_file", help=".mag bundle to generate from")
    src.add_argument("--run_dir", help="melody_rnn_train run folder (newest checkpoint)")
    p.add_argument("--config", choices=encodings.CONFIG_IDS, default=None,
                   help="expected config id (checked against the bundle / run)")
    p.add_argument("--output_dir", required=True, help="folder for the MIDI files")
    p.add_argument("--num_outputs", type=int, default=10, help="melodies to write (default 10)")
    p.add_argument("--num_steps", type=int, default=128, help="melody length in 16th notes, primer included")
    primer = p.add_mutually_exclusive_group()
    primer.add_argument("--primer_melody", default="", help='e.g. "[60, -2, 60, -2, 67, -2, 67, -2]"')
    primer.add_argument("--primer_midi", default="", help="MIDI file whose first melody primes the model")
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (<= 0: argmax)")
    p.add_argument("--beam_size", type=int, default=1)
    p.add_argument("--branch_factor", type=int, default=1)
    p.add_argument("--steps_per_iteration", type=int, default=1)
    p.add_argument("--qpm", type=float, default=None, help="tempo of the output (default: primer MIDI's, else 120)")
    p.add_argument("--seed", type=int, default=None, help="random seed (outputs i use seed + i)")
    return p


def load_generator(bundle_file: Optional[str] = None, run_dir: Optional[str] = None):
    """A :class:`melody_rnn_ext.generate.MelodyGenerator` from a bundle or a run folder."""
    from melody_rnn_ext.generate import MelodyGenerator

    if bundle_file:
        return MelodyGenerator.from_bundle(bundle_file)
    return MelodyGenerator.from_run_dir(run_dir)


def generate_files(generator, primer, output_dir: str, num_outputs: int, options, qpm: float) -> List[tuple]:
    """Generate ``num_outputs`` melodies and write one MIDI file each; returns [(path, log-likelihood)].

    Output ``i`` uses seed ``options.seed + i`` (when a seed is set), so runs are reproducible.
    """
    import dataclasses

    import note_seq

    from melody_rnn_ext import generate

    os.makedirs(output_dir, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d_%H%M%S")
    digits = len(str(num_outputs))
    out = []
    for i in range(num_outputs):
        opts = dataclasses.replace(options, seed=None if options.seed is None else options.seed + i)
        result = generator.generate(primer, opts)
        sequence = generate.melody_to_sequence(result.melody, qpm=qpm)
        path = os.path.join(output_dir, f"{stamp}_{str(i + 1).zfill(digits)}.mid")
        note_seq.sequence_proto_to_midi_file(sequence, path)
        out.append((path, result.log_likelihood))
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``melody_rnn_generate``; returns 0, 1 on a bad bundle / run / primer, 2 on bad flags."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num_outputs < 1:
        parser.error("--num_outputs must be >= 1")
    from melody_rnn_ext import generate

    try:
        options = generate.GenerationOptions(num_steps=args.num_steps, temperature=args.temperature,
                                             beam_size=args.beam_size, branch_factor=args.branch_factor,
                                             steps_per_iteration=args.steps_per_iteration, seed=args.seed)
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
    from melody_rnn_ext import bundle as bundle_lib

    try:
        generator = load_generator(args.bundle_file, args.run_dir)
    except (bundle_lib.BundleError, bundle_lib.PortingError, generate.GenerationError, OSError) as e:
        print(f"melody_rnn_generate: {e}", file=sys.stderr)
        return 1
    if args.config and args.config != generator.config.config_id:
        print(f"melody_rnn_generate: --config {args.config} but the model is {generator.config.config_id!r}",
              file=sys.stderr)
        return 1
    try:
        written = generate_files(generator, primer, args.output_dir, args.num_outputs, options,
                                 qpm or generate.DEFAULT_QPM)
    except generate.GenerationError as e:
        print(f"melody_rnn_generate: {e}", file=sys.stderr)
        return 1
    for path, loglik in written:
        print(f"{path}  log-likelihood {loglik:.3f}")
    print(f"melody_rnn_generate: wrote {len(written)} MIDI file(s) to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
