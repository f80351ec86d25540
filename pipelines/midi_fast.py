"""MIDI -> ``NoteSequence``, note-seq's result bit for bit, many times faster (symusic-checked).

``note_seq.midi_io.midi_file_to_note_sequence`` reads a file with mido (a pure-Python
message parser), turns it into ``pretty_midi.PrettyMIDI`` and copies that into a
``NoteSequence``. This module builds the same ``NoteSequence`` (equal as a protobuf, float
times bit for bit, repeated fields in the same order, so TFRecords are byte-identical) with
compiled code only per file, never per event in Python:

1. the chunks are split in Python; each track is tokenized by one compiled regular expression
   (``re.findall``; tracks with long meta payloads or running status on 1-data-byte messages
   by a Python tokenizer that follows mido's rules); NumPy decodes delta times, running
   status, channels and data bytes from the token offsets (the "scan");
2. pretty_midi's rules are applied to the scanned events with NumPy (below);
3. symusic (a compiled MIDI parser) reads the same bytes, and its reading must be what
   symusic's own rules give on the scanned events (a track per (MIDI track, channel, program
   at the note-on) with notes, tracks ordered by channel and program, first-in-first-out note
   pairing, every control change and pitch bend of a channel with one track): an independent
   parser confirms the tokenization, note by note;
4. the repeated fields are serialized by NumPy and parsed by protobuf's C parser.

symusic cannot be used for the notes as it reads them: where pretty_midi closes several open
notes of one pitch with one note-off, or drops a zero-length note, symusic closes one note
(first in, first out; zero-length notes kept); it files a note under the program at its
note-on (pretty_midi: at its note-off); it orders instruments by (channel, program) and
keeps no event order. ``read_midi(data)`` tells which path a file took and why.

What is reproduced (pretty_midi 0.2.11 / mido 1.3 / note-seq 0.0.5 rules):

- notes: per (track, channel, pitch) pretty_midi keeps a list of open note-ons; a note-off
  (or note-on of velocity 0) at tick T closes every open note that started before T, keeps
  the ones that started at T if it closed any, and drops them if it closed none; notes never
  closed are dropped; a note belongs to the instrument of (program at its note-off, channel,
  track); instruments are numbered in the order pretty_midi creates them (the first note-off
  that closes a note of each), notes of an instrument come in the order they were closed;
  ``is_drum`` is channel 10 (9 counting from 0);
- control changes and pitch bends: every one of a channel's events in file order, in the
  channel's instrument (events on a channel without notes are dropped, as pretty_midi does);
- tempos: ``set_tempo`` events of the first track only; one at tick 0 replaces the default
  120 qpm, a later one that repeats the current tempo is dropped; times from pretty_midi's
  tick -> seconds table, computed with the same float operations in the same order;
- time and key signatures: first track only (mido's decoding, pretty_midi's key numbers);
- instrument names: the last ``track_name`` of the track seen before the instrument was
  created (mido decodes text as Latin-1); ``total_time`` = the last note end;
  ``ticks_per_quarter`` = the header's division;
- ``source_info``: ``encoding_type = MIDI``, ``parser = PRETTY_MIDI`` as note-seq sets them
  (the enum has no symusic value, and the sequence is pretty_midi's reading by construction,
  so records are byte-identical whichever parser wrote them);
- mido's quirks: it reads an unknown meta event with a delta time of 0, refuses some fields
  (SMPTE minutes > 59, time signature denominators 2**k with inexact ``math.log``...).

Fallback rules: the file goes to note-seq (``read_midi(...).reason`` names the rule) when

- symusic is not installed, or raises on the file;
- the header is not a plain ``MThd`` of 6 bytes, the division is not a positive tick count
  (SMPTE), a chunk is not ``MTrk``, a chunk runs past the end of the file, or a track is empty;
- a track does not tokenize: data bytes >= 0x80 in a channel message, system messages
  (0xF1-0xFE), a delta time of more than 4 bytes, running status at the start of a track or
  right after a meta or sysex event; an end-of-track event before the end of its chunk;
  a sysex with data bytes >= 0x80 (mido refuses those);
- a meta event mido cannot decode or refuses, a time signature numerator of 0 or denominator
  of 2**31 or more, a tempo of 0, an unknown meta event with a non-zero delta time;
- a tick beyond 2**31 - 1 (symusic's int32 times);
- a program change on a channel after that channel's first note (several instruments on
  one channel of a track, where pretty_midi's "straggler" events are shared between them);
- any disagreement between symusic and the scan (tracks, programs, notes, control changes,
  pitch bends).

Files note-seq cannot read fail the same way through the fallback (note-seq's exception).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import re
import struct
from typing import Optional

import numpy as np

# ----------------------------------------------------------------------------- tokenizer

# A meta or sysex payload with a one-byte length: the length byte n, then n bytes.
_SHORT_PAYLOAD = b"(?:" + b"|".join(re.escape(bytes([n])) + (b".{%d}" % n if n else b"") for n in range(128)) + b")"
_VLQ = rb"[\x80-\xff]{0,3}[\x00-\x7f]"
# One event: delta time, then a channel message with 2 data bytes, one with 1 data byte, a
# running-status message (2 data bytes; other cases are caught by the NumPy checks), a meta
# event or a sysex with a short payload.
_EVENT = (
    _VLQ + rb"(?:[\x80-\xbf\xe0-\xef][\x00-\x7f]{2}|[\xc0-\xdf][\x00-\x7f]|[\x00-\x7f]{2}"
    rb"|\xff." + _SHORT_PAYLOAD + rb"|[\xf0\xf7]" + _SHORT_PAYLOAD + rb")"
)
_EVENT_RE = re.compile(_EVENT, re.DOTALL)

MAX_TICK = 2**31 - 1  # symusic keeps ticks as int32

# mido's meta types that pretty_midi / note-seq use, and the shortest payload mido decodes.
_TRACK_NAME, _END_OF_TRACK, _SET_TEMPO, _SMPTE, _TIME_SIGNATURE, _KEY_SIGNATURE = 0x03, 0x2F, 0x51, 0x54, 0x58, 0x59
_MIN_META_LENGTH = {0x20: 1, _SET_TEMPO: 3, _SMPTE: 5, _TIME_SIGNATURE: 4, _KEY_SIGNATURE: 2}
# Meta types read in Python (the others, text and lyrics among them, are only stepped over).
_CHECKED_META_TYPES = np.array([0x00, _TRACK_NAME, 0x20, _END_OF_TRACK, *_MIN_META_LENGTH], np.uint8)
# The meta types mido knows; it reads any other one with a delta time of 0 (whatever the file says).
_MIDO_META_TYPES = np.array(
    [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x20, 0x21, 0x2F, 0x51, 0x54, 0x58, 0x59, 0x7F], np.uint8
)
_CHECKED_META_TABLE = np.zeros(256, bool)
_CHECKED_META_TABLE[_CHECKED_META_TYPES] = True
_MIDO_META_TABLE = np.zeros(256, bool)
_MIDO_META_TABLE[_MIDO_META_TYPES] = True
# Time signature denominators 2**k that mido refuses: it checks math.log(2**k, 2) == int(...).
_MIDO_BAD_DENOMINATOR_POWERS = frozenset(k for k in range(256) if math.log(2**k, 2) != int(math.log(2**k, 2)))


class Fallback(Exception):
    """The fast path cannot prove that it gives note-seq's result for this file."""


