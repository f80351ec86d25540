"""Magenta's own ``<model>_train`` run folders, for every events-RNN family: detect, read, load, continue.

Magenta's ``melody_rnn_train``, ``polyphony_rnn_train``, ``drums_rnn_train``,
``performance_rnn_train`` and ``improv_rnn_train`` all run ``events_rnn_train.run_training``
(tf-slim's ``train`` under a ``MonitoredTrainingSession``), which writes ``RUN/train/``:

* ``checkpoint``: the TF1 checkpoint-state text proto; ``model_checkpoint_path`` is usually an
  *absolute* path on the machine that trained (TF1 ``Saver``'s default), so a copied folder names
  files that are not there: the newest ``model.ckpt-N`` beside the state file is used then;
* ``model.ckpt-N.index``, ``model.ckpt-N.data-00000-of-00001`` (V2 checkpoint), ``model.ckpt-N.meta``;
* variables: the model's (``rnn/multi_rnn_cell/cell_K/basic_lstm_cell/{kernel,bias}``, attention
  variants, ``fully_connected/{weights,biases}``), ``global_step`` (int64), and
  ``tf.train.AdamOptimizer``'s state: slots ``<var>/Adam`` (first moment m) and ``<var>/Adam_1``
  (second moment v), and ``beta1_power`` / ``beta2_power`` (beta^(t+1) after t updates).

The graph (``events_rnn_graph.get_build_graph_fn``) is the same for every family; only the widths
differ, so one reader serves all. A run folder of this toolkit holds ``config.json`` and ``ckpt-N``
at its top level instead (:mod:`tfmusic.training`); :func:`run_folder_kind` tells the two apart
(and explains what was expected when a folder is neither). The config id is not stored in
Magenta's folder (it was a flag), so it is given (``--config``) and checked against the variables,
whose names and shapes give the architecture (:func:`events_rnn.convert_magenta.infer_model_spec`), with
the family's :class:`events_rnn.convert_magenta.ModelFamily`.

Continuing a Magenta run (:func:`restore_training_state`) puts the weights, Adam's m and v and
the step into a Keras model and ``keras.optimizers.Adam``. Keras' Adam applies TF1's update
(``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``; ``m += (g - m)(1 - beta1)``;
``v += (g^2 - v)(1 - beta2)``; ``var -= lr_t m / (sqrt(v) + eps)``) but computes the beta powers
as ``beta^(iterations + 1)`` instead of keeping TF1's running products; with ``iterations`` set to
Magenta's ``global_step`` the two agree to float32 rounding (checked here: a run whose beta powers
do not match its step is refused), so the first update after resuming is TF1's.

:class:`FamilyRuns` binds these functions to one family and command name; it is what
:mod:`events_rnn.train_cli` uses for every ``<model>_train``.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from typing import Any, Dict, List, Optional

import numpy as np

from events_rnn import convert_magenta as convert

TRAIN_SUBDIR = "train"
CHECKPOINT_STATE = "checkpoint"
#: This toolkit's run config (``tfmusic.config.CONFIG_FILENAME``).
OUR_CONFIG = "config.json"
#: TF1 ``AdamOptimizer`` slot suffixes: first and second moment.
ADAM_M, ADAM_V = "Adam", "Adam_1"
BETA1, BETA2 = 0.9, 0.999
#: Largest relative gap allowed between TF1's stored bias correction and Keras' recomputed one.
BIAS_CORRECTION_RTOL = 1e-4
#: The command name used in messages when none is given.
ANY_TRAIN = "<model>_train"

_CKPT_RE = re.compile(r"^model\.ckpt-(\d+)\.index$")


class RunFolderError(ValueError):
    """A ``--run_dir`` that is not a usable run folder (of this toolkit or of Magenta)."""


@dataclasses.dataclass(frozen=True)
class MagentaCheckpoint:
    """The newest checkpoint of a Magenta run folder.

    Attributes:
      run_dir: the ``--run_dir`` given to Magenta's ``<model>_train``.
      path: checkpoint prefix (``RUN/train/model.ckpt-N``).
      variables: every variable, ``{TF1 name: array}`` (model, ``global_step``, Adam state).
      spec: the architecture the variables describe.
      global_step: the step the checkpoint was saved at.
    """

    run_dir: str
    path: str
    variables: Dict[str, np.ndarray]
    spec: convert.ModelSpec
    global_step: int


@dataclasses.dataclass(frozen=True)
class RestoredState:
    """What :func:`restore_training_state` put into the model and optimizer.

    Attributes:
      source: the checkpoint prefix.
      step: ``global_step`` (now the runner's step and the optimizer's iteration count).
      weights: model variables restored.
      slots: Adam slot variables restored (2 per trainable weight).
      beta1_power, beta2_power: TF1's stored beta powers (used by the next update).
      bias_correction_rel_diff: relative gap between TF1's ``sqrt(1 - beta2_power) / (1 - beta1_power)``
        and the one Keras computes from the step (float32 rounding).
    """

    source: str
    step: int
    weights: int
    slots: int
    beta1_power: float
    beta2_power: float
    bias_correction_rel_diff: float

    def describe(self) -> str:
        """One line for the console."""
        return (
            f"restored from Magenta's {self.source}: {self.weights} weights, {self.slots} Adam slots "
            f"(m, v), beta1_power {self.beta1_power:.6g}, beta2_power {self.beta2_power:.6g}, "
            f"step {self.step}"
        )


# --------------------------------------------------------------------------- detection


def train_dir(run_dir: str) -> str:
    """``RUN/train``, where Magenta's ``<model>_train`` keeps its checkpoints."""
    return os.path.join(os.fspath(run_dir), TRAIN_SUBDIR)


