"""Which patients make the seed spread? For every student of some beat_seeds.py configurations,
per test record: S beats found, S beats in all, and other beats read S (training path:
reference beat positions, fp32), with each student's DS2 S F1 beside them. DS2 S F1 is pooled
over 22 records, but one of them (MIT-BIH 232) holds three quarters of its S beats.

    ECG_EDGE_DATA=../shared/data python benchmarks/beat_seed_records.py \
        student-e40-nolate-af4-avg10-refit student-e40-nolate-af4-last

Writes benchmarks/results/beat_seed_records.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge_monitor.errors import InputError
from trainer.datasets import beatdb
from trainer.kinds import kind_of
from trainer.kinds.arrhythmia import multi_db_data
from trainer.scoring import load_for

RECORDS = ("232", "219", "222", "210", "202", "svdb/861", "svdb/891")
S = 1  # index of S in the AAMI classes N S V F


def s_counts(y: np.ndarray, pred: np.ndarray, here: np.ndarray) -> dict[str, int]:
    return {
        "found": int(((y == S) & (pred == S) & here).sum()),
        "of": int(((y == S) & here).sum()),
        "false": int(((y != S) & (pred == S) & here).sum()),
    }


def f1_s(y: np.ndarray, pred: np.ndarray, here: np.ndarray) -> float:
    c = s_counts(y, pred, here)
    missed = c["of"] - c["found"]
    return 2 * c["found"] / max(2 * c["found"] + c["false"] + missed, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="configurations under --runs (their s*/model.pt)")
    parser.add_argument("--runs", type=Path, default=Path("runs/beat_seeds"))
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/beat_seed_records.json")
    )
    args = parser.parse_args()
    root = beatdb.multi_db_root(None)
    if root is None:
        raise SystemExit("set ECG_EDGE_DATA to a folder holding mitdb/ and svdb/")
    kind = kind_of("arrhythmia")
    data = multi_db_data(kind, root, None, None, 0)
    y, groups = data.test.y, data.test.groups.astype(str)
    ds2 = np.array([beatdb.database_of(g) == "mitdb" for g in groups])
    doc: dict = {"records": list(RECORDS), "configurations": {}}
    for name in args.names:
        ckpts = sorted((args.runs / name).glob("s*/model.pt"), key=lambda p: int(p.parent.name[1:]))
        rows = []
        for ckpt in ckpts:
            model, _ = load_for(ckpt, data)
            pred = kind.predict(model, data.test, 0, 4096, "mean").argmax(1)
            row = {"seed": int(ckpt.parent.name[1:]), "ds2_f1_S": f1_s(y, pred, ds2)}
            row |= {r: s_counts(y, pred, groups == r) for r in RECORDS}
            rows.append(row)
            print(name, json.dumps(row), flush=True)
        doc["configurations"][name] = rows
    args.out.write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    try:
        main()
    except InputError as exc:  # a checkpoint that reads other inputs than these data: one line
        raise SystemExit(str(exc)) from None
