"""Edge runtime figures for the README: `edge-monitor bench` on a whole 30-minute MIT-BIH record
(DS2 record 200) with the embedded bundles (bench adds every embedded model the record feeds: the
beat model and the ventricular rhythm model run side by side), plus the same replay with the live
UI drawing.

    python benchmarks/edge_runtime.py --mitdb ../shared/data/mitdb

Writes benchmarks/results/edge_runtime.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from edge_monitor.bench import bench, child_run
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.profiles import load_profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--record", default="200")
    parser.add_argument("--profile", default="rpi4")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/edge_runtime.json"))
    args = parser.parse_args()
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
