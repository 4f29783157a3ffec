"""beat_seeds.py --bundle B [--against A]: an int8 bundle scored on the seeds' test beats
(reference positions, the training path's yardstick), and with --against the paired F1
difference per database from resampling whole records (is a difference more than the patients'
noise?). Apart from beat_seeds.py, which trains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trainer.datasets import beatdb
from trainer.kinds import kind_of
from trainer.kinds.arrhythmia import multi_db_data, per_database_statistics


def bundle_scores(bundle: Path, root: Path) -> dict:
    """A bundle's int8 model on the same test beats (reference positions): the seeds' yardstick."""
    from trainer.onnx_eval import onnx_predict

    data = multi_db_data(kind_of("arrhythmia"), root, None, None, 0)
    probs = onnx_predict(bundle / "model.onnx", data.test)
    stats = per_database_statistics(data.test.y, probs.argmax(1), data.test.groups, data.classes)
    return {
        "bundle": str(bundle),
        **{
            db: {f"{k}_{c}": s["per_class"][c][k] for c in ("S", "V") for k in ("f1", "se", "ppv")}
            for db, s in stats.items()
        },
    }


def paired_bundles(bundle: Path, against: Path, root: Path) -> dict:
    """F1(bundle) - F1(against) for S and V on each test database, resampling whole records
    (`trainer.metrics.record_bootstrap_f1`): is a difference more than the patients' noise?"""
    from trainer.metrics import record_bootstrap_f1
    from trainer.onnx_eval import onnx_predict

    data = multi_db_data(kind_of("arrhythmia"), root, None, None, 0)
    a, b = (onnx_predict(p / "model.onnx", data.test) for p in (bundle, against))
    dbs = np.array([beatdb.database_of(str(g)) for g in data.test.groups])
    return {
        "against": str(against),
        **{
            db: {
                f"f1_{c}": record_bootstrap_f1(
                    data.test.y[dbs == db],
                    a[dbs == db],
                    b[dbs == db],
                    data.test.groups[dbs == db],
                    data.classes.index(c),
                    n_boot=2000,
                )
                for c in ("S", "V")
            }
            for db in sorted(set(dbs.tolist()))
        },
    }


def score_bundle(args, root: Path) -> None:
    """--bundle: the bundle's scores (and with --against, the paired differences) as an entry."""
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc[args.name] = bundle_scores(args.bundle, root)
    if args.against:
        doc[args.name]["paired"] = paired_bundles(args.bundle, args.against, root)
    args.out.write_text(json.dumps(doc, indent=2))
    print(json.dumps(doc[args.name]))
