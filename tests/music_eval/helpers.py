"""Small synthetic pieces for music_eval tests."""

import numpy as np
import pretty_midi


def waltz(bpm=100.0, bars=16, transpose=0, velocity=90, program=0):
    """A I-V waltz in C major: a bass note held for the bar plus chords on beats 2 and 3."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(program=program)
    for b in range(bars):
        t = b * 3 * beat
        bass, chord = (48, (64, 67)) if b % 2 == 0 else (43, (62, 65, 71))
        inst.notes.append(pretty_midi.Note(velocity, bass + transpose, t, t + 3 * beat))
        inst.notes.append(pretty_midi.Note(velocity, 72 + transpose if b % 2 == 0 else 74 + transpose, t, t + 2 * beat))
        for k in (1, 2):
            for p in chord:
                inst.notes.append(
                    pretty_midi.Note(int(velocity * 0.6), p + transpose, t + k * beat, t + (k + 0.5) * beat)
                )
    midi.instruments.append(inst)
    return midi


def march(bpm=120.0, bars=12, transpose=0):
    """A 4/4 pattern: long bass + melody on beat 1, lighter notes on 2-4, medium on 3."""
    beat = 60.0 / bpm
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(program=0)
    for b in range(bars):
        t = b * 4 * beat
        inst.notes.append(pretty_midi.Note(100, 45 + transpose, t, t + 4 * beat))
        inst.notes.append(pretty_midi.Note(100, 69 + transpose, t, t + 2 * beat))
        inst.notes.append(pretty_midi.Note(80, 64 + transpose, t + 2 * beat, t + 3 * beat))
        for k in (1, 3):
            inst.notes.append(pretty_midi.Note(60, 72 + transpose, t + k * beat, t + (k + 0.5) * beat))
    midi.instruments.append(inst)
    return midi


def click_track(bpm, seconds, sample_rate=22050, accent_every=None):
    """Decaying 1 kHz clicks on every beat (louder on every ``accent_every``-th)."""
    n = int(seconds * sample_rate)
    y = np.zeros(n, np.float32)
    click = np.sin(2 * np.pi * 1000 * np.arange(int(0.03 * sample_rate)) / sample_rate)
    click *= np.exp(-np.arange(click.size) / (0.005 * sample_rate))
    period = 60.0 / bpm
    for i, t in enumerate(np.arange(0.1, seconds - 0.1, period)):
        s = int(t * sample_rate)
        amp = 0.9 if accent_every and i % accent_every == 0 else 0.4
        y[s : s + click.size] += amp * click[: n - s]
    return y
