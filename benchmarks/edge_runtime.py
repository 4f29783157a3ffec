"""Edge runtime figures for the README: `edge-monitor bench` on a whole 30-minute MIT-BIH record
(DS2 record 200) with the embedded bundles (bench adds every embedded model the record feeds: the
beat model and the ventricular rhythm model run side by side), plus the same replay with the live
UI drawing.
`--pipeline-rounds N` instead times the Monitor itself in this process (CPU time, the beat model
alone and with the ventricular model, interleaved N rounds so a busy host slows both alike) and
writes benchmarks/results/edge_runtime_pipeline.json.
`--against TREE --rounds N` compares this checkout with another one (a `git worktree` of an older
commit): `classify --json` of the record from each, interleaved N rounds, the process's wall and
CPU time and the pipeline's own wall time, as ratios of pairs (a busy host slows both alike);
writes benchmarks/results/edge_runtime_ab.json.

    python benchmarks/edge_runtime.py --mitdb ../shared/data/mitdb
    git worktree add /tmp/before <commit>
    python benchmarks/edge_runtime.py --mitdb ../shared/data/mitdb --against /tmp/before --rounds 6

Writes benchmarks/results/edge_runtime.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

from edge_monitor.bench import bench, child_run
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.profiles import load_profile


def pipeline_ab(record: Path, rounds: int, path: Path) -> None:
    """CPU seconds of Monitor.stream over the whole record (4 s blocks, as replay pushes them)."""
    import time

    import numpy as np
    import wfdb

    from edge_monitor.pipeline import Monitor

    beat = load_bundle(embedded_bundle("arrhythmia"), probe=False)
    vent = load_bundle(embedded_bundle("ventricular"), probe=False)
    rec = wfdb.rdrecord(str(record))
    configs = {"beat": [beat], "beat+ventricular": [beat, vent]}
    seconds: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(rounds):
        for name, bundles in configs.items():
            monitor = Monitor(bundles, rec.fs, list(rec.sig_name))
            t0 = time.process_time()
            monitor.stream(rec.p_signal, block_s=4.0)
            seconds[name].append(time.process_time() - t0)
    signal_s = len(rec.p_signal) / rec.fs
    out = {
        "record": str(record),
        "host": f"{platform.machine()}, {platform.python_version()}",
        "load_1min": os.getloadavg()[0],
        "cpu_s": seconds,
        "realtime_factor_cpu": {
            k: round(signal_s / float(np.median(v)), 1) for k, v in seconds.items()
        },
    }
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def classify_run(tree: Path, record: Path) -> dict[str, float]:
    """One `classify --json` of `record` with the edge_monitor of `tree`: process wall and CPU
    seconds (children included: the bundles' trial runs), and the pipeline's wall seconds."""
    import resource
    import subprocess
    import time

    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "edge_monitor", "classify", str(record.resolve()), "--json"]
    out = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    summary = json.loads(out.stdout.splitlines()[-1])
    return {
        "process_wall_s": wall,
        "process_cpu_s": cpu,
        "pipeline_wall_s": summary["wall_seconds"],
        "signal_s": summary["signal_seconds"],
    }


def against(other: Path, record: Path, rounds: int, path: Path) -> None:
    """This checkout against `other`, interleaved: ratios of pairs, medians and minima."""
    import numpy as np

    trees = {"this": Path.cwd(), "other": other.resolve()}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            runs[name].append(classify_run(tree, record))
    signal_s = runs["this"][0]["signal_s"]
    figures = {}
    for key in ("process_wall_s", "process_cpu_s", "pipeline_wall_s"):
        a = np.array([r[key] for r in runs["this"]])
        b = np.array([r[key] for r in runs["other"]])
        figures[key] = {
            "this_median": round(float(np.median(a)), 3),
            "other_median": round(float(np.median(b)), 3),
            "speedup_median_of_pairs": round(float(np.median(b / a)), 3),
            "realtime_factor_this_best": round(signal_s / float(a.min()), 1),
            "realtime_factor_other_best": round(signal_s / float(b.min()), 1),
        }
    out = {
        "record": str(record),
        "this": str(trees["this"]),
        "other": str(trees["other"]),
        "rounds": rounds,
        "load_1min_at_end": os.getloadavg()[0],
        "figures": figures,
        "runs": runs,
    }
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps({k: out[k] for k in ("record", "other", "rounds", "figures")}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--record", default="200")
    parser.add_argument("--profile", default="rpi4")
    parser.add_argument("--out", type=Path,
                        help="default: edge_runtime.json (--against: _ab.json, "
                        "--pipeline-rounds: _pipeline.json)")  # fmt: skip
    parser.add_argument("--pipeline-rounds", type=int, default=0)
    parser.add_argument("--against", type=Path, help="another checkout to compare with")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    if args.against is not None:
        out = args.out or Path("benchmarks/results/edge_runtime_ab.json")
        against(args.against, args.mitdb / args.record, args.rounds, out)
        return
    if args.pipeline_rounds:
        out = args.out or Path("benchmarks/results/edge_runtime_pipeline.json")
        pipeline_ab(args.mitdb / args.record, args.pipeline_rounds, out)
        return
    record = args.mitdb / args.record
    bundle = load_bundle(embedded_bundle("arrhythmia"))
    result = bench([bundle], load_profile(args.profile), record, runs=2000, serial_seconds=10.0)
    # the same replay with the UI drawing (forced on although stdout is a pipe)
    ui = child_run(
        [sys.executable, "-m", "edge_monitor", "replay", str(record), "--speed", "0"],
        env={"FORCE_COLOR": "1", "COLUMNS": "120", "LINES": "50", "TTY_COMPATIBLE": "1"},
    )
    result["replay_with_ui"] = {
        "wall_s_process": ui["wall_s"],
        "realtime_factor_process": result["replay_headless"]["signal_s"] / ui["wall_s"],
    }
    result["host"] = f"{platform.machine()}, {platform.python_version()}"
    out = args.out or Path("benchmarks/results/edge_runtime.json")
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
