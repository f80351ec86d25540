"""Atomic sharded TFRecord writing, reading helpers, and counters for skipped inputs.

Shards are named ``<prefix>-00000-of-00004.tfrecord``. A writer given an output *file name*
(``ShardedTFRecordWriter.for_output_file``, as ``convert_dir_to_note_sequences --output_file``)
writes exactly that name when it writes one shard, and ``<name without .tfrecord>-IIIII-of-NNNNN.tfrecord``
for more (Magenta's commands write the name they are given). ``ShardedTFRecordWriter`` writes each
file under ``<final name>.tmp-XXXXXXXX``, fsyncs it and ``os.replace``s it to its final name
only when the whole write succeeded, so a final-named shard is always complete. A crash
leaves only ``*.tmp-*`` files, which the next writer with the same prefix deletes. Once the new
files are in place, the writer deletes the files the same name's other layouts left (another
shard count, or the one file against several shards), so that readers never see two runs.

Readers (:func:`list_files`) take a file, a glob, or the name given to a writer that wrote several
shards; they refuse a name whose files come from two runs (see :func:`list_files`).

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
import struct
import uuid
from typing import Callable, Iterable, Iterator, Optional, Union

from tfmusic.files import TEMP_MARK as _TEMP_MARK
from tfmusic.files import atomic_write_bytes, atomic_write_json  # noqa: F401  (re-exported)
from pipelines.errors import InputError

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
    return re.compile(re.escape(os.path.basename(prefix)) + r"-(\d{5})-of-(\d{5})" + re.escape(SHARD_SUFFIX))


def output_prefix(output_file: str) -> str:
    """The shard prefix of an output file name: the name without a trailing ``.tfrecord``."""
    output_file = os.fspath(output_file)
    return output_file[: -len(SHARD_SUFFIX)] if output_file.endswith(SHARD_SUFFIX) else output_file


def output_file_paths(output_file: str, num_shards: int) -> list[str]:
    """The files a writer given the output file name ``output_file`` makes: with one shard, exactly
    ``output_file``; with more, ``<output_prefix(output_file)>-IIIII-of-NNNNN.tfrecord``."""
    output_file = os.fspath(output_file)
    return [output_file] if num_shards == 1 else shard_paths(output_prefix(output_file), num_shards)


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


def remove_empty_folder(folder: str) -> None:
    """Deletes ``folder`` if it exists and is empty; leaves it (and says nothing) otherwise. How a run
    that stops takes back an output folder it created."""
    try:
        os.rmdir(folder)
    except OSError:
        pass


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
    renamed to its final name, then final-named shards of the same prefix with another
    shard count are deleted (and, with ``single_path``, that file when several shards were
    written); on an exception the temporary files are deleted and no final name is touched.

    Args:
      prefix: path prefix of the shards; its folder is created if needed.
      num_shards: number of output files, >= 1.
      compression: ``None``, ``"GZIP"`` or ``"ZLIB"``.
      single_path: the name the one file gets when ``num_shards`` is 1 (instead of
        ``<prefix>-00000-of-00001.tfrecord``); see :meth:`for_output_file`.

    Attributes:
      records_per_shard: list of counts, filled while writing.
      paths: final shard paths (valid after a clean exit).
    """

    def __init__(
        self, prefix: str, num_shards: int, compression: Optional[str] = None, single_path: Optional[str] = None
    ):
        if num_shards < 1:
            raise ValueError(f"num_shards must be >= 1, got {num_shards}")
        self.prefix = os.fspath(prefix)
        self.num_shards = int(num_shards)
        self.compression = compression
        self.single_path = os.fspath(single_path) if single_path is not None else None
        if self.single_path is not None and self.num_shards == 1:
            self.paths = [self.single_path]
        else:
            self.paths = shard_paths(self.prefix, self.num_shards)
        self.records_per_shard = [0] * self.num_shards
        self._token = uuid.uuid4().hex[:8]
        self._temp_paths = [p + _TEMP_MARK + self._token for p in self.paths]
        self._writers = None

    @classmethod
    def for_output_file(
        cls, output_file: str, num_shards: int, compression: Optional[str] = None
    ) -> "ShardedTFRecordWriter":
        """A writer of the output file name ``output_file`` (:func:`output_file_paths`): one shard is
        written to exactly that name, more to ``<output_prefix(output_file)>-IIIII-of-NNNNN.tfrecord``."""
        return cls(output_prefix(output_file), num_shards, compression, single_path=output_file)

    def open(self) -> "ShardedTFRecordWriter":
        """Deletes stale temporary files and opens one temporary file per shard.

        Raises:
          IsADirectoryError: the one file's name (``single_path``) is a folder.
        """
        import tensorflow as tf

        if self.paths == [self.single_path] and os.path.isdir(self.single_path):
            raise IsADirectoryError(f"{self.single_path}: is a folder; give the output a file name")
        folder = os.path.dirname(self.prefix)
        if folder:
            os.makedirs(folder, exist_ok=True)
        clean_temp_files(self.prefix)
        if self.single_path is not None:
            clean_stale_temp_files(self.single_path)
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
        """Closes, fsyncs and renames every shard to its final name, then deletes the files of the
        same name's other layouts (see the class); returns the final paths."""
        self._close_writers()
        for tmp in self._temp_paths:
            _fsync_path(tmp)
        for tmp, final in zip(self._temp_paths, self.paths):
            os.replace(tmp, final)
        remove_other_layouts(self.prefix, self.paths, self.single_path)
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


