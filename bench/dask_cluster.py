"""A Dask ``distributed`` cluster on this machine, as separate processes: ``dask scheduler`` and N ``dask worker
--nworkers 1 --nthreads 1``, the layout of a real cluster (for ``bench/bench_dask_scaling.py`` and
``tests/robustness/test_dask_runner.py``).

    with LocalDaskCluster(workers=2) as cluster:
        convert(..., pipeline_args=["--runner", "DaskRunner", "--", f"--dask_client_address={cluster.address}"])

The scheduler takes a free port (``--port 0``) and writes its address to a scheduler file in a temporary
folder, which also holds the workers' local directories and every process's log. Each process starts in
a session of its own; leaving the block (also on an error or a Ctrl-C) ends each of those process groups
(SIGTERM, then SIGKILL after a grace period) and deletes the folder.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import List, Optional

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent


class ClusterError(RuntimeError):
    """The cluster did not come up in time; the message ends with the tails of its logs."""


class LocalDaskCluster:
    """``dask scheduler`` + ``workers`` single-threaded ``dask worker`` processes on 127.0.0.1.

    Args:
      workers: how many worker processes (each ``--nworkers 1 --nthreads 1``).
      start_timeout: seconds to wait for the scheduler's address and for every worker to register.
      env: extra environment for the processes (``PYTHONPATH`` always starts with this repository, so
        that the workers import this checkout).
    """

    def __init__(self, workers: int = 2, start_timeout: float = 120.0, env: Optional[dict] = None):
        self.workers = workers
        self.start_timeout = start_timeout
        self.env = dict(env or {})
        self.folder: Optional[pathlib.Path] = None
        self.address: Optional[str] = None
        self._procs: List[subprocess.Popen] = []

    # --- processes

    def _environ(self) -> dict:
        env = dict(os.environ)
        path = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), path) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.update(self.env)
        return env

    def _spawn(self, name: str, args: list) -> None:
        log = open(self.folder / f"{name}.log", "wb")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "dask", *args],
                cwd=self.folder,
                env=self._environ(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            log.close()
        self._procs.append(proc)

    def _check_alive(self) -> None:
        for proc in self._procs:
            if proc.poll() is not None:
                raise ClusterError(
                    f"{' '.join(proc.args[2:4])} exited with status {proc.returncode}" + self.log_tails()
                )

    def start(self) -> "LocalDaskCluster":
        """Starts the processes and waits until every worker has registered; returns self."""
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="tfmusic_dask_"))
        scheduler_file = self.folder / "scheduler.json"
        deadline = time.monotonic() + self.start_timeout
        try:
            self._spawn(
                "scheduler",
                [
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
            )
            while not self._scheduler_address(scheduler_file):
                self._check_alive()
                if time.monotonic() > deadline:
                    raise ClusterError(f"no scheduler address after {self.start_timeout:.0f} s" + self.log_tails())
                time.sleep(0.2)
            self.address = self._scheduler_address(scheduler_file)
            for k in range(self.workers):
                self._spawn(
                    f"worker{k}",
                    [
                        "worker",
                        self.address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--local-directory",
                        str(self.folder / f"worker{k}"),
                    ],
                )
            self._wait_for_workers(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _scheduler_address(scheduler_file: pathlib.Path) -> Optional[str]:
        try:
            return json.loads(scheduler_file.read_text()).get("address")
        except (FileNotFoundError, ValueError):
            return None  # not there yet, or half written

    def _wait_for_workers(self, deadline: float) -> None:
        from dask.distributed import Client

        with Client(self.address, timeout=max(1.0, deadline - time.monotonic())) as client:
            while len(client.scheduler_info(n_workers=-1)["workers"]) < self.workers:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"{len(client.scheduler_info(n_workers=-1)['workers'])} of {self.workers} workers "
                        f"registered after {self.start_timeout:.0f} s" + self.log_tails()
                    )
                time.sleep(0.2)

    def stop(self, grace: float = 10.0) -> None:
        """Ends every process group this cluster started (workers first), then deletes its folder."""
        procs, self._procs = list(reversed(self._procs)), []
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:  # still there: its whole group (a worker's nanny and its worker)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def log_tails(self, lines: int = 15) -> str:
        """The last ``lines`` lines of each process's log (for error messages)."""
        if self.folder is None:
            return ""
        out = []
        for log in sorted(self.folder.glob("*.log")):
            tail = log.read_bytes().decode("utf-8", "replace").splitlines()[-lines:]
            out.append(f"\n--- {log.name}\n" + "\n".join(tail))
        return "".join(out)

    def __enter__(self) -> "LocalDaskCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["ClusterError", "LocalDaskCluster"]
