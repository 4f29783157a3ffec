"""Train and score the teachers and the seed baseline on the real data; write one JSON.

Usage:
    python benchmarks/teachers.py --ptbxl data/ptbxl --mitdb ../shared/data/mitdb \
        [--runs runs/bench] [--out benchmarks/results/teachers.json] [--only diag-teacher ...] \
        [--extra-seeds 1 2] [--extra-seed-runs arr-teacher]

Each model is trained by the real CLI (`trainer train`) in its own process, so its training
time and peak RSS are its own. The diagnostic teacher and the seed baseline are compared on the
same test records with a paired bootstrap of the macro-AUC difference. `--extra-seeds` trains the
teachers again with other seeds, so the JSON shows how much of a figure is the seed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from cli_runs import train_via_cli

from trainer.metrics import macro_auc, paired_bootstrap

RUNS = {
    "diag-seed-cnn": ("diagnostic", "seed_cnn", "ptbxl"),
    "diag-teacher": ("diagnostic", "teacher", "ptbxl"),
    "arr-teacher": ("arrhythmia", "teacher", "mitdb"),
}


def train(
    name: str, data_dirs: dict[str, str], runs: Path, seed: int, run_name: str, reuse: bool = False
) -> dict:
    task, model, data = RUNS[name]
    out = runs / run_name
    if reuse and (out / "bench.json").exists():  # a finished run of an interrupted benchmark
        return json.loads((out / "bench.json").read_text())
    metrics = train_via_cli(task, model, data_dirs[data], out, seed)
    (out / "bench.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def record_sensitivity(predictions: Path, record: str, cls: int) -> float:
    """Share of one record's beats of a class that were called that class. Record 232 holds 1,382
    of DS2's 1,837 S beats, so the gross S figures swing with it."""
    z = np.load(predictions)
    mask = (z["groups"] == record) & (z["y_test"] == cls)
    return float((z["p_test"][mask].argmax(axis=1) == cls).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptbxl", required=True)
    ap.add_argument("--mitdb", required=True)
    ap.add_argument("--runs", default="runs/bench")
    ap.add_argument("--out", default="benchmarks/results/teachers.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", nargs="*", choices=list(RUNS), default=list(RUNS))
    ap.add_argument("--extra-seeds", nargs="*", type=int, default=[])
    ap.add_argument("--reuse", action="store_true", help="take finished runs from --runs")
    ap.add_argument(
        "--extra-seed-runs", nargs="*", choices=list(RUNS), default=["diag-teacher", "arr-teacher"]
    )
    args = ap.parse_args()
    runs = Path(args.runs)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    dirs = {"ptbxl": args.ptbxl, "mitdb": args.mitdb}
    for name in args.only:
        results[name] = train(name, dirs, runs, args.seed, name, args.reuse)
    for name in args.extra_seed_runs:
        for seed in args.extra_seeds:
            run_name = f"{name}-seed{seed}"
            results[run_name] = train(name, dirs, runs, seed, run_name, args.reuse)
    for name, r in results.items():
        if name.startswith("arr-teacher") and (runs / name / "predictions.npz").exists():
            r["record_232_S_se"] = record_sensitivity(runs / name / "predictions.npz", "232", 1)
    if (runs / "diag-teacher").exists() and (runs / "diag-seed-cnn").exists():
        a = np.load(runs / "diag-teacher" / "predictions.npz")
        b = np.load(runs / "diag-seed-cnn" / "predictions.npz")
        assert np.array_equal(a["y_test"], b["y_test"]), "the two runs saw different test records"
        results["diag-teacher-vs-seed-cnn"] = paired_bootstrap(
            macro_auc, a["y_test"], a["p_test"], b["p_test"]
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