def is_magenta_run(run_dir: str) -> bool:
    """Whether ``run_dir`` holds Magenta's training folder (``train/checkpoint``)."""
    return os.path.isfile(os.path.join(train_dir(run_dir), CHECKPOINT_STATE))


def has_own_checkpoint(run_dir: str) -> bool:
    """Whether ``run_dir`` holds a checkpoint of this toolkit's runner (``checkpoint`` + ``ckpt-N``)."""
    import tensorflow as tf

    return bool(tf.train.latest_checkpoint(os.fspath(run_dir)))


def run_folder_kind(run_dir: str, prog: str = ANY_TRAIN) -> str:
    """``"ours"`` (``config.json`` of this toolkit's ``prog``) or ``"magenta"`` (Magenta's
    ``train/checkpoint``).

    A folder with both is ours once it holds one of our checkpoints (a Magenta run being continued
    here); before that its weights are still Magenta's. Raises :class:`RunFolderError` saying what
    was expected when it is neither.
    """
    run_dir = os.fspath(run_dir)
    if not os.path.isdir(run_dir):
        raise RunFolderError(f"{run_dir}: no such folder")
    ours = os.path.isfile(os.path.join(run_dir, OUR_CONFIG))
    magenta = is_magenta_run(run_dir)
    if ours and (not magenta or has_own_checkpoint(run_dir)):
        return "ours"
    if magenta:
        return "magenta"
    raise RunFolderError(
        f"{run_dir}: not a run folder: expected either {OUR_CONFIG} (a run of this toolkit's {prog}) "
        f"or {TRAIN_SUBDIR}/{CHECKPOINT_STATE} with {TRAIN_SUBDIR}/model.ckpt-N.* (a run of Magenta's "
        f"{prog}); pass the folder given to {prog} as --run_dir"
    )


# --------------------------------------------------------------------------- reading


def _step_of(prefix: str) -> Optional[int]:
    m = re.search(r"-(\d+)$", prefix)
    return int(m.group(1)) if m else None


def checkpoint_step_from_prefix(prefix: str) -> int:
    """N of a ``.../ckpt-N`` or ``.../model.ckpt-N`` prefix (0 if it has none)."""
    return _step_of(prefix) or 0


def newest_checkpoint(run_dir: str) -> str:
    """The prefix of the newest checkpoint in ``RUN/train`` (as ``tf.train.latest_checkpoint``, but a
    state file naming paths of another machine falls back to the same file names here, then to the
    highest ``model.ckpt-N.index``). Raises :class:`RunFolderError` naming the folder."""
    import tensorflow as tf

    tdir = train_dir(run_dir)
    candidates: List[str] = []
    try:
        state = tf.train.get_checkpoint_state(tdir)
    except Exception as e:  # noqa: BLE001 - a garbled state file: fall back to the files themselves
        state = None
        print(f"{tdir}/{CHECKPOINT_STATE} is unreadable ({e}); using the newest model.ckpt-N", file=sys.stderr)
    if state is not None and state.model_checkpoint_path:
        named = state.model_checkpoint_path
        candidates += [named, os.path.join(tdir, os.path.basename(named))]
    for prefix in candidates:
        if os.path.isfile(prefix + ".index"):
            return prefix
    found = (
        sorted(
            (int(m.group(1)), os.path.join(tdir, f[: -len(".index")]))
            for f in os.listdir(tdir)
            for m in [_CKPT_RE.match(f)]
            if m
        )
        if os.path.isdir(tdir)
        else []
    )
    if not found:
        named = f" (its {CHECKPOINT_STATE} file names {candidates[0]})" if candidates else ""
        raise RunFolderError(f"{tdir}: no model.ckpt-N.index checkpoint{named}")
    return found[-1][1]


