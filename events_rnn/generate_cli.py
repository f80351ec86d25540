"""What every ``<model>_generate`` command shares: absl-style boolean flags, the model flags
(``--bundle_file``, ``--run_dir``, ``--config``, ``--hparams``, ``--save_generator_bundle``,
``--bundle_description``), the generation flags (``--output_dir``, ``--num_outputs``, ``--num_steps``,
``--qpm``, ``--temperature``, ``--beam_size``, ``--branch_factor``, ``--steps_per_iteration``,
``--seed``), loading a model from a ``.mag``, a Magenta run folder (``RUN/train/model.ckpt-N``) or a
run of this toolkit's ``<model>_train`` (``config.json`` + ``ckpt-N``),
writing a bundle from a run folder, and writing the generated MIDI files as Magenta names them
(``<date>_<time>_<index>.mid``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from typing import Callable, List, Optional, Sequence, Tuple

from tfmusic import cli_support


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "t", "yes"):
        return True
    if value in ("0", "false", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_absl_bool(parser: argparse.ArgumentParser, name: str, default: bool, help: str) -> None:
    """An absl-style boolean flag: ``--name``, ``--name=false`` and ``--noname``."""
    parser.add_argument(
        f"--{name}", nargs="?", const=True, default=default, type=_bool, help=f"{help} (default {str(default).lower()})"
    )
    parser.add_argument(f"--no{name}", dest=name, action="store_false", help=argparse.SUPPRESS)


def add_model_arguments(p: argparse.ArgumentParser, family, default_config: str, prog: str) -> None:
    """Magenta's flags choosing the model: a bundle, or a run folder of Magenta's ``<model>_train``.

    ``family``: the :class:`events_rnn.bundle.ModelFamily`, or just its config ids (no heavy import).
    ``--bundle`` is an alias of ``--bundle_file``, ``--model_dir`` of ``--run_dir``.
    """
    config_ids = tuple(getattr(family, "config_ids", family))
    p.add_argument(
        "--bundle_file",
        "--bundle",
        dest="bundle_file",
        help=".mag bundle to generate from (with --save_generator_bundle: to write)",
    )
    p.add_argument(
        "--run_dir",
        "--model_dir",
        dest="run_dir",
        help=f"run folder of {prog.replace('_generate', '_train')}, Magenta's "
        "(RUN/train/model.ckpt-N) or this toolkit's (config.json, ckpt-N)",
    )
    p.add_argument(
        "--config",
        choices=config_ids,
        default=None,
        help=f"config id of a Magenta --run_dir (default {default_config}); a bundle and a run of this "
        "toolkit carry their own (if given, it must match)",
    )
    p.set_defaults(default_config=default_config)
    p.add_argument("--hparams", default="", help="Magenta-style hparams; only attn_length matters here")
    add_bundle_writing_arguments(p)


def add_bundle_writing_arguments(p: argparse.ArgumentParser) -> None:
    """Magenta's ``--save_generator_bundle`` (write ``--run_dir``'s model as the ``.mag`` ``--bundle_file``)
    and ``--bundle_description``."""
    p.add_argument(
        "--save_generator_bundle",
        action="store_true",
        help="write --run_dir's model as the .mag --bundle_file instead of generating",
    )
    p.add_argument("--bundle_description", default="", help="bundle_details.description of --save_generator_bundle")


def add_output_arguments(p: argparse.ArgumentParser, num_steps_help: Optional[str] = None) -> None:
    """Magenta's output flags: ``--output_dir``, ``--num_outputs`` and (given its help) ``--num_steps``."""
    p.add_argument("--output_dir", default=None, help="folder for the MIDI files (required when generating)")
    p.add_argument("--num_outputs", type=int, default=10, help="files to write (default 10)")
    if num_steps_help is not None:
        p.add_argument("--num_steps", type=int, default=128, help=num_steps_help)


