"""`performance_rnn_generate`: performance MIDI from a ``.mag`` bundle or a Magenta run folder, as Magenta's command.

    performance_rnn_generate --bundle_file performance_with_dynamics.mag --output_dir out --num_outputs 10 \\
        --num_steps 3000 [--primer_pitches "[60, 64, 67]" | --primer_melody "[60, -2, 62, -2]" | \\
        --primer_midi primer.mid] [--temperature 1.0] [--beam_size 1 --branch_factor 1 \\
        --steps_per_iteration 1] [--seed 0]

    # conditioned configs
    performance_rnn_generate --bundle_file multiconditioned_performance_with_dynamics.mag --output_dir out \\
        --notes_per_second 8 --pitch_class_histogram "[2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]"
    performance_rnn_generate --bundle_file optional_multiconditioned_performance_with_dynamics.mag \\
        --output_dir out --disable_conditioning "[False, True]" --notes_per_second "[4, 16]"

    # a run folder of Magenta's own performance_rnn_train (RUN/train/model.ckpt-N)
    performance_rnn_generate --run_dir logdir/run1 --config performance --output_dir out
    performance_rnn_generate --run_dir logdir/run1 --config performance --save_generator_bundle --bundle_file p.mag

``--num_steps`` counts 10 ms steps, primer included (default 3000 = 30 s). Without a primer, generation
starts from silence. A control flag (or ``--disable_conditioning``) the model is not conditioned on is
ignored with a warning, as in Magenta; a list of values is spread evenly over the performance. ``--qpm``
is the tempo of ``--primer_melody`` (Magenta: 120). Files are named ``<date>_<time>_<index>.mid``.
See :mod:`performance_rnn_ext.generate`.
"""

from __future__ import annotations

import argparse
import sys

from events_rnn.generate_cli import FamilyGenerateCli, family_parser, options_from_flags
from performance_rnn_ext import CONFIG_IDS

PROG = "performance_rnn_generate"
#: Magenta's control-signal flags (note-seq's ``all_performance_control_signals``).
CONTROL_FLAGS = ("notes_per_second", "pitch_class_histogram")


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``performance_rnn_generate`` (Magenta's flags, plus ``--seed``)."""
    num_steps = "length in 10 ms steps, primer included (default 3000)"
    p, primer = family_parser(PROG, __doc__, CONFIG_IDS, "performance", num_steps)
    p.set_defaults(num_steps=3000)
    primer.add_argument("--primer_pitches", default="", help='a starting chord, one quarter at 120 qpm: "[60, 64, 67]"')
    primer.add_argument("--primer_melody", default="", help='note-seq Melody events: "[60, -2, 60, -2, 67, -2]"')
    primer.add_argument("--primer_midi", default="", help="MIDI file whose notes prime the model")
    p.add_argument(
        "--notes_per_second",
        default=None,
        help='desired notes per second, or a list spread over the performance: "8" or "[4, 16]"',
    )
    p.add_argument(
        "--pitch_class_histogram",
        default=None,
        help='desired weight of each of the 12 pitch classes: "[2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1]"',
    )
    p.add_argument(
        "--disable_conditioning",
        default=None,
        help='optional-conditioning configs: "True", "False" or a list of them spread over the performance',
    )
    return p


def read_primer(args):
    """The primer NoteSequence from the primer flags, as Magenta's ``run_with_flags``."""
    from events_rnn.generate import parse_int_list
    from performance_rnn_ext import generate

    if args.primer_pitches:
        return generate.primer_from_pitches(parse_int_list(args.primer_pitches, "--primer_pitches"))
    if args.primer_melody:
        return generate.primer_from_melody(
            parse_int_list(args.primer_melody, "--primer_melody"), args.qpm or generate.DEFAULT_QPM
        )
    if args.primer_midi:
        return generate.primer_from_midi(args.primer_midi)
    print(f"{PROG}: no primer given; starting from silence", file=sys.stderr)
    return generate.empty_primer()


def read_conditioning(args, config):
    """The :class:`performance_rnn_ext.generate.Conditioning` of the control flags; flags the config does not
    use are reported and ignored (Magenta's warnings)."""
    from performance_rnn_ext import generate

    signals = {s.name: s for s in (config.control_signals() or [])}
    values = {}
    for name in CONTROL_FLAGS:
        text = getattr(args, name)
        if text is None:
            continue
        if name not in signals:
            print(
                f"{PROG}: warning: --{name} ignored: config {config.config_id} is not conditioned on it",
                file=sys.stderr,
            )
            continue
        values[name] = generate.parse_control_values(signals[name], text)
    disable = None
    if args.disable_conditioning is not None:
        if not config.optional_conditioning:
            print(
                f"{PROG}: warning: --disable_conditioning ignored: config {config.config_id} has no optional "
                "conditioning",
                file=sys.stderr,
            )
        else:
            disable = generate.parse_disable_conditioning(args.disable_conditioning)
    return generate.Conditioning(values, disable)


def make_generator(args, loaded):
    """(Performance RNN generator, primer) for the loaded model and the control and primer flags."""
    from performance_rnn_ext import generate

    conditioning = read_conditioning(args, loaded.config)
    primer = read_primer(args)
    return generate.PerformanceGenerator(loaded.model, loaded.config, conditioning), primer


#: Generation options of the flags (:func:`events_rnn.generate_cli.options_from_flags`).
make_options = options_from_flags
#: The command: ``family()`` (the family's :class:`events_rnn.bundle.ModelFamily`, imports TensorFlow) and
#: ``main(argv=None)`` (0, 1 on a bad bundle / run / primer / control value, 2 on bad flags).
CLI = FamilyGenerateCli(PROG, build_parser, "performance_rnn_ext", make_options, make_generator)
family, main = CLI.family, CLI.main

if __name__ == "__main__":
    sys.exit(main())
