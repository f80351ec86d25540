"""`make demo` stage 0: music from the zoo (``models/``), before anything is trained.

``run(out_dir, log)``, through the public commands, each given only a zoo name:

1. ``melody_rnn_generate --bundle_file melody_rnn_attention``: three melodies continuing the opening of
   "Twinkle, Twinkle" (seeded), rendered by FluidSynth (flute);
2. ``music_transformer_generate --model_dir transformer_chorales``: the opening of Bach's chorale
   bwv66.6 continued (512 events), rendered by FluidSynth (piano);
3. ``gansynth_generate --model_dir gansynth_multisf``: notes at C2-C6 and the top line of bwv66.6's
   opening played with one fixed timbre;
4. the zoo's ``pitch_classifier`` names the pitch of the 12 real NSynth notes in ``../shared/data``
   where that folder is present.

A family the zoo does not hold yet is skipped with a line saying so. About a minute on 2 CPU cores.
"""

from __future__ import annotations

import os
import pathlib
import shutil
from typing import Callable, Dict

from demo_common import ROOT  # demo/demo_common.py: also puts the repository on sys.path

TWINKLE = "[60, -2, 60, -2, 67, -2, 67, -2, 69, -2, 69, -2, 67, -2, -2, -2]"
NSYNTH_SAMPLE = ROOT.parent / "shared" / "data" / "nsynth_sample"
#: How the zoo's Music Transformer continues bwv66.6 (the model card's sample is made the same way).
TRANSFORMER_SAMPLING = ["--decode_length", "512", "--top_p", "0.95", "--seed", "0"]


def _render(midi_path: pathlib.Path, program: int) -> pathlib.Path:
    """FluidSynth rendering of ``midi_path`` (every instrument set to ``program``), peak-normalised, as .wav beside it."""
    import numpy as np
    import pretty_midi

    from tfmusic import audio

    midi = pretty_midi.PrettyMIDI(str(midi_path))
    for inst in midi.instruments:
        inst.program = program
    wav = audio.render_midi(midi, sample_rate=16000)
    wav_path = midi_path.with_suffix(".wav")
    audio.write_wav(str(wav_path), wav / max(1e-6, float(np.abs(wav).max())) * 0.8, 16000)
    return wav_path


def _fresh(folder: pathlib.Path) -> pathlib.Path:
    """``folder``, emptied of an earlier run's outputs."""
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def _check(status: int, command: str, name: str) -> None:
    """Raises when ``command`` with zoo model ``name`` returned a non-zero exit status."""
    if status:
        raise RuntimeError(f"{command} with zoo model {name} failed")


def _melody_rnn(name: str, out_dir: pathlib.Path, log: Callable[[str], None]) -> list:
    """Three melodies continuing 'Twinkle, Twinkle' from the zoo's Melody RNN ``name``, rendered (flute)."""
    from melody_rnn_ext import generate_cli

    gen_dir = _fresh(out_dir / "melody_rnn")
    argv = ["--bundle_file", name, "--output_dir", str(gen_dir), "--primer_melody", TWINKLE]
    _check(generate_cli.main(argv + "--num_outputs 3 --num_steps 128 --seed 0".split()), "melody_rnn_generate", name)
    wavs = [_render(p, 73) for p in sorted(gen_dir.glob("*.mid"))]
    log(f"zoo {name}: 3 melodies continuing 'Twinkle, Twinkle' -> {gen_dir}")
    return wavs


def _music_transformer(name: str, out_dir: pathlib.Path, log: Callable[[str], None]) -> list:
    """bwv66.6's first 8 s continued by the zoo's Music Transformer ``name``, rendered (piano)."""
    from case_study import study
    from music_transformer_ext import generate_cli

    gen_dir = _fresh(out_dir / "transformer")
    primer = study.default_primer(out_dir / "primer_bwv66.6.mid", 8.0)
    argv = ["--model_dir", name, "--primer_midi", str(primer), "--output_dir", str(gen_dir)]
    _check(generate_cli.main(argv + TRANSFORMER_SAMPLING), "music_transformer_generate", name)
    wavs = [_render(p, 0) for p in sorted(gen_dir.glob("*.mid"))]
    log(f"zoo {name}: bwv66.6's first 8 s continued -> {gen_dir}")
    return wavs


def _gansynth(name: str, out_dir: pathlib.Path, log: Callable[[str], None]) -> list:
    """Notes C2-C6 and bwv66.6's top line in one timbre from the zoo's GANSynth ``name``."""
    from case_study import study
    from gansynth_tf import generate_cli

    gen_dir = _fresh(out_dir / "gansynth")
    argv = ["notes", "--model_dir", name, "--output_dir", str(gen_dir), "--pitches", "36,48,60,72,84"]
    _check(generate_cli.main(argv + ["--seeds", "0"]), "gansynth_generate notes", name)
    primer = study.default_primer(out_dir / "primer_bwv66.6.mid", 8.0)
    line = study.top_line(primer, out_dir / "bwv66.6_top_line.mid")
    argv = ["midi", "--model_dir", name, "--midi_file", str(line), "--timbre", "fixed"]
    wav = gen_dir / "bwv66.6_top_line.wav"
    _check(generate_cli.main(argv + ["--output_file", str(wav)]), "gansynth_generate midi", name)
    log(f"zoo {name}: notes C2-C6 and bwv66.6's top line in one timbre -> {gen_dir}")
    return sorted(str(p) for p in gen_dir.glob("*.wav"))


#: (zoo family, key of run()'s outputs, what makes them): the generating families, in the order they run.
GENERATORS = (
    ("melody_rnn", "melody_rnn", _melody_rnn),
    ("music_transformer", "transformer", _music_transformer),
    ("gansynth", "gansynth", _gansynth),
)


def run(out_dir: pathlib.Path, log: Callable[[str], None] = print) -> Dict[str, list]:
    """Stage 0 into ``out_dir``; returns ``{"melody_rnn": [wav...], "transformer": [wav...], ...}``."""
    from tfmusic import zoo

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs: Dict[str, list] = {}
    available = set(zoo.names())

    for family, key, generate in GENERATORS:
        name = zoo.DEFAULTS[family]
        if name in available:
            outputs[key] = generate(name, out_dir, log)
        else:
            log(f"zoo has no {name} yet: skipped")

    name = zoo.DEFAULTS["pitch_classifier"]
    if name in available and (NSYNTH_SAMPLE / "examples.json").is_file():
        import numpy as np

        from music_eval import classifier as classifier_lib

        notes = classifier_lib.load_nsynth_dir(str(NSYNTH_SAMPLE))
        predicted = zoo.load(name).predict_pitches(notes.audio)
        correct = int(np.sum(predicted == notes.pitches))
        outputs["pitch_classifier"] = [f"{correct} of {len(notes)}"]
        log(f"zoo {name}: the pitch of {correct} of {len(notes)} real NSynth notes named right")
    else:
        log(f"zoo has no {name}, or no ../shared/data/nsynth_sample: skipped")
    return outputs


if __name__ == "__main__":
    import argparse

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo_output/zoo")
    for key, paths in run(pathlib.Path(parser.parse_args().out)).items():
        print(f"{key}: {paths}")
