"""`improv_rnn_generate`: melodies over backing chords, MIDI from a ``.mag`` or a Magenta run folder, as Magenta's command.

    improv_rnn_generate --bundle_file chord_pitches_improv.mag --output_dir out --num_outputs 10 \\
        --backing_chords "C G Am F C G F C" --steps_per_chord 16 [--primer_melody "[60]" | --primer_midi p.mid] \\
        [--render_chords] [--qpm 120] [--temperature 1.0] [--beam_size 1 --branch_factor 1 \\
        --steps_per_iteration 1] [--seed 0]

    # a run folder of Magenta's own improv_rnn_train (RUN/train/model.ckpt-N)
    improv_rnn_generate --run_dir logdir/run1 --config attention_improv --output_dir out
    improv_rnn_generate --run_dir logdir/run1 --config attention_improv --save_generator_bundle --bundle_file i.mag

The output is as long as the chords (``steps_per_chord`` sixteenth-note steps per chord symbol);
without a primer, Magenta's single middle C. ``--render_chords`` adds the chords as notes. Files are named
``<date>_<time>_<index>.mid``. See :mod:`improv_rnn_ext.generate`.
"""

from __future__ import annotations

import argparse
import sys

from events_rnn.generate_cli import (
    FamilyGenerateCli,
    add_absl_bool,
    add_model_arguments,
    add_output_arguments,
    add_sampling_arguments,
)
from improv_rnn_ext import CONFIG_IDS, DEFAULT_BACKING_CHORDS
from tfmusic import cli_support

PROG = "improv_rnn_generate"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``improv_rnn_generate`` (Magenta's flags, plus ``--seed``)."""
    p = cli_support.make_parser(PROG, __doc__)
    add_model_arguments(p, CONFIG_IDS, "basic_improv", PROG)
    add_output_arguments(p)
    p.add_argument(
        "--backing_chords",
        default=DEFAULT_BACKING_CHORDS,
        help=f'chord symbols separated by spaces (default "{DEFAULT_BACKING_CHORDS}")',
    )
    p.add_argument("--steps_per_chord", type=int, default=16, help="sixteenth-note steps per chord (default 16)")
    primer = p.add_mutually_exclusive_group()
    primer.add_argument("--primer_melody", default="", help='note-seq Melody events: "[60, -2, 60, -2, 67, -2]"')
    primer.add_argument("--primer_midi", default="", help="MIDI file whose melody primes the model")
    add_absl_bool(p, "render_chords", False, "also render the backing chords as notes")
    add_sampling_arguments(p)
    return p


def read_primer(args):
    """The primer NoteSequence from the primer flags (with the tempo set), as Magenta's ``run_with_flags``."""
    from events_rnn.generate import parse_int_list
    from improv_rnn_ext import generate

    qpm = args.qpm or generate.DEFAULT_QPM
    if args.primer_melody:
        return generate.primer_from_melody(parse_int_list(args.primer_melody, "--primer_melody"), qpm)
    if args.primer_midi:
        sequence, midi_qpm = generate.primer_from_midi(args.primer_midi)
        if not midi_qpm:
            sequence.tempos.add().qpm = qpm
        return sequence
    print(f"{PROG}: no primer given; starting from a single middle C", file=sys.stderr)
    return generate.default_primer(qpm)


def make_generator(args, loaded):
    """(Improv RNN generator, primer) for the loaded model, the backing chords and the primer flags."""
    from improv_rnn_ext import generate

    chords = generate.backing_chords(args.backing_chords, args.steps_per_chord)
    primer = read_primer(args)
    return generate.ImprovGenerator(loaded.model, loaded.config, chords, args.render_chords), primer


def make_options(args):
    """Generation options of the flags."""
    from improv_rnn_ext import generate

    return generate.options(args.temperature, args.beam_size, args.branch_factor, args.steps_per_iteration, args.seed)


#: The command: ``family()`` (the family's :class:`events_rnn.bundle.ModelFamily`, imports TensorFlow) and
#: ``main(argv=None)`` (0, 1 on a bad bundle / run / primer / chord, 2 on bad flags).
CLI = FamilyGenerateCli(PROG, build_parser, "improv_rnn_ext", make_options, make_generator)
family, main = CLI.family, CLI.main

if __name__ == "__main__":
    sys.exit(main())
