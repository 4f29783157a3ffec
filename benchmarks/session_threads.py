"""Does a second intra-op thread pay for a small model? Each bundle's int8 session at 1 and at 2
(or --threads) intra-op threads, called in turn on the same input (interleaved, so both see
the same machine), batch 1 as the monitor calls it: median, mean and p95 per call, and the ratio.
onnxruntime hands each operator's work to its pool; for a model of a few million
multiply-accumulates the hand-over and the wake-up of a sleeping thread (the monitor's sessions
never spin) may cost more than the work saved.

    python benchmarks/session_threads.py --out benchmarks/results/session_threads.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from edge_monitor.bundle import load_bundle
from edge_monitor.inference import open_session

DEFAULT_MODELS = Path(__file__).resolve().parents[1] / "edge_monitor" / "default_models"


def stats(seconds: list[float]) -> dict:
    us = np.asarray(seconds) * 1e6
    return {
        "median_us": float(np.median(us)),
        "mean_us": float(us.mean()),
        "p95_us": float(np.percentile(us, 95)),
    }


def measure(bundle_dir: Path, threads: list[int], calls: int, warmup: int) -> dict:
    bundle = load_bundle(bundle_dir)
    sessions = {t: open_session(bundle.model_source, t) for t in threads}
    rng = np.random.default_rng(0)
    first = sessions[threads[0]]
    feed = {
        i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(
            np.float32
        )
        for i in first.get_inputs()
    }
    times: dict[int, list[float]] = {t: [] for t in threads}
    for n in range(warmup + calls):
        for t, session in sessions.items():
            t0 = time.perf_counter()
            session.run(None, feed)
            if n >= warmup:
                times[t].append(time.perf_counter() - t0)
    row = {
        "bundle": bundle.name,
        "task": bundle.task,
        "macs": bundle.manifest.get("model", {}).get("macs"),
        "threads": {str(t): stats(v) for t, v in times.items()},
    }
    base = row["threads"][str(threads[0])]["median_us"]
    row["median_ratio"] = {str(t): row["threads"][str(t)]["median_us"] / base for t in threads}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", type=Path, nargs="*", help="bundle folders (default: embedded)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    bundles = args.bundles or sorted(p.parent for p in DEFAULT_MODELS.glob("*/manifest.json"))
    rows = []
    for b in bundles:
        rows.append(measure(b, args.threads, args.calls, args.warmup))
        r = rows[-1]
        line = ", ".join(
            f"{t} thread(s) {v['median_us']:.0f} us (p95 {v['p95_us']:.0f})"
            for t, v in r["threads"].items()
        )
        print(f"{r['bundle']} ({r['macs']:,} MACs): {line}", flush=True)
    result = {
        "command": "python benchmarks/session_threads.py " + " ".join(map(str, args.bundles)),
        "host": {"machine": platform.machine(), "processor": platform.processor()},
        "calls": args.calls,
        "models": rows,
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
