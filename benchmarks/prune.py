"""Structured pruning measured: a trained network before and after pruning + fine-tuning.

Usage:
    python benchmarks/prune.py --task diagnostic --data-dir data/ptbxl \
        --model runs/distill/diagnostic-seed0/plain/model.pt \
        --teacher runs/bench/diag-teacher/model.pt [--ratio 0.6] [--out benchmarks/results]

Runs the real CLI (`trainer prune`) and compares the two models on the same test records
(diagnostic: paired bootstrap of the macro-AUC difference; beats: S and V F1). Writes
prune_<task>.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from trainer.checkpoint import load_checkpoint
from trainer.metrics import macro_auc, paired_bootstrap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", required=True, choices=["diagnostic", "arrhythmia"])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--model", required=True, help="a trained checkpoint with metrics.json beside")
    ap.add_argument("--teacher", default=None)
    ap.add_argument("--ratio", type=float, default=0.6)
    ap.add_argument("--runs", default="runs/prune")
    ap.add_argument("--out", default="benchmarks/results")
    ap.add_argument("--tag", default="", help="suffix of the result file (prune_TASK_TAG.json)")
    args = ap.parse_args()
    suffix = f"_{args.tag}" if args.tag else ""
    out = Path(args.runs) / f"{args.task}{suffix}-r{args.ratio}"
    cmd = [
        sys.executable,
        "-m",
        "trainer",
        "prune",
        args.model,
        "--ratio",
        str(args.ratio),
        "--data-dir",
        args.data_dir,
        "--out",
        str(out),
    ]
    if args.teacher:
        cmd += ["--teacher", args.teacher]
    subprocess.run(cmd, check=True)
    before = json.loads((Path(args.model).parent / "metrics.json").read_text())
    after = json.loads((out / "metrics.json").read_text())
    lineage = load_checkpoint(out / "model.pt")[1]["lineage"]
    result = {
        "task": args.task,
        "ratio": args.ratio,
        "command": " ".join(["trainer", *cmd[3:]]),
        "size": lineage,
        "mac_reduction": 1 - lineage["after"]["macs"] / lineage["before"]["macs"],
        "before": before["test"],
        "after": after["test"],
    }
    if args.task == "diagnostic":
        a = np.load(out / "predictions.npz")
        b = np.load(Path(args.model).parent / "predictions.npz")
        result["pruned_minus_original"] = paired_bootstrap(
            macro_auc, a["y_test"], a["p_test"], b["p_test"]
        )
    path = Path(args.out) / f"prune_{args.task}{suffix}.json"
    path.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("before", "after")}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
