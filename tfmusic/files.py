"""Atomic file writes: a file appears under its final name complete, or not at all.

Everything the project writes (configs, wavs, JSON summaries, normalizers, shards' metadata,
single TFRecord files) goes through :class:`AtomicFile`: the data is written to
``<name>.tmp-XXXXXXXX`` in the destination folder, fsynced, then ``os.replace``d onto the final
name. A crash leaves at most a temporary file, never a half-written final one. Python file
objects use :func:`atomic_open` (or the ``atomic_write_*`` shorthands); writers that want a path
of their own (``tf.io.TFRecordWriter``) write ``AtomicFile(path).temp_path``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import IO, Any, Iterator, Optional, Union

PathLike = Union[str, os.PathLike]
TEMP_MARK = ".tmp-"


class AtomicFile:
    """One file written under a temporary name beside ``path``, then renamed onto ``path``.

    The temporary file ``<name>.tmp-XXXXXXXX`` is made (empty) in ``path``'s folder, which is
    created if missing; any writer fills ``temp_path`` and closes it. :meth:`commit` gives it the
    mode ``open()`` would have given a new file, fsyncs it and ``os.replace``s it onto ``path``;
    :meth:`abort` deletes it and leaves ``path`` as it was. As a context manager: commit on a
    clean exit, abort on an exception (Ctrl-C included).

    Attributes:
      path: the final name.
      temp_path: where the data goes until :meth:`commit`.
    """

    def __init__(self, path: PathLike):
        self.path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd, self.temp_path = tempfile.mkstemp(prefix=os.path.basename(self.path) + TEMP_MARK, dir=directory)
        os.close(fd)

    def commit(self) -> str:
        """Renames the (closed) temporary file onto ``path``, durably; returns ``path``.

        On an error the temporary file is deleted and ``path`` is left as it was.
        """
        try:
            os.chmod(self.temp_path, _default_mode())  # mkstemp's 0600 would follow the file to its final name
            fsync_path(self.temp_path)
            os.replace(self.temp_path, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Deletes the temporary file (if it is still there)."""
        if os.path.exists(self.temp_path):
            os.remove(self.temp_path)

    def __enter__(self) -> "AtomicFile":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb", encoding: Optional[str] = None) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on a clean exit it replaces ``path``.

    Missing parent folders are created. On an exception the temporary file is removed and
    ``path`` is left as it was. ``mode`` is ``"wb"`` or ``"w"`` (text, UTF-8 by default).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes only ('wb' or 'w'), got mode {mode!r}")
    with AtomicFile(path) as target:
        with open(target.temp_path, mode, encoding=(encoding or "utf-8") if mode == "w" else None) as f:
            yield f


def fsync_path(path: PathLike) -> None:
    """Flushes the file ``path`` (written and closed by any writer) to the disk."""
    fd = os.open(os.fspath(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _default_mode() -> int:
    """0666 less the process's umask: the mode ``open()`` would have given a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_write_json(path: PathLike, obj: Any, indent: Optional[int] = 1) -> None:
    """Write ``obj`` as JSON (sorted keys, trailing newline) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True) + "\n")
