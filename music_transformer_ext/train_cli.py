"""`music_transformer_train`: train or fine-tune a Music Transformer through the shared runner.

    music_transformer_train --model_dir runs/piano --train_data 'data/train-*.tfrecord' \\
        [--preset score2perf_relative] [--set trainer.global_batch_size=16] [--num_steps 20000]
    music_transformer_train --model_dir runs/ft --checkpoint t2t/unconditional_model_16 \\
        --train_data 'mine/train-*.tfrecord' --num_steps 2000 --export_t2t runs/ft/t2t
    music_transformer_train --model_dir runs/jsb --jsb [--preset jsb_relative]

``--train_data`` takes the ``tf.Example`` shards ``music_transformer_create_dataset`` writes
(``targets``, and ``inputs`` for the melody-conditioned problem); ``--jsb`` trains on the JSB
Chorales (``../shared/data/jsb_chorales``, the paper's raster serialisation, 49 ids).

``--checkpoint`` names a tensor2tensor checkpoint (folder, ``model.ckpt-N`` prefix or V1 file):
it is ported strictly into the Keras model before the first step. Without ``--preset`` the
architecture is read from the checkpoint's variable names and shapes; with one, the preset must
fit the checkpoint (an error names every field that does not).

``--preset`` names a model preset (``unconditional_16``, ``melody_conditioned_16``,
``score2perf_relative``, ``score2perf_baseline``, ``jsb_baseline``, ``jsb_relative``, ``tiny``,
``tiny_conditioned``); ``--set`` overrides any field of the experiment (``model.*``,
``optimizer.*``, ``data.sequence_length``, ``trainer.*``, ``runtime.*``). A folder that already holds
``config.json`` resumes from its newest checkpoint with its saved config (``--set`` and
``--num_steps`` still apply on top; a ``--preset`` or ``--checkpoint`` that contradicts the run is
refused, naming both values); the t2t checkpoint is then not read again (it may have moved): the
run's own checkpoint wins. ``--train_data`` is checked before the run folder is touched.

Run folder: ``config.json`` (+ ``ckpt-N.config.json``), ``ckpt-N.*`` (our format: model,
optimizer and input position), ``train/`` TensorBoard logs (loss, nll, accuracy, learning
rate, steps/s). ``--export_t2t DIR`` also writes the final weights under tensor2tensor's names
as ``DIR/model.ckpt-STEP`` (what t2t, Magenta's notebook or ``--checkpoint`` read back).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Optional, Sequence

from tfmusic import cli_flags, cli_support


def _default_preset(args) -> Optional[str]:
    if args.preset:
        return args.preset
    if args.checkpoint:
        return None  # read from the checkpoint
    return "jsb_relative" if args.jsb else "score2perf_relative"


def base_experiment(preset: Optional[str], checkpoint: Optional[str] = None):
    """The experiment before ``--set``: the model preset (or the architecture read from
    ``checkpoint``), ``init_checkpoint`` set to the checkpoint's resolved path, and
    ``data.sequence_length`` capped at the model's ``max_length``.

    Raises ``CheckpointReadError`` / ``PortingError`` for an unreadable or unfitting checkpoint.
    """
    from music_transformer_ext import checkpoints, convert_t2t
    from music_transformer_ext import config as model_config
    from music_transformer_ext import task as task_lib

    model = model_config.get(preset) if preset else None
    init = ""
    if checkpoint:
        variables, source = checkpoints.read_t2t_variables(checkpoint)
        model = convert_t2t.convert_config(variables, base=model, source=source)
        init = os.path.abspath(source)
    data = task_lib.DataConfig(sequence_length=min(task_lib.DataConfig().sequence_length, model.max_length))
    return task_lib.experiment_for(model, data=data, init_checkpoint=init)


def resumed_checkpoint_flag(model_dir: str, checkpoint: str) -> str:
    """``--checkpoint CHECKPOINT`` given to resume the run in ``model_dir``, as the run's
    ``init_checkpoint`` would record it, found without reading CHECKPOINT (it may have moved since the
    run started): the saved ``init_checkpoint`` when CHECKPOINT names it or its folder, else
    CHECKPOINT's absolute path (which then contradicts the run)."""
    from music_transformer_ext import task as task_lib
    from tfmusic import config as config_lib

    wanted = os.path.abspath(checkpoint)
    saved = config_lib.load_json(
        task_lib.MusicTransformerExperiment, os.path.join(model_dir, config_lib.CONFIG_FILENAME)
    ).init_checkpoint
    if saved and wanted in (saved, os.path.dirname(saved)):
        return saved
    return wanted


