"""Where a run executes: distribution strategy, XLA and numeric precision.

:class:`RuntimeConfig` is the ``runtime`` branch of every experiment config.
:func:`make_strategy` picks one of

* ``one_device``: the first GPU if there is one, else the CPU;
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over all local GPUs (or the listed devices);
* ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy``, cluster read from ``TF_CONFIG``;
* ``auto`` (default): ``multi_worker`` when ``TF_CONFIG`` names more than one task,
  ``mirrored`` when more than one GPU is visible, ``one_device`` otherwise.

:func:`resolve_jit_compile` decides whether the training step is XLA-compiled: ``jit_compile``
``true`` / ``false`` are taken as given; ``auto`` (default) follows :data:`AUTO_XLA`, a rule per device
type and model family measured by ``bench/bench_xla.py`` (``bench/results/xla.md``). On a CPU, every
family's training step measured slower with XLA than with TensorFlow's graph executor (the events
RNN's LSTM loop 2.9x, with attention 1.4x; the Music Transformer and GANSynth 1.5x; the first step,
which compiles, 2-4x longer too), so ``auto`` is off on a CPU. On a GPU or TPU ``auto`` is on (XLA's
fused kernels are what it is built for; the same benchmark measures it where a GPU is visible). The
rule is kept per family, so that one family can be flipped where the benchmark says so.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, Literal, Optional, Tuple, Union

import tensorflow as tf

DISTRIBUTIONS = ("auto", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Strategy, compilation and precision of a run.

    Attributes:
      distribution: one of ``auto``, ``one_device``, ``mirrored``, ``multi_worker``.
      devices: explicit device names for ``mirrored`` (e.g. ``("/cpu:0", "/cpu:1")``); empty = all GPUs.
      jit_compile: XLA-compile the per-replica step: ``true``, ``false`` or ``auto`` (the measured rule
        per device type and model family, :func:`resolve_jit_compile`). Saved configs holding a
        boolean keep it.
      precision: ``float32`` or a Keras mixed policy (``mixed_bfloat16``, ``mixed_float16``).
      collective_communication: ``auto``, ``ring`` or ``nccl`` for multi-worker all-reduce.
    """

    distribution: str = "auto"
    devices: Tuple[str, ...] = ()
    jit_compile: Union[bool, Literal["auto"]] = "auto"
    precision: str = "float32"
    collective_communication: str = "auto"

    def __post_init__(self):
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"runtime.distribution {self.distribution!r} not in {DISTRIBUTIONS}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"runtime.precision {self.precision!r} not in {PRECISIONS}")
        if self.collective_communication not in ("auto", "ring", "nccl"):
            raise ValueError(f"runtime.collective_communication {self.collective_communication!r} unknown")
        if not (isinstance(self.jit_compile, bool) or self.jit_compile == "auto"):
            raise ValueError(f"runtime.jit_compile {self.jit_compile!r} is not true, false or 'auto'")


# --------------------------------------------------------------------------- XLA

#: Model families :func:`resolve_jit_compile` tells apart (a :class:`tfmusic.training.Task`'s ``xla_family``).
EVENTS_RNN = "events_rnn"  # melody / drums / improv / performance / polyphony RNN: LSTM stacks, attention
MUSIC_TRANSFORMER = "music_transformer"
GANSYNTH = "gansynth"
GENERIC = "generic"  # anything else (the pitch classifier, test tasks)
FAMILY_NAMES = {
    EVENTS_RNN: "events RNN",
    MUSIC_TRANSFORMER: "Music Transformer",
    GANSYNTH: "GANSynth",
    GENERIC: "generic task",
}

#: What ``jit_compile=auto`` means, by (device type, family); device types missing here (GPU, TPU)
#: and families missing for a device get XLA. Measured by ``bench/bench_xla.py`` (``bench/results/xla.md``,
#: 2-core x86 CPU, TF 2.21: XLA on / off step time).
AUTO_XLA: Dict[Tuple[str, str], bool] = {
    ("CPU", EVENTS_RNN): False,  # LSTM 2x128, batch 64: 2.9x slower with XLA (attention_rnn 1.4x)
    ("CPU", MUSIC_TRANSFORMER): False,  # 4 layers, hidden 256, 256 tokens, batch 8: 1.5x slower with XLA
    ("CPU", GANSYNTH): False,  # cpu_small, batch 8: 1.5x slower with XLA
    ("CPU", GENERIC): False,  # not measured: as every measured family
}


