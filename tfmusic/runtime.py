"""Where a run executes: distribution strategy, XLA and numeric precision.

:class:`RuntimeConfig` is the ``runtime`` branch of every experiment config.
:func:`make_strategy` picks one of

* ``one_device``: the first GPU if there is one, else the CPU;
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over all local GPUs (or the listed devices);
* ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy``, cluster read from ``TF_CONFIG``;
* ``auto`` (default): ``multi_worker`` when ``TF_CONFIG`` names more than one task,
  ``mirrored`` when more than one GPU is visible, ``one_device`` otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional, Tuple

import tensorflow as tf

DISTRIBUTIONS = ("auto", "one_device", "mirrored", "multi_worker")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass(frozen=True)
class RuntimeConfig:
    """Strategy, compilation and precision of a run.

    Attributes:
      distribution: one of ``auto``, ``one_device``, ``mirrored``, ``multi_worker``.
      devices: explicit device names for ``mirrored`` (e.g. ``("/cpu:0", "/cpu:1")``); empty = all GPUs.
      jit_compile: XLA-compile the per-replica step.
      precision: ``float32`` or a Keras mixed policy (``mixed_bfloat16``, ``mixed_float16``).
      collective_communication: ``auto``, ``ring`` or ``nccl`` for multi-worker all-reduce.
    """

    distribution: str = "auto"
    devices: Tuple[str, ...] = ()
    jit_compile: bool = True
    precision: str = "float32"
    collective_communication: str = "auto"

    def __post_init__(self):
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"runtime.distribution {self.distribution!r} not in {DISTRIBUTIONS}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"runtime.precision {self.precision!r} not in {PRECISIONS}")
        if self.collective_communication not in ("auto", "ring", "nccl"):
            raise ValueError(f"runtime.collective_communication {self.collective_communication!r} unknown")


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
