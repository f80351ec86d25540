"""``nsynth_render``: an NSynth-format dataset rendered from a General MIDI SoundFont.

Writes ``OUT/examples.json`` and ``OUT/audio/<note_str>.wav`` exactly as NSynth's jsonwav
release does: 16-bit PCM mono wavs at 16 kHz, 64,000 samples each; the key is held for
3 s, then released, and the last second is the release. Every examples.json entry has
NSynth's keys (note, note_str, instrument, instrument_str, instrument_family[_str],
instrument_source[_str], pitch, velocity, sample_rate, qualities, qualities_str), plus
``program`` (the GM program), ``soundfont`` (the SoundFont's short name) and ``soundfont_file``.

Several SoundFonts (``--soundfont`` repeated; Debian's ``fluid-soundfont-gm``,
``musescore-general-soundfont``, ``timgm6mb-soundfont``, ``csound-soundfont`` are General MIDI
ones). Each (SoundFont, program) pair is its own instrument: SoundFont ``s`` numbers its
instruments after those of the SoundFonts before it, ``instrument = s * 128 + program``, so a
single-SoundFont run names notes exactly as before. Splits (``--heldout_instruments F``,
``--holdout_soundfont NAME``): as NSynth, notes are split by instrument so that held-out notes
come from instruments never trained on (``OUT/train``, ``OUT/valid_instruments``), and one
SoundFont can be held out entirely (``OUT/valid_soundfont``); ``OUT/splits.json`` lists them.

Instruments. Each of the 128 GM programs (``GM_PROGRAMS``) is either mapped to one of
NSynth's 11 families and 3 sources with a realistic playable pitch range (clipped to
21-108), or excluded with a reason (sound effects, unpitched percussion, textures). Notes
are named ``<family>_<source>_<NNN>-<pitch>-<velocity>`` where NNN numbers the programs of
one family+source in program order (so names do not depend on which programs you select);
``instrument`` is the GM program number and ``note`` is ``(program * 128 + pitch) * 128 +
velocity``, both stable across runs and selections.

Rendering. FluidSynth runs at 48 kHz (``--synth_rate``) without reverb or chorus; the
stereo output is averaged to mono, resampled to 16 kHz with soxr, then scaled to a peak of
0.9 (``--normalize_peak``; NSynth's notes are peak-normalized too) and quantized to 16 bits.
Notes whose raw output peaks below -70 dBFS, and programs missing from the SoundFont, are
skipped and counted. Each note depends only on its own parameters (see
``tfmusic.audio.FluidSynthRenderer``), so output is byte-identical for the same
arguments whatever the number of worker processes.

Qualities. NSynth's qualities were labelled by people. Here only five are estimated from
simple descriptors; the other five (distortion, multiphonic, nonlinear_env, reverb,
tempo-synced) are always 0:

* bright: spectral centroid of the sustain (0.5 s from 50 ms after onset) above
  ``BRIGHT_CENTROID_RATIO`` x f0 and above 1 kHz; dark: below ``DARK_CENTROID_RATIO`` x f0;
* fast_decay: the level over the 100 ms before note-off is ``FAST_DECAY_DB`` below the peak;
* long_release: not fast_decay, and 0.4-0.6 s after note-off the level is within
  ``LONG_RELEASE_DB`` of the peak;
* percussive: the peak comes within 20 ms of onset and the level 250 ms after the peak is
  at least ``PERCUSSIVE_DROP_DB`` below it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import re
import sys
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from pipelines.nsynth import FAMILY_NAMES, NUM_SAMPLES, QUALITY_NAMES, SAMPLE_RATE, SOURCE_NAMES, qualities_to_str
from pipelines.tfrecord_io import Counters, atomic_write_json, remove_empty_folder
from tfmusic import cli_support
from tfmusic.workers import exit_on_interrupt

DEFAULT_VELOCITIES = (25, 50, 75, 100, 127)
MIN_PITCH, MAX_PITCH = 21, 108
NOTE_SECONDS = 3.0
TOTAL_SECONDS = NUM_SAMPLES / SAMPLE_RATE  # 4.0
SILENT_PEAK_DB = -70.0

BRIGHT_CENTROID_RATIO = 5.0
DARK_CENTROID_RATIO = 2.0
FAST_DECAY_DB = 40.0
LONG_RELEASE_DB = 30.0
PERCUSSIVE_DROP_DB = 10.0


@dataclasses.dataclass(frozen=True)
class Program:
    """A General MIDI program and how it maps onto NSynth.

    Attributes:
      program: GM program number 0-127.
      name: GM name.
      family, source: NSynth family and source names; ``None`` when excluded.
      low, high: playable MIDI pitch range (inclusive, within 21-108).
      excluded: reason the program is left out ('' when included).
    """

    program: int
    name: str
    family: Optional[str]
    source: Optional[str]
    low: int
    high: int
    excluded: str = ""

    @property
    def included(self) -> bool:
        return not self.excluded


# program: (GM name, family, source, low, high) or (GM name, None, reason)
_A, _E, _S = "acoustic", "electronic", "synthetic"
_FX = "sound effect, no NSynth family"
_UNPITCHED = "unpitched percussion"
_TABLE = {
    0: ("Acoustic Grand Piano", "keyboard", _A, 21, 108),
    1: ("Bright Acoustic Piano", "keyboard", _A, 21, 108),
    2: ("Electric Grand Piano", "keyboard", _E, 28, 100),
    3: ("Honky-tonk Piano", "keyboard", _A, 21, 108),
    4: ("Electric Piano 1", "keyboard", _E, 28, 100),
    5: ("Electric Piano 2", "keyboard", _E, 28, 103),
    6: ("Harpsichord", "keyboard", _A, 29, 89),
    7: ("Clavinet", "keyboard", _E, 29, 88),
    8: ("Celesta", "mallet", _A, 60, 108),
    9: ("Glockenspiel", "mallet", _A, 79, 108),
    10: ("Music Box", "mallet", _A, 60, 96),
    11: ("Vibraphone", "mallet", _A, 53, 89),
    12: ("Marimba", "mallet", _A, 45, 96),
    13: ("Xylophone", "mallet", _A, 65, 108),
    14: ("Tubular Bells", "mallet", _A, 60, 77),
    15: ("Dulcimer", "mallet", _A, 48, 88),
    16: ("Drawbar Organ", "organ", _E, 24, 96),
    17: ("Percussive Organ", "organ", _E, 36, 96),
    18: ("Rock Organ", "organ", _E, 36, 96),
    19: ("Church Organ", "organ", _A, 21, 96),
    20: ("Reed Organ", "organ", _A, 36, 89),
    21: ("Accordion", "organ", _A, 41, 93),
    22: ("Harmonica", "reed", _A, 60, 96),
    23: ("Tango Accordion", "organ", _A, 41, 93),
    24: ("Acoustic Guitar (nylon)", "guitar", _A, 40, 83),
    25: ("Acoustic Guitar (steel)", "guitar", _A, 40, 84),
    26: ("Electric Guitar (jazz)", "guitar", _E, 40, 86),
    27: ("Electric Guitar (clean)", "guitar", _E, 40, 86),
    28: ("Electric Guitar (muted)", "guitar", _E, 40, 76),
    29: ("Overdriven Guitar", "guitar", _E, 40, 88),
    30: ("Distortion Guitar", "guitar", _E, 40, 88),
    31: ("Guitar Harmonics", "guitar", _E, 52, 96),
    32: ("Acoustic Bass", "bass", _A, 28, 67),
    33: ("Electric Bass (finger)", "bass", _E, 28, 67),
    34: ("Electric Bass (pick)", "bass", _E, 28, 67),
    35: ("Fretless Bass", "bass", _E, 28, 67),
    36: ("Slap Bass 1", "bass", _E, 28, 67),
    37: ("Slap Bass 2", "bass", _E, 28, 67),
    38: ("Synth Bass 1", "bass", _S, 24, 72),
    39: ("Synth Bass 2", "bass", _S, 24, 72),
    40: ("Violin", "string", _A, 55, 103),
    41: ("Viola", "string", _A, 48, 91),
    42: ("Cello", "string", _A, 36, 76),
    43: ("Contrabass", "string", _A, 28, 67),
    44: ("Tremolo Strings", "string", _A, 28, 96),
    45: ("Pizzicato Strings", "string", _A, 28, 96),
    46: ("Orchestral Harp", "string", _A, 24, 103),
    47: ("Timpani", None, "pitched drum, no NSynth family"),
    48: ("String Ensemble 1", "string", _A, 28, 96),
    49: ("String Ensemble 2", "string", _A, 28, 96),
    50: ("Synth Strings 1", "string", _S, 24, 96),
    51: ("Synth Strings 2", "string", _S, 24, 96),
    52: ("Choir Aahs", "vocal", _A, 40, 81),
    53: ("Voice Oohs", "vocal", _A, 40, 81),
    54: ("Synth Voice", "vocal", _S, 36, 84),
    55: ("Orchestra Hit", None, "orchestral hit, a sound effect"),
    56: ("Trumpet", "brass", _A, 52, 86),
    57: ("Trombone", "brass", _A, 40, 72),
    58: ("Tuba", "brass", _A, 28, 58),
    59: ("Muted Trumpet", "brass", _A, 52, 84),
    60: ("French Horn", "brass", _A, 34, 77),
    61: ("Brass Section", "brass", _A, 34, 86),
    62: ("Synth Brass 1", "brass", _S, 24, 96),
    63: ("Synth Brass 2", "brass", _S, 24, 96),
    64: ("Soprano Sax", "reed", _A, 56, 87),
    65: ("Alto Sax", "reed", _A, 49, 81),
    66: ("Tenor Sax", "reed", _A, 44, 76),
    67: ("Baritone Sax", "reed", _A, 36, 69),
    68: ("Oboe", "reed", _A, 58, 91),
    69: ("English Horn", "reed", _A, 52, 84),
    70: ("Bassoon", "reed", _A, 34, 75),
    71: ("Clarinet", "reed", _A, 50, 94),
    72: ("Piccolo", "flute", _A, 74, 108),
    73: ("Flute", "flute", _A, 60, 96),
    74: ("Recorder", "flute", _A, 60, 96),
    75: ("Pan Flute", "flute", _A, 60, 96),
    76: ("Blown Bottle", "flute", _A, 48, 84),
    77: ("Shakuhachi", "flute", _A, 55, 88),
    78: ("Whistle", "flute", _A, 72, 98),
    79: ("Ocarina", "flute", _A, 60, 84),
    80: ("Lead 1 (square)", "synth_lead", _S, 36, 96),
    81: ("Lead 2 (sawtooth)", "synth_lead", _S, 36, 96),
    82: ("Lead 3 (calliope)", "synth_lead", _S, 36, 96),
    83: ("Lead 4 (chiff)", "synth_lead", _S, 36, 96),
    84: ("Lead 5 (charang)", "synth_lead", _S, 36, 96),
    85: ("Lead 6 (voice)", "vocal", _S, 36, 84),
    86: ("Lead 7 (fifths)", "synth_lead", _S, 36, 96),
    87: ("Lead 8 (bass + lead)", "synth_lead", _S, 28, 84),
    88: ("Pad 1 (new age)", None, "layered pad texture, no NSynth family"),
    89: ("Pad 2 (warm)", "string", _S, 36, 96),
    90: ("Pad 3 (polysynth)", "keyboard", _S, 36, 96),
    91: ("Pad 4 (choir)", "vocal", _S, 36, 84),
    92: ("Pad 5 (bowed)", "string", _S, 36, 96),
    93: ("Pad 6 (metallic)", None, "metallic pad texture, no NSynth family"),
    94: ("Pad 7 (halo)", "vocal", _S, 36, 84),
    95: ("Pad 8 (sweep)", None, "filter-sweep pad texture, no NSynth family"),
    96: ("FX 1 (rain)", None, _FX),
    97: ("FX 2 (soundtrack)", None, _FX),
    98: ("FX 3 (crystal)", None, _FX),
    99: ("FX 4 (atmosphere)", None, _FX),
    100: ("FX 5 (brightness)", None, _FX),
    101: ("FX 6 (goblins)", None, _FX),
    102: ("FX 7 (echoes)", None, _FX),
    103: ("FX 8 (sci-fi)", None, _FX),
    104: ("Sitar", "guitar", _A, 48, 84),
    105: ("Banjo", "guitar", _A, 48, 86),
    106: ("Shamisen", "guitar", _A, 50, 86),
    107: ("Koto", "guitar", _A, 50, 88),
    108: ("Kalimba", "mallet", _A, 60, 88),
    109: ("Bag pipe", "reed", _A, 67, 81),
    110: ("Fiddle", "string", _A, 55, 100),
    111: ("Shanai", "reed", _A, 60, 84),
    112: ("Tinkle Bell", "mallet", _A, 72, 108),
    113: ("Agogo", None, _UNPITCHED),
    114: ("Steel Drums", "mallet", _A, 48, 88),
    115: ("Woodblock", None, _UNPITCHED),
    116: ("Taiko Drum", None, _UNPITCHED),
    117: ("Melodic Tom", None, "tom drum, no NSynth family"),
    118: ("Synth Drum", None, "drum sound, no NSynth family"),
    119: ("Reverse Cymbal", None, _UNPITCHED),
    120: ("Guitar Fret Noise", None, _FX),
    121: ("Breath Noise", None, _FX),
    122: ("Seashore", None, _FX),
    123: ("Bird Tweet", None, _FX),
    124: ("Telephone Ring", None, _FX),
    125: ("Helicopter", None, _FX),
    126: ("Applause", None, _FX),
    127: ("Gunshot", None, _FX),
}


def _build_programs() -> tuple[Program, ...]:
    programs = []
    for number in range(128):
        row = _TABLE[number]
        if row[1] is None:
            programs.append(Program(number, row[0], None, None, 0, -1, excluded=row[2]))
        else:
            name, family, source, low, high = row
            programs.append(Program(number, name, family, source, max(low, MIN_PITCH), min(high, MAX_PITCH)))
    return tuple(programs)


GM_PROGRAMS: tuple[Program, ...] = _build_programs()


def _number_instruments() -> dict[int, int]:
    seen: dict[tuple[str, str], int] = {}
    numbers = {}
    for p in GM_PROGRAMS:
        if p.included:
            key = (p.family, p.source)
            numbers[p.program] = seen.get(key, 0)
            seen[key] = numbers[p.program] + 1
    return numbers


_INSTRUMENT_NUMBER = _number_instruments()


def excluded_programs() -> dict[int, str]:
    """``{program: reason}`` for the GM programs that are not rendered."""
    return {p.program: p.excluded for p in GM_PROGRAMS if not p.included}


def _family_source_counts() -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for p in GM_PROGRAMS:
        if p.included:
            counts[(p.family, p.source)] = counts.get((p.family, p.source), 0) + 1
    return counts


_FAMILY_SOURCE_COUNT = _family_source_counts()


@dataclasses.dataclass(frozen=True, order=True)
class NoteSpec:
    """One note to render: GM program, MIDI pitch, MIDI velocity, and which SoundFont.

    ``soundfont`` indexes the run's SoundFont list (0 for single-SoundFont runs). Each
    (SoundFont, program) pair is its own instrument: SoundFont ``s`` numbers its instruments of
    a family+source after those of SoundFonts ``0..s-1``, so with one SoundFont the names and
    ids are those of the single-SoundFont format.
    """

    program: int
    pitch: int
    velocity: int
    soundfont: int = 0

    @property
    def info(self) -> Program:
        return GM_PROGRAMS[self.program]

    @property
    def instrument(self) -> int:
        """NSynth's integer instrument id: ``soundfont * 128 + program``."""
        return self.soundfont * 128 + self.program

    @property
    def instrument_str(self) -> str:
        """``<family>_<source>_<NNN>``."""
        p = self.info
        number = self.soundfont * _FAMILY_SOURCE_COUNT[(p.family, p.source)] + _INSTRUMENT_NUMBER[self.program]
        return f"{p.family}_{p.source}_{number:03d}"

    @property
    def note_str(self) -> str:
        """``<family>_<source>_<NNN>-<pitch>-<velocity>``, NSynth's note name."""
        return f"{self.instrument_str}-{self.pitch:03d}-{self.velocity:03d}"

    @property
    def note_id(self) -> int:
        return (self.instrument * 128 + self.pitch) * 128 + self.velocity


