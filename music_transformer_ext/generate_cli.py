"""`music_transformer_generate`: performances (MIDI) from a trained or ported Music Transformer.

    music_transformer_generate --model_dir runs/piano --output_dir out --num_outputs 4 \\
        [--primer_midi opening.mid] [--decode_length 1024] [--temperature 1.0] [--top_k 0] [--top_p 0.95] [--seed 0]
    music_transformer_generate --checkpoint t2t/melody_conditioned_model_16 --preset melody_conditioned_16 \\
        --melody_midi tune.mid --output_dir out

The model comes from a ``music_transformer_train`` run folder (``--model_dir``: its
``config.json`` and newest ``ckpt-N``) or from a tensor2tensor checkpoint (``--checkpoint``,
ported by name; ``--preset`` supplies what names cannot tell, e.g. the head count of plain
dot-product attention, else t2t's defaults are assumed).

``--primer_midi`` is encoded with score2perf's performance encoding and continued (its last
``--max_primer_events`` events are kept). ``--melody_midi`` (a melody-conditioned model only) is
reduced to a monophonic melody if it is polyphonic, encoded at 10 steps/s and accompanied.
Decoding uses the key/value cache in one XLA-compiled loop. Files: ``OUTPUT_DIR/
music_transformer_{date}_{i}.mid``, one per output; the primer is part of each file.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from typing import Optional, Sequence

from tfmusic import cli_support


def load_model(model_dir: Optional[str] = None, checkpoint: Optional[str] = None, preset: Optional[str] = None):
    """A :class:`MusicTransformer` with trained weights.

    Args:
      model_dir: a ``music_transformer_train`` run folder (``config.json`` + ``ckpt-N``).
      checkpoint: a tensor2tensor checkpoint (folder, prefix or V1 file), used if ``model_dir`` is None.
      preset: model preset for a t2t checkpoint (its architecture must fit the checkpoint).

    Raises:
      FileNotFoundError: ``model_dir`` has no config or checkpoint. CheckpointReadError /
      PortingError: an unreadable or unfitting t2t checkpoint.
    """
    from music_transformer_ext import checkpoints
    from music_transformer_ext import config as model_config
    from music_transformer_ext import task as task_lib

    if model_dir:
        return task_lib.load(model_dir)  # music_transformer_ext.load
    if checkpoint:
        return checkpoints.port_t2t_checkpoint(checkpoint, model_config.get(preset) if preset else None)
    raise ValueError("give model_dir or checkpoint")


def output_paths(output_dir: str, count: int, stamp: Optional[str] = None) -> list:
    """``count`` MIDI paths ``output_dir/music_transformer_{stamp}_{i}.mid`` (i from 1)."""
    stamp = stamp or datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S")
    width = len(str(count))
    return [os.path.join(output_dir, f"music_transformer_{stamp}_{i:0{width}d}.mid") for i in range(1, count + 1)]


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``music_transformer_generate``."""
    from music_transformer_ext.config import PRESETS

    parser = cli_support.make_parser("music_transformer_generate", __doc__)
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--model_dir",
        "--run_dir",
        dest="model_dir",
        default=None,
        help="music_transformer_train run folder, or a zoo model's name (default, with no "
        "--checkpoint either: the zoo's Music Transformer)",
    )
    source.add_argument("--checkpoint", default=None, help="tensor2tensor checkpoint (ported by name)")
    parser.add_argument("--preset", default=None, choices=PRESETS.names(), help="architecture of --checkpoint")
    parser.add_argument("--output_dir", required=True, help="folder for the MIDI files (created)")
    parser.add_argument("--primer_midi", default=None, help="MIDI file to continue")
    parser.add_argument("--max_primer_events", type=int, default=0, help="keep only the primer's last N events")
    parser.add_argument("--melody_midi", default=None, help="melody to accompany (melody-conditioned model)")
    parser.add_argument("--num_outputs", type=int, default=1)
    parser.add_argument(
        "--decode_length",
        type=int,
        default=None,
        help="events to generate (default: 1024, capped at the model's max_length; "
        "with --melody_midi 40 per second of melody)",
    )
    parser.add_argument("--temperature", type=float, default=1.0, help="0 = greedy")
    parser.add_argument("--top_k", type=int, default=0, help="sample among the k most likely events (0 = all)")
    parser.add_argument("--top_p", type=float, default=1.0, help="nucleus sampling mass (1 = off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no_xla", action="store_true", help="run the decoding loop without XLA")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``music_transformer_generate``; returns the exit code (2 for bad input)."""
    cli_support.start(argv)
    args = build_parser().parse_args(argv)
    import numpy as np

    from music_transformer_ext import encoding
    from music_transformer_ext import sampling
    from tfmusic import zoo
    from tfmusic.tf1_checkpoints import CheckpointReadError, PortingError

    def fail(message) -> int:
        print(f"music_transformer_generate: {message}", file=sys.stderr)
        return 2

    try:
        config = sampling.SamplingConfig(
            temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed
        )
        if args.num_outputs < 1:
            raise ValueError("--num_outputs must be >= 1")
        model_dir, checkpoint = args.model_dir, args.checkpoint
        if not checkpoint and not (model_dir and os.path.isfile(os.path.join(model_dir, "config.json"))):
            # not one of our run folders: a zoo model (by name, or the default) or another folder
            # holding a tensor2tensor-named checkpoint
            model_dir, checkpoint = None, zoo.resolve(model_dir, "music_transformer")
        model = load_model(model_dir, checkpoint, args.preset)
    except (FileNotFoundError, CheckpointReadError, PortingError, ValueError, zoo.ZooError) as e:
        return fail(e)
    cfg = model.config
    if cfg.vocab_size != encoding.PERFORMANCE_VOCAB_SIZE:
        return fail(
            f"the model's vocabulary has {cfg.vocab_size} ids, not score2perf's "
            f"{encoding.PERFORMANCE_VOCAB_SIZE}: it does not generate performances"
        )
    if args.melody_midi and not cfg.conditioned:
        return fail("--melody_midi needs a melody-conditioned model (this one has no encoder)")
    if cfg.conditioned and not args.melody_midi:
        return fail("this is a melody-conditioned model: give --melody_midi")
    try:
        primer = None
        if args.primer_midi:
            primer = sampling.primer_from_midi(args.primer_midi, args.max_primer_events)
        used = 0 if primer is None else len(primer)
        sampler = sampling.Sampler(model, jit_compile=not args.no_xla)
        if args.melody_midi:
            inputs = sampling.melody_inputs(args.melody_midi)
            length = args.decode_length
            if length is None:
                length = min(int(40 * len(inputs) / encoding.MELODY_STEPS_PER_SECOND), cfg.max_length - used)
            print(
                f"music_transformer_generate: accompanying {len(inputs)} melody steps with {length} events", flush=True
            )
            ids = sampler.generate(primer, length, args.num_outputs, config, inputs=inputs)
        else:
            length = args.decode_length if args.decode_length is not None else min(1024, cfg.max_length - used)
            print(
                f"music_transformer_generate: {args.num_outputs} x {length} events"
                + (f" after a {used}-event primer" if used else ""),
                flush=True,
            )
            ids = sampler.generate(primer, length, args.num_outputs, config)
    except (encoding.EncodingError, ValueError) as e:
        return fail(e)
    os.makedirs(args.output_dir, exist_ok=True)
    for path, row in zip(output_paths(args.output_dir, args.num_outputs), np.asarray(ids)):
        sampling.ids_to_midi(row, path)
        notes = len(sampling.ids_to_note_sequence(row).notes)
        print(f"  {path} ({int(np.count_nonzero(row))} events, {notes} notes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
