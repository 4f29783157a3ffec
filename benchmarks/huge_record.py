"""Memory on a long record: replay reads WFDB in blocks, so peak RSS must not grow with length.

Writes a long single-lead record by repeating MIT-BIH 100 (format 16), streams it through
`edge-monitor classify` in a child process, and compares its peak RSS with a 30-minute record's.

    python benchmarks/huge_record.py --mitdb ../shared/data/mitdb --hours 6

Writes benchmarks/results/huge_record.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import wfdb


def classify(record: Path) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "edge_monitor", "classify", str(record), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(out.stdout.splitlines()[-1])
    return {
        "signal_hours": summary["signal_seconds"] / 3600,
        "wall_s": time.perf_counter() - t0,
        "peak_rss_mb": summary["peak_rss_mb"],
        "beats": sum(summary["beats"].values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--hours", type=float, default=6.0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/huge_record.json"))
    args = parser.parse_args()
    src = wfdb.rdrecord(str(args.mitdb / "100"), channels=[0], physical=False)
    reps = int(np.ceil(args.hours * 3600 * src.fs / src.sig_len))
    with tempfile.TemporaryDirectory() as tmp:
        d = np.tile(src.d_signal, (reps, 1))
        wfdb.wrsamp(
            "long",
            fs=src.fs,
            units=["mV"],
            sig_name=["MLII"],
            d_signal=d,
            fmt=["16"],
            adc_gain=src.adc_gain,
            baseline=src.baseline,
            write_dir=tmp,
        )
        del d
        result = {
            "short": classify(args.mitdb / "100"),
            "long": classify(Path(tmp) / "long"),
            "file_mb": (Path(tmp) / "long.dat").stat().st_size / 1e6,
        }
    result["rss_growth_mb"] = result["long"]["peak_rss_mb"] - result["short"]["peak_rss_mb"]
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