def remove_other_layouts(prefix: str, keep: Iterable[str], single_path: Optional[str] = None) -> list[str]:
    """Deletes the local final-named files of ``prefix`` that a run which wrote ``keep`` did not
    write: shards ``<prefix>-IIIII-of-NNNNN.tfrecord`` of other shard counts and, when given,
    the one-file output ``single_path`` (if it is a file). Paths on other filesystems
    (``gs://...``) are left alone. Returns the deleted paths."""
    prefix = os.fspath(prefix)
    folder = os.path.dirname(prefix) or "."
    if "://" in prefix or not os.path.isdir(folder):
        return []
    keep = {os.path.basename(os.fspath(p)) for p in keep}
    regex = _shard_regex(prefix)
    stale = [os.path.join(folder, n) for n in sorted(os.listdir(folder)) if regex.fullmatch(n) and n not in keep]
    if single_path is not None and os.path.basename(single_path) not in keep and os.path.isfile(single_path):
        stale.append(os.fspath(single_path))
    removed = []
    for path in stale:
        try:
            os.remove(path)
        except FileNotFoundError:
            continue
        removed.append(path)
    return removed


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


class ShardSetError(InputError, FileNotFoundError):
    """A name whose files are not one run's output: the one-file output beside shards of the same
    name, shards of two shard counts, or an incomplete set of shards. Also a ``FileNotFoundError``,
    so that callers which report "matches no file" report this instead."""


def _has_magic(pattern: str) -> bool:
    return re.search(r"[*?[]", pattern) is not None


def _shard_set(name: str, shards: list[str]) -> list[str]:
    """``shards`` (the files matching ``sharded_pattern(name)``) if they are one complete set."""
    regex = re.compile(r".*-(\d{5})-of-(\d{5})" + re.escape(SHARD_SUFFIX))
    by_count: dict = {}
    for path in shards:
        index, count = (int(g) for g in regex.fullmatch(os.path.basename(path)).groups())
        by_count.setdefault(count, set()).add(index)
    prefix = output_prefix(name)
    if len(by_count) > 1:
        counts = " and ".join(f"{prefix}-*-of-{n:05d}{SHARD_SUFFIX}" for n in sorted(by_count))
        raise ShardSetError(
            name, f"its shards come from two runs ({counts}); rerun the conversion or delete the stale ones"
        )
    [(count, indices)] = by_count.items()
    missing = [os.path.basename(shard_path(prefix, i, count)) for i in range(count) if i not in indices]
    if missing or max(indices) >= count:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        what = f"missing {shown}" if missing else "an index past the count"
        raise ShardSetError(name, f"its shards {prefix}-*-of-{count:05d}{SHARD_SUFFIX} are incomplete ({what})")
    return shards