def select_notes(
    programs: Optional[Iterable[int]] = None,
    pitches: Optional[Iterable[int]] = None,
    velocities: Iterable[int] = DEFAULT_VELOCITIES,
    families: Optional[Iterable[str]] = None,
    sources: Optional[Iterable[str]] = None,
    limit: Optional[int] = None,
    soundfonts: Iterable[int] = (0,),
) -> list[NoteSpec]:
    """The notes to render, in (soundfont, program, pitch, velocity) order.

    Args:
      programs: GM programs to consider (default: all included ones). Excluded programs
        are never rendered.
      pitches: MIDI pitches to consider; each program keeps those in its own range
        (default: its whole range).
      velocities: MIDI velocities 1-127.
      families, sources: NSynth family / source names to keep (default: all).
      limit: keep only the first ``limit`` notes.
      soundfonts: indices into the run's SoundFont list; every selected program is taken
        from each of them (each pair is one instrument).

    Raises:
      ValueError: unknown family/source name, or program/pitch/velocity out of range.
    """
    families = set(families) if families is not None else None
    sources = set(sources) if sources is not None else None
    for name in families or ():
        if name not in FAMILY_NAMES:
            raise ValueError(f"unknown family {name!r}; choose from {', '.join(FAMILY_NAMES)}")
    for name in sources or ():
        if name not in SOURCE_NAMES:
            raise ValueError(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}")
    program_list = sorted(set(programs)) if programs is not None else list(range(128))
    pitch_set = set(pitches) if pitches is not None else None
    velocity_list = sorted(set(velocities))
    for v in program_list:
        if not 0 <= v <= 127:
            raise ValueError(f"GM program {v} is outside 0-127")
    for v in velocity_list:
        if not 1 <= v <= 127:
            raise ValueError(f"velocity {v} is outside 1-127")
    for v in pitch_set or ():
        if not 0 <= v <= 127:
            raise ValueError(f"pitch {v} is outside 0-127")
    soundfont_list = sorted(set(soundfonts))
    if any(i < 0 for i in soundfont_list):
        raise ValueError(f"SoundFont indices must be >= 0, got {soundfont_list}")
    notes = []
    for sf_index in soundfont_list:
        for number in program_list:
            p = GM_PROGRAMS[number]
            if not p.included:
                continue
            if (families is not None and p.family not in families) or (sources is not None and p.source not in sources):
                continue
            for pitch in range(p.low, p.high + 1):
                if pitch_set is None or pitch in pitch_set:
                    notes.extend(NoteSpec(number, pitch, v, sf_index) for v in velocity_list)
    return notes[:limit] if limit is not None else notes


