"""Reading foreign, name-based TF1 checkpoints and porting them strictly into Keras weights.

Magenta's ``.mag`` bundles hold single-file V1 checkpoints; tensor2tensor writes V2 ones.
:func:`read_checkpoint` reads either (a path prefix, a V1 file, or raw V1 bytes) into a
``{name: numpy array}`` dict without building or importing any graph.

:class:`WeightPorter` is the KerasHub-style ``port_weight(keras_var, foreign_name, transform)``
primitive, made strict: it records every foreign variable asked for but absent, every value that
does not fit its Keras variable, every foreign variable left unused (except those matched by
``ignore`` patterns, e.g. optimizer slots) and every Keras variable never assigned, and
:meth:`WeightPorter.finish` reports them all at once: a :class:`PortReport`, raised inside a
:class:`PortingError` (``error.report``) when anything does not fit, so callers read the lists
instead of the message.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import tempfile
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class Misfit:
    """A foreign value that cannot become its Keras variable.

    Attributes:
      name: the foreign variable (or what the value was made from, e.g. ``.../weights_0..15``).
      target: the Keras variable's path.
      found: what the value has, e.g. ``shape (3, 2)`` or ``dtype object``.
      needed: what the variable needs, e.g. ``(2, 3)`` or ``numbers``.
    """

    name: str
    target: str
    found: str
    needed: str

    def __str__(self) -> str:
        return f"{self.name} has {self.found}, Keras variable {self.target} needs {self.needed}"


@dataclasses.dataclass(frozen=True)
class PortReport:
    """What a port did: :meth:`WeightPorter.finish`'s result, and ``PortingError.report``.

    Attributes:
      source: the checkpoint's name.
      assigned: how many Keras variables received a value.
      missing: foreign names asked for and absent, in the order asked.
      misshapen: values of the wrong shape or kind (:class:`Misfit`), in the order met.
      unused: foreign names neither used nor ignored, sorted.
      unassigned: Keras variables that received no value, sorted.
    """

    source: str
    assigned: int = 0
    missing: Tuple[str, ...] = ()
    misshapen: Tuple[Misfit, ...] = ()
    unused: Tuple[str, ...] = ()
    unassigned: Tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every foreign variable was used or ignored and every Keras variable assigned."""
        return not (self.missing or self.misshapen or self.unused or self.unassigned)

    def message(self) -> str:
        """One line naming the source and every problem (empty problems: a line saying all fit)."""
        problems = []
        if self.missing:
            problems.append("missing checkpoint variables: " + ", ".join(self.missing))
        problems += [str(m) for m in self.misshapen]
        if self.unused:
            problems.append("unused checkpoint variables: " + ", ".join(self.unused))
        if self.unassigned:
            problems.append("Keras variables left unassigned: " + ", ".join(self.unassigned))
        return f"{self.source}: " + ("; ".join(problems) or f"all {self.assigned} variables ported")


class PortingError(ValueError):
    """A foreign checkpoint that does not fit the Keras model (missing, extra or misshapen variables).

    ``report``: the :class:`PortReport` listing every misfit when the error comes from
    :meth:`WeightPorter.finish`; None for a checkpoint refused before porting (e.g. an architecture
    that cannot be inferred).
    """

    def __init__(self, message: str, report: Optional[PortReport] = None):
        super().__init__(message)
        self.report = report


class CheckpointReadError(ValueError):
    """A checkpoint that cannot be read (missing, truncated or not a checkpoint)."""


def read_checkpoint(source, name: str = "") -> Dict[str, np.ndarray]:
    """All variables of a TF1/TF2 name-based checkpoint as ``{name: array}``.

    Args:
      source: a checkpoint path prefix (V2: ``model.ckpt-100``), a single-file V1 checkpoint path,
        or the raw bytes of a single-file V1 checkpoint (what a ``.mag`` bundle carries).
      name: how to call the input in error messages (defaults to the path).

    Raises:
      CheckpointReadError: naming the input, when it is missing or not a readable checkpoint.
    """
    if isinstance(source, (bytes, bytearray)):
        label = name or "<checkpoint bytes>"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.ckpt")
            with open(path, "wb") as f:
                f.write(bytes(source))
            return _read_path(path, label)
    return _read_path(os.fspath(source), name or os.fspath(source))


def _read_path(path: str, label: str) -> Dict[str, np.ndarray]:
    try:
        reader = tf.train.load_checkpoint(path)
        shapes = reader.get_variable_to_shape_map()
        return {k: np.asarray(reader.get_tensor(k)) for k in shapes}
    except Exception as e:  # noqa: BLE001  (TF's C++ reader surfaces corrupt files as OpError, ValueError,
        # IndexError ("Read less bytes than requested"), RuntimeError, MemoryError...)
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointReadError(f"{label}: not a readable TensorFlow checkpoint ({message})") from e


