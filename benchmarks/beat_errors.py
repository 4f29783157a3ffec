"""Where do the beat model's false S beats come from? Per test record (MIT-BIH DS2 and the
held-out svdb records) the confusions between N, S and V, for several models side by side, and
the RR context (prematurity: previous RR over the long mean RR) of the false S and of the S
labels each database trains on. The question it answers: with svdb in training, why do many
DS2 N beats read S (label convention, rate / morphology shift or class prior)?

    ECG_EDGE_DATA=../shared/data nice python benchmarks/beat_errors.py \
        --bundle edge_monitor/default_models/arrhythmia \
        --checkpoint e40-s0=runs/beat_seeds/student-e40/s0/model.pt ... \
        --checkpoint e40-ensemble=runs/beat_seeds/student-e40-ensemble.pt

`--cv nolate=runs/beat_seeds/student-e40-nolate ...`: each seed's student on its own patient
fold instead (the folds hold the AF records 201 and 203): false S inside AF / flutter and
elsewhere, no test data read.

Scores on the reference beat positions (the training path; it matched the device path within
0.01 of F1). Writes benchmarks/results/beat_errors.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.datasets import beatdb
from trainer.datasets.mitdb import AF_RHYTHMS
from trainer.kinds import kind_of
from trainer.kinds.arrhythmia import TRAINED_RR_FEATURES
from trainer.splits import Split

OUT = Path("benchmarks/results/beat_errors.json")
PREMATURITY = TRAINED_RR_FEATURES.index("pre_rr_long")
# prematurity bins (previous RR / long mean RR): clearly premature .. not premature at all
BINS = (0.0, 0.7, 0.8, 0.9, 0.95, 1.05, np.inf)
PAIRS = {"N->S": (0, 1), "S->N": (1, 0), "V->S": (2, 1), "S->V": (1, 2), "N->V": (0, 2)}
N, S = 0, 1


@dataclass(frozen=True)
class Beats:
    """Labels, prematurity and record of every beat of a split, and its database."""

    y: np.ndarray
    prematurity: np.ndarray
    records: np.ndarray
    databases: np.ndarray
    # inside annotated atrial fibrillation / flutter (MIT-BIH labels them N); None: not known
    in_af: np.ndarray | None = None

    @classmethod
    def of(cls, split: Split) -> Beats:
        assert split.extra is not None
        recs = split.groups.astype(str)
        dbs = np.array([beatdb.database_of(r) for r in recs])
        rhythms = getattr(split, "rhythms", None)
        in_af = np.zeros(len(recs), bool) if rhythms is None else np.isin(rhythms, AF_RHYTHMS)
        return cls(split.y, split.extra[:, PREMATURITY], recs, dbs, in_af)


def bin_labels() -> list[str]:
    return [f"{lo:g}-{hi:g}" for lo, hi in zip(BINS[:-1], BINS[1:], strict=True)]


def histogram(values: np.ndarray) -> dict[str, int]:
    counts, _ = np.histogram(values, bins=np.array(BINS))
    return dict(zip(bin_labels(), counts.tolist(), strict=True))


def confusions(y: np.ndarray, pred: np.ndarray) -> dict[str, int]:
    return {k: int(((y == a) & (pred == b)).sum()) for k, (a, b) in PAIRS.items()}


def s_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(((y == S) & (pred == S)).sum())
    fn, fp = int(((y == S) & (pred != S)).sum()), int(((y != S) & (pred == S)).sum())
    return {
        "se_S": tp / (tp + fn) if tp + fn else float("nan"),
        "ppv_S": tp / (tp + fp) if tp + fp else float("nan"),
        "n_S": tp + fn,
        "predicted_S": tp + fp,
    }


def model_errors(beats: Beats, pred: np.ndarray) -> dict:
    """Per database: S scores, confusions, the prematurity of its false S (N->S) beats and of
    its true S it missed, and the records that make most of the false S."""
    out = {}
    for db in sorted(set(beats.databases.tolist())):
        m = beats.databases == db
        y, p, pre, rec = beats.y[m], pred[m], beats.prematurity[m], beats.records[m]
        false_s = (y == N) & (p == S)
        in_af = np.zeros(int(m.sum()), bool) if beats.in_af is None else beats.in_af[m]
        per_record = {
            r: {**confusions(y[rec == r], p[rec == r]), "n_N": int((y[rec == r] == N).sum())}
            for r in sorted(set(rec.tolist()))
        }
        worst = sorted(per_record, key=lambda r: -per_record[r]["N->S"])[:6]
        out[db] = {
            **s_scores(y, p),
            **confusions(y, p),
            "N->S_in_AF": int((false_s & in_af).sum()),
            "N_in_AF": int(((y == N) & in_af).sum()),
            "false_S_prematurity": histogram(pre[false_s]),
            "missed_S_prematurity": histogram(pre[(y == S) & (p != S)]),
            "most_false_S": {r: per_record[r]["N->S"] for r in worst},
            "per_record": per_record,
        }
    return out


def label_conventions(beats: Beats) -> dict:
    """What each database teaches: its S share, the prematurity of its S and N labels, and the
    records whose S beats are not premature (pre RR >= 0.95 of the long mean)."""
    out = {}
    for db in sorted(set(beats.databases.tolist())):
        m = beats.databases == db
        y, pre, rec = beats.y[m], beats.prematurity[m], beats.records[m]
        s_pre = pre[y == S]
        late = (y == S) & (pre >= 0.95)
        by_record = {
            r: {"S": int(((rec == r) & (y == S)).sum()), "late_S": int((late & (rec == r)).sum())}
            for r in sorted(set(rec[y == S].tolist()))
        }
        out[db] = {
            "beats": int(m.sum()),
            "S_share": float((y == S).mean()),
            "S_prematurity": histogram(s_pre),
            "N_prematurity": histogram(pre[y == N]),
            "S_not_premature_share": float((s_pre >= 0.95).mean()) if len(s_pre) else float("nan"),
            "S_top_records": dict(sorted(by_record.items(), key=lambda kv: -kv[1]["S"])[:8]),
        }
    return out


def predictions(args, data) -> dict[str, np.ndarray]:
    """Class predictions of every model asked for, on the test beats."""
    from trainer.scoring import load_for

    preds = {}
    if args.bundle:
        from trainer.onnx_eval import onnx_predict

        preds["bundle"] = onnx_predict(args.bundle / "model.onnx", data.test).argmax(1)
    kind = kind_of("arrhythmia")
    for spec in args.checkpoint:
        name, _, path = spec.partition("=")
        if not path or not Path(path).exists():
            raise SystemExit(f"--checkpoint wants NAME=PATH of an existing file, not {spec!r}")
        model, _ = load_for(Path(path), data)
        preds[name] = kind.predict(model, data.test, 0, 4096, "mean").argmax(1)
    return preds


def cv_af_errors(specs: list[str], root: Path) -> dict:
    """NAME=RUNS: each seed's student (RUNS/s<i>/model.pt, validated on patient fold i) on its
    own validation fold: the false S among the fold's AF / flutter N beats and elsewhere. The
    folds hold MIT-BIH 201 and 203, so this reads the AF question without the test."""
    from trainer.kinds.arrhythmia import multi_db_data
    from trainer.scoring import load_for

    runs = dict(spec.partition("=")[::2] for spec in specs)
    kind, out = kind_of("arrhythmia"), {name: {} for name in runs}
    for fold in range(beatdb.N_FOLDS):
        data = multi_db_data(kind, root, None, None, fold, fold)
        val = data.val
        b = Beats.of(val)
        n_af, n_other = (b.y == N) & b.in_af, (b.y == N) & ~b.in_af
        for name, folder in runs.items():
            ckpt = Path(folder) / f"s{fold}" / "model.pt"
            if not ckpt.exists():
                raise SystemExit(f"--cv wants NAME=RUNS holding RUNS/s<fold>/model.pt: no {ckpt}")
            pred = kind.predict(load_for(ckpt, data)[0], val, 0, 4096, "mean").argmax(1)
            out[name][f"fold{fold}"] = {
                "af_records": sorted(set(b.records[b.in_af].tolist())),
                "N_in_AF": int(n_af.sum()),
                "N->S_in_AF": int((n_af & (pred == S)).sum()),
                "N->S_elsewhere": int((n_other & (pred == S)).sum()),
                **s_scores(b.y, pred),
            }
    return out


def main() -> None:
    from trainer.datasets.beatdb import multi_db_root
    from trainer.kinds.arrhythmia import multi_db_data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="a bundle folder (int8 model.onnx)")
    parser.add_argument("--checkpoint", nargs="*", default=[], help="NAME=PATH of a .pt")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--cv", nargs="*", default=[], help="NAME=RUNS: seeds' AF false S on their own folds"
    )
    args = parser.parse_args()
    root = multi_db_root(None)
    if root is None:
        raise SystemExit("set ECG_EDGE_DATA to a folder holding mitdb/ and svdb/")
    if args.cv:
        doc = cv_af_errors(args.cv, root)
        args.out.write_text(json.dumps(doc, indent=2))
        print(json.dumps(doc, indent=1))
        return
    data = multi_db_data(kind_of("arrhythmia"), root, None, None, 0)
    pool = Beats.of(data.train)
    val = Beats.of(data.val)
    training = Beats(
        *(np.concatenate([getattr(pool, f), getattr(val, f)]) for f in Beats.__dataclass_fields__)
    )
    test = Beats.of(data.test)
    doc = {
        "prematurity": "previous RR / long mean RR (edge_monitor.beats pre_rr_long)",
        "bins": bin_labels(),
        "training_labels": label_conventions(training),
        "test_labels": label_conventions(test),
        "models": {name: model_errors(test, p) for name, p in predictions(args, data).items()},
    }
    args.out.write_text(json.dumps(doc, indent=2))
    for name, m in doc["models"].items():
        for db, e in m.items():
            print(
                f"{name:14s} {db}: S Se {e['se_S']:.3f} +P {e['ppv_S']:.3f}  N->S {e['N->S']}"
                f" (in AF {e['N->S_in_AF']} of {e['N_in_AF']} AF N)  S->N {e['S->N']}"
                f"  V->S {e['V->S']}  worst {e['most_false_S']}"
            )


if __name__ == "__main__":
    main()