# --------------------------------------------------------------------------- qualities


def _frame_db(audio: np.ndarray, frame: int) -> np.ndarray:
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame).astype(np.float64)
    return 20.0 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-10)


def compute_qualities(
    audio: np.ndarray, pitch: int, sample_rate: int = SAMPLE_RATE, note_seconds: float = NOTE_SECONDS
) -> list[int]:
    """Estimates NSynth's quality flags from the envelope and spectrum (see module doc).

    Args:
      audio: float ``[num_samples]`` mono, note-on at sample 0.
      pitch: MIDI pitch of the note (gives f0 for the centroid ratios).
      sample_rate: in Hz. note_seconds: time of note-off in seconds.

    Returns:
      10 ints (0/1) in ``QUALITY_NAMES`` order.
    """
    hop = sample_rate // 100  # 10 ms frames
    db = _frame_db(audio, hop)
    flags = dict.fromkeys(QUALITY_NAMES, 0)
    peak_db = float(db.max())
    peak = int(db.argmax())
    onset = int(np.argmax(db > peak_db - 40.0))
    off = int(round(note_seconds * 100))
    before_off = float(np.mean(db[max(off - 10, 0) : off]))
    release = float(np.mean(db[off + 40 : off + 60])) if len(db) >= off + 60 else -200.0
    after_peak = float(db[min(peak + 25, len(db) - 1)])

    flags["fast_decay"] = int(before_off < peak_db - FAST_DECAY_DB)
    flags["long_release"] = int(not flags["fast_decay"] and release > peak_db - LONG_RELEASE_DB)
    flags["percussive"] = int(peak - onset <= 2 and after_peak < peak_db - PERCUSSIVE_DROP_DB)

    start = onset * hop + sample_rate // 20
    segment = audio[start : start + sample_rate // 2].astype(np.float64)
    if len(segment) >= 256 and np.any(segment):
        spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment))))
        freqs = np.fft.rfftfreq(len(segment), 1.0 / sample_rate)
        centroid = float(np.sum(spectrum * freqs) / np.sum(spectrum))
        f0 = 440.0 * 2.0 ** ((pitch - 69) / 12.0)
        flags["bright"] = int(centroid > BRIGHT_CENTROID_RATIO * f0 and centroid > 1000.0)
        flags["dark"] = int(centroid < DARK_CENTROID_RATIO * f0)
    return [flags[name] for name in QUALITY_NAMES]


