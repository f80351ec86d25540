"""JSB Chorales for the Music Transformer paper's experiment: loading, serialisation, note-wise NLL.

Data: ``Jsb16thSeparated.json`` (the Coconet split of Boulanger-Lewandowski's JSB Chorales: train
229 / valid 76 / test 77 chorales), one ``[soprano, alto, tenor, bass]`` row of MIDI pitches per
16th note, ``-1`` where a voice rests. Only the JSON is read: the ``.npz`` copy holds object arrays
that would need unpickling, which this module never does. Loaded chorales are float arrays
``(T, 4)`` with NaN rests (the layout of the ``.npz``).

Serialisation (the paper's, after Coconet's grid): the chorale is read as a raster, time step by
time step, and within a step soprano, alto, tenor, bass, one token per voice per 16th note::

    s_0 a_0 t_0 b_0  s_1 a_1 t_1 b_1  ...  s_{T-1} a_{T-1} t_{T-1} b_{T-1}  [EOS]

Token ids (``JsbEncoding()``, pitches 36..81 = the range of the whole dataset and Coconet's)::

    0 PAD, 1 EOS, 2 REST (the voice is silent), 3 + (pitch - 36) for pitches 36..81  -> 49 ids

A held note and a repeated note look alike on this grid (Coconet's too): ``to_note_sequence``
joins equal consecutive pitches of a voice into one note.

"NLL per note" (the paper's Table 2: Coconet 0.436, baseline Transformer 0.417, relative
Transformer 0.357, + relative pitch and time 0.335) is read here as: the mean negative
log-likelihood in nats over every voice-step token (pitch or rest; not EOS, not PAD) of all
chorales of the validation split, pooled (sum over tokens / number of tokens, not a mean of
per-chorale means), each token predicted from all tokens before it in raster order - the
"chronological" ordering of Coconet's note-wise evaluation, where each (voice, 16th) cell is
one "note". ``NoteWiseNLL`` accumulates exactly that from model logits.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from pipelines.errors import InputError

VOICES = ("soprano", "alto", "tenor", "bass")
NUM_VOICES = 4
SPLITS = ("train", "valid", "test")
STEPS_PER_QUARTER = 4  # 16th notes
PAD_ID = 0
EOS_ID = 1
REST_ID = 2
MIN_PITCH = 36
MAX_PITCH = 81
VOCAB_SIZE = 3 + MAX_PITCH - MIN_PITCH + 1  # 49

_REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_PATH = _REPO_ROOT.parent / "shared" / "data" / "jsb_chorales" / "Jsb16thSeparated.json"


class JsbFormatError(InputError):
    """The JSB file, or one of its chorales, is not in the expected format (names file and place)."""


# --------------------------------------------------------------------------- loading


def load_jsb_chorales(path: Union[str, os.PathLike, None] = None) -> dict[str, list[np.ndarray]]:
    """Reads the JSB Chorales JSON.

    Args:
      path: ``Jsb16thSeparated.json`` (default: ``../shared/data/jsb_chorales/`` beside the repo).

    Returns:
      ``{"train": [...], "valid": [...], "test": [...]}``, each a list of float64 arrays
      ``(T, 4)`` (soprano, alto, tenor, bass MIDI pitches per 16th note, NaN = rest).

    Raises:
      JsbFormatError: not JSON, an ``.npz`` (needs unpickling: refused), a missing split, or a
        chorale that is not a list of 4 integer pitches (0..127 or -1) per step.
    """
    path = pathlib.Path(path) if path is not None else DEFAULT_PATH
    if path.suffix == ".npz":
        raise JsbFormatError(
            str(path), "the .npz holds pickled object arrays, which are never loaded here; pass the .json file"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise JsbFormatError(str(path), "file not found") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise JsbFormatError(str(path), f"not a JSON file ({e})") from e
    if not isinstance(raw, Mapping):
        raise JsbFormatError(str(path), f"expected an object with keys {SPLITS}, got {type(raw).__name__}")
    out = {}
    for split in SPLITS:
        if split not in raw:
            raise JsbFormatError(str(path), f"missing split {split!r} (keys: {sorted(raw)})")
        out[split] = [_to_array(path, split, i, c) for i, c in enumerate(raw[split])]
    return out


def _to_array(path, split: str, index: int, chorale) -> np.ndarray:
    where = f"{split}[{index}]"
    try:
        arr = np.asarray(chorale, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise JsbFormatError(str(path), f"{where}: not a numeric array ({e})") from e
    if arr.ndim != 2 or arr.shape[1] != NUM_VOICES or arr.shape[0] == 0:
        raise JsbFormatError(str(path), f"{where}: expected shape (T, 4), got {arr.shape}")
    if (
        not np.all(np.isfinite(arr))
        or np.any(arr != np.round(arr))
        or np.any((arr < 0) & (arr != -1))
        or np.any(arr > 127)
    ):
        raise JsbFormatError(str(path), f"{where}: values must be MIDI pitches 0..127 or -1 (rest)")
    arr[arr == -1] = np.nan
    return arr


# --------------------------------------------------------------------------- tokens


@dataclasses.dataclass(frozen=True)
class JsbEncoding:
    """Chorale grid <-> token ids (see the module doc).

    Attributes:
      min_pitch, max_pitch: inclusive pitch range of the vocabulary (default: JSB's 36..81).
      add_eos: ``serialize`` appends EOS.
    """

    min_pitch: int = MIN_PITCH
    max_pitch: int = MAX_PITCH
    add_eos: bool = True

    def __post_init__(self):
        if not 0 <= self.min_pitch <= self.max_pitch <= 127:
            raise ValueError(f"need 0 <= min_pitch <= max_pitch <= 127, got {self.min_pitch}, {self.max_pitch}")

    @property
    def vocab_size(self) -> int:
        """PAD, EOS, REST and one id per pitch (49 for 36..81)."""
        return 3 + self.max_pitch - self.min_pitch + 1

    def pitch_to_id(self, pitch: int) -> int:
        """MIDI pitch -> id (3..vocab_size-1)."""
        return 3 + int(pitch) - self.min_pitch

    def serialize(self, chorale: np.ndarray) -> np.ndarray:
        """``(T, 4)`` pitches (NaN rests) -> int32 ids ``[4T (+1)]`` in raster order S, A, T, B per step.

        Raises:
          ValueError: wrong shape, or a pitch outside the vocabulary's range.
        """
        chorale = np.asarray(chorale, dtype=np.float64)
        if chorale.ndim != 2 or chorale.shape[1] != NUM_VOICES:
            raise ValueError(f"expected a (T, 4) chorale, got shape {chorale.shape}")
        flat = chorale.reshape(-1)
        rest = np.isnan(flat)
        pitches = np.where(rest, self.min_pitch, flat)
        if np.any(pitches < self.min_pitch) or np.any(pitches > self.max_pitch) or np.any(pitches != np.round(pitches)):
            bad = flat[~rest][(flat[~rest] < self.min_pitch) | (flat[~rest] > self.max_pitch)]
            raise ValueError(f"pitches {sorted(set(bad.tolist()))[:5]} outside {self.min_pitch}..{self.max_pitch}")
        ids = np.where(rest, REST_ID, 3 + pitches - self.min_pitch).astype(np.int32)
        if self.add_eos:
            ids = np.append(ids, np.int32(EOS_ID))
        return ids

    def deserialize(self, ids: Iterable[int], allow_partial: bool = False) -> np.ndarray:
        """Ids -> ``(T, 4)`` float pitches with NaN rests; stops at the first EOS, drops PAD.

        Args:
          ids: token ids (e.g. a sampled or padded row).
          allow_partial: a last incomplete step is filled with rests instead of raising.

        Raises:
          ValueError: an id outside the vocabulary, or an incomplete last step.
        """
        tokens = []
        for i in ids:
            i = int(i)
            if i == EOS_ID:
                break
            if i == PAD_ID:
                continue
            if not REST_ID <= i < self.vocab_size:
                raise ValueError(f"id {i} is outside the JSB vocabulary 0..{self.vocab_size - 1}")
            tokens.append(i)
        if len(tokens) % NUM_VOICES:
            if not allow_partial:
                raise ValueError(f"{len(tokens)} tokens do not fill whole steps of {NUM_VOICES} voices")
            tokens += [REST_ID] * (NUM_VOICES - len(tokens) % NUM_VOICES)
        arr = np.asarray(tokens, dtype=np.float64).reshape(-1, NUM_VOICES)
        return np.where(arr == REST_ID, np.nan, arr - 3 + self.min_pitch)

    def serialize_split(self, chorales: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``serialize`` over a list of chorales."""
        return [self.serialize(c) for c in chorales]


def to_note_sequence(chorale: np.ndarray, qpm: float = 60.0, velocity: int = 80, program: int = 52):
    """A chorale grid -> NoteSequence: one instrument per voice (0 = soprano .. 3 = bass), equal
    consecutive pitches joined into one note, 16th notes at ``qpm`` quarter notes per minute."""
    import note_seq

    chorale = np.asarray(chorale, dtype=np.float64)
    step = 60.0 / qpm / STEPS_PER_QUARTER
    ns = note_seq.NoteSequence(ticks_per_quarter=note_seq.STANDARD_PPQ)
    ns.tempos.add(qpm=qpm)
    for voice in range(chorale.shape[1]):
        column = chorale[:, voice]
        start = 0
        for t in range(1, len(column) + 1):
            if t == len(column) or not (column[t] == column[start]):  # NaN != NaN ends rests too
                if not np.isnan(column[start]):
                    ns.notes.add(
                        pitch=int(column[start]),
                        start_time=start * step,
                        end_time=t * step,
                        velocity=velocity,
                        instrument=voice,
                        program=program,
                    )
                start = t
    ns.total_time = len(chorale) * step
    return ns


# --------------------------------------------------------------------------- tf.data


def make_dataset(
    sequences: Sequence[np.ndarray],
    max_length: int,
    batch_size: int,
    *,
    random_crop: bool = False,
    shuffle: bool = False,
    repeat: bool = False,
    seed: Optional[int] = None,
    drop_remainder: bool = False,
):
    """Batches of serialised chorales, ``{"targets": int32 [B, max_length]}`` padded with PAD.

    Args:
      sequences: token arrays (``JsbEncoding.serialize_split``).
      max_length: L. Sequences longer than L are, with ``random_crop``, cropped at a random
        multiple of 4 (a step boundary) each time they are read; otherwise cut into consecutive
        L-token windows (L rounded down to a multiple of 4) so that every token is scored once
        (for the validation NLL choose L >= the longest chorale: 2305 tokens for valid, 2561 for
        test, so that no token loses its context).
      batch_size: B.
      random_crop, shuffle, repeat, seed, drop_remainder: usual tf.data options.

    Returns:
      ``tf.data.Dataset``; targets are not shifted (the model shifts right).
    """
    import tensorflow as tf

    if max_length < NUM_VOICES:
        raise ValueError(f"max_length must be >= {NUM_VOICES}, got {max_length}")
    window = max_length - max_length % NUM_VOICES
    pieces = []
    for seq in sequences:
        seq = np.asarray(seq, dtype=np.int32)
        if random_crop or len(seq) <= max_length:
            pieces.append(seq)
        else:
            pieces.extend(seq[i : i + window] for i in range(0, len(seq), window))
    ragged = tf.ragged.constant([p.tolist() for p in pieces], dtype=tf.int32)
    ds = tf.data.Dataset.from_tensor_slices(ragged)
    if shuffle:
        ds = ds.shuffle(len(pieces), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def crop(seq):
        if not random_crop:
            return {"targets": seq[:max_length]}
        steps = tf.maximum((tf.shape(seq)[0] - max_length) // NUM_VOICES, 0)
        offset = tf.random.uniform([], 0, steps + 1, dtype=tf.int32, seed=seed) * NUM_VOICES
        return {"targets": seq[offset : offset + max_length]}

    ds = ds.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle)
    ds = ds.padded_batch(
        batch_size,
        padded_shapes={"targets": [max_length]},
        padding_values={"targets": tf.constant(PAD_ID, tf.int32)},
        drop_remainder=drop_remainder,
    )
    return ds.prefetch(tf.data.AUTOTUNE)


def default_stride(window: int) -> int:
    """``scoring_windows``' default stride for ``window`` tokens: half of it, rounded down to whole
    16th steps (at least one step)."""
    return max(NUM_VOICES, window // 2 - (window // 2) % NUM_VOICES)


def scoring_windows(sequence, window: int, stride: Optional[int] = None) -> list[tuple[np.ndarray, int]]:
    """Cuts a serialised chorale into windows for scoring with at most ``window`` tokens in view.

    A model trained on crops of ``window`` tokens has seen absolute positions 0..window-1 only;
    scoring a longer chorale whole asks it about positions it never saw. Windows start on 16th-step
    boundaries (multiples of 4, as training crops do) every ``stride`` tokens; the first window
    scores all its tokens, each later one only the tokens no earlier window scored, so every token
    is scored exactly once and, after the first window, with at least ``window - stride`` tokens
    of context. The last window ends at the end of the chorale.

    Args:
      sequence: token ids ``[n]`` of one chorale.
      window: tokens per window, a multiple of 4; ``<= 0`` or ``>= n`` gives one whole window.
      stride: tokens between window starts, a multiple of 4 in ``(0, window]``; default
        ``default_stride(window)``.

    Returns:
      ``(tokens, first_scored)`` pairs: ``tokens`` a slice of ``sequence`` (at most ``window``
      long) and ``first_scored`` the index in it of the first token to score.
    """
    seq = np.asarray(sequence, dtype=np.int32)
    n = len(seq)
    if window <= 0 or n <= window:
        return [(seq, 0)]
    if window % NUM_VOICES:
        raise ValueError(f"window must be a multiple of {NUM_VOICES}, got {window}")
    if stride is None:
        stride = default_stride(window)
    if stride % NUM_VOICES or not 0 < stride <= window:
        raise ValueError(f"stride must be a multiple of {NUM_VOICES} in (0, {window}], got {stride}")
    starts = list(range(0, n - window, stride))
    last = -(-(n - window) // NUM_VOICES) * NUM_VOICES
    if last > starts[-1]:
        starts.append(last)
    out, scored_end = [], 0
    for start in starts:
        end = min(start + window, n)
        if end > scored_end:
            out.append((seq[start:end], max(scored_end, start) - start))
            scored_end = end
    return out


# --------------------------------------------------------------------------- NLL per note


def note_weights(targets):
    """1.0 where a target is a note token (pitch or REST), 0.0 for PAD and EOS; same shape, float32."""
    import tensorflow as tf

    return tf.cast(tf.greater_equal(tf.cast(targets, tf.int32), REST_ID), tf.float32)


def note_nll_sums(logits, targets, scored=None):
    """``(sum of -log p(target) over note tokens, number of note tokens)`` for a batch.

    Args:
      logits: ``[B, L, V]`` next-token logits aligned with ``targets`` (position i predicts
        ``targets[:, i]`` from ``targets[:, :i]``).
      targets: ``[B, L]`` ids.
      scored: optional ``[B, L]`` 0/1 mask of the positions to count (``scoring_windows``'
        context-only tokens are 0); default all.

    Returns:
      two float32 scalars (nats, count).
    """
    import tensorflow as tf

    targets = tf.cast(targets, tf.int32)
    log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))
    nll = -tf.gather(log_probs, targets, batch_dims=2)
    weights = note_weights(targets)
    if scored is not None:
        weights = weights * tf.cast(scored, tf.float32)
    return tf.reduce_sum(nll * weights), tf.reduce_sum(weights)


class NoteWiseNLL:
    """Accumulates the note-wise NLL (nats per voice-step token, pooled over a split).

    ``update(logits, targets)`` per batch, then ``result()``; ``count`` is the number of note
    tokens seen (4 x the number of 16th steps when a whole split went through once).
    """

    def __init__(self):
        self.total = 0.0
        self.count = 0.0

    def update(self, logits, targets) -> None:
        """Adds a batch (see ``note_nll_sums``)."""
        total, count = note_nll_sums(logits, targets)
        self.total += float(total)
        self.count += float(count)

    def result(self) -> float:
        """Mean NLL per note token in nats (NaN before any token)."""
        return self.total / self.count if self.count else math.nan


#: The paper's Table 2 (note-wise validation NLL, JSB Chorales at 16th notes), for reports.
PAPER_TABLE_2 = {
    "Coconet (chronological)": 0.436,
    "Transformer baseline": 0.417,
    "Transformer with relative attention": 0.357,
    "Transformer with relative attention, relative pitch and time": 0.335,
}

__all__ = [
    "VOICES",
    "SPLITS",
    "PAD_ID",
    "EOS_ID",
    "REST_ID",
    "MIN_PITCH",
    "MAX_PITCH",
    "VOCAB_SIZE",
    "DEFAULT_PATH",
    "JsbFormatError",
    "load_jsb_chorales",
    "JsbEncoding",
    "to_note_sequence",
    "make_dataset",
    "note_weights",
    "note_nll_sums",
    "NoteWiseNLL",
    "PAPER_TABLE_2",
    "default_stride",
    "scoring_windows",
]
