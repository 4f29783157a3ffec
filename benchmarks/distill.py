"""Distillation ablation: one student trained with and without its teacher, same seed, same budget.

Usage:
    python benchmarks/distill.py --task diagnostic --data-dir data/ptbxl \
        --teacher runs/bench/diag-teacher/model.pt [--seeds 0 1 2] [--out benchmarks/results]

Both students are trained by the real CLI in their own processes and scored on the test split.
Diagnostic pairs are compared with a paired bootstrap of the macro-AUC difference on the same
records; beat pairs report S and V Se / +P side by side. Writes distill_<task>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from cli_runs import train_via_cli

from trainer.metrics import macro_auc, paired_bootstrap


def train(task: str, data_dir: str, out: Path, seed: int, teacher: str | None) -> dict:
    return train_via_cli(
        task, "student", data_dir, out, seed, ["--teacher", teacher] if teacher else None
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", required=True, choices=["diagnostic", "arrhythmia"])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--runs", default="runs/distill")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    results: dict = {"task": args.task, "teacher": args.teacher, "pairs": []}
    for seed in args.seeds:
        base = Path(args.runs) / f"{args.task}-seed{seed}"
        plain = train(args.task, args.data_dir, base / "plain", seed, None)
        kd = train(args.task, args.data_dir, base / "kd", seed, args.teacher)
        pair = {"seed": seed, "without_teacher": plain, "with_teacher": kd}
        if args.task == "diagnostic":
            a = np.load(base / "kd" / "predictions.npz")
            b = np.load(base / "plain" / "predictions.npz")
            pair["kd_minus_plain"] = paired_bootstrap(
                macro_auc, a["y_test"], a["p_test"], b["p_test"]
            )
        results["pairs"].append(pair)
    out = Path(args.out) / f"distill_{args.task}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    for pair in results["pairs"]:
        for name in ("without_teacher", "with_teacher"):
            t = pair[name]["test"]
            score = (
                f"macro AUC {t['macro_auc']:.4f}"
                if args.task == "diagnostic"
                else " ".join(
                    f"{c} {t['per_class'][c]['se']:.3f}/{t['per_class'][c]['ppv']:.3f}"
                    for c in "SV"
                )
            )
            print(f"seed {pair['seed']} {name}: {score}")
        if "kd_minus_plain" in pair:
            print(f"  paired difference: {pair['kd_minus_plain']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