def _read_vlq(data: bytes, pos: int, end: int, max_bytes: Optional[int] = None) -> tuple[int, int]:
    """A variable-length quantity at ``pos`` -> (value, position after it)."""
    value, count = 0, 0
    while True:
        if pos >= end or (max_bytes is not None and count >= max_bytes):
            raise Fallback("malformed variable-length number")
        byte = data[pos]
        pos, count = pos + 1, count + 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos


def _python_token_lengths(data: bytes, start: int, end: int) -> np.ndarray:
    """The slow tokenizer (one Python step per event, mido's rules): for tracks with long meta or
    sysex payloads or running status after a program change / channel pressure."""
    lengths, pos, last = [], start, None
    while pos < end:
        begin = pos
        _, pos = _read_vlq(data, pos, end, max_bytes=4)
        if pos >= end:
            raise Fallback("a track ends inside an event")
        status = data[pos]
        if status < 0x80:  # running status
            if last is None:
                raise Fallback("running status without a status (or after a sysex)")
            size, status = (1 if 0xC0 <= last < 0xE0 else 2), last
        elif status == 0xFF:
            length, pos = _read_vlq(data, pos + 2, end)
            size, pos = length, pos
        elif status in (0xF0, 0xF7):
            length, pos = _read_vlq(data, pos + 1, end)
            size, last = length, None
        elif status > 0xF0:
            raise Fallback("a system message in a track")
        else:
            size, last, pos = (1 if 0xC0 <= status < 0xE0 else 2), status, pos + 1
        if status < 0xF0 and max(data[pos : pos + size], default=0) > 0x7F:
            raise Fallback("a data byte >= 0x80")
        pos += size
        if pos > end:
            raise Fallback("an event runs past the end of its track")
        lengths.append(pos - begin)
    return np.array(lengths, np.int64)


def _token_lengths(data: bytes, start: int, end: int) -> Optional[np.ndarray]:
    """Byte lengths of the events of the track chunk ``data[start:end]`` from the regex (running
    status taken as 2 data bytes; ``_scan`` checks that), or None when they do not tile the chunk."""
    events = _EVENT_RE.findall(data, start, end)
    lengths = np.fromiter(map(len, events), np.int64, len(events))
    return lengths if int(lengths.sum()) == end - start else None


# ----------------------------------------------------------------------------- file structure


@dataclasses.dataclass
class _Scan:
    """The events of all tracks (channel events as NumPy columns, metas decoded)."""

    division: int
    num_tracks: int
    end: int  # end of the last track chunk
    # channel events, file order (track by track):
    index: np.ndarray  # event index (over all events of all tracks)
    track: np.ndarray
    tick: np.ndarray
    kind: np.ndarray  # status >> 4: 8 note-off, 9 note-on, 0xA, 0xB control, 0xC program, 0xD, 0xE bend
    channel: np.ndarray
    data1: np.ndarray
    data2: np.ndarray
    tempos: list  # first track: [(tick, microseconds per quarter)]
    time_signatures: list  # first track: [(tick, numerator, denominator)]
    key_signatures: list  # first track: [(tick, pretty_midi key number: 0-11 major, 12-23 minor)]
    track_names: list  # per track: [(event index, name)]


