"""Frozen-dataclass configs: named presets, ``--set a.b=value`` overrides, JSON beside checkpoints.

Every model family describes a run as a tree of frozen dataclasses (Model Garden's
``ExperimentConfig(task, trainer, runtime)`` shape). This module holds the generic
machinery only:

* :func:`to_dict` / :func:`from_dict` turn a config tree into plain JSON types and back,
  checking field names and types, so a saved run can be rebuilt exactly.
* :func:`apply_overrides` applies ``a.b=value`` strings (what ``--set`` takes on every
  command line) to a frozen config, parsing each value by the field's declared type.
* :class:`PresetRegistry` maps preset names (the paper's rows, the released checkpoints)
  to config factories.
* :func:`save_json` / :func:`load_json` write configs atomically, and
  :func:`resolve_run_config` (or :func:`plan_run_config`, which writes nothing until asked)
  implements "reload the saved config on resume", and refuses a resume whose flags contradict it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from typing import Any, Callable, Dict, Generic, Iterable, Mapping, Optional, Sequence, Tuple, TypeVar

from tfmusic import files

T = TypeVar("T")

CONFIG_FILENAME = "config.json"


class ConfigError(ValueError):
    """A config value, override or file that does not fit the config's declared shape."""


# --------------------------------------------------------------------------- types


def _field_types(cls: type) -> Dict[str, Any]:
    """Resolved type hints of a dataclass (string annotations evaluated)."""
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> Tuple[Any, bool]:
    """(inner type, is_optional) for ``Optional[X]`` / ``X | None``; (tp, False) otherwise."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _first_fitting_arm(read, value: Any, union: Any, where: str, failure: str) -> Any:
    """``read(value, arm, where)`` for the first arm of ``union`` that accepts ``value``; ConfigError
    ``"{where}: {failure}"`` when none does."""
    for arm in typing.get_args(union):
        try:
            return read(value, arm, where)
        except ConfigError:
            pass
    raise ConfigError(f"{where}: {failure}")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a JSON-compatible ``value`` into the declared type ``tp`` (recursively)."""
    inner, optional = _unwrap_optional(tp)
    if value is None:
        if optional or tp is Any:
            return None
        raise ConfigError(f"{where}: None is not allowed for type {tp}")
    tp = inner
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):  # e.g. Union[bool, Literal["auto"]]: the first arm that fits
        return _first_fitting_arm(_coerce, value, tp, where, f"expected {_describe_union(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value, _where=where)
    if origin in (tuple, Tuple):
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a sequence, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
        if not args:
            return tuple(value)
        return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in (dict, Dict, Mapping):
        key_t, val_t = typing.get_args(tp) or (Any, Any)
        return {_coerce(k, key_t, where): _coerce(v, val_t, f"{where}.{k}") for k, v in value.items()}
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {typing.get_args(tp)}")
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected a bool, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where}: expected an int, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a float, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def _describe_union(tp: Any) -> str:
    """``bool or 'auto'``: the arms of a Union, as an error message names them."""
    parts = []
    for arm in typing.get_args(tp):
        if typing.get_origin(arm) is typing.Literal:
            parts.extend(repr(v) for v in typing.get_args(arm))
        else:
            parts.append(getattr(arm, "__name__", str(arm)))
    return " or ".join(parts)


# --------------------------------------------------------------------------- dict <-> dataclass


