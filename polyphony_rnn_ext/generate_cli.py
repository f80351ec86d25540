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
import sys
from typing import Optional, Sequence

from events_rnn.generate_cli import (
    FamilyGenerateCli,
    LoadedModel,
    add_absl_bool,
    add_generation_arguments,  # noqa: F401
    add_model_arguments,  # noqa: F401
    family_parser,
    generate_files,
    options_from_flags,
)
from events_rnn.generate_cli import load_model as _load_model
from polyphony_rnn_ext import CONFIG_IDS
from tfmusic import cli_support

PROG = "polyphony_rnn_generate"


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``polyphony_rnn_generate`` (Magenta's flags, plus ``--seed``)."""
    p, primer = family_parser(PROG, __doc__, CONFIG_IDS, "polyphony", "length in 16th-note steps, primer included")
    primer.add_argument("--primer_pitches", default="", help='a starting chord one quarter long, e.g. "[60, 64, 67]"')
    primer.add_argument("--primer_melody", default="", help='e.g. "[60, -2, 60, -2, 67, -2, 67, -2]"')
    primer.add_argument("--primer_midi", default="", help="MIDI file whose polyphonic track primes the model")
    add_absl_bool(p, "condition_on_primer", False, "the RNN reads the primer before generating")
    add_absl_bool(p, "inject_primer_during_generation", True, "force the primer's notes into the generated track")
    return p


def load_model(
    bundle_file: Optional[str] = None, run_dir: Optional[str] = None, config_id: str = "polyphony", hparams: str = ""
) -> LoadedModel:
    """The Polyphony RNN of a ``.mag`` or of a Magenta run folder (see :func:`events_rnn.generate_cli.load_model`)."""
    from polyphony_rnn_ext import bundle as bundle_lib

    return _load_model(bundle_lib.FAMILY, bundle_file, run_dir, config_id, hparams, PROG)


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


def make_options(args):
    """Polyphony generation options of the flags (``--condition_on_primer`` and
    ``--inject_primer_during_generation`` included)."""
    from polyphony_rnn_ext import generate

    return generate.PolyphonyOptions(
        *dataclasses.astuple(options_from_flags(args)), args.condition_on_primer, args.inject_primer_during_generation
    )


def make_generator(args, loaded):
    """(Polyphony RNN generator, primer) for the loaded model and the primer flags."""
    from polyphony_rnn_ext import generate

    primer, _ = read_primer(args)
    return generate.PolyphonyGenerator(loaded.model, loaded.config), primer


def _load(args) -> LoadedModel:
    return load_model(None if args.save_generator_bundle else args.bundle_file, args.run_dir, args.config, args.hparams)


#: The command: ``family()`` (the family's :class:`events_rnn.bundle.ModelFamily`, imports TensorFlow) and
#: ``main(argv=None)`` (0, 1 on a bad bundle / run / primer, 2 on bad flags).
CLI = FamilyGenerateCli(PROG, build_parser, "polyphony_rnn_ext", make_options, make_generator, _load)
family, main = CLI.family, CLI.main

if __name__ == "__main__":
    sys.exit(main())
