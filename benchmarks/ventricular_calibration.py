"""Where the VT/VF models' probabilities sit, per fold set: the share of windows inside VT/VF
episodes (and outside any) whose P(VT/VF) reaches the fusion's thresholds (0.3, 0.7, 0.9, 0.97),
each record scored by its cross-validation fold's int8 bundle over the whole record (as
benchmarks/ventricular_model.py does); and, per fold bundle, how far its int8 outputs fall short
of its fp32 twin's on the test split (trainer.quantize.range_gap, from the chain's
`stages/final/onnx_test_probs.npz`). Written to read why a two-seed ensemble alarmed less
(docs/preregistrations/2026-12-07-seed-ensemble.md).

    ECG_EDGE_DATA=../shared/data python benchmarks/ventricular_calibration.py \
        runs/ventricular runs/ventricular-s2 runs/ventricular-ens-0-2 \
        --out benchmarks/results/ventricular_ensemble_calibration.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from trainer.datasets import ventricular as vdata
from trainer.quantize import range_gap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ventricular_model import Scorer, record_rows  # noqa: E402

THRESHOLDS = (0.3, 0.7, 0.9, 0.97)


def shares(runs: Path, corpus) -> dict:
    mapping = json.loads((runs / "folds.json").read_text())
    scorers = {b: Scorer(Path(b)) for b in sorted(set(mapping.values()))}
    inside: dict[str, list] = {}
    outside: dict[str, list] = {}
    for group, record in corpus.records.items():
        rows = record_rows(scorers[mapping[group]], record)
        ok = np.isfinite(rows["p"])
        db = group.split("/")[0]
        inside.setdefault(db, []).append(rows["p"][ok & (rows["share"] >= vdata.POSITIVE_SHARE)])
        outside.setdefault(db, []).append(rows["p"][ok & (rows["share"] == 0)])
    out = {}
    for db in sorted(inside):
        p, n = np.concatenate(inside[db]), np.concatenate(outside[db])
        out[db] = {
            "episode_windows": len(p),
            **{f"episode_p>={t}": round(float((p >= t).mean()), 4) for t in THRESHOLDS},
            **{f"outside_p>={t}": round(float((n >= t).mean()), 5) for t in (0.3, 0.97)},
        }
    return out


def range_gaps(runs: Path) -> dict:
    gaps = {}
    for probs in sorted(runs.glob("fold-*/bundle/stages/final/onnx_test_probs.npz")):
        d = np.load(probs)
        gaps[probs.parents[3].name] = round(range_gap(d["fp32"], d["int8"]), 5)
    return gaps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", type=Path, nargs="+", help="fold-set folders with folds.json")
    ap.add_argument("--data", type=Path, default=None, help="else $ECG_EDGE_DATA")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    corpus = vdata.load_corpus(args.data)
    result = {"command": "python benchmarks/ventricular_calibration.py " + " ".join(sys.argv[1:])}
    for runs in args.sets:
        result[str(runs)] = {"windows": shares(runs, corpus), "int8_range_gap": range_gaps(runs)}
        print(runs, json.dumps(result[str(runs)]), flush=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
