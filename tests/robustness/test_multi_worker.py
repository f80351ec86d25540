"""Two worker processes on localhost under ``MultiWorkerMirroredStrategy`` (collectives over loopback).

Each family's tiny preset trains a few steps on both workers; both end with identical weights.
Then a run is started, one worker is killed after a checkpoint, both are restarted, and the
restarted run resumes from the chief's newest checkpoint on both workers and ends in step.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests import polling

REPO = pathlib.Path(__file__).resolve().parents[2]


def _free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("localhost", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _start_workers(family, model_dir, out_dir, steps, tag):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO),
            TF_CPP_MIN_LOG_LEVEL="2",
            CUDA_VISIBLE_DEVICES="",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        cmd = [
            sys.executable,
            "-m",
            "tests.robustness.multi_worker_job",
            family,
            str(model_dir),
            str(out_dir / f"{tag}_worker{index}.npz"),
            "--steps",
            str(steps),
        ]
        log = open(out_dir / f"{tag}_worker{index}.log", "w")
        procs.append((subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT), log))
    return procs


def _wait(procs, timeout):
    deadline = time.time() + timeout
    for proc, log in procs:
        try:
            proc.wait(timeout=max(1, deadline - time.time()))
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


def _log(out_dir, tag, index):
    return (out_dir / f"{tag}_worker{index}.log").read_text()


def _start_step(text):
    return int([l for l in text.splitlines() if l.startswith("START")][0].split()[1])


def _assert_same_weights(out_dir, tag):
    a = np.load(out_dir / f"{tag}_worker0.npz", allow_pickle=False)
    b = np.load(out_dir / f"{tag}_worker1.npz", allow_pickle=False)
    assert sorted(a.files) == sorted(b.files) and len(a.files) > 4
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
        assert np.all(np.isfinite(a[name]))
    return len(a.files)


FAMILIES = ["gansynth", "melody_rnn"]  # multi_worker_job.FAMILIES


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_two_workers_train_in_step_and_resume_after_a_kill(tmp_path, family):
    model_dir, out_dir = tmp_path / "run", tmp_path / "out"
    out_dir.mkdir()
    # 1. a clean run of 4 steps: both workers end with identical weights
    procs = _start_workers(family, model_dir, out_dir, 4, "clean")
    _wait(procs, 300)
    for i in range(2):
        text = _log(out_dir, "clean", i)
        assert procs[i][0].returncode == 0, text
        assert "START 0 2" in text and "END 4" in text, text
    n = _assert_same_weights(out_dir, "clean")
    # 2. continue towards many steps, kill worker 1 once the chief has saved step 6 or later
    procs = _start_workers(family, model_dir, out_dir, 10_000, "killed")
    try:
        if polling.wait_for_checkpoint(model_dir, 6, [p for p, _ in procs], timeout=300) < 6:
            pytest.fail(
                "no checkpoint at step >= 6 before a worker ended or in time:\n"
                + _log(out_dir, "killed", 0)
                + _log(out_dir, "killed", 1)
            )
        procs[1][0].send_signal(signal.SIGKILL)
        procs[1][0].wait()
        time.sleep(1.0)
    finally:
        for proc, _ in procs:  # the chief cannot go on alone: its collectives have lost their peer
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        _wait(procs, 30)
    import tensorflow as tf

    last = int(tf.train.latest_checkpoint(str(model_dir)).rsplit("-", 1)[1])
    assert last >= 6
    # 3. restart both: they resume from the chief's newest checkpoint and end in step
    procs = _start_workers(family, model_dir, out_dir, last + 4, "resumed")
    _wait(procs, 300)
    for i in range(2):
        text = _log(out_dir, "resumed", i)
        assert procs[i][0].returncode == 0, text
        assert _start_step(text) == last, text
        assert f"END {last + 4}" in text, text
    _assert_same_weights(out_dir, "resumed")
    print(f"\n{family}: {n} variables identical on both workers; killed at >= step 6, resumed at {last}")