def read_magenta_checkpoint(run_dir: str, path: Optional[str] = None, prog: str = ANY_TRAIN) -> MagentaCheckpoint:
    """Read the newest checkpoint (or the prefix ``path``) of Magenta's run folder ``run_dir`` and infer
    its architecture.

    Raises:
      RunFolderError: no checkpoint, or no ``global_step``.
      tfmusic.tf1_checkpoints.CheckpointReadError: unreadable checkpoint files.
      tfmusic.tf1_checkpoints.PortingError: variables that are no events RNN.
    """
    from tfmusic.tf1_checkpoints import read_checkpoint

    path = path or newest_checkpoint(run_dir)
    variables = read_checkpoint(path)
    spec = convert.infer_model_spec(variables, source=path)
    if "global_step" not in variables:
        raise RunFolderError(f"{path}: no global_step variable; not a checkpoint of Magenta's {prog}")
    return MagentaCheckpoint(
        run_dir=os.fspath(run_dir), path=path, variables=variables, spec=spec, global_step=int(variables["global_step"])
    )


def fitting_configs(family: convert.ModelFamily, spec: convert.ModelSpec) -> List[str]:
    """``family``'s config ids whose encoding has the spec's input width and class count."""
    return [c for c in family.config_ids if tuple(family.widths(c)) == (spec.input_size, spec.num_classes)]


def magenta_run_config(
    family: convert.ModelFamily, ckpt: MagentaCheckpoint, config_id: Optional[str], attn_length: Optional[int] = None
):
    """``family``'s config of a Magenta run: ``config_id``'s Magenta config with the variables' layer sizes
    and attention layout (``attn_length``: given, else the config's, else 40).

    Raises :class:`RunFolderError` when ``config_id`` is missing (listing the ids that fit) or
    contradicts the variables.
    """
    if not config_id:
        fits = fitting_configs(family, ckpt.spec)
        raise RunFolderError(
            f"{ckpt.run_dir} is a Magenta run folder, which does not record its config: pass --config "
            f"(its variables ({ckpt.spec.input_size} inputs, {ckpt.spec.num_classes} classes) fit "
            f"{', '.join(fits) or f'no {family.name} config'})"
        )
    try:
        convert.check_generator_id(family, config_id, ckpt.spec, f"{ckpt.path} with --config {config_id}")
    except convert.BundleError as e:
        raise RunFolderError(str(e).replace("generator id", "config")) from None
    return family.config_for_spec(config_id, ckpt.spec, attn_length, "")


def load_magenta_model(
    family: convert.ModelFamily,
    run_dir: str,
    config_id: Optional[str],
    attn_length: Optional[int] = None,
    dropout_keep_prob: float = 1.0,
    prog: str = ANY_TRAIN,
):
    """Build ``family``'s Keras model of Magenta's run folder and port its newest checkpoint's weights strictly.

    Returns (model, config, :class:`MagentaCheckpoint`). Adam's state and ``global_step`` are read but
    not ported (generation and bundles do not need them).
    """
    ckpt = read_magenta_checkpoint(run_dir, prog=prog)
    config = magenta_run_config(family, ckpt, config_id, attn_length)
    model = family.build_model(config, dropout_keep_prob)
    convert.convert_weights(ckpt.variables, model, source=ckpt.path, naming=ckpt.spec.naming)
    return model, config, ckpt


# --------------------------------------------------------------------------- continuing training


def adam_slots(optimizer, variable):
    """(m, v) slot variables of a built ``keras.optimizers.Adam`` for ``variable``.

    Uses Keras 3's ``_get_variable_index`` / ``_momentums`` / ``_velocities`` (what ``Adam.update_step``
    itself reads); there is no public accessor.
    """
    index = optimizer._get_variable_index(variable)
    return optimizer._momentums[index], optimizer._velocities[index]


def _bias_correction(beta1_power: float, beta2_power: float) -> float:
    return float(np.sqrt(1.0 - np.float64(beta2_power)) / (1.0 - np.float64(beta1_power)))


