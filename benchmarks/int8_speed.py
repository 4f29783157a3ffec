"""int8 against fp32 ONNX latency, one thread, same run, for the teachers and the shipped students
of the compress bundles: where does int8 pay on this CPU?

    python benchmarks/int8_speed.py runs/compress/diagnostic-rpi4 runs/compress/arrhythmia-rpi4

Writes benchmarks/results/int8_speed.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge_monitor.inference import open_session, time_session


def feeds_for(session, n: int = 16) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        {i.name: rng.normal(0, 0.3, i.shape).astype(np.float32) for i in session.get_inputs()}
        for _ in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", type=Path, nargs="+")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/int8_speed.json"))
    args = parser.parse_args()
    rows = []
    for bundle in args.bundles:
        manifest = json.loads((bundle / "manifest.json").read_text())
        for stage in ("teacher", "final"):
            folder = bundle / "stages" / stage
            row = {
                "bundle": bundle.name,
                "model": stage,
                "macs": manifest["stages"][f"{stage}-int8"]["macs"],
            }
            for precision in ("fp32", "int8"):
                session = open_session(folder / f"model-{precision}.onnx")
                stats = time_session(session, feeds_for(session), runs=args.runs)
                row[f"{precision}_p50_ms"] = stats.p50_ms
            row["int8_speedup"] = row["fp32_p50_ms"] / row["int8_p50_ms"]
            rows.append(row)
            print(row)
    args.out.write_text(json.dumps({"rows": rows, "threads": 1}, indent=2))


if __name__ == "__main__":
    main()
