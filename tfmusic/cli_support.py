"""What every console script does first: quiet third-party start-up noise, and plain-text help.

Every command's ``main`` calls :func:`start` before anything else (and before it imports TensorFlow,
note-seq or librosa, which every command does only after ``argparse`` has parsed, so ``--help``
answers at once), and builds its parser with :func:`make_parser` (or adds :func:`add_verbose_flag`).

Unless ``--verbose`` is given (or ``TFMUSIC_VERBOSE=1`` is set), :func:`start` keeps third-party lines
off the terminal, so that a command's own output comes first:

* TensorFlow's C++ log: ``TF_CPP_MIN_LOG_LEVEL`` is set to 2 (errors only) on a machine with a GPU
  device node (``/dev/nvidia*``, ``/dev/dxg``, ``/dev/kfd``) and to 3 elsewhere (or where the user's
  ``CUDA_VISIBLE_DEVICES`` hides every GPU), where CUDA's ``failed call to cuInit`` is the only error
  TensorFlow logs at start-up. What TensorFlow's
  libraries print while they load (absl's "All log messages before absl::InitializeLog() ...",
  oneDNN, ``cudart_stub``, ``cpu_feature_guard``), which no log level stops, is discarded: file
  descriptor 2 points elsewhere while ``import tensorflow`` runs (an import that fails shows all of
  it). Devices are never hidden: ``CUDA_VISIBLE_DEVICES`` is left alone.
* TensorFlow's and absl's Python loggers show errors only (deprecation notes, retracing notes).
* pyfluidsynth's "'fluidsynth' was found at ..." line, which it prints to standard output while it is
  imported wherever the environment sets ``CI`` (pretty_midi imports it), is discarded.
* Warnings raised inside third-party packages (:data:`THIRD_PARTY`), e.g. pydub's "Couldn't find
  ffmpeg or avconv" that note-seq's import triggers, are ignored.
* Worker processes follow their command: ``tfmusic.workers`` pools call :func:`start_worker` in each
  worker, and ``PYTHONWARNINGS`` carries the pydub filter to any child interpreter.

A ``TF_CPP_MIN_LOG_LEVEL`` the user set is kept, with TensorFlow's start-up lines and Python log:
the user chose TensorFlow's verbosity. ``--verbose`` changes nothing at all.

This module imports only the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings
from typing import Iterator, Optional, Sequence

#: Set to "1" by ``--verbose`` (and inherited by worker processes): no line is kept back.
VERBOSE_ENV = "TFMUSIC_VERBOSE"
#: Set by :func:`start` when it quiets this process ("tf": TensorFlow's log level is ours, "1": the
#: user's), so that worker processes follow it (:func:`start_worker`).
QUIET_ENV = "TFMUSIC_QUIET"
#: Packages whose own warnings are hidden unless ``--verbose``.
THIRD_PARTY = (
    "pydub",
    "keras",
    "tensorflow",
    "tf_keras",
    "absl",
    "tensorboard",
    "librosa",
    "audioread",
    "note_seq",
    "pretty_midi",
    "music21",
    "mido",
    "google.protobuf",
    "apache_beam",
    "numba",
    "sklearn",
    "matplotlib",
    "soundfile",
    "h5py",
    "jax",
    "tqdm",
)
#: The pydub warning note-seq's import raises, as a ``-W`` / ``PYTHONWARNINGS`` entry (for spawned workers).
PYDUB_WARNING_OPTION = "ignore:Couldn't find ffmpeg or avconv:RuntimeWarning:pydub.utils"
VERBOSE_HELP = "show third-party log lines and warnings (TensorFlow start-up, absl, pydub...)"
_GPU_DEVICE_GLOBS = ("/dev/nvidia[0-9]*", "/dev/nvidiactl", "/dev/dxg", "/dev/kfd")
_user_tf_level: Optional[bool] = None


def is_verbose() -> bool:
    """True when ``--verbose`` was given to this command (or ``TFMUSIC_VERBOSE=1`` is set)."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def wants_verbose(argv: Optional[Sequence[str]] = None) -> bool:
    """``--verbose`` among ``argv`` (default ``sys.argv[1:]``) before a ``--``, or ``TFMUSIC_VERBOSE=1``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" in args:
        args = args[: args.index("--")]
    return "--verbose" in args or is_verbose()


def start(argv: Optional[Sequence[str]] = None) -> bool:
    """The first call of every command's ``main``: quiet third-party lines unless ``--verbose``.

    ``argv`` is what ``main`` was given (None: ``sys.argv[1:]``). Call it before TensorFlow is
    imported; later it still quiets the warnings and loggers. Idempotent. Returns True if verbose.
    """
    if wants_verbose(argv):
        os.environ[VERBOSE_ENV] = "1"
        return True
    quiet_third_party()
    return False


def has_gpu_device() -> bool:
    """Whether a GPU device node exists (NVIDIA, WSL's ``/dev/dxg``, ROCm's ``/dev/kfd``) and the user did not
    hide every GPU (``CUDA_VISIBLE_DEVICES`` empty or -1, where CUDA's init fails as on a CPU machine)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    return any(glob.glob(pattern) for pattern in _GPU_DEVICE_GLOBS)


def quiet_third_party() -> None:
    """Quiet TensorFlow's C++ and Python logs, absl's and third-party warnings (see the module doc)."""
    global _user_tf_level
    ignore_third_party_warnings()
    _install_quiet_import("fluidsynth", discarded_stdout)
    if _user_tf_level is None:  # decided once: later calls see the level this module set
        _user_tf_level = "TF_CPP_MIN_LOG_LEVEL" in os.environ and os.environ.get(QUIET_ENV) != "tf"
    if _user_tf_level:
        os.environ.setdefault(QUIET_ENV, "1")
        return  # the user's own level: TensorFlow's lines are theirs to see
    os.environ[QUIET_ENV] = "tf"
    if "tensorflow" in sys.modules:
        _quiet_python_loggers()
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2" if has_gpu_device() else "3"
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # a plain logger: TensorFlow adds its handler
    _install_quiet_import("tensorflow", discarded_stderr_fd)


def start_worker() -> None:
    """For a worker process's initializer: quiet it as its parent command was (nothing if it was not)."""
    if os.environ.get(QUIET_ENV) and not is_verbose():
        quiet_third_party()


def ignore_third_party_warnings() -> None:
    """Ignore warnings raised inside :data:`THIRD_PARTY` packages, here and in ``spawn`` workers (pydub's)."""
    pattern = "(" + "|".join(re.escape(name) for name in THIRD_PARTY) + r")(\.|$)"
    warnings.filterwarnings("ignore", module=pattern)
    options = [o for o in os.environ.get("PYTHONWARNINGS", "").split(",") if o]
    if PYDUB_WARNING_OPTION not in options:
        os.environ["PYTHONWARNINGS"] = ",".join(options + [PYDUB_WARNING_OPTION])


def _quiet_python_loggers() -> None:
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.set_verbosity(absl_logging.ERROR)


def _install_quiet_import(name: str, quiet) -> None:
    """Until ``name`` is first imported, its import runs inside the context manager ``quiet()``."""
    if name in sys.modules:
        return
    if not any(isinstance(f, _QuietImport) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport(name, quiet))


@contextlib.contextmanager
def discarded_stdout() -> Iterator[None]:
    """Within the block, what Python code prints to ``sys.stdout`` is dropped (kept and written back if it raises)."""
    import io

    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink):
            yield
    except BaseException:
        sys.stdout.write(sink.getvalue())
        raise


