"""Waiting on a child process's files without racing it.

A ``tf.train.CheckpointManager`` deletes old checkpoints as new ones land, so a test that waits
for one exact file (``ckpt-10.index``) can miss it between two polls. Wait for a condition that
stays true once reached instead: "some checkpoint at step >= N".
"""

import pathlib
import re
import subprocess
import time

_INDEX = re.compile(r"ckpt-(\d+)\.index")


def checkpoint_steps(model_dir) -> list:
    """Steps of the ``ckpt-N.index`` files now in ``model_dir`` (sorted; [] if none or no folder)."""
    folder = pathlib.Path(model_dir)
    try:
        names = [p.name for p in folder.iterdir()]
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_INDEX.fullmatch, names) if m)


def wait_for_checkpoint(model_dir, min_step: int, procs, timeout: float, poll: float = 0.1) -> int:
    """Blocks until ``model_dir`` holds a checkpoint at step >= ``min_step``; returns that step.

    ``procs``: the child process (or a list of them) writing it. Returns -1 if one of them exits
    first or ``timeout`` seconds pass, so the caller can fail with the child's output.
    """
    if isinstance(procs, subprocess.Popen):
        procs = [procs]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        steps = checkpoint_steps(model_dir)
        if steps and steps[-1] >= min_step:
            return steps[-1]
        if any(p.poll() is not None for p in procs):
            return -1
        time.sleep(poll)
    return -1
