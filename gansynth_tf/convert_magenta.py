"""Magenta's released GANSynth checkpoints (``acoustic_only``, ``all_instruments``) as Keras models.

A Magenta GANSynth folder holds ``experiment.json`` (the training flags, dumped by
``gansynth_train.py``) and ``stage_NNNNN/`` folders of TF1 checkpoints (``checkpoint``,
``model.ckpt-N.{index,data-*}``). Facts taken from Magenta's source
(``magenta/models/gansynth/lib``):

* ``model.Model.load_from_path``: the flags come from ``experiment.json`` (in the folder, or,
  in older code, one folder above it, keyed by the folder's name under ``jobs``), on top of
  ``model.set_flags``' defaults; the stage is the highest ``stage_*`` number and the weights
  are ``tf.train.latest_checkpoint`` of the last ``stage_*`` folder in sorted order.
* ``train_util.get_stage_info``: stage s has ``(s + 1) // 2 + 1`` blocks; the progress is
  ``networks.compute_progress(global_step, ...)`` (the checkpoint's ``global_step`` counts
  images), or ``num_blocks - 1`` when ``train_progressive`` is off.
* variables (``tf.layers`` inside ``layers.custom_conv2d`` / ``custom_dense``):
  ``Generator/progressive_gan_generator/progressive_gan_block_B/{conv0,conv1,to_rgb}/conv2d/kernel``
  and ``.../bias``; ``Discriminator/progressive_gan_discriminator/progressive_gan_block_B/
  {from_rgb,conv0,conv1}/...``, ``.../progressive_gan_block_1/logits/dense/kernel``,
  ``Discriminator/discriminator_cond/classification_logits/dense/kernel``. Kernels are stored
  unscaled (the He constant is applied at run time), in Keras' own layout, so they port as they are.
* generation builds the generator under ``load_scope``, whose custom getter swaps every
  generator variable for its ``tf.train.ExponentialMovingAverage`` shadow
  ``<variable>/ExponentialMovingAverage`` (decay 0.999).
* the networks read and write normalised specgrams; ``data_normalizer`` maps them
  (``specgrams_prespecified_normalizer`` with ``mag_normalizer_a/b``, ``p_normalizer_a/b``).

:func:`read_experiment` maps every flag into a :class:`gansynth_tf.config.GANSynthExperiment`
or refuses it by name; :func:`find_stage_checkpoint` picks the checkpoint Magenta's generation
would; :func:`convert_weights` ports the variables strictly (every checkpoint variable used or
ignored by a stated rule, every Keras variable assigned); :func:`load_magenta_gansynth` does all three.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from gansynth_tf import config as gconfig
from gansynth_tf.discriminator import Discriminator, build_discriminator
from gansynth_tf.generator import Generator, block_name, build_generator
from gansynth_tf.normalizer import SpecgramNormalizer
from gansynth_tf.specgrams import SpectralConfig
from tfmusic import config as config_lib
from tfmusic import tf1_checkpoints as tf1

EXPERIMENT_FILENAME = "experiment.json"
EMA_SUFFIX = "/ExponentialMovingAverage"
GENERATOR_SCOPE = "Generator/progressive_gan_generator"
DISCRIMINATOR_SCOPE = "Discriminator/progressive_gan_discriminator"
CLASSIFIER_SCOPE = "Discriminator/discriminator_cond/classification_logits"
#: Magenta's ``datasets.NSynthTFRecordDataset.get_pitch_counts``: MIDI 24..84, one class each.
MAGENTA_PITCHES = (24, 84)
#: The generator smoothing of ``model.Model`` (``tf.train.ExponentialMovingAverage(decay=0.999)``).
MAGENTA_EMA_DECAY = 0.999

#: ``model.set_flags``: the value a flag has when ``experiment.json`` lacks it.
MAGENTA_DEFAULTS: Dict[str, Any] = {
    "train_root_dir": "/tmp/gansynth/train",
    "train_data_path": "/tmp/gansynth/nsynth-test.tfrecord",
    "dataset_name": "nsynth_tfrecord",
    "data_type": "mel",
    "audio_length": 64000,
    "sample_rate": 16000,
    "data_normalizer": "specgrams_prespecified_normalizer",
    "normalizer_margin": 0.8,
    "normalizer_num_examples": 1000,
    "mag_normalizer_a": 0.0661371661726,
    "mag_normalizer_b": 0.113718730221,
    "p_normalizer_a": 0.8,
    "p_normalizer_b": 0.0,
    "gradient_penalty_target": 1.0,
    "gradient_penalty_weight": 10.0,
    "real_score_penalty_weight": 0.001,
    "generator_ac_loss_weight": 1.0,
    "discriminator_ac_loss_weight": 1.0,
    "gen_gl_consistency_loss_weight": 0.0,
    "generator_learning_rate": 0.0004,
    "discriminator_learning_rate": 0.0004,
    "adam_beta1": 0.0,
    "adam_beta2": 0.99,
    "fake_batch_size": 16,
    "master": "",
    "ps_tasks": 0,
    "task": 0,
    "debug_hook": False,
    "batch_size_schedule": [16, 8],
    "stable_stage_num_images": 32,
    "transition_stage_num_images": 32,
    "total_num_images": 320,
    "save_summaries_num_images": 100,
    "train_progressive": True,
    "train_time_limit": None,
    "train_time_stage_multiplier": 1.0,
    "g_fn": "specgram",
    "d_fn": "specgram",
    "latent_vector_size": 256,
    "kernel_size": 3,
    "start_height": 4,
    "start_width": 8,
    "scale_mode": "ALL",
    "scale_base": 2,
    "num_resolutions": 7,
    "simple_arch": False,
    "to_rgb_activation": "tanh",
    "fmap_base": 512,
    "fmap_decay": 1.0,
    "fmap_max": 128,
}

#: Flags that only steer Magenta's training infrastructure, summaries or file locations: they change
#: neither the networks nor the training maths, so they are read and deliberately not mapped.
IGNORED_FLAGS: Dict[str, str] = {
    "train_root_dir": "the training machine's output folder",
    "train_data_path": "the training machine's data path (pass --train_data)",
    "tfds_data_dir": "the training machine's TFDS folder (pass --train_data)",
    "master": "TF1 distributed-session address",
    "ps_tasks": "TF1 parameter servers",
    "task": "TF1 worker id",
    "debug_hook": "weight-statistics printing",
    "save_summaries_num_images": "summary frequency",
    "fake_batch_size": "batch of generated summary images",
    "eval_batch_size": "generation batch size",
    "train_time_stage_multiplier": "only used with train_time_limit, which must be null",
}

#: Every other flag this converter knows, and where it goes (``read_experiment`` maps each one).
MAPPED_FLAGS = (
    "dataset_name",
    "data_type",
    "audio_length",
    "sample_rate",
    "data_normalizer",
    "normalizer_margin",
    "normalizer_num_examples",
    "mag_normalizer_a",
    "mag_normalizer_b",
    "p_normalizer_a",
    "p_normalizer_b",
    "gradient_penalty_target",
    "gradient_penalty_weight",
    "real_score_penalty_weight",
    "generator_ac_loss_weight",
    "discriminator_ac_loss_weight",
    "gen_gl_consistency_loss_weight",
    "generator_learning_rate",
    "discriminator_learning_rate",
    "adam_beta1",
    "adam_beta2",
    "batch_size_schedule",
    "stable_stage_num_images",
    "transition_stage_num_images",
    "total_num_images",
    "train_progressive",
    "train_time_limit",
    "g_fn",
    "d_fn",
    "latent_vector_size",
    "kernel_size",
    "start_height",
    "start_width",
    "scale_mode",
    "scale_base",
    "num_resolutions",
    "simple_arch",
    "to_rgb_activation",
    "fmap_base",
    "fmap_decay",
    "fmap_max",
)

#: Checkpoint variables that are deliberately not ported: TF1 Adam's slots and beta powers (the
#: fine-tuning optimizer starts fresh), the image counter (read for the progress, not a weight) and
#: ``model.Model``'s unnamed ``train_time`` variable.
IGNORED_VARIABLES = (r".*/Adam(_\d+)?$", r"(.*/)?beta[12]_power(_\d+)?$", r"global_step$", r"Variable(_\d+)?$")

#: Flags that are :class:`gansynth_tf.config.GANConfig` fields of the same name, and their types (in the
#: order ``convert_config`` reads them).
_SAME_NAME_GAN_FLAGS = {
    "stable_stage_num_images": int,
    "transition_stage_num_images": int,
    "total_num_images": int,
    "gradient_penalty_weight": float,
    "gradient_penalty_target": float,
    "real_score_penalty_weight": float,
    "generator_ac_loss_weight": float,
    "discriminator_ac_loss_weight": float,
    "generator_learning_rate": float,
    "discriminator_learning_rate": float,
    "adam_beta1": float,
    "adam_beta2": float,
}

_DATA_TYPES = {
    "mel": dict(mel=True, ifreq=True),
    "linear": dict(mel=False, ifreq=True),
    "phase": dict(mel=False, ifreq=False),
}
_DATASETS = ("nsynth_tfrecord", "nsynth_tfds")


class MagentaCheckpointError(ValueError):
    """A Magenta GANSynth folder that cannot be converted; the message names the file and the problem."""


# --------------------------------------------------------------------------- experiment.json


def _experiment_path(ckpt_dir: str) -> str:
    own = os.path.join(ckpt_dir, EXPERIMENT_FILENAME)
    if os.path.exists(own):
        return own
    parent = os.path.join(os.path.dirname(os.path.abspath(ckpt_dir)), EXPERIMENT_FILENAME)
    if os.path.exists(parent):
        return parent
    raise MagentaCheckpointError(
        f"{ckpt_dir}: no {EXPERIMENT_FILENAME} (Magenta's training flags) in the folder "
        "or the one above it; is this an unzipped Magenta GANSynth checkpoint?"
    )


def read_experiment_flags(ckpt_dir: str) -> Dict[str, Any]:
    """The flags a Magenta GANSynth folder was trained with, as ``model.Model.load_from_path`` reads them.

    ``experiment.json`` in ``ckpt_dir`` (or one folder above, where a ``jobs`` dict is keyed by the
    folder's name), on top of :data:`MAGENTA_DEFAULTS`. Returns ``{flag: value}``. Raises
    :class:`MagentaCheckpointError` naming the file when it is missing or not a JSON object.
    """
    ckpt_dir = os.fspath(ckpt_dir).rstrip("/") or "/"
    path = _experiment_path(ckpt_dir)
    try:
        with open(path, encoding="utf-8") as f:
            loaded = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MagentaCheckpointError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(loaded, dict):
        raise MagentaCheckpointError(f"{path}: expected a JSON object of flags, got {type(loaded).__name__}")
    if "jobs" in loaded:
        name = os.path.basename(os.path.abspath(ckpt_dir))
        jobs = loaded["jobs"]
        if not isinstance(jobs, dict) or not isinstance(jobs.get(name), dict):
            raise MagentaCheckpointError(f"{path}: has 'jobs' but no job named {name!r}")
        loaded = jobs[name]
    flags = dict(MAGENTA_DEFAULTS)
    flags.update(loaded)
    return flags


def _need(flags: Mapping[str, Any], key: str, kind, source: str):
    value = flags[key]
    if kind is int:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and float(value) == int(value)
        return_value = int(value) if ok else None
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        return_value = float(value) if ok else None
    elif kind is bool:
        ok = isinstance(value, bool)
        return_value = value
    else:
        ok = isinstance(value, str)
        return_value = value
    if not ok:
        raise MagentaCheckpointError(f"{source}: flag {key}={value!r} is not a {kind.__name__}")
    return return_value


def _refuse(source: str, key: str, value: Any, why: str):
    raise MagentaCheckpointError(f"{source}: flag {key}={value!r} is not supported: {why}")


def convert_config(
    flags: Mapping[str, Any], source: str = EXPERIMENT_FILENAME, ckpt_dir: str = ""
) -> Tuple[gconfig.GANSynthExperiment, Optional[SpecgramNormalizer]]:
    """Map Magenta's GANSynth flags onto our experiment config, refusing what cannot be expressed.

    Args:
      flags: ``{flag: value}`` from :func:`read_experiment_flags`.
      source: how to name the flags in errors (the experiment.json path).
      ckpt_dir: the folder, where ``assets/specgrams_simple_normalizer.npz`` is looked for when the
        flags name Magenta's fitted per-channel normaliser.

    Returns:
      (config, normaliser): the :class:`GANSynthExperiment`, and the normaliser the networks' [-1, 1]
      values are in (prespecified constants, or the fitted ``simple`` one read from the folder).

    Raises:
      MagentaCheckpointError: naming every unknown flag, or the first flag whose value has no
        equivalent here (``data_type=wave``, ``scale_mode=H``, ``simple_arch=true``, a time-limited
        schedule, ``gen_gl_consistency_loss_weight`` > 0, a per-frequency normaliser...).
    """
    unknown = sorted(k for k in flags if k not in IGNORED_FLAGS and k not in MAPPED_FLAGS)
    if unknown:
        raise MagentaCheckpointError(
            f"{source}: unknown flags {', '.join(unknown)} (neither mapped nor known to be safe to ignore)"
        )
    need = lambda key, kind: _need(flags, key, kind, source)

    if need("dataset_name", str) not in _DATASETS:
        _refuse(source, "dataset_name", flags["dataset_name"], f"only {_DATASETS} (NSynth, pitches 24..84)")
    for key in ("g_fn", "d_fn"):
        if need(key, str) != "specgram":
            _refuse(source, key, flags[key], "only the 'specgram' networks exist in Magenta and here")
    if need("simple_arch", bool):
        _refuse(source, "simple_arch", True, "the dense/transposed-convolution variant is not built here")
    if need("scale_mode", str) != "ALL":
        _refuse(source, "scale_mode", flags["scale_mode"], "only 'ALL' (both axes grow) is built here")
    if flags["train_time_limit"] is not None:
        _refuse(source, "train_time_limit", flags["train_time_limit"], "the schedule here counts images, not time")
    if need("gen_gl_consistency_loss_weight", float) != 0.0:
        _refuse(
            source,
            "gen_gl_consistency_loss_weight",
            flags["gen_gl_consistency_loss_weight"],
            "the Griffin-Lim consistency loss is not implemented here",
        )
    data_type = need("data_type", str)
    if data_type not in _DATA_TYPES:
        _refuse(source, "data_type", data_type, f"only {sorted(_DATA_TYPES)} (specgram representations)")
    activation = need("to_rgb_activation", str)
    if activation not in ("tanh", "linear"):
        _refuse(source, "to_rgb_activation", activation, "only 'tanh' or 'linear'")
    schedule = flags["batch_size_schedule"]
    if (
        not isinstance(schedule, list)
        or not schedule
        or not all(isinstance(b, int) and not isinstance(b, bool) and b > 0 for b in schedule)
    ):
        _refuse(source, "batch_size_schedule", schedule, "must be a non-empty list of positive ints")

    num_resolutions = need("num_resolutions", int)
    start_shape = (need("start_height", int), need("start_width", int))
    scale_base = need("scale_base", int)
    factor = scale_base ** (num_resolutions - 1)
    spec_shape = (start_shape[0] * factor, start_shape[1] * factor)
    try:
        spectral = SpectralConfig(
            audio_length=need("audio_length", int),
            sample_rate=need("sample_rate", int),
            spec_shape=spec_shape,
            overlap=0.75,
            **_DATA_TYPES[data_type],
        )
    except ValueError as e:
        raise MagentaCheckpointError(
            f"{source}: the specgram shape {spec_shape} (start_height/start_width grown "
            f"num_resolutions - 1 times) does not fit audio_length: {e}"
        ) from None

    normalizer = None
    prespecified = tuple(
        need(k, float) for k in ("mag_normalizer_a", "mag_normalizer_b", "p_normalizer_a", "p_normalizer_b")
    )
    kind = need("data_normalizer", str)
    if kind == "specgrams_prespecified_normalizer":
        normalizer = SpecgramNormalizer.prespecified(*prespecified)
    elif kind == "specgrams_simple_normalizer":
        normalizer = _read_simple_normalizer(ckpt_dir, source)
    else:
        _refuse(
            source,
            "data_normalizer",
            kind,
            "only 'specgrams_prespecified_normalizer' and "
            "'specgrams_simple_normalizer' (one scale per channel) exist here",
        )

    fmap_base = need("fmap_base", int)
    try:
        model = gconfig.GANConfig(
            latent_size=need("latent_vector_size", int),
            kernel_size=need("kernel_size", int),
            start_shape=start_shape,
            num_resolutions=num_resolutions,
            scale_base=scale_base,
            fmap_base=fmap_base,
            fmap_decay=need("fmap_decay", float),
            fmap_max=need("fmap_max", int),
            num_channels=2,
            output_activation=activation,
            minibatch_stddev_group_size=0,
            progressive=need("train_progressive", bool),
            gradient_penalty_space="specgram",
            **{key: need(key, kind) for key, kind in _SAME_NAME_GAN_FLAGS.items()},
            adam_epsilon=1e-8,
            generator_ema_decay=MAGENTA_EMA_DECAY,
        )
        data = gconfig.DataConfig(
            spectral=spectral,
            min_pitch=MAGENTA_PITCHES[0],
            max_pitch=MAGENTA_PITCHES[1],
            prespecified_normalizer=prespecified,
            normalizer_num_examples=need("normalizer_num_examples", int),
            normalizer_margin=need("normalizer_margin", float),
        )
        batch = int(schedule[-1])  # get_batch_size of the final stage: the schedule's last entry
        trainer = dataclasses.replace(
            gconfig.GANSynthExperiment().trainer,
            global_batch_size=batch,
            train_steps=gconfig.steps_for_images(model.total_num_images, batch),
        )
        config = gconfig.GANSynthExperiment(model=model, data=data, trainer=trainer)
    except ValueError as e:
        raise MagentaCheckpointError(f"{source}: flags give an invalid config: {e}") from None
    return config, normalizer


def _read_simple_normalizer(ckpt_dir: str, source: str) -> SpecgramNormalizer:
    path = os.path.join(ckpt_dir, "assets", "specgrams_simple_normalizer.npz")
    if not os.path.exists(path):
        raise MagentaCheckpointError(
            f"{source}: data_normalizer='specgrams_simple_normalizer' needs the fitted "
            f"values in {path}, which is missing"
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            values = np.asarray(z["normalizer"], np.float64).reshape(-1)
    except (OSError, ValueError, KeyError) as e:
        raise MagentaCheckpointError(f"{path}: not Magenta's normaliser file ({e})") from None
    if values.shape != (4,):
        raise MagentaCheckpointError(f"{path}: expected [mag_a, mag_b, p_a, p_b], got shape {values.shape}")
    return SpecgramNormalizer.prespecified(*values.tolist())


def read_experiment(ckpt_dir: str) -> Tuple[gconfig.GANSynthExperiment, Optional[SpecgramNormalizer]]:
    """(config, normaliser) of a Magenta GANSynth folder: :func:`read_experiment_flags` then
    :func:`convert_config`."""
    flags = read_experiment_flags(ckpt_dir)
    return convert_config(flags, _experiment_path(os.fspath(ckpt_dir).rstrip("/") or "/"), os.fspath(ckpt_dir))


# --------------------------------------------------------------------------- stages


@dataclasses.dataclass(frozen=True)
class StageCheckpoint:
    """The checkpoint Magenta's generation restores.

    Fields: ``stage_id`` (highest ``stage_*`` number), ``stage_dir`` (last ``stage_*`` folder in
    sorted order), ``prefix`` (``tf.train.latest_checkpoint`` of it).
    """

    stage_id: int
    stage_dir: str
    prefix: str


def find_stage_checkpoint(ckpt_dir: str) -> StageCheckpoint:
    """Pick the stage checkpoint as ``model.Model.load_from_path`` does.

    Raises :class:`MagentaCheckpointError` naming the folder when there is no ``stage_*`` folder, the
    highest-numbered one is not the last in sorted order (Magenta would load mismatched weights), or
    the last one holds no checkpoint.
    """
    ckpt_dir = os.fspath(ckpt_dir)
    try:
        names = sorted(n for n in os.listdir(ckpt_dir) if n.startswith("stage_"))
    except OSError as e:
        raise MagentaCheckpointError(f"{ckpt_dir}: cannot list the folder ({e})") from None
    numbered = []
    for n in names:
        m = re.fullmatch(r"stage_(\d+)", n)
        if not m:
            raise MagentaCheckpointError(f"{ckpt_dir}: {n} is not a stage folder name (stage_NNNNN)")
        numbered.append((int(m.group(1)), n))
    if not numbered:
        raise MagentaCheckpointError(f"{ckpt_dir}: no stage_NNNNN folders; is this a Magenta GANSynth checkpoint?")
    stage_id = max(i for i, _ in numbered)
    last = names[-1]
    if int(last.split("_")[-1]) != stage_id:
        raise MagentaCheckpointError(
            f"{ckpt_dir}: the highest stage is {stage_id} but the last folder in sorted "
            f"order is {last}; Magenta would load the wrong weights"
        )
    stage_dir = os.path.join(ckpt_dir, last)
    prefix = tf.train.latest_checkpoint(stage_dir)
    if not prefix or not os.path.exists(prefix + ".index"):
        raise MagentaCheckpointError(f"{stage_dir}: no checkpoint (a 'checkpoint' file naming model.ckpt-N)")
    return StageCheckpoint(stage_id, stage_dir, prefix)


def stage_num_blocks(stage_id: int, num_resolutions: int) -> int:
    """Blocks built at stage ``stage_id`` (``train_util.get_stage_info``); raises ValueError out of range."""
    if not 0 <= stage_id < 2 * num_resolutions - 1:
        raise ValueError(
            f"stage {stage_id} is outside [0, {2 * num_resolutions - 1}) for {num_resolutions} resolutions"
        )
    return (stage_id + 1) // 2 + 1


def magenta_progress(global_step: int, stage_id: int, model: gconfig.GANConfig) -> float:
    """The progress Magenta's generator runs at after restoring ``global_step`` (images seen) at a stage.

    ``networks.compute_progress(global_step, stable, transition, num_blocks)`` when training was
    progressive, else ``num_blocks - 1``.
    """
    num_blocks = stage_num_blocks(stage_id, model.num_resolutions)
    if not model.progressive:
        return float(num_blocks - 1)
    s, t = model.stable_stage_num_images, model.transition_stage_num_images
    capped = min(int(global_step), num_blocks * s + (num_blocks - 1) * t - 1)
    whole, rest = divmod(capped, s + t)
    return float(whole) + max(0.0, float(rest - s) / float(t))


# --------------------------------------------------------------------------- weights


def generator_variable_names(model: gconfig.GANConfig, num_blocks: Optional[int] = None) -> List[str]:
    """Magenta's generator variable names for blocks 1..num_blocks (default all)."""
    out = []
    for b in range(1, (num_blocks or model.num_resolutions) + 1):
        for layer in ("conv0", "conv1", "to_rgb"):
            out += [
                f"{GENERATOR_SCOPE}/{block_name(b)}/{layer}/conv2d/kernel",
                f"{GENERATOR_SCOPE}/{block_name(b)}/{layer}/bias",
            ]
    return out


def _block_conv_pairs(network, scope: str, layer_names, num_blocks: int):
    """(keras variable, Magenta name) for the convolutions ``layer_names`` of blocks 1..num_blocks."""
    pairs = []
    for block in network.blocks[:num_blocks]:
        for layer_name in layer_names:
            layer = getattr(block, layer_name)
            base = f"{scope}/{block_name(block.block_id)}/{layer_name}"
            pairs += [(layer.kernel, f"{base}/conv2d/kernel"), (layer.bias, f"{base}/bias")]
    return pairs


def _generator_pairs(generator: Generator, num_blocks: int):
    """(keras variable, Magenta name) for every generator variable of blocks 1..num_blocks."""
    return _block_conv_pairs(generator, GENERATOR_SCOPE, ("conv0", "conv1", "to_rgb"), num_blocks)


def _discriminator_pairs(discriminator: Discriminator, num_blocks: int):
    pairs = _block_conv_pairs(discriminator, DISCRIMINATOR_SCOPE, ("from_rgb", "conv0", "conv1"), num_blocks)
    logits = f"{DISCRIMINATOR_SCOPE}/{block_name(1)}/logits"
    pairs += [
        (discriminator.logits.kernel, f"{logits}/dense/kernel"),
        (discriminator.logits.bias, f"{logits}/bias"),
        (discriminator.classification_logits.kernel, f"{CLASSIFIER_SCOPE}/dense/kernel"),
        (discriminator.classification_logits.bias, f"{CLASSIFIER_SCOPE}/bias"),
    ]
    return pairs


def convert_weights(
    variables: Mapping[str, np.ndarray],
    generator: Optional[Generator] = None,
    discriminator: Optional[Discriminator] = None,
    use_ema: bool = True,
    generator_ema: Optional[Sequence[tf.Variable]] = None,
    num_blocks: Optional[int] = None,
    source: str = "checkpoint",
) -> tf1.PortReport:
    """Port a Magenta GANSynth checkpoint's variables into Keras networks, strictly; returns the
    :class:`tfmusic.tf1_checkpoints.PortReport`.

    Args:
      variables: ``{name: array}`` of the stage checkpoint (:func:`tfmusic.tf1_checkpoints.read_checkpoint`).
      generator: a built :class:`Generator` to fill, or None.
      discriminator: a built :class:`Discriminator` to fill (fine-tuning), or None (its variables
        are then ignored by rule: generation does not use them).
      use_ema: fill ``generator`` with the ``<var>/ExponentialMovingAverage`` shadows (as Magenta's
        ``load_scope``); the raw generator variables are then ignored by rule. False: the raw ones.
      generator_ema: variables parallel to ``generator.weights`` (our :class:`gansynth_tf.gan.GeneratorEMA`
        ``averages``) to fill with the shadows, for fine-tuning with the raw weights in ``generator``.
      num_blocks: blocks the checkpoint's stage built (default all). Keras blocks above it are set to
        zero (their output weight is 0 at that stage's progress); each is recorded as assigned.
      source: how to name the checkpoint in errors.

    Raises:
      tfmusic.tf1_checkpoints.PortingError: naming every checkpoint variable missing, neither used nor
        ignored, every Keras variable left unassigned, and every shape mismatch (``error.report``).
    """
    ignore = list(IGNORED_VARIABLES)
    if discriminator is None:
        ignore.append(r"Discriminator/.*")
    if generator is None:
        ignore.append(r"Generator/.*")
    targets = []
    if generator is not None:
        targets += list(generator.weights)
        if generator_ema is not None:
            targets += list(generator_ema)
    if discriminator is not None:
        targets += list(discriminator.weights)
    porter = tf1.WeightPorter(variables, targets, ignore=ignore, source=source)
    if generator is not None:
        n = num_blocks or generator.num_resolutions
        pairs = _generator_pairs(generator, n)
        averages_only = use_ema and generator_ema is None
        for var, name in pairs:
            porter.port(var, name + EMA_SUFFIX if averages_only else name)
            # The counterpart not wanted (the raw weight superseded by its average, as under Magenta's
            # load_scope, or the average when the raw weights are asked for) is consumed by name, so
            # that any variable outside the network still shows up as unused.
            unwanted = name if averages_only else name + EMA_SUFFIX
            if generator_ema is None and porter.has(unwanted):
                porter.get(unwanted)
        if generator_ema is not None:
            index = {id(v): i for i, v in enumerate(generator.weights)}
            for var, name in pairs:
                porter.port(generator_ema[index[id(var)]], name + EMA_SUFFIX)
        for block in generator.blocks[n:]:
            for var in block.weights:
                porter.assign(
                    var, np.zeros(var.shape, np.float32), f"zeros (block {block.block_id} is not in this stage)"
                )
                if generator_ema is not None:
                    porter.assign(
                        generator_ema[[id(w) for w in generator.weights].index(id(var))],
                        np.zeros(var.shape, np.float32),
                        "zeros",
                    )
    if discriminator is not None:
        n = num_blocks or discriminator.num_resolutions
        for var, name in _discriminator_pairs(discriminator, n):
            porter.port(var, name)
        for block in discriminator.blocks[n:]:
            for var in block.weights:
                porter.assign(var, np.zeros(var.shape, np.float32), "zeros")
    return porter.finish()


# --------------------------------------------------------------------------- all together


@dataclasses.dataclass
class MagentaGANSynth:
    """A converted Magenta GANSynth folder.

    Fields: ``config`` (:class:`GANSynthExperiment`), ``normalizer``, ``generator`` (EMA weights unless
    asked otherwise), ``discriminator`` (or None), ``stage`` (:class:`StageCheckpoint`), ``global_step``
    (images seen), ``progress`` (float, what Magenta's generator runs at), ``flags`` (the raw flags),
    ``uses_ema``.
    """

    config: gconfig.GANSynthExperiment
    normalizer: SpecgramNormalizer
    generator: Generator
    discriminator: Optional[Discriminator]
    stage: StageCheckpoint
    global_step: int
    progress: float
    flags: Dict[str, Any]
    uses_ema: bool


def is_magenta_dir(path: str) -> bool:
    """Whether ``path`` looks like a Magenta GANSynth folder (``stage_*`` folders, no ``config.json`` of ours)."""
    path = os.fspath(path)
    if not os.path.isdir(path) or os.path.exists(os.path.join(path, config_lib.CONFIG_FILENAME)):
        return False
    return any(n.startswith("stage_") for n in os.listdir(path))


def load_magenta_gansynth(ckpt_dir: str, use_ema: bool = True, with_discriminator: bool = False) -> MagentaGANSynth:
    """Read, check and port a Magenta GANSynth folder (``experiment.json`` + ``stage_NNNNN/``).

    Args:
      ckpt_dir: the unzipped folder (e.g. ``acoustic_only``).
      use_ema: generator weights from the moving averages (Magenta's generation) or the raw ones.
      with_discriminator: also build and port the discriminator.

    Raises :class:`MagentaCheckpointError` or :class:`tfmusic.tf1_checkpoints.PortingError`, naming the
    file and the problem.
    """
    ckpt_dir = os.fspath(ckpt_dir)
    config, normalizer = read_experiment(ckpt_dir)
    flags = read_experiment_flags(ckpt_dir)
    stage = find_stage_checkpoint(ckpt_dir)
    variables = tf1.read_checkpoint(stage.prefix)
    try:
        num_blocks = stage_num_blocks(stage.stage_id, config.model.num_resolutions)
    except ValueError as e:
        raise MagentaCheckpointError(f"{stage.stage_dir}: {e}") from None
    if "global_step" not in variables:
        raise MagentaCheckpointError(f"{stage.prefix}: no global_step (Magenta's image counter)")
    global_step = int(np.asarray(variables["global_step"]))
    progress = magenta_progress(global_step, stage.stage_id, config.model)
    generator = build_generator(config.model, config.data.num_pitches, name="generator")
    discriminator = (
        build_discriminator(config.model, config.data.num_pitches, name="discriminator") if with_discriminator else None
    )
    convert_weights(variables, generator, discriminator, use_ema=use_ema, num_blocks=num_blocks, source=stage.prefix)
    return MagentaGANSynth(config, normalizer, generator, discriminator, stage, global_step, progress, flags, use_ema)


def warm_start_from_magenta(
    ckpt_dir: str,
    generator: Generator,
    discriminator: Discriminator,
    generator_ema: Optional[Sequence[tf.Variable]],
    num_resolutions: int,
) -> StageCheckpoint:
    """Initialise networks for fine-tuning from a Magenta GANSynth folder's final stage, strictly.

    The generator gets the raw (trained) weights, ``generator_ema`` (parallel to ``generator.weights``;
    None when the run keeps no average) the ``ExponentialMovingAverage`` shadows, the discriminator its
    weights; TF1 Adam's state is not ported (the optimizers start fresh). Raises
    :class:`MagentaCheckpointError` when the last stage has not finished growing (fine-tuning runs at
    full resolution) or the folder's network differs from ``num_resolutions``, and
    :class:`tfmusic.tf1_checkpoints.PortingError` on any misfit. Returns the stage used.
    """
    config, _ = read_experiment(ckpt_dir)
    stage = find_stage_checkpoint(ckpt_dir)
    variables = tf1.read_checkpoint(stage.prefix)
    m = config.model
    if m.num_resolutions != num_resolutions:
        raise MagentaCheckpointError(
            f"{ckpt_dir}: its network has {m.num_resolutions} resolutions, the run's config {num_resolutions}"
        )
    step = int(np.asarray(variables.get("global_step", 0)))
    final = 2 * m.num_resolutions - 2
    if stage.stage_id != final or magenta_progress(step, stage.stage_id, m) != m.num_resolutions - 1:
        raise MagentaCheckpointError(
            f"{stage.stage_dir}: fine-tuning needs the final stage (stage_{final:05d}, "
            "all resolutions grown); this folder stops earlier"
        )
    convert_weights(
        variables,
        generator,
        discriminator,
        use_ema=False,
        generator_ema=list(generator_ema) if generator_ema is not None else None,
        source=stage.prefix,
    )
    return stage
