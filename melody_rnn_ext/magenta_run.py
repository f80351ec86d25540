"""Magenta's own ``melody_rnn_train`` run folders: :mod:`events_rnn.magenta_run` bound to the Melody RNN.

Detection, reading (copied folders whose state file names another machine's paths included),
strict loading and continuing training (weights, Adam slots and ``global_step`` restored by name,
so the first update is TF1 Adam's) are the shared core's, for every family; this module keeps the
Melody RNN signatures (no family argument) and messages naming ``melody_rnn_train``.
"""

from __future__ import annotations

from typing import List, Optional

from events_rnn import magenta_run as _core
from events_rnn.magenta_run import (
    ADAM_M,
    ADAM_V,
    BETA1,
    BETA2,
    BIAS_CORRECTION_RTOL,  # noqa: F401
    CHECKPOINT_STATE,
    OUR_CONFIG,
    TRAIN_SUBDIR,
    MagentaCheckpoint,
    RestoredState,
    RunFolderError,
    adam_slots,
    checkpoint_step_from_prefix,
    has_own_checkpoint,
    is_magenta_run,
    newest_checkpoint,
    restore_training_state,
    train_dir,
)
from melody_rnn_ext import bundle as bundle_lib
from melody_rnn_ext import config as config_lib

PROG = "melody_rnn_train"


def run_folder_kind(run_dir: str) -> str:
    """``"ours"`` or ``"magenta"`` (see :func:`events_rnn.magenta_run.run_folder_kind`)."""
    return _core.run_folder_kind(run_dir, PROG)


def read_magenta_checkpoint(run_dir: str, path: Optional[str] = None) -> MagentaCheckpoint:
    """The newest checkpoint (or ``path``) of Magenta's ``melody_rnn_train`` folder ``run_dir``
    (see :func:`events_rnn.magenta_run.read_magenta_checkpoint`)."""
    return _core.read_magenta_checkpoint(run_dir, path, PROG)


def fitting_configs(spec: bundle_lib.ModelSpec) -> List[str]:
    """Melody RNN config ids whose encoding has the spec's input width and class count."""
    return _core.fitting_configs(bundle_lib.FAMILY, spec)


def magenta_run_config(
    ckpt: MagentaCheckpoint, config_id: Optional[str], attn_length: Optional[int] = None
) -> config_lib.MelodyRnnConfig:
    """The :class:`MelodyRnnConfig` of a Magenta run (see :func:`events_rnn.magenta_run.magenta_run_config`)."""
    return _core.magenta_run_config(bundle_lib.FAMILY, ckpt, config_id, attn_length)


def load_magenta_model(
    run_dir: str, config_id: Optional[str], attn_length: Optional[int] = None, dropout_keep_prob: float = 1.0
):
    """(model, :class:`MelodyRnnConfig`, :class:`MagentaCheckpoint`) of Magenta's run folder, ported strictly."""
    return _core.load_magenta_model(bundle_lib.FAMILY, run_dir, config_id, attn_length, dropout_keep_prob, PROG)


def runs() -> _core.FamilyRuns:
    """The Melody RNN's :class:`events_rnn.magenta_run.FamilyRuns` (what ``melody_rnn_train`` uses)."""
    return _core.FamilyRuns(bundle_lib.FAMILY, PROG)
