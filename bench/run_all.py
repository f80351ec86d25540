"""Run every benchmark in bench/ (files named bench_*.py), then join their tables.

Each benchmark is run as ``python bench/bench_X.py --out DIR`` and must write ``DIR/X.json`` and
``DIR/X.md``. This script writes ``DIR/summary.md`` (all tables, with the machine they ran on) and
exits non-zero if any benchmark failed. Never part of ``make test``.
"""

import argparse
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument("--only", default="", help="comma-separated benchmark names (e.g. specgrams)")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = {w for w in args.only.split(",") if w}
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem[len("bench_") :] in wanted)
    failures = []
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for script in scripts:
        print(f"== {script.name}", flush=True)
        t0 = time.time()
        rc = subprocess.call([sys.executable, str(script), "--out", str(out)], env=env)
        print(f"== {script.name}: exit {rc} in {time.time() - t0:.0f} s", flush=True)
        if rc:
            failures.append(script.name)
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}.",
        "",
    ]
    for script in scripts:
        table = out / f"{script.stem[len('bench_') :]}.md"
        if table.exists():
            lines += [table.read_text().strip(), ""]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print((out / "summary.md").read_text())
    if failures:
        print("failed:", ", ".join(failures), file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
