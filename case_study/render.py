"""Rendering of the study's MIDI results to audio: FluidSynth from a SoundFont, and GANSynth as the
instrument with a fixed and with an interpolated timbre."""

from __future__ import annotations

import pathlib
from typing import Dict, Optional

SAMPLE_RATE = 16000


def render_fluidsynth(midi_path: pathlib.Path, wav_path: pathlib.Path, soundfont: Optional[str] = None) -> pathlib.Path:
    """``midi_path`` played by FluidSynth (General MIDI programs of the file) into a 16 kHz mono
    wav at ``wav_path``, at the evaluation's loudness reference (``music_eval.io.LOUDNESS_REFERENCE``:
    the report renders MIDI the same way, so a MIDI file and this rendering of it have an RMS ratio
    of 1); returns ``wav_path``. 16-bit PCM, or 32-bit float where peaks reach full scale."""
    import numpy as np
    import pretty_midi

    from music_eval.io import render_symbolic
    from tfmusic import audio

    samples = render_symbolic(pretty_midi.PrettyMIDI(str(midi_path)), SAMPLE_RATE, soundfont)
    subtype = "PCM_16" if float(np.max(np.abs(samples), initial=0.0)) < 1.0 else "FLOAT"
    audio.write_wav(wav_path, samples, SAMPLE_RATE, subtype=subtype)
    return wav_path


def render_gansynth(
    synth, midi_path: pathlib.Path, out_dir: pathlib.Path, stem: str, seed: int = 0
) -> Dict[str, pathlib.Path]:
    """``midi_path`` played by a GANSynth model (a :class:`gansynth_tf.synthesize.GANSynthSynthesizer`)
    with one latent for the whole piece (``fixed``) and with latents interpolated over it
    (``interpolate``); both start from the same seed. Returns {timbre: wav path} (16 kHz mono,
    peak-limited)."""
    from gansynth_tf import synthesize
    from tfmusic import audio

    out = {}
    for timbre in ("fixed", "interpolate"):
        rendering = synthesize.render_midi(synth, str(midi_path), timbre=timbre, seed=seed)
        path = out_dir / f"{stem}_gansynth_{timbre}.wav"
        audio.write_wav(path, rendering.audio, synth.sample_rate)
        out[timbre] = path
    return out
