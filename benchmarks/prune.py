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


def deployed_cost(before: Path, after: Path, data_dir: str, runs: int = 500) -> dict:
    """Both checkpoints exported to fp32 ONNX (and int8): file bytes and one-thread latency,
    measured in one run on the same real test inputs, so the ratio holds on a noisy host."""
    import tempfile

    from edge_monitor.contract import read_contract
    from edge_monitor.inference import open_session, time_session
    from edge_monitor.profiles import load_profile
    from trainer.export import export_checkpoint, real_inputs
    from trainer.quantize import quantize_model
    from trainer.tasks import data_for_checkpoint

    data = data_for_checkpoint(load_checkpoint(before)[1], data_dir)
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, ckpt in (("before", before), ("after", after)):
            fp32, int8 = Path(tmp) / f"{name}.onnx", Path(tmp) / f"{name}-int8.onnx"
            export_checkpoint(ckpt, fp32, data_dir, data=data)
            quantize_model(fp32, int8, data, load_profile("host"))
            feeds = real_inputs(data.test, read_contract(fp32).inputs, 64)
            result[name] = {
                "onnx_fp32_bytes": fp32.stat().st_size,
                "onnx_int8_bytes": int8.stat().st_size,
                "fp32_p50_ms": time_session(open_session(fp32), feeds, runs=runs).p50_ms,
                "int8_p50_ms": time_session(open_session(int8), feeds, runs=runs).p50_ms,
            }
    result["fp32_speedup"] = result["before"]["fp32_p50_ms"] / result["after"]["fp32_p50_ms"]
    result["int8_speedup"] = result["before"]["int8_p50_ms"] / result["after"]["int8_p50_ms"]
    return result


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
    ap.add_argument("--reuse", action="store_true", help="keep a finished pruned run")
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
    if not (args.reuse and (out / "metrics.json").exists()):
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
        "parameter_sparsity": 1 - lineage["after"]["params"] / lineage["before"]["params"],
        "deployed": deployed_cost(Path(args.model), out / "model.pt", args.data_dir),
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