def _chunks(data: bytes) -> tuple[int, list]:
    """(division, [(start, end) of each track chunk's events])."""
    if len(data) < 14 or data[:4] != b"MThd" or struct.unpack(">L", data[4:8])[0] != 6:
        raise Fallback("not a plain MThd header")
    _, num_tracks, division = struct.unpack(">hhh", data[8:14])
    if division <= 0:
        raise Fallback("division is not a positive tick count")
    if num_tracks <= 0:
        raise Fallback("no tracks")
    chunks, pos = [], 14
    for _ in range(num_tracks):
        if pos + 8 > len(data) or data[pos : pos + 4] != b"MTrk":
            raise Fallback("missing or unusual track chunk")
        size = struct.unpack(">L", data[pos + 4 : pos + 8])[0]
        start, pos = pos + 8, pos + 8 + size
        if pos > len(data):
            raise Fallback("a track chunk runs past the end of the file")
        if size == 0:
            raise Fallback("empty track")
        chunks.append((start, pos))
    return division, chunks


_KEY_NUMBERS: dict = {}


def _key_number(sharps: int, mode: int) -> int:
    """pretty_midi's key number (0-11 major, 12-23 minor) of a key signature, as mido decodes it."""
    if not _KEY_NUMBERS:
        from mido.midifiles import meta
        from pretty_midi.utilities import key_name_to_key_number

        for key, name in meta._key_signature_decode.items():  # noqa: SLF001  (mido's own table)
            _KEY_NUMBERS[key] = key_name_to_key_number(name)
    try:
        return _KEY_NUMBERS[(sharps, mode)]
    except KeyError:
        raise Fallback("a key signature mido cannot decode") from None


def _scan(data: bytes, python_tokenizer: bool = False) -> _Scan:
    division, chunks = _chunks(data)
    starts = []
    for start, end in chunks:
        lengths = None if python_tokenizer else _token_lengths(data, start, end)
        if lengths is None:
            lengths = _python_token_lengths(data, start, end)
        starts.append(start + np.cumsum(lengths) - lengths)
    counts = np.array([len(x) for x in starts])
    starts = np.concatenate(starts)
    first = np.cumsum(counts) - counts
    track_of = np.repeat(np.arange(len(chunks)), counts)

    # delta times (1 to 4 bytes), absolute ticks per track
    b = np.frombuffer(data + b"\0\0\0\0", np.uint8)
    byte = b[starts]
    delta = (byte & 0x7F).astype(np.int64)
    pos = starts + 1
    more = byte >= 0x80
    while more.any():
        byte = b[pos]
        delta = np.where(more, (delta << 7) | (byte & 0x7F), delta)
        pos = pos + more
        more &= byte >= 0x80
    cum = np.cumsum(delta)
    ticks = cum - np.repeat(cum[first] - delta[first], counts)
    if ticks.size and int(ticks.max()) >= MAX_TICK:
        raise Fallback("ticks beyond 2**31 - 1")

    # status bytes, running status
    status = b[pos].astype(np.int64)
    explicit = status >= 0x80
    channel_event = explicit & (status < 0xF0)
    running = ~explicit
    if running.any():
        r = np.flatnonzero(running)
        if (first[np.searchsorted(first, r, side="right") - 1] == r).any():  # a track's first event
            raise Fallback("running status at the start of a track")
        if not (channel_event[r - 1] | running[r - 1]).all():
            raise Fallback("running status after a meta or sysex event")
        source = status[np.maximum.accumulate(np.where(channel_event, np.arange(len(status)), 0))[r]]
        if not python_tokenizer and ((source >= 0xC0) & (source < 0xE0)).any():
            return _scan(data, python_tokenizer=True)  # the regex took 1-data-byte messages for 2
        status[r] = source
        channel_event |= running

    # meta and sysex events that mido checks or note-seq uses, decoded the way mido does
    tempos, time_signatures, key_signatures = [], [], []
    track_names = [[] for _ in chunks]
    special = np.flatnonzero(~channel_event)
    if special.size:
        sp = pos[special]
        if ((b[sp] == 0xFF) & ~_MIDO_META_TABLE[b[sp + 1]] & (delta[special] != 0)).any():
            raise Fallback("an unknown meta event with a delta time (mido reads it as 0)")
        checked = special[(b[sp] != 0xFF) | _CHECKED_META_TABLE[b[sp + 1]]]
        for e, p, t, tick in zip(
            checked.tolist(), pos[checked].tolist(), track_of[checked].tolist(), ticks[checked].tolist()
        ):
            end = chunks[t][1]
            if data[p] == 0xFF:
                meta_type = data[p + 1]
                length, q = _read_vlq(data, p + 2, end)
                payload = data[q : q + length]
                if length < _MIN_META_LENGTH.get(meta_type, 0) or (meta_type == 0x00 and length == 1):
                    raise Fallback("a meta event mido cannot decode")
                if meta_type == _TRACK_NAME:
                    track_names[t].append((e, payload.decode("latin-1")))
                elif meta_type == _END_OF_TRACK:
                    if e + 1 < len(ticks) and track_of[e + 1] == t:
                        raise Fallback("events after end of track")
                elif meta_type == _SET_TEMPO:
                    tempo = (payload[0] << 16) | (payload[1] << 8) | payload[2]
                    if tempo == 0:
                        raise Fallback("a tempo of 0")
                    if t == 0:
                        tempos.append((tick, tempo))
                elif meta_type == _TIME_SIGNATURE:
                    if payload[0] == 0 or payload[1] >= 31 or payload[1] in _MIDO_BAD_DENOMINATOR_POWERS:
                        raise Fallback("a time signature pretty_midi or note-seq refuses")
                    if t == 0:
                        time_signatures.append((tick, payload[0], 2 ** payload[1]))
                elif meta_type == _KEY_SIGNATURE:
                    key = _key_number(payload[0] - 256 if payload[0] > 127 else payload[0], payload[1])
                    if t == 0:
                        key_signatures.append((tick, key))
                elif meta_type == _SMPTE and (
                    payload[0] >> 5 > 3 or payload[1] > 59 or payload[2] > 59 or payload[4] > 99
                ):
                    raise Fallback("a meta event mido cannot decode")  # mido checks the SMPTE fields
            else:  # sysex: mido strips F0 ... F7 and refuses data bytes >= 0x80
                length, q = _read_vlq(data, p + 1, end)
                payload = data[q : q + length]
                if payload[:1] == b"\xf0":
                    payload = payload[1:]
                if payload[-1:] == b"\xf7":
                    payload = payload[:-1]
                if payload and max(payload) > 0x7F:
                    raise Fallback("a sysex event mido refuses")

    ci = np.flatnonzero(channel_event)
    d1pos = pos[ci] + explicit[ci]
    st = status[ci]
    return _Scan(
        division,
        len(chunks),
        chunks[-1][1],
        ci,
        track_of[ci],
        ticks[ci],
        st >> 4,
        st & 0x0F,
        b[d1pos].astype(np.int64),
        b[d1pos + 1].astype(np.int64),
        tempos,
        time_signatures,
        key_signatures,
        track_names,
    )


