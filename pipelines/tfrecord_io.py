"""Atomic sharded TFRecord writing, reading helpers, and counters for skipped inputs.

Shards are named ``<prefix>-00000-of-00004.tfrecord``. ``ShardedTFRecordWriter`` writes each
shard under ``<final name>.tmp-XXXXXXXX``, fsyncs it and ``os.replace``s it to its final name
only when the whole write succeeded, so a final-named shard is always complete. A crash
leaves only ``*.tmp-*`` files, which the next writer with the same prefix deletes.

Records go to shard ``sha256(key) mod num_shards``: the assignment depends on the record's
key only, not on the order or the process that wrote it.

TensorFlow is imported only by the functions that need it.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import re
import uuid
from typing import Iterable, Iterator, Optional, Union

from tfmusic.files import TEMP_MARK as _TEMP_MARK
from tfmusic.files import atomic_write_bytes, atomic_write_json  # noqa: F401  (re-exported)

SHARD_SUFFIX = ".tfrecord"


# --------------------------------------------------------------------------- naming


def shard_path(prefix: str, index: int, num_shards: int) -> str:
    """``<prefix>-IIIII-of-NNNNN.tfrecord`` for shard ``index`` of ``num_shards``."""
    return f"{prefix}-{index:05d}-of-{num_shards:05d}{SHARD_SUFFIX}"


def shard_paths(prefix: str, num_shards: int) -> list[str]:
    """All final shard names for ``prefix`` and ``num_shards``, in shard order."""
    return [shard_path(prefix, i, num_shards) for i in range(num_shards)]


def shard_index(key: Union[str, bytes], num_shards: int) -> int:
    """The shard (0..num_shards-1) that a record with this key goes to (stable hash)."""
    if isinstance(key, str):
        key = key.encode("utf-8")
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % num_shards


def _shard_regex(prefix: str) -> re.Pattern:
    return re.compile(re.escape(os.path.basename(prefix)) + r"-\d{5}-of-\d{5}" + re.escape(SHARD_SUFFIX))


def clean_temp_files(prefix: str) -> list[str]:
    """Deletes temporary shards left by an interrupted writer with this prefix.

    Returns:
      the deleted paths.
    """
    pattern = glob.escape(prefix) + "-*-of-*" + SHARD_SUFFIX + _TEMP_MARK + "*"
    regex = _shard_regex(prefix)
    removed = []
    for path in sorted(glob.glob(pattern)):
        if regex.fullmatch(os.path.basename(path).split(_TEMP_MARK)[0]):
            os.remove(path)
            removed.append(path)
    return removed


def clean_stale_temp_files(path: Union[str, os.PathLike]) -> list[str]:
    """Deletes ``<path>.tmp-*`` files that an interrupted atomic write of ``path`` left behind
    (``tfmusic.files`` writes under such names, then renames). Returns the deleted paths."""
    removed = []
    for stale in sorted(glob.glob(glob.escape(os.fspath(path)) + _TEMP_MARK + "*")):
        try:
            os.remove(stale)
        except FileNotFoundError:
            continue
        removed.append(stale)
    return removed


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    try:
        _fsync_path(path or ".")
    except OSError:  # some filesystems refuse fsync on directories
        pass


# --------------------------------------------------------------------------- writer


class ShardedTFRecordWriter:
    """Writes records into ``num_shards`` TFRecord files, atomically.

    Use as a context manager: on a clean exit every shard (empty ones too) is fsynced and
    renamed to its final name, and final-named shards of the same prefix with another
    shard count are deleted; on an exception the temporary files are deleted and no
    final name is touched.

    Args:
      prefix: path prefix of the shards; its folder is created if needed.
      num_shards: number of output files, >= 1.
      compression: ``None``, ``"GZIP"`` or ``"ZLIB"``.

    Attributes:
      records_per_shard: list of counts, filled while writing.
      paths: final shard paths (valid after a clean exit).
    """

    def __init__(self, prefix: str, num_shards: int, compression: Optional[str] = None):
        if num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {num_shards}")
        self.prefix = os.fspath(prefix)
        self.num_shards = int(num_shards)
        self.compression = compression
        self.paths = shard_paths(self.prefix, self.num_shards)
        self.records_per_shard = [0] * self.num_shards
        self._token = uuid.uuid4().hex[:8]
        self._temp_paths = [p + _TEMP_MARK + self._token for p in self.paths]
        self._writers = None

    def open(self) -> "ShardedTFRecordWriter":
        """Deletes stale temporary files and opens one temporary file per shard."""
        import tensorflow as tf

        folder = os.path.dirname(self.prefix)
        if folder:
            os.makedirs(folder, exist_ok=True)
        clean_temp_files(self.prefix)
        options = tf.io.TFRecordOptions(compression_type=self.compression or "")
        self._writers = [tf.io.TFRecordWriter(p, options) for p in self._temp_paths]
        return self

    def write(self, key: Union[str, bytes], record: bytes) -> int:
        """Appends a serialized record to the shard chosen by ``key``; returns that shard."""
        if self._writers is None:
            raise RuntimeError("ShardedTFRecordWriter.write called outside open()/commit()")
        index = shard_index(key, self.num_shards)
        self._writers[index].write(record)
        self.records_per_shard[index] += 1
        return index

    def _close_writers(self) -> None:
        if self._writers is not None:
            for w in self._writers:
                w.close()
            self._writers = None

    def commit(self) -> list[str]:
        """Closes, fsyncs and renames every shard to its final name; returns the final paths."""
        self._close_writers()
        for tmp in self._temp_paths:
            _fsync_path(tmp)
        for tmp, final in zip(self._temp_paths, self.paths):
            os.replace(tmp, final)
        regex = _shard_regex(self.prefix)
        keep = set(os.path.basename(p) for p in self.paths)
        folder = os.path.dirname(self.prefix) or "."
        for name in os.listdir(folder):
            if regex.fullmatch(name) and name not in keep:
                os.remove(os.path.join(folder, name))
        _fsync_dir(os.path.dirname(self.prefix))
        return list(self.paths)

    def abort(self) -> None:
        """Closes the writers and deletes this writer's temporary files."""
        self._close_writers()
        for tmp in self._temp_paths:
            if os.path.exists(tmp):
                os.remove(tmp)

    def __enter__(self) -> "ShardedTFRecordWriter":
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_sharded(
    prefix: str,
    keyed_records: Iterable[tuple[Union[str, bytes], bytes]],
    num_shards: int,
    compression: Optional[str] = None,
) -> list[str]:
    """Writes ``(key, serialized_record)`` pairs with ``ShardedTFRecordWriter``; returns paths."""
    with ShardedTFRecordWriter(prefix, num_shards, compression) as writer:
        for key, record in keyed_records:
            writer.write(key, record)
    return writer.paths