class _V1BannerFilter(logging.Filter):
    """Drops the six lines of TensorFlow's "V1 checkpoint format has been deprecated" banner, which
    ``Saver.save`` logs on every V1 save: V1 is what a ``.mag`` must hold, so the advice does not apply."""

    LINES = frozenset(
        (
            "*" * 55,
            "TensorFlow's V1 checkpoint format has been deprecated.",
            "Consider switching to the more efficient V2 format:",
            "   `tf.train.Saver(write_version=tf.train.SaverDef.V2)`",
            "now on by default.",
        )
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return str(record.msg) not in self.LINES


def write_v1_checkpoint(variables: Dict[str, np.ndarray], path: str) -> str:
    """Write ``{name: array}`` as a single-file V1 checkpoint at ``path`` (TF1 ``Saver`` in a graph).

    This is the format inside Magenta's ``.mag`` bundles; used to write fixtures and bundles.
    TensorFlow's V1-deprecation banner is not logged (unless a command runs with ``--verbose``).
    Returns ``path``.
    """
    from tfmusic import cli_support

    graph = tf.Graph()
    with graph.as_default():
        tf_vars = [tf.compat.v1.Variable(np.asarray(v), name=k) for k, v in variables.items()]
        saver = tf.compat.v1.train.Saver(
            {k: v for k, v in zip(variables, tf_vars)}, sharded=False, write_version=tf.compat.v1.train.SaverDef.V1
        )
        banner = None if cli_support.is_verbose() else _V1BannerFilter()
        logger = tf.get_logger()
        if banner is not None:
            logger.addFilter(banner)
        try:
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                saver.save(sess, path, write_meta_graph=False, write_state=False)
        finally:
            if banner is not None:
                logger.removeFilter(banner)
    return path


Transform = Callable[[np.ndarray], np.ndarray]


def variable_shape(foreign: Dict[str, np.ndarray], name: str, source: str = "checkpoint") -> Tuple[int, ...]:
    """The shape of foreign variable ``name`` (what converters infer architectures from).

    Raises :class:`PortingError` naming ``source`` when the checkpoint lacks ``name``.
    """
    if name not in foreign:
        raise PortingError(f"{source}: variable {name!r} is missing")
    return tuple(np.shape(foreign[name]))


class WeightPorter:
    """Assigns foreign checkpoint arrays to Keras variables, records whatever does not fit, and proves
    nothing was left over.

    Args:
      foreign: ``{name: array}`` from :func:`read_checkpoint`.
      keras_variables: every variable of the target model that must receive a value.
      ignore: regular expressions of foreign names that are deliberately unused
        (optimizer slots such as ``.*/Adam.*``, ``global_step``).
      source: how to name the checkpoint in errors.
    """

    def __init__(
        self,
        foreign: Dict[str, np.ndarray],
        keras_variables: Iterable,
        ignore: Sequence[str] = (),
        source: str = "checkpoint",
    ):
        self.foreign = dict(foreign)
        self.source = source
        self._ignore = [re.compile(p) for p in ignore]
        self._targets = {self._key(v): v for v in keras_variables}
        self._used: set = set()
        self._assigned: set = set()
        self._missing: List[str] = []
        self._misshapen: List[Misfit] = []

    @staticmethod
    def _key(variable) -> str:
        return getattr(variable, "path", None) or variable.name

    def get(self, name: str) -> np.ndarray:
        """The foreign array ``name``, marked as used. Raises :class:`PortingError` if absent (use
        :meth:`port`, or :meth:`has` and :meth:`mark_missing`, to record an absence instead)."""
        if name not in self.foreign:
            raise PortingError(f"{self.source}: variable {name!r} is missing")
        self._used.add(name)
        return self.foreign[name]

    def has(self, name: str) -> bool:
        """Whether the foreign checkpoint holds ``name``."""
        return name in self.foreign

    def mark_missing(self, name: str) -> None:
        """Record ``name`` (a foreign variable, or a description of several) as missing, for :meth:`finish`."""
        if name not in self._missing:
            self._missing.append(name)

    def assign(self, variable, value: np.ndarray, what: str) -> bool:
        """Assign ``value`` to Keras ``variable``, checking shape and that it holds numbers (bool, int or
        float); a misfit is recorded for :meth:`finish`. ``what`` names the source in errors. Returns
        whether the value was assigned."""
        key = self._key(variable)
        if key not in self._targets:
            raise PortingError(f"{self.source}: {key} is not a variable of the target model")
        value = np.asarray(value)
        if value.dtype.kind not in "biuf":  # strings, objects, complex numbers... cannot become weights
            self._misshapen.append(Misfit(what, key, f"dtype {value.dtype}", "numbers"))
            return False
        if tuple(variable.shape) != value.shape:
            self._misshapen.append(Misfit(what, key, f"shape {value.shape}", str(tuple(variable.shape))))
            return False
        variable.assign(value.astype(variable.dtype if isinstance(variable.dtype, str) else variable.dtype.name))
        self._assigned.add(key)
        return True

    def port(self, variable, name: str, transform: Optional[Transform] = None) -> bool:
        """``variable <- transform(foreign[name])`` with shape check (KerasHub's ``port_weight``). An absent
        ``name`` or a misfit is recorded for :meth:`finish`; returns whether the variable was assigned."""
        if name not in self.foreign:
            self.mark_missing(name)
            return False
        value = self.get(name)
        return self.assign(variable, transform(value) if transform else value, name)

    def unused(self) -> List[str]:
        """Foreign names neither used nor ignored."""
        return sorted(n for n in self.foreign if n not in self._used and not any(p.match(n) for p in self._ignore))

    def unassigned(self) -> List[str]:
        """Keras variables that received no value."""
        return sorted(k for k in self._targets if k not in self._assigned)

    def report(self) -> PortReport:
        """Everything recorded so far."""
        return PortReport(
            source=self.source,
            assigned=len(self._assigned),
            missing=tuple(self._missing),
            misshapen=tuple(self._misshapen),
            unused=tuple(self.unused()),
            unassigned=tuple(self.unassigned()),
        )

    def finish(self) -> PortReport:
        """The :class:`PortReport` of a complete port; raises :class:`PortingError` (``error.report``)
        listing every missing, misshapen, unused and unassigned variable otherwise."""
        report = self.report()
        if not report.ok:
            raise PortingError(report.message(), report)
        return report