@contextlib.contextmanager
def discarded_stderr_fd() -> Iterator[None]:
    """Within the block, what anything (C++ libraries included) writes to file descriptor 2 is kept in a
    temporary file; it is dropped if the block succeeds and written back if it raises."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to quiet
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                sink.seek(0)
                with contextlib.suppress(OSError):
                    os.write(2, sink.read())


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader of a module inside its finder's quieting context, then retires the finder."""

    def __init__(self, loader, finder: "_QuietImport"):
        self._loader = loader
        self._finder = finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        # The module keeps its real loader; only this first execution is wrapped.
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        try:
            with self._finder.quiet():
                self._loader.exec_module(module)
        finally:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self._finder)
        if self._finder.name == "tensorflow":
            _quiet_python_loggers()


class _QuietImport(importlib.abc.MetaPathFinder):
    """Answers for the module ``name`` until it is imported: its first import runs inside ``quiet()``
    (``tensorflow``: file descriptor 2 set aside; ``fluidsynth``: standard output dropped).
    (A mere ``importlib.util.find_spec(name)`` probe leaves it in place.)"""

    def __init__(self, name: str, quiet):
        self.name = name
        self.quiet = quiet
        self._busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name or self._busy or is_verbose():
            return None
        self._busy = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self._busy = False
        if spec is None or spec.loader is None:
            return None
        spec.loader = _QuietLoader(spec.loader, self)
        return spec


