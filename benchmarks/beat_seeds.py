"""How much does the beat student depend on its seed, and which configuration holds across
patients? Seed i trains with patient fold i (of beatdb.N_FOLDS, over MIT-BIH DS1 + the svdb
training records) as its validation, so five seeds give both the seed spread and a 5-fold
leave-patients-out cross-validation score (the mean validation score over folds: what the
configuration is chosen by, never the test). Every seed is then scored on reference beat
positions (the training path, fp32) on MIT-BIH DS2 and on the held-out svdb records, apart.

    ECG_EDGE_DATA=../shared/data nice python benchmarks/beat_seeds.py --model student \
        --seeds 0 1 2 3 4 --epochs 20 --runs runs/beat_seeds

Adds the configuration's entry (per seed, mean and sd) to benchmarks/results/beat_seeds.json;
a seed whose checkpoint exists is scored again, not trained again. With --ensemble PATH the
seeds' students become one checkpoint, the mean of their logits (trainer.models.Ensemble): each
member validated on another patient fold, so no member is picked by luck; it is scored beside
the seeds (entry "<name>-ensemble") and is what `trainer compress --student PATH` ships.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.config import load_config
from trainer.datasets import beatdb
from trainer.kinds import kind_of
from trainer.kinds.arrhythmia import multi_db_data, per_database_statistics
from trainer.models import ensemble_of
from trainer.train import fit

OUT = Path("benchmarks/results/beat_seeds.json")
SCORES = ("f1_S", "se_S", "ppv_S", "f1_V", "se_V", "ppv_V")


def test_scores(ckpt: Path, data) -> dict:
    """S and V Se / +P / F1 of each test database, on the reference beat positions."""
    model, _ = load_checkpoint(ckpt)
    kind = kind_of("arrhythmia")
    probs = kind.predict(model, data.test, 0, 4096, "mean")
    stats = per_database_statistics(data.test.y, probs.argmax(1), data.test.groups, data.classes)
    return {
        db: {f"{k}_{c}": s["per_class"][c][k] for c in ("S", "V") for k in ("f1", "se", "ppv")}
        for db, s in stats.items()
    }


def mean_sd(rows: list[dict]) -> dict:
    """Mean and sample sd of every number the rows share (nested one level: per database)."""
    out: dict = {}
    for key in rows[0]:
        if isinstance(rows[0][key], dict):
            out[key] = mean_sd([r[key] for r in rows])
        else:
            v = np.array([r[key] for r in rows], float)
            out[key] = {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v, ddof=1))}
    return out


def run_seed(args, seed: int, root: Path) -> dict:
    fold = seed % beatdb.N_FOLDS
    data = multi_db_data(kind_of("arrhythmia"), root, None, None, seed, fold=fold)
    ckpt = args.runs / args.name / f"s{seed}" / "model.pt"
    if not ckpt.exists():
        overrides = {"model": args.model, "seed": seed, "epochs": args.epochs}
        overrides |= {"threads": args.threads, "patience": args.patience}
        extra = json.loads(args.config_json)
        cfg = load_config(None, task="arrhythmia", **overrides, **extra)
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        fit(cfg, data, ckpt, show_progress=False)
    _, meta = load_checkpoint(ckpt)
    row = {
        "seed": seed,
        "fold": fold,
        "val_score": meta["metrics"]["val_score"],
        "best_epoch": meta["metrics"]["best_epoch"],
        "params": meta["size"]["params"],
        **test_scores(ckpt, data),
    }
    print(json.dumps(row), flush=True)
    return row


def save_ensemble(ckpts: list[Path], out: Path) -> Path:
    """The students as one checkpoint (mean of logits), described by the first one's fields."""
    pairs = [load_checkpoint(c) for c in ckpts]
    model = ensemble_of([m for m, _ in pairs])
    first = pairs[0][1]
    keep = ("task", "classes", "train_config", "preprocessing", "data")
    save_checkpoint(
        out,
        model,
        **{k: first[k] for k in keep},
        lineage={"ensemble_of": [str(c) for c in ckpts]},
        metrics={"val_score": float(np.mean([c["metrics"]["val_score"] for _, c in pairs]))},
        size={"params": sum(c["size"]["params"] for _, c in pairs), "macs": 0},
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="student", help="a preset of trainer.models")
    parser.add_argument("--name", help="the configuration's name (default: the preset)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--config-json", default="{}", help="other TrainConfig fields, as JSON")
    parser.add_argument("--runs", type=Path, default=Path("runs/beat_seeds"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--ensemble", type=Path, help="write the seeds' ensemble checkpoint here")
    args = parser.parse_args()
    args.name = args.name or args.model
    root = beatdb.multi_db_root(None)
    if root is None:
        raise SystemExit("set ECG_EDGE_DATA to a folder holding mitdb/ and svdb/")
    rows = [run_seed(args, s, root) for s in args.seeds]
    entry = {
        "model": args.model,
        "epochs": args.epochs,
        "config": json.loads(args.config_json),
        "seeds": rows,
        "cv_val_score": mean_sd(rows)["val_score"],
        "summary": mean_sd([{k: v for k, v in r.items() if isinstance(v, dict)} for r in rows]),
    }
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc[args.name] = entry
    if args.ensemble:
        ckpts = [args.runs / args.name / f"s{s}" / "model.pt" for s in args.seeds]
        save_ensemble(ckpts, args.ensemble)
        data = multi_db_data(kind_of("arrhythmia"), root, None, None, 0)
        doc[f"{args.name}-ensemble"] = {
            "members": [str(c) for c in ckpts],
            "checkpoint": str(args.ensemble),
            **test_scores(args.ensemble, data),
        }
        print(f"{args.name}-ensemble:", json.dumps(doc[f"{args.name}-ensemble"]))
    args.out.write_text(json.dumps(doc, indent=2))
    for db, s in entry["summary"].items():
        print(
            f"{args.name} {db}: "
            + "  ".join(f"{k} {s[k]['mean']:.3f} +- {s[k]['sd']:.3f}" for k in SCORES)
        )


if __name__ == "__main__":
    main()