def note_metadata(spec: NoteSpec, qualities: Sequence[int], soundfont: Optional["SoundFont"] = None) -> dict:
    """The examples.json entry of a rendered note.

    Every key NSynth has, plus ``program`` (the GM program) and, when ``soundfont`` is given,
    ``soundfont`` (its short name) and ``soundfont_file`` (its file name).
    """
    p = spec.info
    meta = {
        "note": spec.note_id,
        "note_str": spec.note_str,
        "instrument": spec.instrument,
        "instrument_str": spec.instrument_str,
        "instrument_family": FAMILY_NAMES.index(p.family),
        "instrument_family_str": p.family,
        "instrument_source": SOURCE_NAMES.index(p.source),
        "instrument_source_str": p.source,
        "pitch": spec.pitch,
        "velocity": spec.velocity,
        "sample_rate": SAMPLE_RATE,
        "qualities": [int(q) for q in qualities],
        "qualities_str": qualities_to_str(qualities),
        "program": spec.program,
    }
    if soundfont is not None:
        meta["soundfont"] = soundfont.name
        meta["soundfont_file"] = os.path.basename(soundfont.path)
    return meta


# --------------------------------------------------------------------------- rendering


_NAME_RE = re.compile(r"[^a-z0-9]+")


def soundfont_name(path) -> str:
    """Short name of a SoundFont file: its stem, lower case, runs of other characters as ``_``."""
    return _NAME_RE.sub("_", pathlib.Path(path).stem.lower()).strip("_") or "soundfont"