# ----------------------------------------------------------------------------- instruments


@dataclasses.dataclass
class _Notes:
    """Notes as NumPy columns (ticks), with the (track, channel) key and the events that made them."""

    key: np.ndarray  # track * 16 + channel
    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    on: np.ndarray  # position (in the scan's channel events) of the note-on
    off: np.ndarray  # position of the note-off that closed it


@dataclasses.dataclass
class _NoteEvents:
    """The note-ons and note-offs of the scan, by (track, channel, pitch) and then file order."""

    position: np.ndarray  # in the scan's channel events
    key: np.ndarray  # (track * 16 + channel) * 128 + pitch
    is_on: np.ndarray
    new_key: np.ndarray  # first event of its key
    tick: np.ndarray
    velocity: np.ndarray


def _note_events(scan: _Scan) -> _NoteEvents:
    note_on = (scan.kind == 9) & (scan.data2 > 0)
    position = np.flatnonzero(note_on | (scan.kind == 8) | (scan.kind == 9))
    key = ((scan.track * 16 + scan.channel) * 128 + scan.data1)[position]
    by_key = np.argsort(key, kind="stable")
    position, key = position[by_key], key[by_key]
    new_key = np.ones(len(key), bool)
    new_key[1:] = key[1:] != key[:-1]
    return _NoteEvents(position, key, note_on[position], new_key, scan.tick[position], scan.data2[position])


def _notes_from(events: _NoteEvents, ons: np.ndarray, offs: np.ndarray) -> _Notes:
    """Notes opened by the note-ons at ``ons`` and closed by the note-offs at ``offs`` (positions in ``events``)."""
    return _Notes(
        events.key[ons] >> 7,
        events.tick[ons],
        events.tick[offs],
        events.key[ons] & 0x7F,
        events.velocity[ons],
        events.position[ons],
        events.position[offs],
    )