def add_sampling_arguments(p: argparse.ArgumentParser) -> None:
    """Magenta's tempo and sampling / beam-search flags (plus ``--seed``)."""
    p.add_argument("--qpm", type=float, default=None, help="tempo (a primer MIDI's tempo overrides it; else 120)")
    add_search_arguments(p)
    p.add_argument("--seed", type=int, default=None, help="random seed (output i uses seed + i)")


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """Magenta's sampling / beam-search flags: ``--temperature``, ``--beam_size``, ``--branch_factor`` and
    ``--steps_per_iteration``."""
    p.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (<= 0: argmax)")
    p.add_argument("--beam_size", type=int, default=1)
    p.add_argument("--branch_factor", type=int, default=1)
    p.add_argument("--steps_per_iteration", type=int, default=1)


def add_generation_arguments(p: argparse.ArgumentParser, num_steps_help: str) -> None:
    """Magenta's output, length, tempo and sampling / beam-search flags (plus ``--seed``)."""
    add_output_arguments(p, num_steps_help)
    add_sampling_arguments(p)


def family_parser(
    prog: str, description: str, config_ids: Sequence[str], default_config: str, num_steps_help: str
) -> Tuple[argparse.ArgumentParser, argparse._MutuallyExclusiveGroup]:
    """(parser, primer group) of a family's ``<model>_generate``: the model flags (:func:`add_model_arguments`),
    the generation flags (:func:`add_generation_arguments`) and an empty group for the mutually exclusive
    primer flags, to which the family adds its own."""
    p = cli_support.make_parser(prog, description)
    add_model_arguments(p, config_ids, default_config, prog)
    add_generation_arguments(p, num_steps_help)
    return p, p.add_mutually_exclusive_group()


def check_model_arguments(parser: argparse.ArgumentParser, args) -> None:
    """``parser.error`` unless the flags name exactly one model source (and an output folder when generating).

    Also fills ``args.config`` with the command's default config when ``--run_dir`` is a Magenta run
    folder (which does not record its config) and ``--config`` was not given.
    """
    if getattr(args, "config", None) is None and args.run_dir and getattr(args, "default_config", None):
        from events_rnn import magenta_run

        try:
            if magenta_run.run_folder_kind(args.run_dir) == "magenta":
                args.config = args.default_config
        except magenta_run.RunFolderError:
            pass  # reported when the model is loaded
    if args.save_generator_bundle:
        if not (args.run_dir and args.bundle_file):
            parser.error("--save_generator_bundle needs --run_dir (the run to bundle) and --bundle_file (the .mag)")
        return
    if bool(args.bundle_file) == bool(args.run_dir):
        parser.error("pass either --bundle_file or --run_dir (both only with --save_generator_bundle)")
    if not args.output_dir:
        parser.error("--output_dir is required when generating")
    if args.num_outputs < 1:
        parser.error("--num_outputs must be >= 1")


def attn_length_from_hparams(hparams: str) -> Optional[int]:
    """``attn_length`` of a Magenta ``--hparams`` string, or None."""
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


def load_own_run(family, run_dir: str, prog: str = "generate", attn_length: Optional[int] = None):
    """(model, config, checkpoint prefix) of the newest ``ckpt-N`` of a run of this toolkit's
    ``<model>_train`` (``config.json`` + ``ckpt-N``, e.g. a continued Magenta run).

    The model is ``family``'s, built without dropout for the run's config id, layer sizes and attention
    (``attn_length``, if given, sets the attention window), and its weights are restored from the
    checkpoint (:func:`events_rnn.task.restore_model`). Raises ``ValueError`` naming the folder or file
    when something is missing (``BundleError`` when the run's config is not one of ``family``'s).
    """
    import json

    import tensorflow as tf

    from events_rnn import convert_magenta as convert
    from events_rnn.task import restore_model
    from tfmusic import config as config_lib

    cfg_path = os.path.join(os.fspath(run_dir), config_lib.CONFIG_FILENAME)
    try:
        with open(cfg_path) as f:
            model_cfg = json.load(f)["model"]
        config_id, hparams = model_cfg["config_id"], model_cfg["hparams"]
        own_attn = int(hparams.get("attn_length") or 0)
        sizes = tuple(int(n) for n in hparams["rnn_layer_sizes"])
        layout = hparams.get("attention_layout", "first_layer") if own_attn else "none"
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{cfg_path}: not the config of a {prog.replace('_generate', '_train')} run ({e})") from None
    prefix = tf.train.latest_checkpoint(os.fspath(run_dir))
    if not prefix:
        raise ValueError(f"{run_dir}: holds no checkpoint (ckpt-N) yet")
    if config_id not in family.config_ids:
        raise convert.BundleError(
            f"{prefix}: config {config_id!r} is not a {family.name} config ({', '.join(family.config_ids)})"
        )
    spec = convert.ModelSpec(*family.widths(config_id), sizes, layout, "kernel")
    config = family.config_for_spec(config_id, spec, attn_length or own_attn or None, "")
    model = family.build_model(config, 1.0)
    restore_model(model, prefix)
    return model, config, prefix