@dataclasses.dataclass(frozen=True)
class SoundFont:
    """A SoundFont of a render: ``name`` (short id written into the metadata) and ``path``."""

    name: str
    path: str


def parse_soundfont(text: str) -> SoundFont:
    """``"PATH"`` or ``"NAME=PATH"`` -> :class:`SoundFont` (name from the file's stem if not given)."""
    name, sep, path = text.partition("=")
    if not sep or os.path.exists(text):
        name, path = soundfont_name(text), text
    if not name or not path:
        raise ValueError(f"bad SoundFont argument {text!r}: give PATH or NAME=PATH")
    return SoundFont(name, path)


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """How notes are rendered (see the module docstring).

    Attributes:
      soundfont: the one SoundFont of a single-SoundFont run (``None``: pretty_midi's TimGM6mb).
      soundfonts: the SoundFonts of a multi-SoundFont run, indexed by ``NoteSpec.soundfont``
        (give this or ``soundfont``, not both).
      synth_rate: FluidSynth's rate in Hz. gain: FluidSynth's master gain.
      normalize_peak: peak after normalization; 0 keeps levels.
    """

    soundfont: Optional[str] = None
    synth_rate: int = 48000
    gain: float = 0.5
    normalize_peak: float = 0.9
    soundfonts: Tuple[SoundFont, ...] = ()

    def __post_init__(self):
        if self.soundfont is not None and self.soundfonts:
            raise ValueError("give RenderSettings either soundfont or soundfonts, not both")
        names = [sf.name for sf in self.soundfonts]
        if len(set(names)) != len(names):
            raise ValueError(f"SoundFont names must differ, got {names}")

    def soundfont_list(self) -> Tuple[SoundFont, ...]:
        """The SoundFonts by index (one entry for a single-SoundFont run)."""
        if self.soundfonts:
            return tuple(self.soundfonts)
        from tfmusic.audio import default_soundfont

        path = self.soundfont if self.soundfont is not None else default_soundfont()
        return (SoundFont(soundfont_name(path), path),)


def render_audio(renderer, spec: NoteSpec, settings: RenderSettings) -> tuple[Optional[np.ndarray], str]:
    """Renders one note to float32 ``[64000]`` at 16 kHz.

    Args:
      renderer: a ``tfmusic.audio.FluidSynthRenderer`` at ``settings.synth_rate``.
      spec: the note. settings: gain / normalization.

    Returns:
      ``(audio, "")``, or ``(None, reason)`` when the note renders silent.
    """
    from tfmusic.audio import fit_length, resample

    raw = renderer.render_note(spec.program, spec.pitch, spec.velocity, NOTE_SECONDS, TOTAL_SECONDS)
    raw_peak = float(np.max(np.abs(raw))) if raw.size else 0.0
    peak_db = 20.0 * np.log10(raw_peak + 1e-12)
    if peak_db < SILENT_PEAK_DB:
        return None, f"renders silent (peak {max(peak_db, -240.0):.0f} dBFS)"
    audio = fit_length(resample(raw, settings.synth_rate, SAMPLE_RATE), NUM_SAMPLES)
    if settings.normalize_peak > 0:
        audio = audio * np.float32(settings.normalize_peak / max(float(np.max(np.abs(audio))), 1e-12))
    return np.clip(audio, -1.0, 1.0 - 1.0 / 32768).astype(np.float32), ""


_worker = {}


def _init_worker(settings: RenderSettings, out_dir: str) -> None:
    _worker["renderers"] = {}
    _worker["settings"] = settings
    _worker["soundfonts"] = settings.soundfont_list()
    _worker["out_dir"] = out_dir


def _renderer(index: int):
    """This process's FluidSynth renderer for SoundFont ``index`` (created when first used)."""
    from tfmusic.audio import FluidSynthRenderer

    renderers = _worker["renderers"]
    if index not in renderers:
        settings = _worker["settings"]
        renderers[index] = FluidSynthRenderer(
            _worker["soundfonts"][index].path, sample_rate=settings.synth_rate, gain=settings.gain
        )
    return renderers[index]


