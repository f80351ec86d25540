"""bench/zoo/common.WallClock: a zoo run's wall time adds up over stops and resumes, including a run that
was killed before it could write its own time."""

import json
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench" / "zoo"))
import common  # noqa: E402  (bench/zoo/common.py)


def test_stages_add_up(tmp_path):
    path = tmp_path / "train_time.json"
    for _ in range(2):
        with common.WallClock(path, heartbeat_s=0.05):
            time.sleep(0.2)
    record = json.loads(path.read_text())
    assert "running" not in record  # both finished: nothing left in progress
    assert 0.4 <= record["seconds"] < 2.0
    assert common.WallClock.total(path) == record["seconds"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_run_still_counts_up_to_its_last_heartbeat(tmp_path, sig):
    path = tmp_path / "train_time.json"
    path.write_text(json.dumps({"seconds": 100.0}))  # an earlier, finished time slice
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO / "bench" / "zoo")!r})
        import common
        with common.WallClock({str(path)!r}, heartbeat_s=0.1):
            print("started", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "started"
    time.sleep(1.0)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    killed = json.loads(path.read_text())
    assert killed["seconds"] == 100.0 and 0.5 <= killed["running"] <= 1.5
    assert 100.5 <= common.WallClock.total(path) <= 101.5
    with common.WallClock(path, heartbeat_s=0.05):  # the resumed run folds the killed one's time in
        time.sleep(0.1)
    resumed = json.loads(path.read_text())
    assert "running" not in resumed and 100.6 <= resumed["seconds"] <= 102.0
