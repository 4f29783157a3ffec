"""Would the beat model read a beat better on two leads than on one? The seeds of two student
configurations, on the training path (reference beats, fp32), score every test beat on its
record's primary lead, on the other lead (trainer.other_leads) and on the mean (or the more
confident) of both answers, per test database: MIT-BIH DS2 (MLII with mostly V1) and the held-out
svdb records (ECG1 with ECG2). What motivated `edge-monitor --second-lead` (docs/beat_leads.md).

    ECG_EDGE_DATA=../shared/data python benchmarks/beat_leads_fusion.py \
        student-e40-nolate-af4-last student-e40-nolate-af4-last-distil

Writes benchmarks/results/beat_leads_fusion.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from trainer.datasets import beatdb
from trainer.kinds import kind_of
from trainer.kinds.arrhythmia import multi_db_data
from trainer.metrics import beat_statistics
from trainer.other_leads import with_other_lead_test
from trainer.scoring import load_for

OUT = Path("benchmarks/results/beat_leads_fusion.json")
RUNS = Path("runs/beat_seeds")


def fused(a: np.ndarray, b: np.ndarray) -> dict[str, np.ndarray]:
    """Each way of answering from the two leads' class probabilities."""
    surer = np.where(a.max(1, keepdims=True) >= b.max(1, keepdims=True), a, b)
    return {"lead1": a, "lead2": b, "mean": (a + b) / 2, "max_conf": surer}


def main() -> None:
    names = sys.argv[1:]
    if not names:
        raise SystemExit("name one or more configurations of runs/beat_seeds")
    root = beatdb.multi_db_root(None)
    if root is None:
        raise SystemExit("set ECG_EDGE_DATA to a folder holding mitdb/ and svdb/")
    kind = kind_of("arrhythmia")
    data = with_other_lead_test(multi_db_data(kind, root, None, None, 0), root)
    dbs = np.array([beatdb.database_of(str(g)) for g in data.test.groups])
    out: dict = {}
    for name in names:
        for seed in range(5):
            model, _ = load_for(RUNS / name / f"s{seed}" / "model.pt", data)
            p = kind.predict(model, data.test, 0, 4096, "mean")
            for db in ("svdb", "mitdb"):
                y = data.test.y[dbs == db]
                assert (data.test.y[dbs == f"{db}-lead2"] == y).all()  # the same beats
                row = {}
                for how, q in fused(p[dbs == db], p[dbs == f"{db}-lead2"]).items():
                    st = beat_statistics(y, q.argmax(1), data.classes)["per_class"]
                    row[how] = {f"{k}_{c}": st[c][k] for c in "SV" for k in ("f1", "se", "ppv")}
                out.setdefault(name, {}).setdefault(db, []).append(row)
                print(name, seed, db, {h: round(r["f1_S"], 3) for h, r in row.items()}, flush=True)
    for name, per_db in out.items():
        for db, rows in per_db.items():
            for how in rows[0]:
                s = [r[how]["f1_S"] for r in rows]
                v = [r[how]["f1_V"] for r in rows]
                print(f"{name} {db} {how}: S F1 {np.mean(s):.3f} +- {np.std(s, ddof=1):.3f}  "
                      f"V F1 {np.mean(v):.3f} +- {np.std(v, ddof=1):.3f}")  # fmt: skip
    OUT.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