def _pretty_midi_pairing(events: _NoteEvents) -> tuple[_Notes, np.ndarray]:
    """pretty_midi's notes, and the positions (in the scan's channel events) of the note-offs that close
    at least one note.

    pretty_midi keeps a list of open note-ons per (track, channel, pitch). A note-off at tick T
    closes every open note that started before T; the open notes that started at T stay open if
    it closed any, and are dropped (zero-length notes) if it closed none. Per key, with offs
    j = 1, 2, ...: A_j = some note-on since off j-1 started before T_j, B_j = one started at T_j,
    k_j = "notes started at T_j stay open after off j" = (A_j or (k_{j-1} and T_{j-1} < T_j))
    and B_j, and off j closes something iff A_j or (k_{j-1} and T_{j-1} < T_j). A note-on
    before T_j is closed by off j; one at T_j is closed by off j + 1 if k_j and T_{j+1} > T_j,
    else dropped; one after the last off stays open and is dropped.
    """
    is_off = ~events.is_on
    ons, offs = np.flatnonzero(events.is_on), np.flatnonzero(is_off)
    n_off = len(offs)
    if not len(ons) or not n_off:
        return _notes_from(events, ons[:0], ons[:0]), offs
    off_key, off_tick = events.key[offs], events.tick[offs]
    first = np.ones(n_off, bool)  # the key's first note-off
    first[1:] = off_key[1:] != off_key[:-1]
    nxt = (np.cumsum(is_off) - is_off)[ons]  # the next note-off after each note-on (index into offs)
    nxt_c = np.minimum(nxt, n_off - 1)
    has_next = (nxt < n_off) & (off_key[nxt_c] == events.key[ons])
    on_tick = events.tick[ons]
    before = has_next & (on_tick < off_tick[nxt_c])
    at = has_next & (on_tick == off_tick[nxt_c])
    a = np.zeros(n_off, bool)
    a[nxt[before]] = True
    b = np.zeros(n_off, bool)
    b[nxt[at]] = True
    later = np.zeros(n_off, bool)  # T_{j-1} < T_j within the key
    later[1:] = off_tick[:-1] < off_tick[1:]
    later &= ~first
    index = np.arange(n_off)
    last_x = np.maximum.accumulate(np.where(a & b, index, -1))
    last_not_y = np.maximum.accumulate(np.where(later & b, -1, index))
    keep = (last_x >= 0) & (last_x >= last_not_y)
    kept_before = np.zeros(n_off, bool)
    kept_before[1:] = keep[:-1]
    kept_before &= ~first
    closes = a | (kept_before & later)
    closer = np.where(before, nxt, -1)
    after = np.minimum(nxt_c + 1, n_off - 1)
    carried = at & keep[nxt_c] & (nxt_c + 1 < n_off) & ~first[after] & later[after]
    closer = np.where(carried, after, closer)
    closed = closer >= 0
    return _notes_from(events, ons[closed], offs[closer[closed]]), events.position[offs[closes]]


def _fifo_pairing(events: _NoteEvents) -> _Notes:
    """symusic's notes: a note-off closes the oldest open note-on of its key, if any (even one of
    its own tick). The queue length before each event is the running sum of +1 (on) / -1 (off)
    floored at 0, so the note closed is the (queue length)-th latest note-on."""
    n = len(events.key)
    step = np.where(events.is_on, 1, -1)
    segment = np.cumsum(events.new_key) - 1
    total = np.cumsum(step)
    within = total - (total - step)[events.new_key][segment]  # running sum within the key
    shift = segment * (2 * n + 1)  # later keys lie below earlier ones: one accumulate for all keys
    floor = np.minimum(np.minimum.accumulate(within - shift) + shift, 0)
    queue_before = np.zeros(n, np.int64)
    queue_before[1:] = (within - floor)[:-1]
    queue_before[events.new_key] = 0
    closes = np.flatnonzero(~events.is_on & (queue_before > 0))
    ons = np.flatnonzero(events.is_on)
    ons_before = np.cumsum(events.is_on) - events.is_on
    return _notes_from(events, ons[(ons_before - queue_before)[closes]], closes)


@dataclasses.dataclass
class _Instrument:
    track: int
    channel: int
    program: int
    name: str


def _last_per_key(keys: np.ndarray, values: np.ndarray) -> dict:
    """{key: the value of its last occurrence}."""
    if not len(keys):
        return {}
    rev_keys, idx = np.unique(keys[::-1], return_index=True)
    return dict(zip(rev_keys.tolist(), values[::-1][idx].tolist()))


def _instruments(scan: _Scan, closing: np.ndarray) -> tuple[list, dict]:
    """pretty_midi's instruments in creation order (by the first note-off that closes a note of the
    channel), and {channel key: program}.

    Raises ``Fallback`` when a channel changes program after that note-off: pretty_midi then makes
    several instruments of one channel that share their "straggler" events.
    """
    key = scan.track * 16 + scan.channel
    off_keys, first_idx = np.unique(key[closing], return_index=True)
    first_off = np.full(16 * scan.num_tracks, 2**62, np.int64)
    first_off[off_keys] = scan.index[closing][first_idx]
    program_change = scan.kind == 0xC
    if (scan.index[program_change] > first_off[key[program_change]]).any():
        raise Fallback("a program change after a channel's first note (several instruments on one channel)")
    programs = _last_per_key(key[program_change], scan.data1[program_change])
    instruments = []
    for k in sorted(off_keys.tolist(), key=lambda k: first_off[k]):
        track, channel = divmod(k, 16)
        names = scan.track_names[track]
        at = bisect.bisect_left(names, (int(first_off[k]),)) - 1
        instruments.append(_Instrument(track, channel, programs.get(k, 0), names[at][1] if at >= 0 else ""))
    return instruments, programs


# ----------------------------------------------------------------------------- tempo map


