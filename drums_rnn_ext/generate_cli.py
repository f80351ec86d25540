"""`drums_rnn_generate`: drum-track MIDI from a ``.mag`` bundle or a Magenta run folder, as Magenta's command.

    drums_rnn_generate --bundle_file drum_kit_rnn.mag --output_dir out --num_outputs 10 --num_steps 128 \\
        --primer_drums "[(36, 42), (), (42,), ()]" [--temperature 1.0] \\
        [--beam_size 1 --branch_factor 1 --steps_per_iteration 1] [--qpm 120] [--seed 0]

    drums_rnn_generate --bundle_file drum_kit_rnn.mag --primer_midi beat.mid --output_dir out

    # a run folder of Magenta's own drums_rnn_train (RUN/train/model.ckpt-N)
    drums_rnn_generate --run_dir logdir/run1 --config drum_kit --output_dir out
    drums_rnn_generate --run_dir logdir/run1 --config drum_kit --save_generator_bundle --bundle_file drums.mag

Primers (one of them; without any, Magenta's single bass drum hit): ``--primer_drums`` a list of
tuples of drum pitches, one per step; ``--primer_midi`` a MIDI file (its tempo is used; every note
counts as a drum). ``--num_steps`` counts steps at the config's resolution, primer included.
Files are named ``<date>_<time>_<index>.mid``. See :mod:`drums_rnn_ext.generate`.
"""

from __future__ import annotations

import argparse
import sys

from drums_rnn_ext import CONFIG_IDS
from events_rnn.generate_cli import FamilyGenerateCli, family_parser, options_from_flags

PROG = "drums_rnn_generate"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``drums_rnn_generate`` (Magenta's flags, plus ``--seed``)."""
    p, primer = family_parser(PROG, __doc__, CONFIG_IDS, "drum_kit", "length in steps, primer included")
    primer.add_argument("--primer_drums", default="", help='drum pitches per step, e.g. "[(36, 42), (), (42,)]"')
    primer.add_argument("--primer_midi", default="", help="MIDI file whose drums prime the model")
    return p


def read_primer(args, steps_per_quarter: int):
    """(primer NoteSequence, qpm) from the primer flags, as Magenta's ``run_with_flags``."""
    from drums_rnn_ext import generate

    qpm = args.qpm or generate.DEFAULT_QPM
    if args.primer_drums:
        steps = generate.parse_primer_drums(args.primer_drums)
        return generate.primer_from_drums(steps, qpm, steps_per_quarter), qpm
    if args.primer_midi:
        sequence, midi_qpm = generate.primer_from_midi(args.primer_midi)
        return sequence, midi_qpm or qpm
    print(f"{PROG}: no primer given; starting from a single bass drum hit", file=sys.stderr)
    return generate.default_primer(qpm, steps_per_quarter), qpm


def make_generator(args, loaded):
    """(Drums RNN generator, primer) for the loaded model and the primer flags."""
    from drums_rnn_ext import generate

    primer, _ = read_primer(args, loaded.config.steps_per_quarter)
    return generate.DrumsGenerator(loaded.model, loaded.config), primer


#: Generation options of the flags (:func:`events_rnn.generate_cli.options_from_flags`).
make_options = options_from_flags
#: The command: ``family()`` (the family's :class:`events_rnn.bundle.ModelFamily`, imports TensorFlow) and
#: ``main(argv=None)`` (0, 1 on a bad bundle / run / primer, 2 on bad flags).
CLI = FamilyGenerateCli(PROG, build_parser, "drums_rnn_ext", make_options, make_generator)
family, main = CLI.family, CLI.main

if __name__ == "__main__":
    sys.exit(main())