# --------------------------------------------------------------------------- reading


def list_files(file_pattern: Union[str, os.PathLike, Iterable[str]]) -> list[str]:
    """Sorted list of files matching a glob pattern (or a list of patterns).

    A pattern that matches nothing is also tried as a sharded file name (:func:`sharded_pattern`).

    Raises:
      FileNotFoundError: nothing matches.
    """
    import tensorflow as tf

    patterns = [os.fspath(file_pattern)] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    files = sorted({f for p in patterns for f in tf.io.gfile.glob(p) or tf.io.gfile.glob(sharded_pattern(p))})
    files = [f for f in files if _TEMP_MARK not in os.path.basename(f)]
    if not files:
        raise FileNotFoundError(f"no files match {patterns}")
    return files


def sharded_pattern(path: str) -> str:
    """The glob of the shards a sharded writer makes for the file name ``path``: ``ns.tfrecord`` ->
    ``ns-?????-of-?????.tfrecord`` (so ``convert_dir_to_note_sequences --output_file ns.tfrecord``'s
    output is found under the name the user gave, as Magenta's tutorial chains the commands)."""
    prefix = path[: -len(SHARD_SUFFIX)] if path.endswith(SHARD_SUFFIX) else path
    return prefix + "-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]" + SHARD_SUFFIX


def tfrecord_dataset(file_pattern, compression: Optional[str] = None):
    """A ``tf.data.TFRecordDataset`` of serialized records (scalar tf.string), files in
    sorted order, records in file order (deterministic)."""
    import tensorflow as tf

    return tf.data.TFRecordDataset(list_files(file_pattern), compression_type=compression or "")


def iter_records(file_pattern, compression: Optional[str] = None) -> Iterator[bytes]:
    """Yields the serialized records (bytes) of the matching files, in deterministic order."""
    for record in tfrecord_dataset(file_pattern, compression).as_numpy_iterator():
        yield bytes(record)


# --------------------------------------------------------------------------- counters


@dataclasses.dataclass(frozen=True, order=True)
class Skipped:
    """One input a pipeline did not use: its name and the reason."""

    name: str
    reason: str


@dataclasses.dataclass
class Counters:
    """Named counts plus the list of skipped inputs, for a pipeline's summary.

    ``skip(name, reason)`` records an input and increments the ``skipped`` count.
    ``to_dict()`` is deterministic (sorted keys, skipped inputs sorted by name).
    """

    counts: dict = dataclasses.field(default_factory=dict)
    skipped: list = dataclasses.field(default_factory=list)

    def increment(self, name: str, n: int = 1) -> None:
        """Adds ``n`` to the count ``name``."""
        self.counts[name] = self.counts.get(name, 0) + int(n)

    def skip(self, name: str, reason: str) -> None:
        """Records that input ``name`` was skipped because of ``reason``."""
        self.skipped.append(Skipped(str(name), str(reason)))
        self.increment("skipped")

    def merge(self, other: "Counters") -> "Counters":
        """Adds another Counters' counts and skipped inputs into this one; returns self."""
        for k, v in other.counts.items():
            self.increment(k, v)
        self.skipped.extend(other.skipped)
        return self

    def get(self, name: str) -> int:
        """The count ``name`` (0 if never incremented)."""
        return self.counts.get(name, 0)

    def skipped_names(self) -> list[str]:
        """Names of the skipped inputs, sorted."""
        return sorted(s.name for s in self.skipped)

    def to_dict(self) -> dict:
        """``{"counts": {...}, "skipped": [{"name", "reason"}, ...]}``, deterministic."""
        return {
            "counts": dict(sorted(self.counts.items())),
            "skipped": [dataclasses.asdict(s) for s in sorted(self.skipped)],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Counters":
        """Inverse of ``to_dict``."""
        return cls(dict(d.get("counts", {})), [Skipped(s["name"], s["reason"]) for s in d.get("skipped", [])])

    def summary(self) -> str:
        """Human-readable multi-line summary: counts, then one line per skipped input (valid UTF-8)."""
        lines = [f"{k}: {v}" for k, v in sorted(self.counts.items())]
        for s in sorted(self.skipped):
            lines.append(f"  skipped {s.name}: {s.reason}")
        # Names taken from bad input may hold lone surrogates (undecodable file names, JSON escapes):
        # escape them so that the summary can always be printed.
        return "\n".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")

    def write_json(self, path: Union[str, os.PathLike]) -> None:
        """Writes ``to_dict()`` as JSON, atomically."""
        atomic_write_json(path, self.to_dict())