def _tick_scales(scan: _Scan) -> tuple[np.ndarray, np.ndarray]:
    """pretty_midi's ``_tick_scales``: (ticks, seconds per tick), from the first track's tempos."""
    resolution = scan.division
    scales = [(0, 60.0 / (120.0 * resolution))]
    for tick, tempo in scan.tempos:
        if tick == 0:
            bpm = 6e7 / tempo
            scales = [(0, 60.0 / (bpm * resolution))]
        else:
            tick_scale = 60.0 / ((6e7 / tempo) * resolution)
            if tick_scale != scales[-1][1]:
                scales.append((tick, tick_scale))
    return np.array([t for t, _ in scales], np.int64), np.array([s for _, s in scales], np.float64)


def _seconds(ticks: np.ndarray, scale_ticks: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """pretty_midi's tick -> seconds table at ``ticks``, with its float operations in its order."""
    starts = np.zeros(len(scales))
    for k in range(1, len(scales)):  # last_end_time + tick_scale * (end_tick - start_tick)
        starts[k] = starts[k - 1] + scales[k - 1] * float(scale_ticks[k] - scale_ticks[k - 1])
    seg = np.searchsorted(scale_ticks, ticks, side="right") - 1
    return starts[seg] + scales[seg] * (ticks - scale_ticks[seg]).astype(np.float64)


# ----------------------------------------------------------------------------- protobuf encoding


def _varint_columns(values: np.ndarray) -> np.ndarray:
    """Protobuf varints of int values as a fixed-width uint8 block [n, w]: w = 1 for 0..127, 2 for
    0..16383, else 10 (two's complement, as protobuf writes negative int32s). Varints longer than
    needed are valid protobuf (readers take up to 10 bytes), so every row has the same width."""
    v = np.asarray(values, np.int64)
    low, high = (int(v.min()), int(v.max())) if v.size else (0, 0)
    if low >= 0 and high < 128:
        return v.astype(np.uint8).reshape(-1, 1)
    width = 2 if low >= 0 and high < 16384 else 10
    u = v.view(np.uint64)[:, None] >> (np.arange(width, dtype=np.uint64) * np.uint64(7))[None, :]
    block = (u & np.uint64(0x7F)).astype(np.uint8)
    block[:, :-1] |= 0x80
    return block


def _encode_repeated(field_number: int, columns: list) -> bytes:
    """Serialized ``repeated <message> = field_number`` entries (each entry's fields in the given order).

    Args:
      columns: ``[(sub-field number < 16, "varint" | "double", values [n])]``, the same n for all.
    """
    n = len(columns[0][2])
    if not n:
        return b""
    encoded = []
    for number, kind, values in columns:
        if kind == "double":
            encoded.append((number << 3 | 1, np.ascontiguousarray(values, "<f8").view(np.uint8).reshape(n, 8)))
        else:
            encoded.append((number << 3, _varint_columns(values)))
    width = sum(1 + block.shape[1] for _, block in encoded)  # < 128: one byte of length
    out = np.empty((n, 2 + width), np.uint8)
    out[:, 0] = field_number << 3 | 2
    out[:, 1] = width
    col = 2
    for tag, block in encoded:
        out[:, col] = tag
        out[:, col + 1 : col + 1 + block.shape[1]] = block
        col += 1 + block.shape[1]
    return out.tobytes()


# ----------------------------------------------------------------------------- the fast reader


def _symusic_score(data: bytes):
    try:
        import symusic
    except ImportError as e:
        raise Fallback("symusic is not installed") from e
    try:
        return symusic.Score.from_midi(data)
    except Exception as e:  # noqa: BLE001  (symusic raises RuntimeError, ValueError, range_error...)
        raise Fallback(f"symusic cannot read the file ({type(e).__name__})") from e


def _concat(arrays: list, dtype=np.int64) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return len(a) == len(b) and bool((a == b).all())


def _check_with_symusic(data: bytes, scan: _Scan, events: _NoteEvents, programs: dict) -> None:
    """symusic parses the file; its reading must be what its rules give on the scanned events.

    symusic's rules: a track per (MIDI track, channel, program at the note-on) holding notes,
    tracks of a MIDI track ordered by (channel, program), first-in-first-out note pairing, and
    (with one program per channel) every control change and pitch bend of the channel.
    """
    score = _symusic_score(data[: scan.end] if scan.end < len(data) else data)
    if score.ticks_per_quarter != scan.division:
        raise Fallback("symusic and the scan disagree (division)")
    fifo = _fifo_pairing(events)
    # symusic files a note under the channel's program at its note-on (pretty_midi: at its note-off)
    channel_key = scan.track * 16 + scan.channel
    pc = np.flatnonzero(scan.kind == 0xC)
    pc = pc[np.argsort(channel_key[pc], kind="stable")]
    size = len(scan.kind) + 1
    found = np.searchsorted(channel_key[pc] * size + pc, fifo.key * size + fifo.on) - 1
    found_c = np.maximum(found, 0)
    valid = (found >= 0) & (channel_key[pc][found_c] == fifo.key) if len(pc) else np.zeros(len(found), bool)
    program = np.where(valid, scan.data1[pc][found_c] if len(pc) else 0, 0)
    track_key = fifo.key * 128 + program  # symusic's (MIDI track, channel, program)
    keys = np.unique(track_key)  # sorted as symusic orders its tracks
    tracks = [track for track in score.tracks if track.note_num()]
    if len(tracks) != len(keys):
        raise Fallback("symusic and the scan disagree (tracks)")
    for k, track in zip(keys.tolist(), tracks):
        if track.program != k % 128 or track.is_drum != ((k >> 7) % 16 == 9):
            raise Fallback("symusic and the scan disagree (programs)")
    notes = [track.notes.numpy() for track in tracks]
    theirs = np.repeat(np.arange(len(tracks)), [len(n["time"]) for n in notes])
    start = _concat([n["time"] for n in notes])
    end = start + _concat([n["duration"] for n in notes])
    pitch, velocity = _concat([n["pitch"] for n in notes]), _concat([n["velocity"] for n in notes])
    ours = np.searchsorted(keys, track_key)
    a = np.lexsort((velocity, pitch, end, start, theirs))
    b = np.lexsort((fifo.velocity, fifo.pitch, fifo.end, fifo.start, ours))
    if not (
        _same(theirs[a], ours[b])
        and _same(start[a], fifo.start[b])
        and _same(end[a], fifo.end[b])
        and _same(pitch[a], fifo.pitch[b])
        and _same(velocity[a], fifo.velocity[b])
    ):
        raise Fallback("symusic and the scan disagree (notes)")
    # control changes and pitch bends, on the channels with one symusic track: all of the channel's
    channel_of = keys >> 7
    single = np.flatnonzero(np.bincount(np.searchsorted(np.unique(channel_of), channel_of)) == 1)
    single_channels = np.unique(channel_of)[single]
    single_table = np.zeros(16 * scan.num_tracks, bool)
    single_table[single_channels] = True
    single_tracks = [tracks[i] for i in np.flatnonzero(single_table[channel_of]).tolist()]
    for kind, attribute, fields in (
        (0xB, "controls", ("time", "number", "value")),
        (0xE, "pitch_bends", ("time", "value")),
    ):
        mask = (scan.kind == kind) & single_table[channel_key]
        lengths = [len(getattr(track, attribute)) for track in single_tracks]
        if sum(lengths) != int(mask.sum()):
            raise Fallback(f"symusic and the scan disagree ({attribute})")
        if not sum(lengths):
            continue
        order = np.argsort(np.searchsorted(single_channels, channel_key[mask]), kind="stable")
        lists = [getattr(track, attribute).numpy() for track, n in zip(single_tracks, lengths) if n]
        theirs = [_concat([x[f] for x in lists]) for f in fields]
        if kind == 0xB:
            ours = (scan.tick[mask][order], scan.data1[mask][order], scan.data2[mask][order])
        else:
            ours = (scan.tick[mask][order], ((scan.data2[mask] << 7) | scan.data1[mask])[order] - 8192)
        if not all(_same(x, y) for x, y in zip(ours, theirs)):
            raise Fallback(f"symusic and the scan disagree ({attribute})")


def fast_note_sequence(data: bytes):
    """The fast path only: the ``NoteSequence`` of MIDI bytes, or ``Fallback`` naming why it cannot be
    proved equal to note-seq's."""
    from note_seq.protobuf import music_pb2

    data = bytes(data)
    scan = _scan(data)
    events = _note_events(scan)
    notes, firing = _pretty_midi_pairing(events)
    closing = np.zeros(len(scan.kind), bool)
    closing[firing] = True
    instruments, programs = _instruments(scan, closing)
    _check_with_symusic(data, scan, events, programs)

    inst_of_key = np.full(16 * scan.num_tracks, -1, np.int64)
    for i, inst in enumerate(instruments):
        inst_of_key[inst.track * 16 + inst.channel] = i
    # pretty_midi's note order: instrument by instrument; within one, by closing note-off, then note-on
    order = np.lexsort((notes.on, notes.off))
    order = order[np.argsort(inst_of_key[notes.key[order]], kind="stable")]
    note_inst = inst_of_key[notes.key[order]]
    # control changes and pitch bends: every one of the instrument's channel, in file order
    inst_of = inst_of_key[scan.track * 16 + scan.channel]
    cc = np.flatnonzero((scan.kind == 0xB) & (inst_of >= 0))
    cc = cc[np.argsort(inst_of[cc], kind="stable")]
    pb = np.flatnonzero((scan.kind == 0xE) & (inst_of >= 0))
    pb = pb[np.argsort(inst_of[pb], kind="stable")]
    cc_inst, pb_inst = inst_of[cc], inst_of[pb]

    # seconds; the repeated fields encoded by NumPy, the few others set one by one
    scale_ticks, scales = _tick_scales(scan)
    meta_ticks = [t for t, *_ in scan.time_signatures] + [t for t, _ in scan.key_signatures] + scale_ticks.tolist()
    n, npb, ncc = len(order), len(pb), len(cc)
    times = _seconds(
        np.concatenate(
            [notes.start[order], notes.end[order], scan.tick[pb], scan.tick[cc], np.array(meta_ticks, np.int64)]
        ),
        scale_ticks,
        scales,
    )
    programs_of = np.array([inst.program for inst in instruments], np.int64)
    drums_of = np.array([inst.channel == 9 for inst in instruments], np.int64)
    encoded = b"".join(
        [
            _encode_repeated(
                8,
                [
                    (1, "varint", notes.pitch[order]),
                    (2, "varint", notes.velocity[order]),
                    (3, "double", times[:n]),
                    (4, "double", times[n : 2 * n]),
                    (7, "varint", note_inst),
                    (8, "varint", programs_of[note_inst]),
                    (9, "varint", drums_of[note_inst]),
                ],
            ),
            _encode_repeated(
                10,
                [
                    (1, "double", times[2 * n : 2 * n + npb]),
                    (2, "varint", ((scan.data2[pb] << 7) | scan.data1[pb]) - 8192),
                    (3, "varint", pb_inst),
                    (4, "varint", programs_of[pb_inst]),
                    (5, "varint", drums_of[pb_inst]),
                ],
            ),
            _encode_repeated(
                11,
                [
                    (1, "double", times[2 * n + npb : 2 * n + npb + ncc]),
                    (2, "varint", scan.data1[cc]),
                    (3, "varint", scan.data2[cc]),
                    (4, "varint", cc_inst),
                    (5, "varint", programs_of[cc_inst]),
                    (6, "varint", drums_of[cc_inst]),
                ],
            ),
        ]
    )
    sequence = music_pb2.NoteSequence.FromString(encoded)
    sequence.ticks_per_quarter = scan.division
    sequence.source_info.parser = music_pb2.NoteSequence.SourceInfo.PRETTY_MIDI
    sequence.source_info.encoding_type = music_pb2.NoteSequence.SourceInfo.MIDI
    meta_times = times[2 * n + npb + ncc :].tolist()
    k = len(scan.time_signatures)
    for (_, numerator, denominator), time in zip(scan.time_signatures, meta_times):
        sequence.time_signatures.add(time=time, numerator=numerator, denominator=denominator)
    for (_, key_number), time in zip(scan.key_signatures, meta_times[k:]):
        sequence.key_signatures.add(time=time, key=key_number % 12, mode=key_number // 12)
    for scale, time in zip(scales.tolist(), meta_times[k + len(scan.key_signatures) :]):
        sequence.tempos.add(time=time, qpm=60.0 / (scale * scan.division))
    for i, inst in enumerate(instruments):
        if inst.name:
            sequence.instrument_infos.add(name=inst.name, instrument=i)
    if n:
        sequence.total_time = float(times[n : 2 * n].max())
    return sequence


# ----------------------------------------------------------------------------- public API

PARSERS = ("symusic", "note_seq")


@dataclasses.dataclass
class MidiReading:
    """What ``read_midi`` did with one file.

    Attributes:
      sequence: the ``NoteSequence`` (None only when ``error`` is set).
      fast: True when the symusic path built it; False when note-seq did.
      reason: why the file fell back to note-seq (None on the fast path).
      error: note-seq's exception when the fallback could not read the file either.
    """

    sequence: object
    fast: bool
    reason: Optional[str] = None
    error: Optional[BaseException] = None


def read_midi(data: bytes) -> MidiReading:
    """MIDI bytes -> ``MidiReading``: the fast path where it is proved equal, else note-seq's reader."""
    from note_seq import midi_io

    try:
        return MidiReading(fast_note_sequence(data), True)
    except Fallback as e:
        reason = str(e)
    except Exception as e:  # noqa: BLE001  (a bug here must not lose a file note-seq can read)
        reason = f"fast path error ({type(e).__name__}: {e})"
    try:
        return MidiReading(midi_io.midi_to_note_sequence(data), False, reason)
    except Exception as e:  # noqa: BLE001  (note-seq wraps pretty_midi / mido errors, or not)
        return MidiReading(None, False, reason, e)


def midi_to_note_sequence(data: bytes, parser: str = "symusic"):
    """MIDI bytes -> ``NoteSequence``, equal to ``note_seq.midi_io.midi_to_note_sequence(data)``.

    Args:
      parser: ``"symusic"`` (fast path, note-seq where the fast path cannot prove equality) or
        ``"note_seq"`` (note-seq only).

    Raises:
      whatever note-seq raises for a file it cannot read (``MIDIConversionError`` mostly).
    """
    if parser not in PARSERS:
        raise ValueError(f"unknown MIDI parser {parser!r} (known: {', '.join(PARSERS)})")
    if parser == "note_seq":
        from note_seq import midi_io

        return midi_io.midi_to_note_sequence(data)
    reading = read_midi(data)
    if reading.error is not None:
        raise reading.error
    return reading.sequence


def midi_file_to_note_sequence(path, parser: str = "symusic"):
    """A MIDI file -> ``NoteSequence``; see ``midi_to_note_sequence``."""
    with open(path, "rb") as f:
        return midi_to_note_sequence(f.read(), parser)


__all__ = [
    "PARSERS",
    "Fallback",
    "MidiReading",
    "fast_note_sequence",
    "read_midi",
    "midi_to_note_sequence",
    "midi_file_to_note_sequence",
]
