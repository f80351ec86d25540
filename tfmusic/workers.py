"""Worker processes that stop at once on Ctrl-C, and commands that then exit 130 with one line.

A terminal's Ctrl-C sends SIGINT to every process of the foreground job: the command and each of
its workers. Left alone, every worker prints a ``KeyboardInterrupt`` traceback, ``multiprocessing``
starts new workers in place of the dead ones, and a pool that is closed and joined goes on with
the queued work: the command needs a second Ctrl-C and leaves part of its output behind.

:func:`worker_pool` gives a ``spawn`` pool whose workers ignore SIGINT, so the command's own process
alone sees it (as ``KeyboardInterrupt``) and terminates the workers on its way out; :func:`results` /
:func:`imap_unordered` wait for the pool's results in short steps, so that the main thread notices
the Ctrl-C at once (Python runs signal handlers in the main thread only, when it wakes up).
:func:`call_interruptibly` does the same for a call that blocks (a Beam pipeline run).
:func:`stop_after_interrupt` stops worker processes that others started (Apache Beam's SDK workers,
see :func:`pipelines.beam.run_pipeline`).
:func:`exit_on_interrupt` wraps a command's ``main``: a ``KeyboardInterrupt`` that reaches it
(after the command's own clean-up has run) prints one line and returns :data:`INTERRUPTED`.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Callable, Iterator, List, Optional

#: The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 128 + signal.SIGINT


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _init_worker(initializer: Optional[Callable], initargs: tuple) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from tfmusic import cli_support

    cli_support.start_worker()  # as quiet as the command that started it (TensorFlow's start-up lines)
    if initializer is not None:
        initializer(*initargs)


@contextlib.contextmanager
def sigint_ignored_by_children() -> Iterator[None]:
    """Within the block, processes this one starts inherit an ignored SIGINT (an ignored signal stays
    ignored across ``exec``, and Python keeps it so); this process's own handler is back after it.
    Keep the block short (starting processes): a Ctrl-C within it is lost. No-op outside the main thread."""
    if not _in_main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Within the block a Ctrl-C waits: it is raised (as ``KeyboardInterrupt``) when the block ends,
    so that a short step that moves finished output into place is never cut in half. No-op outside
    the main thread."""
    if not _in_main_thread():
        yield
        return
    pending = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def start_pool(processes: int, initializer: Optional[Callable] = None, initargs: tuple = ()):
    """A ``multiprocessing`` pool (``spawn`` context) whose workers ignore SIGINT; the caller terminates it
    (``pool.terminate()``) when it stops early. :func:`worker_pool` is the context-manager form."""
    with sigint_ignored_by_children():
        return multiprocessing.get_context("spawn").Pool(processes, _init_worker, (initializer, tuple(initargs)))


@contextlib.contextmanager
def worker_pool(processes: int, initializer: Optional[Callable] = None, initargs: tuple = ()):
    """A ``multiprocessing`` pool (``spawn`` context) whose workers ignore SIGINT.

    Leaving the block with an exception (``KeyboardInterrupt`` included) terminates the workers at
    once; a clean exit closes the pool and waits for them.

    Args:
      processes: number of workers.
      initializer, initargs: run in each worker after it set SIGINT aside (picklable).
    """
    pool = start_pool(processes, initializer, initargs)
    try:
        yield pool
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    pool.close()
    pool.join()


def results(iterator, poll: float = 0.2) -> Iterator:
    """The items of a pool's ``imap`` / ``imap_unordered`` iterator, waited for ``poll`` seconds at a time.

    A Ctrl-C is often delivered to one of the pool's threads rather than to the main thread, which
    Python then interrupts only when it wakes up: waiting in short steps makes that within ``poll``
    seconds, not when the next result happens to come.
    """
    while True:
        try:
            yield iterator.next(timeout=poll)
        except multiprocessing.TimeoutError:
            continue
        except StopIteration:
            return


