"""Reading the pieces that music_eval compares: MIDI / MusicXML (symbolic) and audio files.

Symbolic pieces are held as ``pretty_midi.PrettyMIDI``; NoteSequences convert with
:func:`from_note_sequence`. Audio is float32 mono at :data:`ANALYSIS_RATE` (22,050 Hz,
librosa's default). A MIDI piece also gets audio: it is rendered with FluidSynth (the default
General MIDI SoundFont of ``tfmusic.audio``) at a fixed loudness, :data:`LOUDNESS_REFERENCE`.

Bad input raises :class:`MusicFileError` naming the file; :func:`expand_inputs` turns files and
folders into a file list, and callers that walk folders skip and count bad files.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Iterable, List, Optional, Tuple, Union

import numpy as np

PathLike = Union[str, os.PathLike]

ANALYSIS_RATE = 22050
MIDI_SUFFIXES = (".mid", ".midi", ".kar")
MUSICXML_SUFFIXES = (".mxl", ".musicxml", ".xml")
SYMBOLIC_SUFFIXES = MIDI_SUFFIXES + MUSICXML_SUFFIXES
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
SUPPORTED_SUFFIXES = SYMBOLIC_SUFFIXES + AUDIO_SUFFIXES


class MusicFileError(ValueError):
    """A music file is missing, of an unknown kind, or unreadable.

    Attributes:
      path: the file, as a string. problem: what is wrong, in words.
    """

    def __init__(self, path: PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def file_kind(path: PathLike) -> str:
    """``"symbolic"`` or ``"audio"`` from the suffix; raises :class:`MusicFileError` otherwise."""
    suffix = pathlib.Path(path).suffix.lower()
    if suffix in SYMBOLIC_SUFFIXES:
        return "symbolic"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    raise MusicFileError(
        path, f"unsupported file type {suffix or '(none)'}; use one of {', '.join(SUPPORTED_SUFFIXES)}"
    )


def load_symbolic(path: PathLike):
    """Reads a MIDI or MusicXML file.

    Args:
      path: ``.mid/.midi/.kar`` (pretty_midi) or ``.mxl/.musicxml/.xml`` (note-seq's MusicXML
        reader, then a NoteSequence -> PrettyMIDI conversion).

    Returns:
      ``pretty_midi.PrettyMIDI``.

    Raises:
      MusicFileError: missing, unreadable, or holding no pitched notes.
    """
    import pretty_midi

    path = pathlib.Path(path)
    if not path.is_file():
        raise MusicFileError(path, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in MIDI_SUFFIXES:
            midi = pretty_midi.PrettyMIDI(str(path))
        elif suffix in MUSICXML_SUFFIXES:
            import note_seq

            midi = from_note_sequence(note_seq.musicxml_file_to_sequence_proto(str(path)))
        else:
            raise MusicFileError(path, f"not a MIDI or MusicXML file ({suffix})")
    except MusicFileError:
        raise
    except Exception as e:  # the parsers raise many unrelated types on garbage input
        raise MusicFileError(path, f"not a readable {suffix[1:]} file ({type(e).__name__}: {e})") from None
    if not any(n for inst in midi.instruments if not inst.is_drum for n in inst.notes):
        raise MusicFileError(path, "holds no pitched notes")
    return midi


def from_note_sequence(sequence):
    """``note_seq.NoteSequence`` -> ``pretty_midi.PrettyMIDI`` (note-seq's converter)."""
    import note_seq

    return note_seq.sequence_proto_to_pretty_midi(sequence)


def to_note_sequence(midi):
    """``pretty_midi.PrettyMIDI`` -> ``note_seq.NoteSequence`` (note-seq's converter)."""
    import note_seq

    return note_seq.midi_to_note_sequence(midi)


def load_audio(path: PathLike, sample_rate: int = ANALYSIS_RATE) -> np.ndarray:
    """Reads an audio file as float32 mono ``[num_samples]`` at ``sample_rate`` Hz.

    Raises:
      MusicFileError: missing or unreadable.
    """
    from tfmusic.audio import AudioFileError, read_wav, resample

    try:
        audio, rate = read_wav(path)
    except AudioFileError as e:
        raise MusicFileError(path, e.problem) from None
    return resample(audio, rate, sample_rate) if rate != sample_rate else audio


#: MIDI renderings are scaled to this mean frame RMS (librosa frame RMS, 2048-sample frames, hop 512).
REFERENCE_RMS_DBFS = -23.0
LOUDNESS_REFERENCE = (
    f"MIDI is rendered by FluidSynth and scaled to a mean frame RMS of {REFERENCE_RMS_DBFS:g} dBFS "
    "(frames of 2048 samples, hop 512); audio files are analysed at their own level. Players "
    "in the HTML report are peak-normalised to 0.9 for listening."
)


def mean_frame_rms(audio: np.ndarray) -> float:
    """Mean frame RMS (linear) of float mono audio: the measure of ``features_audio`` (``rms_mean``)."""
    from music_eval.features_audio import rms_energy

    audio = np.asarray(audio, np.float32)
    return float(rms_energy(audio).mean()) if audio.size else 0.0


def to_reference_loudness(audio: np.ndarray, rms_dbfs: float = REFERENCE_RMS_DBFS) -> np.ndarray:
    """``audio`` scaled so that its mean frame RMS is ``rms_dbfs`` dB re full scale (silence stays silent).
    Peaks may exceed 1 for very sparse audio; nothing is clipped."""
    audio = np.asarray(audio, np.float32)
    rms = mean_frame_rms(audio)
    if rms <= 0.0:
        return audio
    return (audio * (10.0 ** (rms_dbfs / 20.0) / rms)).astype(np.float32)


def render_symbolic(
    midi,
    sample_rate: int = ANALYSIS_RATE,
    soundfont: Optional[PathLike] = None,
    rms_dbfs: Optional[float] = REFERENCE_RMS_DBFS,
) -> np.ndarray:
    """Renders a PrettyMIDI with FluidSynth (pretty_midi's renderer, the GM SoundFont of
    ``tfmusic.audio.default_soundfont()`` unless given) at a fixed loudness.

    The rendering is scaled to a mean frame RMS of ``rms_dbfs`` (:data:`REFERENCE_RMS_DBFS`, see
    :data:`LOUDNESS_REFERENCE`), so a MIDI file and a FluidSynth rendering of it written with
    :func:`render_symbolic` give an RMS ratio of 1, whatever the velocities or the synthesizer's gain.
    ``rms_dbfs=None`` keeps FluidSynth's own 16-bit scale (peaks around 0.02-0.3).

    Returns:
      float32 mono ``[num_samples]`` at ``sample_rate``; may exceed [-1, 1] where many notes add up.

    Raises:
      MusicFileError: the SoundFont is missing.
    """
    from tfmusic.audio import default_soundfont

    sf2 = str(soundfont) if soundfont is not None else default_soundfont()
    if not os.path.isfile(sf2):
        raise MusicFileError(sf2, "SoundFont not found")
    audio = np.asarray(midi.fluidsynth(fs=sample_rate, synthesizer=sf2, normalize=False), dtype=np.float32)
    return audio if rms_dbfs is None else to_reference_loudness(audio, rms_dbfs)


@dataclasses.dataclass
class Piece:
    """One input of a comparison.

    Attributes:
      name: display name (the file name). path: the file ('' for in-memory pieces).
      midi: ``pretty_midi.PrettyMIDI`` for symbolic inputs, else None.
      audio: float32 mono ``[num_samples]`` at ``sample_rate`` (rendered for symbolic inputs).
      sample_rate: Hz. rendered: whether ``audio`` was synthesized from ``midi``.
    """

    name: str
    path: str
    midi: object
    audio: np.ndarray
    sample_rate: int = ANALYSIS_RATE
    rendered: bool = False

    @property
    def kind(self) -> str:
        """``"symbolic"`` (has notes) or ``"audio"``."""
        return "symbolic" if self.midi is not None else "audio"

    @property
    def duration(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / float(self.sample_rate)


def load_piece(
    path: PathLike,
    sample_rate: int = ANALYSIS_RATE,
    soundfont: Optional[PathLike] = None,
    max_seconds: Optional[float] = None,
) -> Piece:
    """Reads a file into a :class:`Piece` (MIDI/MusicXML are also rendered to audio).

    Args:
      path: a supported file. sample_rate: analysis rate in Hz.
      soundfont: .sf2 for rendering (default: tfmusic.audio's GM SoundFont).
      max_seconds: cut the audio (and the MIDI notes) after this many seconds.

    Raises:
      MusicFileError: unsupported, missing or unreadable file.
    """
    path = pathlib.Path(path)
    kind = file_kind(path)
    if kind == "symbolic":
        midi = load_symbolic(path)
        if max_seconds is not None:
            midi = truncate_midi(midi, max_seconds)
        audio = render_symbolic(midi, sample_rate, soundfont)
        piece = Piece(path.name, str(path), midi, audio, sample_rate, rendered=True)
    else:
        audio = load_audio(path, sample_rate)
        piece = Piece(path.name, str(path), None, audio, sample_rate)
    if max_seconds is not None:
        piece.audio = piece.audio[: int(max_seconds * sample_rate)]
    if piece.audio.size == 0 or not np.any(piece.audio):
        raise MusicFileError(path, "renders or reads as silence")
    return piece


def piece_from_midi(
    midi, name: str = "piece", sample_rate: int = ANALYSIS_RATE, soundfont: Optional[PathLike] = None
) -> Piece:
    """A :class:`Piece` from an in-memory PrettyMIDI (or NoteSequence), rendered with FluidSynth."""
    if not hasattr(midi, "instruments"):
        midi = from_note_sequence(midi)
    return Piece(name, "", midi, render_symbolic(midi, sample_rate, soundfont), sample_rate, rendered=True)


def piece_from_audio(
    audio: np.ndarray, sample_rate: int, name: str = "audio", analysis_rate: int = ANALYSIS_RATE
) -> Piece:
    """A :class:`Piece` from float audio ``[num_samples]`` at ``sample_rate`` (resampled for analysis)."""
    from tfmusic.audio import resample

    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono [num_samples], got {audio.shape}")
    if sample_rate != analysis_rate:
        audio = resample(audio, sample_rate, analysis_rate)
    return Piece(name, "", None, audio, analysis_rate)


def truncate_midi(midi, seconds: float):
    """A copy of ``midi`` without notes starting at or after ``seconds`` (ends clipped)."""
    import copy

    out = copy.deepcopy(midi)
    for inst in out.instruments:
        inst.notes = [n for n in inst.notes if n.start < seconds]
        for n in inst.notes:
            n.end = min(n.end, seconds)
    return out


def expand_inputs(paths: Iterable[PathLike]) -> Tuple[List[pathlib.Path], List[Tuple[str, str]]]:
    """Files and folders -> (supported files, [(path, problem)] for what was left out).

    Folders are searched recursively for supported suffixes (sorted); a missing path or a file
    of an unsupported type is reported, not raised.
    """
    files: List[pathlib.Path] = []
    bad: List[Tuple[str, str]] = []
    for raw in paths:
        p = pathlib.Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                bad.append((str(p), "folder holds no MIDI, MusicXML or audio files"))
            files.extend(found)
        elif p.is_file():
            if p.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(p)
            else:
                bad.append((str(p), f"unsupported file type {p.suffix or '(none)'}"))
        else:
            bad.append((str(p), "not found"))
    return files, bad