def restore_training_state(model, optimizer, ckpt: MagentaCheckpoint, step_variable=None) -> RestoredState:
    """Put a Magenta checkpoint's weights, Adam slots and step into ``model`` (any
    :class:`events_rnn.model.EventSequenceRnnModel`) and its built ``optimizer``.

    Every model variable comes from its TF1 name, Adam's m and v from ``<name>/Adam`` and
    ``<name>/Adam_1``; ``optimizer.iterations`` and ``step_variable`` (the runner's step, if given)
    become ``global_step``. Strict: any missing, misshapen or unused variable, or beta powers that are
    not ``beta^(global_step + 1)`` (to :data:`BIAS_CORRECTION_RTOL` on the bias correction, the only
    place they enter the update), raises :class:`tfmusic.tf1_checkpoints.PortingError` naming the file.
    """
    from tfmusic.tf1_checkpoints import PortingError

    src, variables = ckpt.path, ckpt.variables
    convert.convert_weights(variables, model, source=src, naming=ckpt.spec.naming)
    problems: List[str] = []
    for name in ("beta1_power", "beta2_power"):
        if name not in variables:
            problems.append(f"{name} is missing (not a checkpoint of tf.train.AdamOptimizer)")
    targets = model.tf1_variables(ckpt.spec.naming)
    trainable = {id(v) for v in model.trainable_variables}
    used = set()
    slots = 0
    for name, var in targets.items():
        if id(var) not in trainable:
            continue
        for suffix, slot in zip((ADAM_M, ADAM_V), adam_slots(optimizer, var)):
            key = f"{name}/{suffix}"
            value = variables.get(key)
            if value is None:
                problems.append(f"{key} is missing")
            elif tuple(np.shape(value)) != tuple(slot.shape):
                problems.append(f"{key} has shape {np.shape(value)}, the model needs {tuple(slot.shape)}")
            else:
                slot.assign(np.asarray(value, np.float32))
                used.add(key)
                slots += 1
    stray = sorted(k for k in variables if re.search(r"/Adam(_1)?$", k) and k not in used)
    if stray:
        problems.append(f"Adam slots of no model variable: {', '.join(stray)}")
    if problems:
        raise PortingError(f"{src}: " + "; ".join(problems))
    step = ckpt.global_step
    b1p, b2p = float(variables["beta1_power"]), float(variables["beta2_power"])
    stored = _bias_correction(b1p, b2p)
    keras_b1p = np.power(np.float32(optimizer.beta_1), np.float32(step + 1))
    keras_b2p = np.power(np.float32(optimizer.beta_2), np.float32(step + 1))
    ours = _bias_correction(keras_b1p, keras_b2p)
    rel = abs(ours - stored) / stored
    if rel > BIAS_CORRECTION_RTOL:
        raise PortingError(
            f"{src}: beta1_power {b1p:.6g} / beta2_power {b2p:.6g} are not beta^(global_step + 1) for global_step "
            f"{step} with betas {optimizer.beta_1} / {optimizer.beta_2} (bias correction {stored:.6g}, from the step "
            f"{ours:.6g}); the Adam state cannot be continued"
        )
    optimizer.iterations.assign(step)
    if step_variable is not None:
        step_variable.assign(step)
    return RestoredState(
        source=src,
        step=step,
        weights=len(targets),
        slots=slots,
        beta1_power=b1p,
        beta2_power=b2p,
        bias_correction_rel_diff=float(rel),
    )


# --------------------------------------------------------------------------- one family's view


@dataclasses.dataclass(frozen=True)
class FamilyRuns:
    """The functions above bound to one family and ``<model>_train`` name: what
    :class:`events_rnn.train_cli.TrainCommand` and the generate commands use.

    Attributes:
      family: the :class:`events_rnn.convert_magenta.ModelFamily`.
      prog: the training command's name (for messages), e.g. ``polyphony_rnn_train``.
    """

    family: Any
    prog: str = ANY_TRAIN

    RunFolderError = RunFolderError
    TRAIN_SUBDIR = TRAIN_SUBDIR

    def is_magenta_run(self, run_dir: str) -> bool:
        """See :func:`is_magenta_run`."""
        return is_magenta_run(run_dir)

    def has_own_checkpoint(self, run_dir: str) -> bool:
        """See :func:`has_own_checkpoint`."""
        return has_own_checkpoint(run_dir)

    def run_folder_kind(self, run_dir: str) -> str:
        """See :func:`run_folder_kind`."""
        return run_folder_kind(run_dir, self.prog)

    def read_magenta_checkpoint(self, run_dir: str, path: Optional[str] = None) -> MagentaCheckpoint:
        """See :func:`read_magenta_checkpoint`."""
        return read_magenta_checkpoint(run_dir, path, self.prog)

    def magenta_run_config(self, ckpt: MagentaCheckpoint, config_id: Optional[str], attn_length: Optional[int] = None):
        """See :func:`magenta_run_config`."""
        return magenta_run_config(self.family, ckpt, config_id, attn_length)

    def load_magenta_model(
        self, run_dir: str, config_id: Optional[str], attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
    ):
        """See :func:`load_magenta_model`."""
        return load_magenta_model(self.family, run_dir, config_id, attn_length, dropout_keep_prob, self.prog)

    def restore_training_state(self, model, optimizer, ckpt: MagentaCheckpoint, step_variable=None) -> RestoredState:
        """See :func:`restore_training_state`."""
        return restore_training_state(model, optimizer, ckpt, step_variable)
