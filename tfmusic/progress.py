"""Progress bars on a terminal, plain lines in log files: the one place that makes them.

:func:`progress_bar` takes tqdm's arguments. On a terminal (the stream is a TTY) it is a ``tqdm``
bar; in a Jupyter / Colab kernel it is ``tqdm.auto``'s (a widget where ipywidgets is installed);
otherwise (output redirected to a file or a pipe, as in CI logs) it is a :class:`PlainProgress`,
which writes one plain line per ``every_percent`` (default 10 %) of the total, and never a carriage
return: a run logs at most 100 / ``every_percent`` + 1 lines. Without a known total it writes a
line every ``interval`` seconds (default 60) and one at the end.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator, Optional, TextIO

#: Default spacing of the lines :class:`PlainProgress` writes, in percent of the total.
EVERY_PERCENT = 10
#: Default spacing, in seconds, of the lines written when the total is unknown.
INTERVAL_SECONDS = 60.0


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # noqa: BLE001  (any IPython oddity: not a notebook)
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


def _format_number(x: float) -> str:
    return f"{x:.3g}" if x < 1000 else f"{x:,.0f}"


class PlainProgress:
    """tqdm's interface (``update``, ``set_postfix``, ``set_postfix_str``, ``set_description``, ``close``,
    iteration, ``n``, ``total``, context manager) writing plain lines to ``file``: one at each
    ``every_percent`` of ``total`` crossed (and at the end, if not at a boundary), or, with no total,
    every ``interval`` seconds and at the end. No carriage return, no ANSI codes."""

    def __init__(
        self,
        iterable: Optional[Iterable] = None,
        desc: Optional[str] = None,
        total: Optional[float] = None,
        unit: str = "it",
        initial: float = 0,
        disable: bool = False,
        file: Optional[TextIO] = None,
        every_percent: float = EVERY_PERCENT,
        interval: float = INTERVAL_SECONDS,
        **_ignored: Any,
    ):
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        self.iterable = iterable
        self.desc = desc or ""
        self.total = total
        self.unit = unit
        self.n = initial
        self.disable = disable
        self.file = file
        self.every_percent = max(float(every_percent), 1e-9)
        self.interval = interval
        self.postfix = ""
        self._start_n = initial
        self._start = self._last_time = time.monotonic()
        self._last_mark = self._mark(initial)
        self._closed = False
        self._wrote_end = False

    # ------------------------------------------------------------------ tqdm's interface

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("PlainProgress: nothing to iterate")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> "PlainProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        if self.disable or self._closed:
            self.n += n
            return
        self.n += n
        mark = self._mark(self.n)
        if self.total:
            if mark > self._last_mark:
                self._last_mark = mark
                self._write()
        elif time.monotonic() - self._last_time >= self.interval:
            self._write()

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        items = dict(ordered_dict or {})
        items.update(kwargs)
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def set_description(self, desc: Optional[str] = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def write(self, text: str) -> None:
        print(text, file=self.file or sys.stderr, flush=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self.disable and not self._wrote_end and self.n != self._start_n:
            self._write(final=True)

    # ------------------------------------------------------------------ lines

    def _mark(self, n: float) -> int:
        if not self.total:
            return 0
        return int(min(n, self.total) * 100 / self.total // self.every_percent)

    def _write(self, final: bool = False) -> None:
        now = time.monotonic()
        self._last_time = now
        elapsed = now - self._start
        done = self.n - self._start_n
        rate = done / elapsed if elapsed > 0 else 0.0
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            pct = 100.0 * self.n / self.total
            count = f"{pct:3.0f}% {_format_number(self.n)}/{_format_number(self.total)} {self.unit}"
            if self.n >= self.total:
                self._wrote_end = True
        else:
            count = f"{_format_number(self.n)} {self.unit}"
            self._wrote_end = final
        line = f"{head}{count} [{elapsed:.0f} s, {rate:.3g} {self.unit}/s]"
        if self.postfix:
            line += f" {self.postfix}"
        stream = self.file or sys.stderr
        try:
            stream.write(line + "\n")
            stream.flush()
        except (OSError, ValueError):
            pass


def progress_bar(
    iterable: Optional[Iterable] = None,
    *,
    file: Optional[TextIO] = None,
    every_percent: float = EVERY_PERCENT,
    interval: float = INTERVAL_SECONDS,
    **kwargs: Any,
):
    """A tqdm bar on a terminal or in a notebook, else a :class:`PlainProgress` (see the module doc).

    ``iterable`` and ``kwargs`` are tqdm's (``total``, ``desc``, ``unit``, ``initial``, ``disable``,
    ``dynamic_ncols``...); ``file`` is the stream (default ``sys.stderr``, as tqdm's).
    """
    stream = file if file is not None else sys.stderr
    if _is_tty(stream):
        from tqdm import tqdm

        return tqdm(iterable, file=file, **kwargs)
    if file is None and _in_notebook():
        import importlib.util

        if importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.auto import tqdm  # a widget
        else:
            from tqdm import tqdm  # Jupyter renders its carriage returns

        return tqdm(iterable, **kwargs)
    return PlainProgress(iterable, file=file, every_percent=every_percent, interval=interval, **kwargs)