def to_dict(config: Any) -> Any:
    """Config tree -> plain JSON types (dicts, lists, numbers, strings, None)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [to_dict(v) for v in config]
    if isinstance(config, Mapping):
        return {str(k): to_dict(v) for k, v in config.items()}
    return config


def from_dict(cls: typing.Type[T], data: Mapping[str, Any], _where: str = "") -> T:
    """Plain dict -> config of dataclass type ``cls``; unknown keys raise :class:`ConfigError`.

    Keys absent from ``data`` take the dataclass defaults, so configs saved by an older
    version with fewer fields still load.
    """
    if not dataclasses.is_dataclass(cls):
        raise ConfigError(f"{cls!r} is not a dataclass")
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = set(data) - names
    if unknown:
        prefix = f"{_where}: " if _where else ""
        raise ConfigError(f"{prefix}unknown field(s) {sorted(unknown)} for {cls.__name__}; known: {sorted(names)}")
    kwargs = {}
    for name in names & set(data):
        where = f"{_where}.{name}" if _where else name
        kwargs[name] = _coerce(data[name], hints[name], where)
    return cls(**kwargs)


# --------------------------------------------------------------------------- overrides


def _parse_text(text: str, tp: Any, where: str) -> Any:
    """Parse the text of one ``--set`` value by its declared type.

    JSON syntax is accepted for everything (``[128, 128]``, ``true``, ``null``); bare words
    are strings; for tuples, a comma-separated list works too (``128,128``).
    """
    inner, optional = _unwrap_optional(tp)
    if optional and text.strip().lower() in ("none", "null"):
        return None
    if typing.get_origin(inner) in (typing.Union, types.UnionType):  # the first arm that reads the text
        return _first_fitting_arm(_parse_text, text, inner, where, f"cannot read {text!r} as {_describe_union(inner)}")
    if inner is str:
        return text
    if inner is bool:
        low = text.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{where}: cannot read {text!r} as a bool")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        if typing.get_origin(inner) in (tuple, Tuple):
            value = [json.loads(p) if _is_json(p) else p.strip() for p in text.split(",") if p.strip()]
        else:
            value = text
    return _coerce(value, tp, where)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError:
        return False


def _replace_path(config: Any, path: Sequence[str], text: str, full: str) -> Any:
    if not dataclasses.is_dataclass(config):
        raise ConfigError(f"--set {full}: {'.'.join(path)} goes below a value that is not a config")
    name = path[0]
    fields = {f.name: f for f in dataclasses.fields(config)}
    if name not in fields:
        raise ConfigError(f"--set {full}: {type(config).__name__} has no field {name!r}; fields: {sorted(fields)}")
    if len(path) == 1:
        hint = _field_types(type(config))[name]
        return dataclasses.replace(config, **{name: _parse_text(text, hint, full)})
    child = _replace_path(getattr(config, name), path[1:], text, full)
    return dataclasses.replace(config, **{name: child})


def apply_overrides(config: T, overrides: Iterable[str]) -> T:
    """Return ``config`` with each ``"a.b.c=value"`` override applied (the original is unchanged).

    Values are parsed by the target field's type; a wrong name or value raises
    :class:`ConfigError` naming the override.
    """
    for item in overrides or ():
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected the form a.b=value")
        key, text = item.split("=", 1)
        path = [p for p in key.strip().split(".") if p]
        if not path:
            raise ConfigError(f"--set {item!r}: empty field name")
        config = _replace_path(config, path, text, item)
    return config


# --------------------------------------------------------------------------- presets


class PresetRegistry(Generic[T]):
    """Named config factories, e.g. the rows of a paper's results table.

    ``registry.register("mel_prog_hires")(fn)`` or ``registry.add(name, fn)``;
    ``registry.get(name)`` returns a fresh config; ``registry.names()`` lists them.
    """

    def __init__(self, kind: str):
        self._kind = kind
        self._factories: Dict[str, Callable[[], T]] = {}

    def add(self, name: str, factory: Callable[[], T]) -> None:
        """Register ``factory`` (no arguments -> config) under ``name``."""
        if name in self._factories:
            raise ConfigError(f"{self._kind} preset {name!r} is registered twice")
        self._factories[name] = factory

    def register(self, name: str) -> Callable[[Callable[[], T]], Callable[[], T]]:
        """Decorator form of :meth:`add`."""

        def deco(factory: Callable[[], T]) -> Callable[[], T]:
            self.add(name, factory)
            return factory

        return deco

    def get(self, name: str) -> T:
        """The config of preset ``name``; an unknown name raises with the list of known ones."""
        if name not in self._factories:
            raise ConfigError(f"unknown {self._kind} preset {name!r}; known: {', '.join(self.names())}")
        return self._factories[name]()

    def names(self) -> Tuple[str, ...]:
        """Registered preset names, sorted."""
        return tuple(sorted(self._factories))


# --------------------------------------------------------------------------- files


def save_json(config: Any, path: str) -> None:
    """Write the config tree as indented JSON at ``path``, atomically."""
    files.atomic_write_text(path, json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n")


def load_json(cls: typing.Type[T], path: str) -> T:
    """Read a config of type ``cls`` from the JSON file ``path``.

    Raises :class:`ConfigError` naming the file when it is not valid JSON or does not fit ``cls``.
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from e
    try:
        return from_dict(cls, data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from e


def diff(a: Any, b: Any) -> Dict[str, Tuple[Any, Any]]:
    """Fields that differ between two config trees, as {"a.b": (value_in_a, value_in_b)}."""
    out: Dict[str, Tuple[Any, Any]] = {}

    def walk(x: Any, y: Any, prefix: str) -> None:
        if isinstance(x, dict) and isinstance(y, dict):
            for k in sorted(set(x) | set(y)):
                walk(x.get(k), y.get(k), f"{prefix}.{k}" if prefix else k)
        elif x != y:
            out[prefix] = (x, y)

    walk(to_dict(a), to_dict(b), "")
    return out


def has_checkpoint(model_dir: str) -> bool:
    """Whether ``model_dir`` holds a checkpoint of the shared runner (its ``checkpoint`` state file)."""
    return os.path.isfile(os.path.join(model_dir, "checkpoint"))


def resumes(model_dir: str) -> bool:
    """Whether a run in ``model_dir`` resumes (:func:`plan_run_config`): it holds ``config.json`` and a
    checkpoint. A command asks this before reading what only a new run needs (a warm start's source)."""
    return os.path.exists(os.path.join(model_dir, CONFIG_FILENAME)) and has_checkpoint(model_dir)


RUN_FLAGS_FILENAME = "run_flags.json"


@dataclasses.dataclass(frozen=True)
class RunFlag:
    """A command-line flag that picks what a run is (a preset, a Magenta config, a bundle), for
    :func:`plan_run_config`'s check that a resume does not contradict the run.

    Attributes:
      value: what the flag asks for; for a flag the user left out, what the command used instead
        (recorded when the run starts; None: nothing).
      given: whether the user passed the flag (only given flags are compared on resume).
      field: the config field that holds the flag's value (``"model.config_id"``), compared with
        the saved config; "" when no field does: the value is then recorded in ``run_flags.json``
        when the run starts and compared with that record (a run without a record is not checked).
    """

    value: Any
    given: bool = True
    field: str = ""


def _field_value(config: Any, path: str) -> Any:
    value = config
    for name in path.split("."):
        value = getattr(value, name)
    return value


def _shown(value: Any) -> str:
    return "none" if value in (None, "") else str(value)


@dataclasses.dataclass
class RunPlan:
    """What :func:`plan_run_config` decided: the run's ``config``, whether it ``resumed``, and what
    :meth:`write` will put into ``model_dir``. Nothing is written before :meth:`write`, so a command
    can check its data between the two and leave the run folder untouched when it refuses."""

    model_dir: str
    config: Any
    resumed: bool
    saved: Any = None
    flags: Optional[Mapping[str, RunFlag]] = None

    def write(self) -> None:
        """Saves ``config.json`` (on a resume only when ``--set`` changed it) and, on a new start with
        flags, ``run_flags.json``; creates ``model_dir`` if needed."""
        path = os.path.join(self.model_dir, CONFIG_FILENAME)
        if self.resumed:
            if self.config != self.saved:
                save_json(self.config, path)
            return
        save_json(self.config, path)
        record_path = os.path.join(self.model_dir, RUN_FLAGS_FILENAME)
        if self.flags is not None:
            record = {name: flag.value for name, flag in sorted(self.flags.items()) if not flag.field}
            files.atomic_write_text(record_path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
        elif os.path.exists(record_path):  # left by an earlier start: it does not describe this run
            os.remove(record_path)


def _check_flags(model_dir: str, saved: Any, flags: Mapping[str, RunFlag]) -> None:
    """Raises :class:`ConfigError` when a given flag asks for something else than the run in ``model_dir``."""
    record = None
    record_path = os.path.join(model_dir, RUN_FLAGS_FILENAME)
    for name, flag in sorted(flags.items()):
        if not flag.given:
            continue
        if flag.field:
            try:
                was = _field_value(saved, flag.field)
            except AttributeError:
                continue
            where = f"{flag.field} {_shown(was)}"
        else:
            if record is None:
                try:
                    with open(record_path, encoding="utf-8") as f:
                        record = json.load(f)
                except (OSError, ValueError):
                    record = {}
                if not isinstance(record, dict):
                    record = {}
            if name not in record:
                continue
            was = record[name]
            where = f"{name} {_shown(was)}" if was not in (None, "") else f"no {name}"
        if was != flag.value:
            raise ConfigError(
                f"{model_dir} holds a run started with {where}, but {name} {_shown(flag.value)} was given; "
                f"resume it without {name} (--set still changes single fields) or start another run folder"
            )


def plan_run_config(
    model_dir: str, config: T, overrides: Sequence[str] = (), flags: Optional[Mapping[str, RunFlag]] = None
) -> RunPlan:
    """Decides the config a run in ``model_dir`` must use and whether it resumes, writing nothing.

    If ``model_dir`` already holds ``config.json`` and a checkpoint the run resumes: the saved
    config is reloaded (the ``config`` argument only gives its type), and ``overrides`` are
    applied on top, so a resumed run can change e.g. its step budget explicitly. Otherwise
    ``config`` with ``overrides`` is used: a ``config.json`` left by a start that failed before
    its first checkpoint (a mistyped data path, say) does not bind the next start.

    ``flags``: the command's flags that pick what the run is (see :class:`RunFlag`), by name
    (``"--config"``). On a resume, each one the user gave must agree with the run, else
    :class:`ConfigError` names both values. ``--set`` overrides are not flags here: they stay
    allowed on a resume.

    Call :meth:`RunPlan.write` to save the config once the command has checked what it needs.

    Raises:
      ConfigError: an unreadable saved config, a bad override, or a flag that contradicts the run.
    """
    path = os.path.join(model_dir, CONFIG_FILENAME)
    if resumes(model_dir):
        saved = load_json(type(config), path)
        if flags:
            _check_flags(model_dir, saved, flags)
        return RunPlan(model_dir, apply_overrides(saved, overrides), True, saved=saved, flags=flags)
    return RunPlan(model_dir, apply_overrides(config, overrides), False, flags=flags)


def resolve_run_config(
    model_dir: str, config: T, overrides: Sequence[str] = (), flags: Optional[Mapping[str, RunFlag]] = None
) -> Tuple[T, bool]:
    """:func:`plan_run_config`, then its :meth:`RunPlan.write` at once: the config a run in
    ``model_dir`` must use (saved there), and whether it resumes. Returns (config, resumed)."""
    plan = plan_run_config(model_dir, config, overrides, flags)
    plan.write()
    return plan.config, plan.resumed
