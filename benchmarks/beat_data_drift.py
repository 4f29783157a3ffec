"""Why do a recipe's recorded students not come back when retrained? Two checks behind
docs/beat_af.md section 9: how far the beat data of two code versions differ (the trainer on the
import path decides which version dumps), and whether training twice on the same data gives the
same weights.

    ECG_EDGE_DATA=../shared/data python benchmarks/beat_data_drift.py dump /tmp/now.npz
    git worktree add /tmp/old b5a5a00      # the commit the recorded students were trained at
    (cd /tmp/old && ECG_EDGE_DATA=... PYTHONPATH=/tmp/old \
        python /path/to/this/benchmarks/beat_data_drift.py dump /tmp/then.npz)
    python benchmarks/beat_data_drift.py compare /tmp/then.npz /tmp/now.npz
    ECG_EDGE_DATA=../shared/data python benchmarks/beat_data_drift.py determinism

`compare` and `determinism` add their entries to benchmarks/results/beat_data_drift.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

OUT = Path("benchmarks/results/beat_data_drift.json")
SPLITS = ("train", "val", "test")
N_RR = 6  # the features every version computes (later ones append more)


def dump(path: Path) -> None:
    """Patient fold 0's training, validation and test beats, as the trainer on the path builds
    them (MIT-BIH DS1 + svdb training records -> DS2 + held-out svdb)."""
    from trainer.datasets import beatdb
    from trainer.kinds import kind_of
    from trainer.kinds.arrhythmia import multi_db_data

    data = multi_db_data(kind_of("arrhythmia"), beatdb.multi_db_root(None), None, None, 0, 0)
    arrays = {}
    for name in SPLITS:
        split = getattr(data, name)
        arrays |= {f"{name}_x": split.x, f"{name}_y": split.y, f"{name}_rr": split.extra[:, :N_RR]}
        arrays[f"{name}_records"] = np.asarray(split.groups).astype(str)
    np.savez(path, **arrays)


def compare(then: Path, now: Path) -> dict:
    a, b = np.load(then), np.load(now)
    out: dict = {"then": str(then), "now": str(now)}
    for name in SPLITS:
        same = {k: bool(np.array_equal(a[f"{name}_{k}"], b[f"{name}_{k}"])) for k in ("y", "rr")}
        same["records"] = bool(np.array_equal(a[f"{name}_records"], b[f"{name}_records"]))
        diff = np.abs(a[f"{name}_x"].astype(np.float64) - b[f"{name}_x"].astype(np.float64))
        rows = diff.reshape(len(diff), -1).max(axis=1)
        moved = Counter(a[f"{name}_records"][rows > 0].tolist())
        out[name] = {
            "beats": int(len(rows)),
            "labels_rr_records_identical": same,
            "beat_windows_max_abs_diff": float(diff.max()),
            "beat_windows_differing": int((rows > 0).sum()),
            "records_most_differing": dict(moved.most_common(5)),
        }
    return out


def determinism(epochs: int = 2) -> dict:
    """Seed 0's run of docs/beat_af.md section 3's recipe, shortened, twice in one process."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tempfile

    from beat_seed_data import seed_data

    from trainer.checkpoint import load_checkpoint
    from trainer.config import load_config
    from trainer.datasets import beatdb
    from trainer.train import fit

    opts = argparse.Namespace(
        other_leads=False, p_coherence=False, train_on=None, refit=False, af_strips=False,
        drop_late_s=0.95, score_other_leads=False,
    )  # fmt: skip
    data = seed_data(opts, 0, beatdb.multi_db_root(None))
    config = {"batch_size": 128, "af_n_repeat": 4, "keep_epoch": "last", "patience": 8}
    weights = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(2):
            cfg = load_config(
                None, task="arrhythmia", model="student", seed=0, epochs=epochs, threads=1, **config
            )
            path = Path(tmp) / f"run{run}" / "model.pt"
            fit(cfg, data, path, show_progress=False)
            weights.append(load_checkpoint(path)[0].state_dict())
    worst = max(
        float((weights[0][k].float() - weights[1][k].float()).abs().max()) for k in weights[0]
    )
    return {"epochs": epochs, "runs": 2, "max_abs_weight_difference": worst}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("dump").add_argument("out", type=Path)
    cmp = sub.add_parser("compare")
    cmp.add_argument("then", type=Path)
    cmp.add_argument("now", type=Path)
    sub.add_parser("determinism").add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.out)
        return
    entry = compare(args.then, args.now) if args.command == "compare" else determinism(args.epochs)
    doc = json.loads(OUT.read_text()) if OUT.exists() else {}
    doc[args.command] = entry
    OUT.write_text(json.dumps(doc, indent=2))
    print(json.dumps(entry, indent=1))


if __name__ == "__main__":
    main()
