"""Model FLOPs of a traced TensorFlow function, counted by TensorFlow's own profiler (run as scripts,
the benchmarks find this module beside them).

:func:`graph_flops` sums the ``flops`` statistics TensorFlow registers per op type (``Conv2D``,
``Conv2DBackpropInput``, ``Conv2DBackpropFilter``, ``MatMul``, element-wise arithmetic, ...) over
the ops of a concrete function's graph, from the static shapes of the trace. Ops without a
registered count (FFTs, gathers, ``tf.while_loop`` / ``tf.cond`` bodies, calls into other
functions) count 0, so the figure is a lower bound dominated by the convolutions and matmuls;
a multiply-add counts 2. XLA does not change it (it is the traced graph's arithmetic, not what a
compiler fused or recomputed), which is what model FLOPs utilisation (MFU) divides by.

:data:`PEAK_TFLOPS` holds dense peaks of the GPUs this project is lent, by precision, for MFU.
"""

from __future__ import annotations

import logging
from typing import Optional

#: Dense (no sparsity) peak TFLOP/s by device-name fragment: (fp32 as TensorFlow runs it on these
#: GPUs, i.e. TF32 tensor cores, enabled by default; bf16 tensor cores). NVIDIA's data-sheet
#: figures for the SXM parts; the H200 has the H100's compute.
PEAK_TFLOPS = {
    "H200": (494.7, 989.4),
    "H100": (494.7, 989.4),
    "A100": (156.0, 312.0),
}


def graph_flops(concrete_function) -> int:
    """FLOPs of one call of ``concrete_function`` (a ``tf.function``'s ``ConcreteFunction`` traced with
    fully known shapes), as TensorFlow's profiler counts them over its graph's ops."""
    import tensorflow as tf

    profiler = tf.compat.v1.profiler
    options = profiler.ProfileOptionBuilder(profiler.ProfileOptionBuilder.float_operation()).with_empty_output()
    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)  # the v1 profiler's deprecation notice
    try:
        info = profiler.profile(graph=concrete_function.graph, options=options.build())
    finally:
        tf_logger.setLevel(level)
    return int(info.total_float_ops)


def device_name() -> str:
    """The first GPU's name (e.g. ``NVIDIA H100 80GB HBM3``), or ``CPU``."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name", gpus[0].name))


def peak_tflops(precision: str, override: Optional[float] = None) -> Optional[float]:
    """Peak TFLOP/s of this machine's first GPU for ``precision`` (``float32``, ``mixed_bfloat16``),
    ``override`` if given, else from :data:`PEAK_TFLOPS`; None on a CPU or an unlisted GPU."""
    if override:
        return float(override)
    name = device_name()
    for fragment, (fp32, bf16) in PEAK_TFLOPS.items():
        if fragment in name:
            return bf16 if "bfloat16" in precision else fp32
    return None
