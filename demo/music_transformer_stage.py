"""`make demo` stage: fine-tune a Music Transformer on a few Bach chorales and continue a chorale opening.

Steps (all through the public commands and APIs):

1. a checkpoint in tensor2tensor's variable names and layout (``checkpoints.write_t2t_fixture``,
   a small relative model: 2 layers, hidden 64, 4 heads, 64 relative positions) stands in for a
   released one, which cannot be downloaded here;
2. a few of music21's Bach chorales (MusicXML) -> ``convert_dir_to_note_sequences`` ->
   ``music_transformer_create_dataset`` (transposed -2/0/+2, 256-event crops);
3. ``music_transformer_train --checkpoint`` ports the t2t checkpoint strictly and fine-tunes it
   for a few dozen steps; it saves our checkpoints and a t2t-named export;
4. ``music_transformer_generate`` continues the opening of a chorale that was not trained on
   (key/value-cached XLA decoding, nucleus sampling), and FluidSynth renders primer and
   continuation to wav.

About a minute on 2 CPU cores. ``run(out_dir, log)`` returns the output paths.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import shutil
import time
from typing import Callable, Dict

import demo_common  # demo/demo_common.py: also puts the repository on sys.path

NUM_CHORALES = 6
PRIMER_SECONDS = 4.0
DECODE_LENGTH = 300
TRAIN_STEPS = 40


def _chorale_files(count: int):
    paths = demo_common.bach_chorale_files()
    return paths[:count], paths[count]


def _render(midi_path: pathlib.Path, wav_path: pathlib.Path) -> pathlib.Path:
    import pretty_midi

    from tfmusic import audio

    pm = pretty_midi.PrettyMIDI(str(midi_path))
    for inst in pm.instruments:
        inst.program = 0  # piano, the instrument of score2perf's performances
    audio.write_wav(str(wav_path), audio.render_midi(pm, sample_rate=16000), 16000)
    return wav_path


def run(out_dir: pathlib.Path, log: Callable[[str], None] = print) -> Dict[str, pathlib.Path]:
    """Run the stage into ``out_dir``; returns ``{name: path}`` of what it wrote (fixture, run folder,
    t2t export, primer and continuation MIDI and wav). Raises RuntimeError if a command fails."""
    import note_seq

    from music_transformer_ext import checkpoints
    from music_transformer_ext import config as model_config
    from music_transformer_ext import create_dataset_cli, data, generate_cli, train_cli
    from pipelines import convert_dir_to_note_sequences_cli

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    def check(rc, what):
        if rc:
            raise RuntimeError(f"{what} failed with exit code {rc}")

    # 1. a t2t-named checkpoint
    arch = dataclasses.replace(
        model_config.get("tiny"), hidden_size=64, filter_size=256, num_heads=4, max_relative_position=64, max_length=512
    )
    t2t_dir = out_dir / "t2t_checkpoint"
    fixture = checkpoints.write_t2t_fixture(arch, str(t2t_dir / "model.ckpt-100000"), seed=0)
    log(f"t2t-named checkpoint (stand-in for a released one): {fixture}")

    # 2. chorales -> NoteSequences -> training examples
    train_files, held_out = _chorale_files(NUM_CHORALES)
    chorale_dir = out_dir / "chorales"
    chorale_dir.mkdir(exist_ok=True)
    for path in train_files:
        shutil.copy(path, chorale_dir / os.path.basename(path))
    ns_prefix = out_dir / "note_sequences" / "chorales"
    check(
        convert_dir_to_note_sequences_cli.main(
            ["--input_dir", str(chorale_dir), "--output_file", str(ns_prefix), "--no_progress"]
        ),
        "convert_dir_to_note_sequences",
    )
    dataset_dir = out_dir / "dataset"
    check(
        create_dataset_cli.main(
            [
                "--input",
                f"train={ns_prefix}",
                "--output_dir",
                str(dataset_dir),
                "--max_length",
                "256",
                "--num_shards",
                "1",
                "--stretch_factors",
                "1.0",
                "--transpose_amounts=-2,0,2",
                "--no_progress",
            ]
        ),
        "music_transformer_create_dataset",
    )

    # 3. port + fine-tune, export in t2t names
    run_dir = out_dir / "run"
    export_dir = out_dir / "t2t_export"
    check(
        train_cli.main(
            [
                "--model_dir",
                str(run_dir),
                "--checkpoint",
                str(t2t_dir),
                "--train_data",
                data.split_file_pattern(str(dataset_dir), "train"),
                "--num_steps",
                str(TRAIN_STEPS),
                "--export_t2t",
                str(export_dir),
                "--set",
                "data.sequence_length=256",
                "--set",
                "model.max_length=512",
                "--set",
                "trainer.global_batch_size=8",
                "--set",
                "trainer.checkpoint_every=20",
                "--set",
                "trainer.progress=false",
                "--set",
                "optimizer.schedule=constant*linear_warmup",
                "--set",
                "optimizer.learning_rate_constant=0.002",
                "--set",
                "optimizer.warmup_steps=10",
            ]
        ),
        "music_transformer_train",
    )

    # 4. continue the opening of a chorale not trained on
    ns = note_seq.musicxml_file_to_sequence_proto(held_out)
    opening = note_seq.extract_subsequence(ns, 0.0, PRIMER_SECONDS)
    primer_midi = out_dir / "primer.mid"
    note_seq.sequence_proto_to_midi_file(opening, str(primer_midi))
    gen_dir = out_dir / "continuation"
    if gen_dir.exists():
        shutil.rmtree(gen_dir)
    check(
        generate_cli.main(
            [
                "--model_dir",
                str(run_dir),
                "--primer_midi",
                str(primer_midi),
                "--output_dir",
                str(gen_dir),
                "--decode_length",
                str(DECODE_LENGTH),
                "--top_p",
                "0.95",
                "--seed",
                "0",
            ]
        ),
        "music_transformer_generate",
    )
    continuation_midi = sorted(gen_dir.glob("*.mid"))[0]
    outputs = {
        "t2t_fixture": pathlib.Path(fixture),
        "run_dir": run_dir,
        "t2t_export": export_dir,
        "primer_midi": primer_midi,
        "primer_wav": _render(primer_midi, out_dir / "primer.wav"),
        "continuation_midi": continuation_midi,
        "continuation_wav": _render(continuation_midi, out_dir / "continuation.wav"),
    }
    log(
        f"continuation of {os.path.basename(held_out)}'s first {PRIMER_SECONDS:.0f} s: {outputs['continuation_wav']}"
        f" ({time.perf_counter() - t0:.0f} s)"
    )
    return outputs


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_output/music_transformer")
    for name, path in run(pathlib.Path(parser.parse_args().out)).items():
        print(f"{name}: {path}")
