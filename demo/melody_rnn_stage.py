"""`make demo` stage: Melody RNN on Bach chorales, from MusicXML files to a rendered generated melody.

``run(out_dir, log)``:

1. copy ``NUM_CHORALES`` Bach chorales (MusicXML, music21's corpus) into ``out_dir/chorales`` and
   convert them with ``convert_dir_to_note_sequences``;
2. ``melody_rnn_create_dataset --config basic_rnn`` (Magenta's melody pipeline);
3. ``melody_rnn_train`` a small basic_rnn from scratch (``BASE_STEPS``) and export it as a ``.mag``;
4. fine-tune that bundle (``FINETUNE_STEPS``, fresh optimizer, as Magenta's warm start) and export
   the result as another ``.mag``;
5. ``melody_rnn_generate`` from the fine-tuned bundle, primed with the opening two bars of a
   chorale's melody, and render the MIDI with FluidSynth (``tfmusic.audio.render_midi``).

About 1-2 minutes on 2 CPU cores. Returns the paths of what it wrote.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
import time
from typing import Callable, Dict

import demo_common  # demo/demo_common.py: also puts the repository on sys.path

NUM_CHORALES = 40
BASE_STEPS = 60
FINETUNE_STEPS = 40
#: a small basic_rnn: two 64-unit layers, batch 32, no XLA (compiling costs more than it saves here).
SMALL = [
    "--preset",
    "basic_rnn",
    "--hparams",
    "rnn_layer_sizes=[64,64],batch_size=32",
    "--set",
    "trainer.global_batch_size=32",
    "--set",
    "runtime.jit_compile=false",
    "--set",
    "trainer.progress=false",
    "--set",
    "data.pad_to_multiple=32",
]
PRIMER_BARS = 2
NUM_STEPS = 128


def chorale_files(count: int = NUM_CHORALES):
    """Paths of the first ``count`` Bach chorales (.mxl) in music21's corpus, sorted by name."""
    return demo_common.bach_chorale_files()[:count]


def primer_from_sequence(sequence, bars: int = PRIMER_BARS):
    """The first ``bars`` bars (16 steps each) of a NoteSequence's melody, as a ``note_seq.Melody``."""
    from melody_rnn_ext import generate

    melody = generate.melody_from_sequence(sequence)
    events = list(melody)[: bars * 16]
    primer = generate.parse_primer_melody(str(events))
    return primer


def run(out_dir: pathlib.Path, log: Callable[[str], None] = print) -> Dict[str, str]:
    """Run the stage into ``out_dir``; returns {"bundle", "finetuned_bundle", "midi", "wav", ...} paths."""
    from melody_rnn_ext import create_dataset_cli, generate, generate_cli, train_cli
    from pipelines import note_sequence_io, note_sequences
    from tfmusic import audio

    out_dir = pathlib.Path(out_dir)
    t0 = time.perf_counter()
    src = out_dir / "chorales"
    src.mkdir(parents=True, exist_ok=True)
    for path in chorale_files():
        shutil.copy(path, src / os.path.basename(path))
    counters = note_sequences.convert_directory(str(src), str(out_dir / "notesequences"), progress=False)
    records = note_sequences.shard_pattern(str(out_dir / "notesequences"))
    log(
        f"convert_dir_to_note_sequences: {counters.get(note_sequences.WRITTEN)} sequences "
        f"({time.perf_counter() - t0:.0f} s)"
    )

    data_dir = out_dir / "melodies"
    rc = create_dataset_cli.main(
        [
            "--config",
            "basic_rnn",
            "--input",
            records,
            "--output_dir",
            str(data_dir),
            "--eval_ratio",
            "0.1",
            "--no_progress",
        ]
    )
    if rc:
        raise SystemExit(f"melody_rnn_create_dataset failed ({rc})")
    train_file, eval_file = str(data_dir / "training_melodies.tfrecord"), str(data_dir / "eval_melodies.tfrecord")
    log(f"melody_rnn_create_dataset: {data_dir} ({time.perf_counter() - t0:.0f} s)")

    def train(run_name: str, steps: int, bundle: pathlib.Path, extra: list, command: str, label: str):
        """``melody_rnn_train`` (the small config plus ``extra``) into ``out_dir/run_name``, exported to ``bundle``;
        ``command`` names it in a failure, ``label`` in the log line."""
        data_args = ["--sequence_example_file", train_file, "--eval_file", eval_file]
        argv = SMALL + extra + ["--run_dir", str(out_dir / run_name), *data_args, "--num_training_steps", str(steps)]
        rc = train_cli.main(argv + ["--export_bundle", str(bundle)])
        if rc:
            raise SystemExit(f"{command} failed ({rc})")
        log(f"{label}: {steps} steps -> {bundle} ({time.perf_counter() - t0:.0f} s)")

    base_bundle = out_dir / "basic_rnn_small.mag"
    train("run_base", BASE_STEPS, base_bundle, [], "melody_rnn_train", "melody_rnn_train from scratch")
    tuned_bundle = out_dir / "basic_rnn_finetuned.mag"
    fine_tune = ["--bundle", str(base_bundle)]
    train(
        "run_finetune",
        FINETUNE_STEPS,
        tuned_bundle,
        fine_tune,
        "melody_rnn_train --bundle",
        "melody_rnn_train --bundle",
    )

    first = next(note_sequence_io.read_note_sequences(records))
    primer = primer_from_sequence(first)
    generator = generate.MelodyGenerator.from_bundle(str(tuned_bundle))
    options = generate.GenerationOptions(
        num_steps=NUM_STEPS, temperature=1.0, beam_size=2, branch_factor=2, steps_per_iteration=4, seed=0
    )
    midi_dir = out_dir / "generated"
    ((midi_path, loglik),) = generate_cli.generate_files(generator, primer, str(midi_dir), 1, options, qpm=90)
    wav_path = out_dir / "generated.wav"
    import pretty_midi

    audio_data = audio.render_midi(pretty_midi.PrettyMIDI(midi_path), sample_rate=16000)
    audio.write_wav(str(wav_path), audio_data, 16000)
    log(
        f"melody_rnn_generate: {midi_path} (primer: {PRIMER_BARS} bars of {first.filename}, log-likelihood "
        f"{loglik:.1f}) -> {wav_path} ({time.perf_counter() - t0:.0f} s)"
    )
    return {
        "chorales": str(src),
        "notesequences": records,
        "dataset": str(data_dir),
        "bundle": str(base_bundle),
        "finetuned_bundle": str(tuned_bundle),
        "midi": midi_path,
        "wav": str(wav_path),
        "eval_metrics": str(out_dir / "run_finetune" / train_cli.EVAL_METRICS_FILENAME),
    }


if __name__ == "__main__":
    import tempfile

    target = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(tempfile.mkdtemp())
    print(run(target))