def _resolve(pattern: str) -> list[str]:
    """The files one reader argument names (see :func:`list_files`); [] when none."""
    import tensorflow as tf

    def final(paths):
        return [f for f in paths if _TEMP_MARK not in os.path.basename(f)]

    files = final(tf.io.gfile.glob(pattern))
    if not files and _has_magic(pattern) and tf.io.gfile.exists(pattern):
        files = [pattern]  # a file name holding glob characters
    if files and _has_magic(pattern):
        return files  # a glob: the files it matches, as given
    if files and tf.io.gfile.isdir(pattern):
        return files  # a folder (check_records names the problem)
    shards = final(tf.io.gfile.glob(sharded_pattern(pattern)))
    if not files:
        return _shard_set(pattern, shards) if shards else []
    if shards:
        raise ShardSetError(
            pattern,
            f"both this file and {len(shards)} shard(s) {output_prefix(pattern)}-*-of-*{SHARD_SUFFIX} exist "
            "(outputs of two runs: one shard, then several, or the reverse); rerun the conversion or delete "
            "the stale ones",
        )
    return files


def list_files(file_pattern: Union[str, os.PathLike, Iterable[str]]) -> list[str]:
    """Sorted list of the files a reader argument (or a list of them) names.

    Each argument may be:

    - a file name (as ``convert_dir_to_note_sequences --output_file NAME`` writes with one shard);
    - a glob, e.g. ``ns-*-of-*.tfrecord`` (temporary files of unfinished writes never match);
    - the name given to a writer that wrote several shards: ``ns.tfrecord`` (or ``ns``) when
      nothing has that name stands for ``ns-IIIII-of-NNNNN.tfrecord`` (:func:`sharded_pattern`),
      which must then be one complete set of one shard count.

    Raises:
      ShardSetError: (an ``InputError`` and a ``FileNotFoundError``) a name whose files are not one
        run's: an exact file beside shards of the same name, shards of two shard counts, or an
        incomplete set.
      FileNotFoundError: nothing matches.
    """
    patterns = [os.fspath(file_pattern)] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    files = sorted({f for p in patterns for f in _resolve(os.fspath(p))})
    if not files:
        raise FileNotFoundError(f"no files match {patterns}")
    return files


def sharded_pattern(path: str) -> str:
    """The glob of the shards a sharded writer makes for the file name ``path``: ``ns.tfrecord`` ->
    ``ns-?????-of-?????.tfrecord`` (so ``convert_dir_to_note_sequences --output_file ns.tfrecord --num_shards 4``'s
    output is found under the name the user gave, as Magenta's tutorial chains the commands)."""
    return glob.escape(output_prefix(path)) + "-[0-9][0-9][0-9][0-9][0-9]-of-[0-9][0-9][0-9][0-9][0-9]" + SHARD_SUFFIX


def tfrecord_dataset(file_pattern, compression: Optional[str] = None):
    """A ``tf.data.TFRecordDataset`` of serialized records (scalar tf.string), files in
    sorted order, records in file order (deterministic)."""
    import tensorflow as tf

    return tf.data.TFRecordDataset(list_files(file_pattern), compression_type=compression or "")


def iter_records(file_pattern, compression: Optional[str] = None) -> Iterator[bytes]:
    """Yields the serialized records (bytes) of the matching files, in deterministic order."""
    for record in tfrecord_dataset(file_pattern, compression).as_numpy_iterator():
        yield bytes(record)


# --------------------------------------------------------------------------- checking data before use


