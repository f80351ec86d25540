"""Crash drill: training killed with SIGKILL at random moments resumes every time.

The toy task of ``tests/tfmusic/toy_task.py`` trains in a child process with a checkpoint at
every step (so kills land inside saves as often as between them). After each kill every
checkpoint the manager lists must read back completely, with finite weights and its config JSON
beside it; the next run must start from the newest of them; the last run must end at the full
step count.
"""

import json
import os
import pathlib
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.tfmusic import toy_task

REPO = pathlib.Path(__file__).resolve().parents[2]
NUM_KILLS = 10
TOTAL_STEPS = 400


def _listed_checkpoints(model_dir: pathlib.Path):
    state = tf.train.get_checkpoint_state(str(model_dir))
    return list(state.all_model_checkpoint_paths) if state else []


def _check_intact(model_dir: pathlib.Path) -> int:
    """Every listed checkpoint whose files exist reads back whole, and the newest one exists; returns
    the newest step (0 if none).

    TF's ``CheckpointManager.save`` records the new checkpoint in the state file first, deletes the
    oldest one's files, then records the state again without it: a kill between the two leaves an
    old, deleted checkpoint listed (by design: the newest is on record as early as possible). So only
    the newest listed checkpoint, the one a restart restores, must be there.
    """
    newest = 0
    state = tf.train.get_checkpoint_state(str(model_dir))
    for path in _listed_checkpoints(model_dir):
        if not os.path.exists(path + ".index"):
            assert path != state.model_checkpoint_path, f"the newest listed checkpoint {path} is missing"
            continue
        reader = tf.train.load_checkpoint(path)
        names = reader.get_variable_to_shape_map()
        floats = [
            n
            for n in names
            if n.endswith("VARIABLE_VALUE") and np.issubdtype(np.asarray(reader.get_tensor(n)).dtype, np.floating)
        ]
        assert len(floats) >= 4, (path, sorted(names))  # two Dense layers and their Adam slots
        for name in names:
            value = np.asarray(reader.get_tensor(name))
            if np.issubdtype(value.dtype, np.floating):
                assert np.all(np.isfinite(value)), (path, name)
        step = int(path.rsplit("-", 1)[1])
        assert int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == step, path
        config = json.loads(pathlib.Path(path + ".config.json").read_text())
        assert config["trainer"]["train_steps"] == TOTAL_STEPS
        newest = max(newest, step)
    # the run's own config.json is always whole JSON (it is written atomically)
    if (model_dir / "config.json").exists():
        json.loads((model_dir / "config.json").read_text())
    return newest


@pytest.mark.slow
def test_training_survives_repeated_sigkill(tmp_path):
    model_dir = tmp_path / "run"
    cmd, env = toy_task.child_command(
        model_dir,
        f"trainer.train_steps={TOTAL_STEPS}",
        "trainer.checkpoint_every=1",
        "trainer.max_checkpoints=2",
        "runtime.jit_compile=false",
    )
    rng = np.random.default_rng(20261130)
    kills = 0
    expected_start = 0
    starts = []
    for attempt in range(NUM_KILLS * 3):
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = proc.stdout.readline()
        while line and not line.startswith("START"):
            line = proc.stdout.readline()
        assert line.startswith("START"), f"run {attempt} did not start: {proc.communicate()[0]}"
        start_step = int(line.split()[1])
        assert start_step == expected_start, (attempt, start_step, expected_start)
        starts.append(start_step)
        if kills >= NUM_KILLS:
            out, _ = proc.communicate(timeout=600)
            assert proc.returncode == 0, out
            assert f"END {TOTAL_STEPS}" in out
            break
        # Let the run make progress past its start, then kill at a random moment of its loop
        # (with a checkpoint every step, often in the middle of writing one).
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None:
            listed = _listed_checkpoints(model_dir)
            if listed and int(listed[-1].rsplit("-", 1)[1]) > start_step:
                break
            time.sleep(0.02)
        time.sleep(float(rng.uniform(0.0, 0.3)))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        proc.stdout.close()
        expected_start = _check_intact(model_dir)
        if expected_start >= TOTAL_STEPS:  # finished before the kill landed: start over on a new budget
            pytest.fail(f"run finished before {NUM_KILLS} kills; make TOTAL_STEPS larger (starts: {starts})")
    assert kills >= NUM_KILLS
    assert _check_intact(model_dir) == TOTAL_STEPS
    # progress was made across the kills, never lost
    assert starts == sorted(starts) and starts[-1] > 0, starts
    print(f"\nkills survived: {kills}; resumed at steps {starts}")