# --------------------------------------------------------------------------- help text

_ROLE = re.compile(
    r":(?:[a-z]+:)?(?:func|class|mod|meth|attr|data|obj|exc|const|ref|doc|envvar|term|file|"
    r"program|option|command|samp):`~?([^`<]*?)(?:\s*<[^>]*>)?`"
)
_LITERAL = re.compile(r"``(.+?)``", re.S)
_INTERPRETED = re.compile(r"(?<![\w`])`([^`\n]+)`(?![\w`])")
_LITERAL_BLOCK = re.compile(r"(\S)\s*::$", re.M)


def plain_text(text: Optional[str]) -> Optional[str]:
    """reST markup of a docstring turned into plain text for ``--help``.

    ``:func:`x``` / ``:class:`~a.B``` -> ``x`` / ``B``; double-backtick literals and single-backtick
    names lose their backticks; a paragraph's closing ``::`` (literal block) becomes ``:``.
    Indentation, line breaks and everything else are kept.
    """
    if not text:
        return text

    def role(m: "re.Match") -> str:
        name = m.group(1).strip()
        return name.rsplit(".", 1)[-1] if m.group(0).find("`~") >= 0 else name

    text = _ROLE.sub(role, text)
    text = _LITERAL.sub(r"\1", text)
    text = _INTERPRETED.sub(r"\1", text)
    return _LITERAL_BLOCK.sub(r"\1:", text)


#: What :func:`has_markup` looks for in help text (a test checks every command's ``--help`` with it).
MARKUP = re.compile(r"``|:(?:func|class|mod|meth|attr|data|obj|exc|ref):`")


def has_markup(text: str) -> bool:
    """Whether ``text`` still holds reST roles or double-backtick literals."""
    return bool(MARKUP.search(text))


def add_verbose_flag(parser: argparse.ArgumentParser, suppress_default: bool = False) -> None:
    """``--verbose`` (see :func:`start`, which reads it before parsing). ``suppress_default``: for
    subcommand parsers, so that the main parser's value is not overwritten."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help=VERBOSE_HELP,
        **({"default": argparse.SUPPRESS} if suppress_default else {}),
    )


def make_parser(prog: str, description: Optional[str] = None, raw: bool = True, **kwargs) -> argparse.ArgumentParser:
    """A command's ``argparse.ArgumentParser``: ``description`` (e.g. the module docstring) as plain text
    (:func:`plain_text`; its line breaks kept when ``raw``), and ``--verbose``."""
    if raw:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
    parser = argparse.ArgumentParser(prog=prog, description=plain_text(description), **kwargs)
    add_verbose_flag(parser)
    return parser
