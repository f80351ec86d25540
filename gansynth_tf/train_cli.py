"""`gansynth_train`: train GANSynth from NSynth data through the shared runner.

    gansynth_train --model_dir runs/mel --train_data 'data/nsynth-train-*.tfrecord' \
        [--preset mel_prog_hires] [--set trainer.global_batch_size=16] [--set runtime.precision=mixed_bfloat16]
    gansynth_train --model_dir runs/ft --train_data DATA --warm_start acoustic_only --set trainer.train_steps=2000

``--train_data`` takes NSynth TFRecords (official schema, a glob) or an NSynth-format folder
(``examples.json`` + ``audio/``). The strategy comes from ``runtime.distribution``: one device,
``MirroredStrategy`` over all local GPUs, or ``MultiWorkerMirroredStrategy`` from ``TF_CONFIG``.
``--warm_start MAGENTA_DIR`` fine-tunes from an unzipped Magenta GANSynth folder (``experiment.json`` +
``stage_NNNNN/``, e.g. the released ``acoustic_only``): its flags become the config (every flag mapped or
refused by name), ``model.progressive`` is set false (the checkpoint has finished growing), its final
stage initialises the generator, its moving average and the discriminator (the optimizers start fresh),
and its normaliser is saved as the run's ``normalizer.json``.
A folder that already holds ``config.json`` resumes: its saved config is reloaded (``--set``
still applies on top, e.g. a longer ``trainer.train_steps``) and training continues from the
newest checkpoint, in the middle of a progressive stage if that is where it stopped; a ``--preset``
or ``--warm_start`` that contradicts the run is refused, naming both values, and the
``--warm_start`` folder is not read again (it may have moved). ``--train_data`` is
checked before the run folder is touched (one line naming the file: nothing matches, an empty or
text file, no usable note).

Run folder: ``config.json`` (+ ``ckpt-N.config.json`` beside each checkpoint), ``ckpt-N.*``,
``normalizer.json`` (fitted once from ``data.normalizer_num_examples`` notes unless
``data.normalizer_path`` names one), ``train/`` TensorBoard logs with losses, gradient penalty,
classifier accuracy, fade alpha, images/s, and generated audio and rainbowgrams.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from tfmusic import cli_flags, cli_support

NORMALIZER_FILENAME = "normalizer.json"
#: ``--preset`` names (``gansynth_tf.config.PRESETS``), listed here so that ``--help`` imports no TensorFlow;
#: tests/test_commands.py checks them against the registry.
PRESET_NAMES = (
    "cpu_learn",
    "cpu_small",
    "cpu_zoo",
    "cpu_zoo_hf",
    "if",
    "if_h",
    "if_mel",
    "if_mel_h",
    "if_noprog_hires",
    "if_noprog_lores",
    "if_prog_hires",
    "if_prog_lores",
    "mel_noprog_hires",
    "mel_noprog_lores",
    "mel_prog_hires",
    "mel_prog_lores",
    "phase",
    "phase_h",
    "phase_noprog_hires",
    "phase_noprog_lores",
    "phase_prog_hires",
    "phase_prog_lores",
    "tiny",
)


def open_nsynth(path: str, num_input_pipelines: int = 1, input_pipeline_id: int = 0):
    """NSynth elements from a TFRecord glob or an NSynth-format folder, sharded by input pipeline.

    Returns a ``tf.data.Dataset`` of :data:`pipelines.nsynth.ELEMENT_SPEC` dicts. Raises
    ``FileNotFoundError`` naming ``path`` when it matches nothing.
    """
    from pipelines import nsynth, tfrecord_io

    if not path:
        raise FileNotFoundError("no training data: pass --train_data (NSynth TFRecords or an NSynth-format folder)")
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "examples.json")):
        ds = nsynth.read_jsonwav_dir(path, skip_bad=True)
    else:
        if not tfrecord_io.list_files(path):
            raise FileNotFoundError(f"--train_data {path!r}: no NSynth TFRecords or NSynth-format folder there")
        ds = nsynth.read_tfrecords(path)
    if num_input_pipelines > 1:
        ds = ds.shard(num_input_pipelines, input_pipeline_id)
    return ds


def spectral_pipeline(cfg):
    """(SpecgramsHelper, PitchRange) for an experiment config."""
    from gansynth_tf.data import PitchRange
    from gansynth_tf.specgrams import SpecgramsHelper

    return SpecgramsHelper(cfg.data.spectral), PitchRange(cfg.data.min_pitch, cfg.data.max_pitch)


def load_or_fit_normalizer(cfg, model_dir: str, is_chief: bool = True):
    """The run's specgram normalizer: ``data.normalizer_path``, else ``MODEL_DIR/normalizer.json``,
    else fitted on ``data.normalizer_num_examples`` training notes (margin ``data.normalizer_margin``)
    and saved there by the chief."""
    from gansynth_tf import data as gdata
    from gansynth_tf.normalizer import SpecgramNormalizer

    for path in (cfg.data.normalizer_path, os.path.join(model_dir, NORMALIZER_FILENAME)):
        if path and os.path.exists(path):
            return SpecgramNormalizer.load(path)
    helper, pitch_range = spectral_pipeline(cfg)
    normalizer = gdata.fit_normalizer(
        open_nsynth(cfg.data.train_data_path),
        helper,
        num_examples=cfg.data.normalizer_num_examples,
        margin=cfg.data.normalizer_margin,
        pitch_range=pitch_range,
        instrument_sources=cfg.data.instrument_sources or None,
    )
    if is_chief:
        normalizer.save(os.path.join(model_dir, NORMALIZER_FILENAME))
    return normalizer


def training_pitch_counts(cfg, pitch_range):
    """Notes per class of ``pitch_range`` (int64 [num_classes]) in ``cfg.data.train_data_path`` after
    its instrument-source filter, for ``data.balance_pitches``: read from ``examples.json`` for an
    NSynth-format folder, else from one pass over the TFRecords' ``pitch`` and ``instrument_source``
    features (the audio is not parsed)."""
    from gansynth_tf import data as gdata
    from pipelines import nsynth, tfrecord_io

    path, sources = cfg.data.train_data_path, set(cfg.data.instrument_sources or ())
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "examples.json")):
        entries = nsynth.load_examples_json(os.path.join(path, "examples.json")).values()
        pairs = [(int(e["pitch"]), int(e["instrument_source"])) for e in entries]
    else:
        import tensorflow as tf

        spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in ("pitch", "instrument_source")}
        parsed = tfrecord_io.tfrecord_dataset(path).batch(1024).map(lambda r: tf.io.parse_example(r, spec))
        pairs = [
            (int(p), int(s)) for b in parsed.as_numpy_iterator() for p, s in zip(b["pitch"], b["instrument_source"])
        ]
    return gdata.count_pitches([p for p, s in pairs if not sources or s in sources], pitch_range)


def make_dataset_fn(cfg, helper, normalizer, pitch_range):
    """``input_context -> Dataset`` of unbatched (normalized specgram [frames, freq, 2], one-hot pitch)
    as :class:`gansynth_tf.gan.GANSynthTask` wants: sharded, filtered, shuffled, transformed in
    batches of 32 (vectorized, XLA) and unbatched."""
    from gansynth_tf import data as gdata

    counts = training_pitch_counts(cfg, pitch_range) if cfg.data.balance_pitches else None

    def dataset_fn(ctx):
        ds = open_nsynth(cfg.data.train_data_path, ctx.num_input_pipelines, ctx.input_pipeline_id)
        ds = gdata.make_specgram_dataset(
            ds,
            helper,
            normalizer,
            batch_size=32,
            pitch_range=pitch_range,
            instrument_sources=cfg.data.instrument_sources or None,
            shuffle_buffer=cfg.data.shuffle_buffer,
            seed=cfg.model.seed,
            pitch_counts=counts,
            drop_remainder=False,
        )
        return ds.unbatch()

    return dataset_fn


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``gansynth_train`` (built without importing TensorFlow). Aliases: ``--run_dir`` of
    ``--model_dir``; ``--num_training_steps`` / ``--num_steps`` / ``--train_steps`` (``trainer.train_steps``)."""
    parser = cli_support.make_parser("gansynth_train", __doc__)
    cli_flags.add_model_dir_flag(parser)
    parser.add_argument("--train_data", default=None, help="NSynth TFRecord glob or NSynth-format folder")
    parser.add_argument(
        "--preset",
        default=None,
        choices=PRESET_NAMES,
        help="named config (default: mel_prog_hires, the paper's IF-Mel + H)",
    )
    parser.add_argument(
        "--warm_start",
        default=None,
        metavar="MAGENTA_DIR",
        help="fine-tune from an unzipped Magenta GANSynth folder (experiment.json + stage_NNNNN/, "
        "e.g. the released acoustic_only): its flags give the config (instead of --preset), "
        "its final stage the weights (generator, moving average, discriminator) and its "
        "normaliser the specgram scaling; training runs at full resolution",
    )
    cli_flags.add_overrides_flag(
        parser, "override a config field, e.g. --set trainer.global_batch_size=16 (repeatable)"
    )
    cli_flags.add_train_steps_flag(parser, "total steps of the run (trainer.train_steps)")
    cli_flags.add_max_steps_flag(parser, "stop after this many steps even if trainer.train_steps is not reached")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``gansynth_train``; returns the exit code."""
    cli_support.start(argv)
    args = build_parser().parse_args(argv)
    from gansynth_tf.config import get_preset
    from tfmusic import config as config_lib
    from tfmusic import experiment
    from tfmusic import runtime as runtime_lib

    overrides = list(args.overrides)
    if args.num_training_steps is not None:  # before --set, which wins
        overrides.insert(0, f"trainer.train_steps={args.num_training_steps}")
    if args.train_data:
        overrides.append(
            f"data.train_data_path={os.path.abspath(args.train_data) if os.path.exists(args.train_data) else args.train_data}"
        )
    if args.warm_start:
        from gansynth_tf.convert_magenta import MagentaCheckpointError, read_experiment

        if args.preset:
            print(
                "gansynth_train: --warm_start takes the config from the Magenta folder's experiment.json; "
                "drop --preset (use --set to change fields)",
                file=sys.stderr,
            )
            return 2
        if config_lib.resumes(args.model_dir):
            # The run's own checkpoint wins: the Magenta folder is not read again (it may have moved);
            # its normaliser was saved as the run's normalizer.json when the run started.
            base, magenta_normalizer = get_preset("mel_prog_hires"), None
        else:
            try:
                base, magenta_normalizer = read_experiment(args.warm_start)
            except MagentaCheckpointError as e:
                print(f"gansynth_train: {e}", file=sys.stderr)
                return 2
        # The checkpoint has finished growing: fine-tuning runs every block at full resolution.
        overrides = [
            "model.progressive=false",
            f"warm_start.magenta_dir={os.path.abspath(args.warm_start)}",
            *overrides,
        ]
    else:
        base, magenta_normalizer = get_preset(args.preset or "mel_prog_hires"), None
    flags = {
        "--preset": config_lib.RunFlag(
            None if args.warm_start else (args.preset or "mel_prog_hires"), given=args.preset is not None
        ),
        "--warm_start": config_lib.RunFlag(
            os.path.abspath(args.warm_start) if args.warm_start else "",
            given=bool(args.warm_start),
            field="warm_start.magenta_dir",
        ),
    }
    from pipelines import nsynth
    from pipelines.errors import InputError

    # Pure Python (no TensorFlow op), so it may precede the strategy; every worker writes the same file.
    try:
        plan = config_lib.plan_run_config(args.model_dir, base, overrides, flags)
    except ValueError as e:  # ConfigError: a bad --set, or --preset against the run's
        print(f"gansynth_train: {e}", file=sys.stderr)
        return 2
    cfg, resumed = plan.config, plan.resumed
    # The data is checked before anything is written to the run folder.
    if not cfg.data.train_data_path:
        print(
            "gansynth_train: no training data: pass --train_data (NSynth TFRecords or an NSynth-format folder)",
            file=sys.stderr,
        )
        return 2
    try:
        nsynth.check_nsynth_data(cfg.data.train_data_path, cfg.data.min_pitch, cfg.data.max_pitch)
    except InputError as e:
        print(f"gansynth_train: --train_data {e}", file=sys.stderr)
        return 2
    # config.json, then the strategy: MultiWorkerMirroredStrategy must exist before other TensorFlow ops run.
    strategy = experiment.start(plan)
    normalizer_file = os.path.join(args.model_dir, NORMALIZER_FILENAME)
    if magenta_normalizer is not None and not cfg.data.normalizer_path and not os.path.exists(normalizer_file):
        # The networks were trained on specgrams scaled by Magenta's normaliser: keep it, never refit.
        magenta_normalizer.save(normalizer_file)
    experiment.announce(
        "gansynth_train",
        args.model_dir,
        resumed,
        f"{experiment.runtime_summary(strategy, cfg, runtime_lib.GANSYNTH)}, {cfg.runtime.precision}",
    )

    from gansynth_tf.gan import GANSynthTask

    from tfmusic.tf1_checkpoints import CheckpointReadError, PortingError

    try:
        normalizer = load_or_fit_normalizer(cfg, args.model_dir, runtime_lib.is_chief(strategy))
    except FileNotFoundError as e:
        print(f"gansynth_train: {e}", file=sys.stderr)
        return 2
    helper, pitch_range = spectral_pipeline(cfg)
    task = GANSynthTask(
        cfg, make_dataset_fn(cfg, helper, normalizer, pitch_range), specgrams_helper=helper, normalizer=normalizer
    )
    warm_start = cfg.warm_start.magenta_dir

    def refuse(e: BaseException):  # a Magenta folder that does not fit (task.initialize) exits 2
        if warm_start and isinstance(e, (PortingError, CheckpointReadError, ValueError)):
            return f"--warm_start {warm_start}: {e}"
        return None

    try:
        experiment.run(
            task,
            cfg,
            args.model_dir,
            strategy,
            prog="gansynth_train",
            refuse=refuse,
            stop_after=args.max_steps_this_run,
        )
    except experiment.RunRefused as e:
        print(f"gansynth_train: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