def _apply_to_chunk(task) -> list:
    fn, chunk = task
    return [fn(item) for item in chunk]


def imap_unordered(pool, fn: Callable, items, chunksize: int = 1) -> Iterator:
    """``pool.imap_unordered(fn, items, chunksize)`` through :func:`results` (Python's own returns a
    plain generator for ``chunksize`` > 1, which cannot wait in short steps): items go to the workers
    ``chunksize`` at a time, results come back as each chunk is done."""
    items = list(items)
    chunks = [(fn, items[i : i + chunksize]) for i in range(0, len(items), max(1, chunksize))]
    for done in results(pool.imap_unordered(_apply_to_chunk, chunks)):
        yield from done


def call_interruptibly(fn: Callable, name: str = "worker-calls"):
    """Calls ``fn()`` in a daemon thread while this (main) thread waits for it in short steps, so that a
    Ctrl-C raises ``KeyboardInterrupt`` here at once even if ``fn`` is blocked (e.g. a runner waiting on
    its worker processes); ``fn``'s thread is then left behind. Returns or raises what ``fn`` does.
    Outside the main thread ``fn()`` is simply called."""
    global _LEFT_BEHIND
    if not _in_main_thread():
        return fn()
    outcome = {}

    def target():
        try:
            outcome["value"] = fn()
        except BaseException as e:  # handed to the waiting thread
            outcome["error"] = e

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        _LEFT_BEHIND = True
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def child_processes(pid: Optional[int] = None) -> List[int]:
    """The ids of the processes descended from ``pid`` (default: this one), children first; read from
    ``/proc`` (empty where there is none)."""
    pid = os.getpid() if pid is None else pid
    parents = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(0), []):
            out.append(child)
            todo.append(child)
    return out


def stop_child_processes(grace: float = 3.0) -> None:
    """Sends SIGTERM to every descendant of this process, then SIGKILL to those still there after
    ``grace`` seconds."""
    children = child_processes()
    for pid in children:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and set(children) & set(child_processes()):
        time.sleep(0.05)
    for pid in set(children) & set(child_processes()):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def stop_after_interrupt() -> None:
    """What a command does on Ctrl-C when its worker processes are not its own pool's: silence what its
    threads print as they lose their workers (uncaught exceptions, log records; the process is on
    its way out), then stop every descendant process (:func:`stop_child_processes`)."""
    import logging

    global _LEFT_BEHIND
    _LEFT_BEHIND = True
    threading.excepthook = lambda args: None
    logging.disable(logging.CRITICAL)
    stop_child_processes()


#: Set by :func:`stop_after_interrupt`: threads that lost their workers are left behind.
_LEFT_BEHIND = False


def interrupted(prog: str, what: str = "no partial output is left") -> int:
    """What a command does when a ``KeyboardInterrupt`` reaches its ``main`` (its clean-up has run): one
    line on stderr (``"<prog>: interrupted; <what>"``); returns the exit status :data:`INTERRUPTED` (130).

    If threads were left behind (:func:`stop_after_interrupt`), the process ends with that status as
    soon as Python starts shutting down (``os._exit`` from an ``atexit`` hook, output flushed): threads
    and gRPC servers that lost their workers (Apache Beam's) can hold up the rest of the shutdown for
    many seconds.
    """
    import atexit

    print(f"\n{prog}: interrupted; {what}", file=sys.stderr, flush=True)
    if _LEFT_BEHIND:
        atexit.register(_exit_now, INTERRUPTED)
    return INTERRUPTED


def _exit_now(status: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def exit_on_interrupt(prog: str, what: str = "no partial output is left") -> Callable:
    """Decorator for a command's ``main``: a ``KeyboardInterrupt`` ends it as :func:`interrupted` says."""

    def deco(main: Callable) -> Callable:
        @functools.wraps(main)
        def wrapper(*args, **kwargs):
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:
                return interrupted(prog, what)

        return wrapper

    return deco
