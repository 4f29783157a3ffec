"""Edge runtime figures for the README: `edge-monitor bench` on a whole 30-minute MIT-BIH record
(DS2 record 200) with the embedded bundles (bench adds every embedded model the record feeds: the
beat model and the ventricular rhythm model run side by side), plus the same replay with the live
UI drawing.
`--pipeline-rounds N` instead times the Monitor itself in this process (CPU time, the beat model
alone and with the ventricular model, interleaved N rounds so a busy host slows both alike) and
writes benchmarks/results/edge_runtime_pipeline.json.

    python benchmarks/edge_runtime.py --mitdb ../shared/data/mitdb

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


def pipeline_ab(record: Path, rounds: int) -> None:
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
    path = Path("benchmarks/results/edge_runtime_pipeline.json")
    path.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--record", default="200")
    parser.add_argument("--profile", default="rpi4")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/edge_runtime.json"))
    parser.add_argument("--pipeline-rounds", type=int, default=0)
    args = parser.parse_args()
    if args.pipeline_rounds:
        pipeline_ab(args.mitdb / args.record, args.pipeline_rounds)
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
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