def _close_worker() -> None:
    for renderer in _worker.get("renderers", {}).values():
        renderer.close()
    _worker.clear()


def _render_one(spec: NoteSpec) -> tuple[NoteSpec, Optional[dict], str]:
    from tfmusic.audio import read_wav, write_wav

    if spec.soundfont >= len(_worker["soundfonts"]):
        return spec, None, f"SoundFont index {spec.soundfont} not among the {len(_worker['soundfonts'])} given"
    try:
        audio, reason = render_audio(_renderer(spec.soundfont), spec, _worker["settings"])
    except ValueError as e:  # e.g. no such preset in the SoundFont
        return spec, None, str(e)
    if audio is None:
        return spec, None, reason
    path = os.path.join(_worker["out_dir"], "audio", f"{spec.note_str}.wav")
    write_wav(path, audio, SAMPLE_RATE)
    quantized, _ = read_wav(path)  # qualities from exactly what the file holds
    meta = note_metadata(spec, compute_qualities(quantized, spec.pitch), _worker["soundfonts"][spec.soundfont])
    return spec, meta, ""


class _StagedOutput:
    """One NSynth folder written so that it is complete or absent: wavs are rendered into
    ``OUT/audio.tmp-XXXX/audio/``; :meth:`commit` moves them into ``OUT/audio/`` and writes
    ``examples.json`` last; :meth:`abort` (any exception, Ctrl-C included) deletes the staging folder,
    and ``OUT`` / ``OUT/audio`` too when this run made them and they are still empty."""

    def __init__(self, out_dir: str):
        import glob
        import shutil
        import tempfile

        from tfmusic.files import TEMP_MARK

        self.out_dir = out_dir
        audio = os.path.join(out_dir, "audio")
        self._made = [d for d in (out_dir, audio) if not os.path.isdir(d)]
        os.makedirs(audio, exist_ok=True)
        for stale in glob.glob(os.path.join(glob.escape(out_dir), "audio" + TEMP_MARK + "*")):
            if os.path.isdir(stale):  # left by a run that was killed outright
                shutil.rmtree(stale, ignore_errors=True)
        self.path = tempfile.mkdtemp(prefix="audio" + TEMP_MARK, dir=out_dir)
        os.makedirs(os.path.join(self.path, "audio"))

    def commit(self, examples: dict) -> None:
        import shutil

        staged = os.path.join(self.path, "audio")
        for name in sorted(os.listdir(staged)):
            os.replace(os.path.join(staged, name), os.path.join(self.out_dir, "audio", name))
        atomic_write_json(os.path.join(self.out_dir, "examples.json"), dict(sorted(examples.items())))
        shutil.rmtree(self.path, ignore_errors=True)

    def abort(self) -> None:
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)
        for folder in reversed(self._made):
            remove_empty_folder(folder)