def load_model(
    family,
    bundle_file: Optional[str] = None,
    run_dir: Optional[str] = None,
    config_id: Optional[str] = None,
    hparams: str = "",
    prog: str = "generate",
) -> LoadedModel:
    """The model of a ``.mag`` or of a run folder, ported strictly.

    A run folder is Magenta's (``train/checkpoint``: its newest ``train/model.ckpt-N``, see
    :mod:`events_rnn.magenta_run`; ``config_id`` is Magenta's ``--config``) or this toolkit's
    (``config.json`` + ``ckpt-N``, e.g. a Magenta run continued by ``<model>_train``: its newest
    checkpoint; ``config_id``, if given, must be the run's). For a bundle, ``config_id``, if given, must
    be the bundle's id. Raises ``ValueError`` subclasses naming the file (``BundleError``,
    ``PortingError``, ``CheckpointReadError``, ``RunFolderError``) when it is not a fitting model of
    ``family``.
    """
    from events_rnn import bundle as core
    from events_rnn import convert_magenta, magenta_run

    attn_length = attn_length_from_hparams(hparams)
    if bundle_file:
        model, config, bundle = core.load_bundle(family, bundle_file, attn_length=attn_length)
        if config_id and config_id != config.config_id:
            raise ValueError(f"--config {config_id} but {bundle_file} holds a {config.config_id!r} model")
        naming = convert_magenta.variable_naming(bundle.variables, bundle.path)
        return LoadedModel(model, config, int(bundle.variables.get("global_step", 0)), naming, bundle.path)
    train_prog = prog.replace("_generate", "_train")
    if magenta_run.run_folder_kind(run_dir, train_prog) == "magenta":
        model, config, ckpt = magenta_run.load_magenta_model(family, run_dir, config_id, attn_length, prog=train_prog)
        return LoadedModel(model, config, ckpt.global_step, ckpt.spec.naming, ckpt.path)
    model, config, prefix = load_own_run(family, run_dir, prog, attn_length)
    if config_id and config_id != config.config_id:
        raise ValueError(f"--config {config_id} but {run_dir} is a run of {config.config_id!r}")
    return LoadedModel(model, config, magenta_run.checkpoint_step_from_prefix(prefix), "kernel", prefix)


def save_generator_bundle(family, loaded: LoadedModel, path: str, description: str = "") -> str:
    """Write ``loaded`` as a ``.mag`` (with Magenta's generation metagraph); returns a one-line report."""
    from events_rnn import bundle as core

    core.write_bundle(family, loaded.model, loaded.config, path, description, loaded.global_step, loaded.naming)
    return (
        f"wrote bundle {path} ({loaded.config.config_id} {list(loaded.config.hparams.rnn_layer_sizes)}, "
        f"step {loaded.global_step}, from {loaded.source})"
    )


def generate_files(generator, primer, output_dir: str, num_outputs: int, options) -> List[tuple]:
    """Generate ``num_outputs`` sequences with ``generator.generate(primer, options)``, one MIDI file each;
    returns [(path, score)]. Output ``i`` uses seed ``options.seed + i`` when a seed is set."""
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


def report_written(prog: str, written: Sequence[tuple], output_dir: str) -> None:
    """Print each written file with its score, then how many files went to ``output_dir``."""
    for path, score in written:
        print(f"{path}  log-likelihood {score:.3f}")
    print(f"{prog}: wrote {len(written)} MIDI file(s) to {output_dir}")