def _crc32c_table() -> list:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TFRecord framing uses (pure Python; fine for a few records)."""
    crc = 0xFFFFFFFF
    table = _CRC32C_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC-32C of ``data``."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _open_binary(path: str):
    if "://" in path:
        import tensorflow as tf

        return tf.io.gfile.GFile(path, "rb")
    return open(path, "rb")


def _is_dir(path: str) -> bool:
    if "://" in path:
        import tensorflow as tf

        return tf.io.gfile.isdir(path)
    return os.path.isdir(path)


def _looks_like_text(data: bytes) -> bool:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\t\r\n" for c in text)


def first_record(path: str, full: bool = True) -> Optional[bytes]:
    """The first record of the TFRecord file ``path`` (None when the file holds no record), read and
    checked without TensorFlow ops (so it may run before a distribution strategy is made).

    Args:
      path: a local path or any ``tf.io.gfile`` path.
      full: also read the record and check its data CRC; False checks the 12-byte header only
        (and returns ``b""`` for a file that has a record).

    Raises:
      InputError: naming the file: not a TFRecord file (text, GZIP-compressed or other bytes), or
        one whose first record is cut short or corrupt.
    """
    with _open_binary(path) as f:
        header = f.read(12)
        if not header:
            return None
        if header[:2] == b"\x1f\x8b":
            raise InputError(path, "is GZIP-compressed; give uncompressed TFRecords")
        if len(header) < 12 or masked_crc32c(header[:8]) != struct.unpack("<I", header[8:12])[0]:
            kind = "a text file" if _looks_like_text(header) else "other bytes"
            raise InputError(path, f"not a TFRecord file ({kind}: its first bytes are no record header)")
        if not full:
            return b""
        (length,) = struct.unpack("<Q", header[:8])
        data = f.read(length)
        footer = f.read(4)
    if len(data) < length or len(footer) < 4:
        raise InputError(path, f"truncated TFRecord file: its first record ({length} bytes) is cut short")
    if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
        raise InputError(path, "corrupt TFRecord file: its first record fails its CRC check")
    return data


def check_records(
    file_pattern,
    validate: Optional[Callable[[bytes], Optional[str]]] = None,
    allow_empty: bool = False,
) -> list[str]:
    """Checks that training data can be used before anything is built on it; returns its files.

    Every matching file must be a TFRecord file (its first record header is read: an empty
    file is an empty TFRecord file), and the first file that holds a record must hold a readable
    one, which ``validate`` (``record bytes -> problem or None``) may check further (the kind
    of record, its sizes). No TensorFlow op runs, so this may precede a distribution strategy.

    Args:
      file_pattern: a file, glob, sharded name (see :func:`list_files`) or a list of them.
      validate: optional check of the first record.
      allow_empty: accept files that hold no record at all.

    Raises:
      InputError: naming the pattern or the file and the problem: nothing matches, a folder,
        not a TFRecord file (e.g. text), a truncated or corrupt first record, no record at all,
        or a record that ``validate`` refuses.
    """
    patterns = [os.fspath(file_pattern)] if isinstance(file_pattern, (str, os.PathLike)) else list(file_pattern)
    name = patterns[0] if len(patterns) == 1 else ", ".join(patterns)
    try:
        files = list_files(patterns)
    except ShardSetError:
        raise
    except FileNotFoundError:
        raise InputError(name, "matches no file") from None
    folders = [f for f in files if _is_dir(f)]
    if folders:
        inside = os.path.join(folders[0], "*" + SHARD_SUFFIX)
        try:
            has_records = bool(list_files(inside))
        except FileNotFoundError:
            has_records = False
        if not has_records:
            raise InputError(folders[0], f"is a folder, and it holds no {SHARD_SUFFIX} files")
        raise InputError(folders[0], f"is a folder; name its TFRecord files instead, e.g. '{inside}'")
    checked = None
    for path in files:
        try:
            record = first_record(path, full=checked is None)
        except OSError as e:
            raise InputError(path, f"cannot read file ({e.strerror or e})") from None
        if record is None or checked is not None:
            continue
        checked = path
        problem = validate(record) if validate is not None else None
        if problem:
            raise InputError(path, problem)
    if checked is None and not allow_empty:
        if len(files) == 1:
            raise InputError(files[0], "holds no records (an empty TFRecord file)")
        raise InputError(name, f"the {len(files)} files it matches hold no records (empty TFRecord files)")
    return files


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


def counters_document(counters: Counters, shards: Iterable[str]) -> dict:
    """A conversion's summary JSON: ``counters.to_dict()`` plus the file names of its shards (sorted)."""
    data = counters.to_dict()
    data["shards"] = sorted(os.path.basename(s) for s in shards)
    return data