def device_type(strategy: Optional[tf.distribute.Strategy] = None) -> str:
    """``"GPU"``, ``"TPU"`` or ``"CPU"``: where ``strategy``'s replicas run (its first worker device);
    without a strategy, ``"GPU"`` when one is visible, else ``"CPU"``."""
    if strategy is not None:
        devices = getattr(strategy.extended, "worker_devices", None) or ()
        for name in devices:
            kind = tf.DeviceSpec.from_string(name).device_type
            if kind:
                return kind.upper()
    if tf.config.list_physical_devices("TPU"):
        return "TPU"
    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def _runtime_of(config: Any) -> RuntimeConfig:
    return config if isinstance(config, RuntimeConfig) else config.runtime


def resolve_jit_compile(config: Any, family: str = GENERIC, device: Optional[str] = None) -> bool:
    """Whether the training step of ``family`` is XLA-compiled under ``config``.

    Args:
      config: a :class:`RuntimeConfig`, or an experiment config holding one as ``runtime``.
      family: :data:`EVENTS_RNN`, :data:`MUSIC_TRANSFORMER`, :data:`GANSYNTH` or :data:`GENERIC`.
      device: ``"CPU"``, ``"GPU"`` or ``"TPU"`` (case-insensitive); None: :func:`device_type` of this machine.

    Returns ``jit_compile`` itself when it is a bool; for ``auto`` the rule :data:`AUTO_XLA`.
    """
    value = _runtime_of(config).jit_compile
    if isinstance(value, bool):
        return value
    if family not in FAMILY_NAMES:
        raise ValueError(f"unknown XLA family {family!r}; known: {sorted(FAMILY_NAMES)}")
    device = (device or device_type()).upper()
    return AUTO_XLA.get((device, family), True)


def describe_jit_compile(config: Any, family: str = GENERIC, device: Optional[str] = None) -> str:
    """``"XLA on"``, ``"XLA off"``, or for ``auto`` what it resolved to and why:
    ``"XLA off (auto: CPU, events RNN)"``."""
    on = resolve_jit_compile(config, family, device)
    text = f"XLA {'on' if on else 'off'}"
    if _runtime_of(config).jit_compile == "auto":
        text += f" (auto: {(device or device_type()).upper()}, {FAMILY_NAMES[family]})"
    return text


def tf_config_task_count(environ: Optional[dict] = None) -> int:
    """Number of tasks (workers + chief) named in ``TF_CONFIG``; 0 when it is unset or empty."""
    raw = (environ if environ is not None else os.environ).get("TF_CONFIG", "")
    if not raw.strip():
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (json.JSONDecodeError, AttributeError) as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from e
    return sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))


def resolve_distribution(config: RuntimeConfig, environ: Optional[dict] = None) -> str:
    """The concrete distribution that ``auto`` stands for on this machine and environment."""
    if config.distribution != "auto":
        return config.distribution
    if tf_config_task_count(environ) > 1:
        return "multi_worker"
    if config.devices and len(config.devices) > 1:
        return "mirrored"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "one_device"


def make_strategy(config: RuntimeConfig) -> tf.distribute.Strategy:
    """Build the ``tf.distribute.Strategy`` that ``config`` asks for.

    Multi-worker must be created before any other TensorFlow op runs in the process
    (TensorFlow's own rule), so commands call this first.
    """
    kind = resolve_distribution(config)
    if kind == "multi_worker":
        impl = {
            "auto": tf.distribute.experimental.CommunicationImplementation.AUTO,
            "ring": tf.distribute.experimental.CommunicationImplementation.RING,
            "nccl": tf.distribute.experimental.CommunicationImplementation.NCCL,
        }[config.collective_communication]
        options = tf.distribute.experimental.CommunicationOptions(implementation=impl)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    if kind == "mirrored":
        devices = list(config.devices) or None
        return tf.distribute.MirroredStrategy(devices=devices)
    device = config.devices[0] if config.devices else ("/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0")
    return tf.distribute.OneDeviceStrategy(device)


def set_precision(config: RuntimeConfig) -> None:
    """Set Keras's global dtype policy from ``config.precision`` (call before building models)."""
    import keras

    keras.mixed_precision.set_global_policy(config.precision)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True for the one worker that writes checkpoints and summaries (always true off multi-worker)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type in (None, "worker") and task_id == 0 and not has_chief


def worker_id(strategy: tf.distribute.Strategy) -> int:
    """This worker's task id in a multi-worker cluster (0 otherwise)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return int(resolver.task_id or 0) if resolver is not None else 0