def _render_into(
    stage_dir: str, notes: Sequence[NoteSpec], settings: RenderSettings, workers: Optional[int], progress: bool
) -> Tuple[Counters, dict]:
    """Renders ``notes`` into ``stage_dir/audio/``; returns (counters, examples.json entries)."""
    from tfmusic.progress import progress_bar

    from tfmusic import workers as workers_lib

    notes = sorted(set(notes))
    workers = max(1, min(workers or os.cpu_count() or 1, len(notes) or 1))
    counters = Counters()
    counters.increment("requested", len(notes))
    examples = {}
    with progress_bar(total=len(notes), desc="nsynth_render", unit="note", disable=not progress) as bar:

        def collect(results):
            for spec, meta, reason in results:
                if meta is None:
                    counters.skip(spec.note_str, reason)
                else:
                    examples[spec.note_str] = meta
                    counters.increment("rendered")
                bar.update(1)

        if workers == 1:
            _init_worker(settings, stage_dir)
            try:
                collect(map(_render_one, notes))
            finally:
                _close_worker()
        else:
            # spawn: the parent may hold TensorFlow or FluidSynth state that must not be forked. The workers
            # ignore Ctrl-C; this process stops them at once on its way out.
            with workers_lib.worker_pool(workers, _init_worker, (settings, stage_dir)) as pool:
                chunksize = max(1, min(16, len(notes) // (4 * workers)))
                collect(workers_lib.imap_unordered(pool, _render_one, notes, chunksize=chunksize))
    return counters, examples


def render_dataset(
    out_dir,
    notes: Sequence[NoteSpec],
    settings: RenderSettings = RenderSettings(),
    workers: Optional[int] = None,
    progress: bool = True,
) -> Counters:
    """Renders notes into an NSynth jsonwav folder.

    Args:
      out_dir: output folder (created); gets ``examples.json`` and ``audio/*.wav``.
      notes: from ``select_notes``.
      settings: SoundFont, rates, gain, normalization.
      workers: processes (default: all cores); 1 renders in this process.
      progress: show a tqdm bar.

    Returns:
      Counters with ``requested``, ``rendered`` and ``skipped`` counts and the skipped
      notes' reasons. ``examples.json`` lists the notes rendered by this call only; wavs
      of other notes already in ``audio/`` are left alone.

    The wavs are rendered into a staging folder beside ``audio/`` and moved into place, with
    ``examples.json`` written last, only when every note is done: an interrupted call (Ctrl-C
    included, which stops the workers at once) leaves ``out_dir`` as it was.
    """
    from tfmusic import workers as workers_lib

    stage = _StagedOutput(os.fspath(out_dir))
    try:
        counters, examples = _render_into(stage.path, notes, settings, workers, progress)
        with workers_lib.interrupts_deferred():
            stage.commit(examples)
    except BaseException:
        stage.abort()
        raise
    return counters


# --------------------------------------------------------------------------- splits

SPLIT_TRAIN = "train"
SPLIT_INSTRUMENTS = "valid_instruments"
SPLIT_SOUNDFONT = "valid_soundfont"


def split_notes(
    notes: Sequence[NoteSpec],
    heldout_instrument_fraction: float = 0.0,
    holdout_soundfont: Optional[int] = None,
    seed: int = 0,
) -> Dict[str, List[NoteSpec]]:
    """Splits notes by instrument, as NSynth does, and holds one SoundFont out entirely.

    Args:
      notes: from :func:`select_notes`.
      heldout_instrument_fraction: share of the instruments (SoundFont, program pairs) of the
        training SoundFonts whose notes go to ``valid_instruments``; drawn per NSynth family
        with a seeded generator (at least one per family that has two or more instruments when
        the fraction is above 0), so every family is both trained on and held out.
      holdout_soundfont: index of the SoundFont whose notes all go to ``valid_soundfont``.
      seed: seed of the instrument draw.

    Returns:
      ``{"train": [...], "valid_instruments": [...], "valid_soundfont": [...]}`` (empty splits
      left out); no instrument is in two splits.
    """
    if not 0.0 <= heldout_instrument_fraction < 1.0:
        raise ValueError(f"heldout_instrument_fraction must be in [0, 1), got {heldout_instrument_fraction}")
    by_family: Dict[str, set] = {}
    for n in notes:
        if n.soundfont != holdout_soundfont:
            by_family.setdefault(n.info.family, set()).add((n.soundfont, n.program))
    held = set()
    if heldout_instrument_fraction > 0:
        for family in sorted(by_family):
            instruments = sorted(by_family[family])
            if len(instruments) < 2:
                continue
            k = min(max(1, int(round(len(instruments) * heldout_instrument_fraction))), len(instruments) - 1)
            rng = np.random.default_rng([seed, FAMILY_NAMES.index(family)])
            held.update(instruments[i] for i in rng.permutation(len(instruments))[:k])
    splits: Dict[str, List[NoteSpec]] = {SPLIT_TRAIN: [], SPLIT_INSTRUMENTS: [], SPLIT_SOUNDFONT: []}
    for n in notes:
        if n.soundfont == holdout_soundfont:
            splits[SPLIT_SOUNDFONT].append(n)
        elif (n.soundfont, n.program) in held:
            splits[SPLIT_INSTRUMENTS].append(n)
        else:
            splits[SPLIT_TRAIN].append(n)
    return {k: v for k, v in splits.items() if v}


def render_splits(
    out_dir,
    splits: Dict[str, Sequence[NoteSpec]],
    settings: RenderSettings,
    workers: Optional[int] = None,
    progress: bool = True,
) -> Dict[str, Counters]:
    """Renders each split into its own NSynth jsonwav folder ``OUT/<split>/``.

    Also writes ``OUT/splits.json``: the SoundFonts (name, file) and, per split, its note count
    and instruments (``instrument_str`` -> SoundFont name and GM program), so that the split can
    be checked and reproduced.

    Returns:
      ``{split: Counters}`` (see :func:`render_dataset`).
    """
    from tfmusic import workers as workers_lib

    out_dir = os.fspath(out_dir)
    soundfonts = settings.soundfont_list()
    counters, summary = {}, {"soundfonts": [dataclasses.asdict(sf) for sf in soundfonts], "splits": {}}
    made = not os.path.isdir(out_dir)
    stages, rendered = {}, {}
    try:
        # Every split is rendered before any is moved into place: an interrupted run leaves none.
        for name, notes in splits.items():
            stages[name] = _StagedOutput(os.path.join(out_dir, name))
            counters[name], rendered[name] = _render_into(stages[name].path, notes, settings, workers, progress)
        with workers_lib.interrupts_deferred():
            for name, stage in stages.items():
                stage.commit(rendered[name])
            for name, notes in splits.items():
                instruments = {
                    n.instrument_str: {"soundfont": soundfonts[n.soundfont].name, "program": n.program}
                    for n in notes
                    if n.soundfont < len(soundfonts)
                }
                summary["splits"][name] = {
                    "requested": len(notes),
                    "rendered": counters[name].get("rendered"),
                    "instruments": dict(sorted(instruments.items())),
                }
            atomic_write_json(os.path.join(out_dir, "splits.json"), summary)
    except BaseException:
        for stage in stages.values():
            stage.abort()
        if made:
            remove_empty_folder(out_dir)
        raise
    return counters


# --------------------------------------------------------------------------- command line


def parse_int_list(text: str) -> list[int]:
    """``"48-52,60"`` -> ``[48, 49, 50, 51, 52, 60]`` (ranges inclusive)."""
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            low, high = part.split("-", 1)
            low, high = int(low), int(high)
            if low > high:
                raise argparse.ArgumentTypeError(f"empty range {part!r}")
            values.extend(range(low, high + 1))
        else:
            values.append(int(part))
    if not values:
        raise argparse.ArgumentTypeError(f"no numbers in {text!r}")
    return values


def _int_list(text: str) -> list[int]:
    try:
        return parse_int_list(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _name_list(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The ``nsynth_render`` argument parser."""
    parser = cli_support.make_parser(
        "nsynth_render",
        raw=False,
        description="Render an NSynth-format dataset (examples.json + audio/*.wav) from a GM SoundFont.",
    )
    parser.add_argument("--output_dir", help="folder to write examples.json and audio/ into (required)")
    parser.add_argument(
        "--soundfont",
        action="append",
        default=None,
        metavar="[NAME=]PATH",
        help="a .sf2/.sf3 file (default: pretty_midi's TimGM6mb.sf2); repeat for several: each "
        "(SoundFont, program) pair is its own instrument, and NAME (default: the file's stem) "
        "goes into the metadata",
    )
    parser.add_argument(
        "--holdout_soundfont",
        default=None,
        metavar="NAME",
        help="write every note of this SoundFont to OUT/valid_soundfont/ (others: OUT/train/)",
    )
    parser.add_argument(
        "--heldout_instruments",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of the training SoundFonts' instruments whose notes go to "
        "OUT/valid_instruments/ (drawn per family, as NSynth splits by instrument)",
    )
    parser.add_argument("--split_seed", type=int, default=0, help="seed of the instrument split")
    parser.add_argument("--programs", type=_int_list, default=None, help="GM programs, e.g. 0,24-31")
    parser.add_argument("--pitches", type=_int_list, default=None, help="MIDI pitches, e.g. 48-72")
    parser.add_argument(
        "--velocities",
        type=_int_list,
        default=list(DEFAULT_VELOCITIES),
        help="MIDI velocities (default 25,50,75,100,127)",
    )
    parser.add_argument("--families", type=_name_list, default=None, help=f"subset of {','.join(FAMILY_NAMES)}")
    parser.add_argument("--sources", type=_name_list, default=None, help=f"subset of {','.join(SOURCE_NAMES)}")
    parser.add_argument("--limit", type=int, default=None, help="render only the first N selected notes")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--synth_rate", type=int, default=48000, help="FluidSynth's sample rate in Hz")
    parser.add_argument("--gain", type=float, default=0.5, help="FluidSynth master gain")
    parser.add_argument("--normalize_peak", type=float, default=0.9, help="peak after normalization; 0 keeps levels")
    parser.add_argument("--list_programs", action="store_true", help="print the program table and exit")
    parser.add_argument("--no_progress", action="store_true", help="hide the progress bar")
    return parser


def program_table() -> str:
    """The GM program table as text: number, name, family/source/range or exclusion reason."""
    lines = []
    for p in GM_PROGRAMS:
        if p.included:
            lines.append(
                f"{p.program:3d} {p.name:26s} {p.family}_{p.source}_{_INSTRUMENT_NUMBER[p.program]:03d} "
                f"pitches {p.low}-{p.high}"
            )
        else:
            lines.append(f"{p.program:3d} {p.name:26s} excluded: {p.excluded}")
    return "\n".join(lines)


@exit_on_interrupt("nsynth_render")
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``nsynth_render``; returns the exit status (0, 2 for bad arguments, 130 on Ctrl-C)."""
    cli_support.start(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_programs:
        print(program_table())
        return 0
    if not args.output_dir:
        parser.error("--output_dir is required")
    try:
        soundfonts = [parse_soundfont(t) for t in args.soundfont or []]
    except ValueError as e:
        parser.error(str(e))
    for sf in soundfonts:
        if not os.path.isfile(sf.path):
            parser.error(f"--soundfont {sf.path}: file not found")
    names = [sf.name for sf in soundfonts]
    if len(set(names)) != len(names):
        parser.error(f"--soundfont names must differ (got {', '.join(names)}); name them NAME=PATH")
    if len(soundfonts) > 1:
        settings = RenderSettings(None, args.synth_rate, args.gain, args.normalize_peak, soundfonts=tuple(soundfonts))
    else:
        settings = RenderSettings(
            soundfonts[0].path if soundfonts else None, args.synth_rate, args.gain, args.normalize_peak
        )
    all_names = [sf.name for sf in settings.soundfont_list()]
    holdout = None
    if args.holdout_soundfont is not None:
        if args.holdout_soundfont not in all_names:
            parser.error(
                f"--holdout_soundfont {args.holdout_soundfont}: not among the SoundFonts ({', '.join(all_names)})"
            )
        holdout = all_names.index(args.holdout_soundfont)
    if not 0.0 <= args.heldout_instruments < 1.0:
        parser.error(f"--heldout_instruments must be in [0, 1), got {args.heldout_instruments}")
    try:
        notes = select_notes(
            args.programs,
            args.pitches,
            args.velocities,
            args.families,
            args.sources,
            args.limit,
            soundfonts=range(len(all_names)),
        )
    except ValueError as e:
        parser.error(str(e))
    if not notes:
        parser.error("the selection is empty (check --programs/--pitches/--families/--sources)")
    if holdout is None and args.heldout_instruments == 0:
        counters = render_dataset(args.output_dir, notes, settings, args.workers, progress=not args.no_progress)
        print(counters.summary())
        print(f"wrote {pathlib.Path(args.output_dir) / 'examples.json'}")
        return 0
    splits = split_notes(notes, args.heldout_instruments, holdout, args.split_seed)
    for name, counters in render_splits(
        args.output_dir, splits, settings, args.workers, progress=not args.no_progress
    ).items():
        print(f"{name}: {counters.summary()}")
    print(f"wrote {', '.join(str(pathlib.Path(args.output_dir) / n) for n in splits)} and splits.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