def tfrecord_dataset_fn(file_pattern: str, cfg, seed: int = 0):
    """``input_context -> Dataset`` of unbatched ``{"targets" [L]}`` (+ ``"inputs" [S]``) examples from
    ``music_transformer_create_dataset`` shards: files sharded per input pipeline, shuffled, targets
    randomly cropped to ``data.sequence_length``. Raises FileNotFoundError when nothing matches."""
    from music_transformer_ext import data as data_lib
    from pipelines import tfrecord_io

    files = tfrecord_io.list_files(file_pattern)
    conditioned = cfg.model.conditioned

    def dataset_fn(ctx):
        mine = (
            files[ctx.input_pipeline_id :: ctx.num_input_pipelines] if len(files) >= ctx.num_input_pipelines else files
        )
        ds = data_lib.make_dataset(
            mine,
            cfg.data.sequence_length,
            1,
            has_inputs=conditioned,
            max_input_length=cfg.data.input_length,
            random_crop=True,
            shuffle=True,
            seed=seed,
        )
        ds = ds.unbatch()
        if len(files) < ctx.num_input_pipelines:
            ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
        return ds

    return dataset_fn


def jsb_dataset_fn(cfg, path: Optional[str] = None, seed: int = 0):
    """``input_context -> Dataset`` of unbatched serialised JSB training chorales, randomly cropped
    (at step boundaries) to ``data.sequence_length``. Raises ValueError unless the model has the
    JSB vocabulary (49 ids)."""
    from music_transformer_ext import jsb

    if cfg.model.vocab_size != jsb.VOCAB_SIZE or cfg.model.conditioned:
        raise ValueError(
            f"--jsb needs an unconditioned model with vocab_size {jsb.VOCAB_SIZE} (e.g. --preset "
            f"jsb_relative), got vocab_size {cfg.model.vocab_size}"
        )
    chorales = jsb.load_jsb_chorales(path) if path else jsb.load_jsb_chorales()
    sequences = jsb.JsbEncoding().serialize_split(chorales["train"])

    def dataset_fn(ctx):
        ds = jsb.make_dataset(sequences, cfg.data.sequence_length, 1, random_crop=True, shuffle=True, seed=seed)
        return ds.unbatch().shard(ctx.num_input_pipelines, ctx.input_pipeline_id)

    return dataset_fn


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``music_transformer_train``."""
    from music_transformer_ext.config import PRESETS

    parser = cli_support.make_parser("music_transformer_train", __doc__)
    cli_flags.add_model_dir_flag(parser)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--train_data", default=None, help="tf.Example shards from music_transformer_create_dataset")
    source.add_argument("--jsb", action="store_true", help="train on the JSB Chorales training split")
    parser.add_argument("--jsb_path", default=None, help="Jsb16thSeparated.json (default: ../shared/data/...)")
    parser.add_argument(
        "--preset",
        default=None,
        choices=PRESETS.names(),
        help="model preset (default: read from --checkpoint, else score2perf_relative, or jsb_relative with --jsb)",
    )
    parser.add_argument("--checkpoint", default=None, help="tensor2tensor checkpoint to fine-tune (ported by name)")
    cli_flags.add_overrides_flag(
        parser, "override an experiment field, e.g. --set trainer.global_batch_size=4 (repeatable)"
    )
    cli_flags.add_train_steps_flag(parser, "total optimizer steps (trainer.train_steps)", name="num_steps")
    parser.add_argument(
        "--export_t2t",
        default=None,
        metavar="DIR",
        help="also save the final weights under tensor2tensor's names in DIR",
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``music_transformer_train``; returns the exit code (2 for bad input)."""
    cli_support.start(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.train_data and not args.jsb:
        parser.error("give --train_data PATTERN or --jsb")
    from music_transformer_ext import task as task_lib
    from pipelines.errors import InputError
    from tfmusic import config as config_lib
    from tfmusic import experiment
    from tfmusic import runtime as runtime_lib
    from tfmusic.tf1_checkpoints import CheckpointReadError, PortingError

    overrides = list(args.overrides)
    if args.num_steps is not None:
        overrides.append(f"trainer.train_steps={args.num_steps}")
    try:
        if config_lib.resumes(args.model_dir):
            # The run's own checkpoint wins: the t2t checkpoint is not read again (it may have moved).
            base = task_lib.MusicTransformerExperiment()
            init = resumed_checkpoint_flag(args.model_dir, args.checkpoint) if args.checkpoint else ""
        else:
            base = base_experiment(_default_preset(args), args.checkpoint)
            init = base.init_checkpoint
        flags = {
            "--preset": config_lib.RunFlag(_default_preset(args), given=args.preset is not None),
            "--checkpoint": config_lib.RunFlag(init, given=bool(args.checkpoint), field="init_checkpoint"),
        }
        plan = config_lib.plan_run_config(args.model_dir, base, overrides, flags)
    except (CheckpointReadError, PortingError, config_lib.ConfigError, ValueError) as e:
        print(f"music_transformer_train: {e}", file=sys.stderr)
        return 2
    cfg, resumed = plan.config, plan.resumed
    if args.train_data:  # checked before anything is written to the run folder
        from music_transformer_ext import data as data_lib
        from pipelines import tfrecord_io

        try:
            tfrecord_io.check_records(
                args.train_data, validate=functools.partial(data_lib.example_problem, has_inputs=cfg.model.conditioned)
            )
        except InputError as e:
            print(f"music_transformer_train: --train_data {e}", file=sys.stderr)
            return 2
    strategy = experiment.start(plan)
    try:
        if args.jsb:
            dataset_fn = jsb_dataset_fn(cfg, args.jsb_path, seed=cfg.seed)
        else:
            dataset_fn = tfrecord_dataset_fn(args.train_data, cfg, seed=cfg.seed)
    except (FileNotFoundError, InputError, ValueError) as e:
        print(f"music_transformer_train: {e}", file=sys.stderr)
        return 2
    experiment.announce(
        "music_transformer_train",
        args.model_dir,
        resumed,
        f"{cfg.model.num_layers} layers, hidden {cfg.model.hidden_size}, {cfg.model.self_attention_type}; "
        + experiment.runtime_summary(strategy, cfg, task_lib.MusicTransformerTask.xla_family)
        + (f"; fine-tuning {cfg.init_checkpoint}" if cfg.init_checkpoint and not resumed else ""),
    )
    task = task_lib.MusicTransformerTask(cfg, dataset_fn)
    try:  # a new run ports --checkpoint (task.initialize); a resumed one restores its own checkpoint
        outcome = experiment.run(
            task,
            cfg,
            args.model_dir,
            strategy,
            prog="music_transformer_train",
            refuse=(CheckpointReadError, PortingError),
        )
    except experiment.RunRefused as e:
        print(f"music_transformer_train: {e}", file=sys.stderr)
        return 2
    result = outcome.result
    if args.export_t2t and runtime_lib.is_chief(strategy):
        prefix = os.path.join(args.export_t2t, f"model.ckpt-{result.final_step}")
        written = task.export_t2t(prefix, global_step=result.final_step)
        print(f"music_transformer_train: tensor2tensor checkpoint {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
