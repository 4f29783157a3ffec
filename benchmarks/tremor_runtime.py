"""What the tremor sign costs at run time: the Monitor (embedded beat and VT/VF bundles, 4 s
blocks as replay pushes them) over a whole MIT-BIH record with the gate's organised-QRS sign
and the fusion's withholding off and on, interleaved rounds in one process (a busy host slows
both alike), CPU time; the real-time factor is the record's length over the median.

    python benchmarks/tremor_runtime.py --mitdb ../shared/data/mitdb --rounds 3

Writes benchmarks/results/tremor_stress_runtime.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import wfdb

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.pipeline import Monitor
from edge_monitor.quality import QualitySpec
from edge_monitor.ventricular import FusionSpec


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--mitdb", type=Path, required=True)
    cli.add_argument("--record", default="200")
    cli.add_argument("--rounds", type=int, default=3)
    cli.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/tremor_stress_runtime.json")
    )
    args = cli.parse_args()
    if not (args.mitdb / f"{args.record}.hea").is_file() or args.rounds < 1:
        sys.exit(f"no record {args.record} in {args.mitdb} (or --rounds < 1)")
    bundles = [load_bundle(embedded_bundle(t), probe=False) for t in ("arrhythmia", "ventricular")]
    rec = wfdb.rdrecord(str(args.mitdb / args.record))
    configs = {"sign off": False, "sign and withholding on": True}
    seconds: dict[str, list[float]] = {k: [] for k in configs}
    for _ in range(args.rounds):
        for name, on in configs.items():
            monitor = Monitor(bundles, rec.fs, list(rec.sig_name),
                              quality=QualitySpec(organised_qrs=on),
                              fusion=FusionSpec(withhold_organised=on))  # fmt: skip
            t0 = time.process_time()
            monitor.stream(rec.p_signal, block_s=4.0)
            seconds[name].append(time.process_time() - t0)
    signal_s = len(rec.p_signal) / rec.fs
    out = {
        "command": "python benchmarks/tremor_runtime.py " + " ".join(sys.argv[1:]),
        "record": args.record,
        "host": f"{platform.machine()}, {platform.python_version()}",
        "load_1min": os.getloadavg()[0],
        "cpu_s": seconds,
        "realtime_factor_cpu": {
            k: round(signal_s / float(np.median(v)), 1) for k, v in seconds.items()
        },
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
