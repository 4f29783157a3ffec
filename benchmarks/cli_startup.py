"""How long `trainer` takes to answer --help and to refuse bad arguments (issue 14: under 1 s),
and which heavy libraries each answer imported. Each command runs REPEAT times in a fresh
interpreter (`python -m trainer`, as the console script does); the median wall and CPU
times are kept.
`--before` times another checkout in turn with this one (same interpreter and packages), for a
before/after on one machine however busy it is.

    mkdir /tmp/before && git archive 4181072 | tar -x -C /tmp/before
    python benchmarks/cli_startup.py --before /tmp/before --before-commit 4181072

Writes benchmarks/results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [
    ["--help"],
    ["train", "--help"],
    ["train", "--task", "nosuch"],
    ["train", "--model", "huge"],
    ["compress", "--profile", "nosuch"],
    ["data", "info", "/nonexistent"],
    ["models", "--task", "diagnostic"],  # what `trainer models` did before (one task)
    ["models"],  # every task, after
]
HEAVY = ("torch", "sklearn", "matplotlib", "onnx", "pandas")
# the tree on PYTHONPATH wins over the editable install's finder (dropped) in both runs alike
PROBE = (
    "import runpy, sys, atexit\n"
    "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
    "atexit.register(lambda: sys.__stderr__.write('HEAVY ' + ' '.join("
    f"m for m in {HEAVY!r} if m in sys.modules) + '\\n'))\n"
    "sys.argv = ['trainer'] + sys.argv[1:]\n"
    "runpy.run_module('trainer', run_name='__main__')\n"
)


def run_once(args: list[str], tree: Path) -> tuple[float, float, int, list[str]]:
    """Wall and CPU seconds (user + system: what a busy machine inflates least), exit code and
    the heavy libraries imported, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "100"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, cwd=tree
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    heavy = next((ln[6:] for ln in out.stderr.splitlines() if ln.startswith("HEAVY ")), "")
    return wall, cpu, out.returncode, heavy.split()


def measure(args: list[str], trees: dict[str, Path], repeat: int) -> dict:
    """The trees take turns on every repeat, so a busy machine slows both alike."""
    walls: dict[str, list[float]] = {name: [] for name in trees}
    cpus: dict[str, list[float]] = {name: [] for name in trees}
    row: dict = {"command": "trainer " + " ".join(args)}
    for _ in range(repeat):
        for name, tree in trees.items():
            wall, cpu, code, heavy = run_once(args, tree)
            walls[name].append(wall)
            cpus[name].append(cpu)
            row[name] = {"exit_code": code, "heavy_imports": heavy}
    for name in trees:
        row[name]["median_s"] = round(statistics.median(walls[name]), 3)
        row[name]["min_s"] = round(min(walls[name]), 3)
        row[name]["median_cpu_s"] = round(statistics.median(cpus[name]), 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout, timed in turn with this one")
    parser.add_argument("--before-commit", default="", help="what --before holds, for the record")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/cli_startup.json"))
    args = parser.parse_args()
    trees = {"after": Path(__file__).resolve().parents[1]}
    if args.before:
        trees["before"] = args.before.resolve()
    rows = [measure(c, trees, args.repeat) for c in COMMANDS]
    for r in rows:
        cells = [
            f"{name} {r[name]['median_s']:5.2f} s, CPU {r[name]['median_cpu_s']:5.2f} s "
            f"(exit {r[name]['exit_code']}, imported: "
            f"{' '.join(r[name]['heavy_imports']) or '-'})"
            for name in trees
        ]
        print(f"{r['command']:36s} " + "  ".join(cells))
    git = ["git", "-C", str(trees["after"]), "rev-parse", "--short", "HEAD"]
    result = {
        "commit": subprocess.run(git, capture_output=True, text=True).stdout.strip(),
        "before": f"{args.before_commit} at {args.before}" if args.before else None,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the end",
        "repeat": args.repeat,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