def load_from_flags(family, args, prog: str) -> LoadedModel:
    """:func:`load_model` of the model flags: ``--bundle_file`` (unless saving one), ``--run_dir``, ``--config``
    (only with a run folder or when saving a bundle) and ``--hparams``."""
    return load_model(
        family,
        None if args.save_generator_bundle else args.bundle_file,
        args.run_dir,
        args.config if (args.run_dir or args.save_generator_bundle) else None,
        args.hparams,
        prog,
    )


def run(
    prog: str,
    parser: argparse.ArgumentParser,
    argv,
    family,
    make_options: Callable,
    make_generator: Callable,
    load: Optional[Callable] = None,
) -> int:
    """The body of every family's ``<model>_generate``: parse and check the flags, load the model (or write it
    as a bundle with ``--save_generator_bundle``), then generate and write ``--num_outputs`` MIDI files.

    Family hooks: ``make_options(args)`` -> generation options (a ``GenerationError`` is a flag error, exit 2);
    ``make_generator(args, loaded)`` -> (generator, primer NoteSequence) (a ``GenerationError`` exits 1);
    ``load(args)`` -> :class:`LoadedModel` (default :func:`load_from_flags`). ``family`` may be a function
    returning the :class:`events_rnn.bundle.ModelFamily`: it is called after parsing (nothing heavy is imported
    before). Returns 0, 1 on a bad bundle / run / primer, 2 on bad flags.
    """
    args = parser.parse_args(argv)
    check_model_arguments(parser, args)
    from events_rnn.generate import GenerationError
    from tfmusic.tf1_checkpoints import CheckpointReadError

    if callable(family):
        family = family()
    try:
        loaded = load(args) if load is not None else load_from_flags(family, args, prog)
    except (ValueError, CheckpointReadError, OSError) as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    if args.save_generator_bundle:
        print(f"{prog}: " + save_generator_bundle(family, loaded, args.bundle_file, args.bundle_description))
        return 0
    try:
        options = make_options(args)
    except GenerationError as e:
        parser.error(str(e))
    try:
        generator, primer = make_generator(args, loaded)
        written = generate_files(generator, primer, args.output_dir, args.num_outputs, options)
    except GenerationError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1
    report_written(prog, written, args.output_dir)
    return 0


def options_from_flags(args):
    """:class:`events_rnn.generate.GenerationOptions` of the generation flags (``--num_steps``, ``--temperature``,
    ``--beam_size``, ``--branch_factor``, ``--steps_per_iteration``, ``--seed``)."""
    from events_rnn.generate import GenerationOptions

    return GenerationOptions(
        args.num_steps, args.temperature, args.beam_size, args.branch_factor, args.steps_per_iteration, args.seed
    )


@dataclasses.dataclass(frozen=True)
class FamilyGenerateCli:
    """A family's ``<model>_generate`` module: its ``family`` and ``main`` are these methods; the module's own
    hooks are the attributes.

    Attributes:
      prog: the command's name.
      build_parser: the module's ``build_parser()`` (its flags).
      package: the family's package, whose ``bundle.FAMILY`` :meth:`family` imports (TensorFlow: only after the
        flags are parsed).
      make_options, make_generator, load: :func:`run`'s hooks.
    """

    prog: str
    build_parser: Callable[[], argparse.ArgumentParser]
    package: str
    make_options: Callable
    make_generator: Callable
    load: Optional[Callable] = None

    def family(self):
        """The family's :class:`events_rnn.bundle.ModelFamily` (imports TensorFlow)."""
        import importlib

        return importlib.import_module(f"{self.package}.bundle").FAMILY

    def main(self, argv: Optional[Sequence[str]] = None) -> int:
        """Entry point; 0, 1 on a bad bundle / run / primer (or another generation error), 2 on bad flags."""
        cli_support.start(argv)
        return run(self.prog, self.build_parser(), argv, self.family, self.make_options, self.make_generator, self.load)
