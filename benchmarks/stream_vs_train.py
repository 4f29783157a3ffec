"""Does the device path reproduce what `trainer compress` reported? Every MIT-BIH DS2 record is
streamed through the edge Monitor (detector, causal filter, beat context, int8 model) and its beats
matched to the reference annotations with a 150 ms window, AAMI EC57 style. A reference beat the
detector missed counts as a miss of its class (labelled Q: not classified), a detected beat with
no reference beat is an extra beat (it can only hurt +P). The training path scored the same model
on reference R-peak positions; the difference between the two is the cost of the live detector.

    python benchmarks/stream_vs_train.py --mitdb ../shared/data/mitdb

Writes benchmarks/results/stream_vs_train.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import wfdb

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.pipeline import BeatEvent, Monitor
from trainer.datasets.mitdb import AAMI_CLASSES, DS2, SYMBOL_TO_CLASS
from trainer.metrics import MISSED, beat_statistics, match_beats


def stream_record(bundle, path: Path) -> tuple[np.ndarray, list[str]]:
    rec = wfdb.rdrecord(str(path))
    monitor = Monitor([bundle], float(rec.fs), list(rec.sig_name))
    beats = [e for e in monitor.stream(rec.p_signal, block_s=1.0) if isinstance(e, BeatEvent)]
    return np.array([b.sample for b in beats]), [b.label for b in beats]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--bundle", type=Path, help="a bundle folder (default: the embedded one)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/stream_vs_train.json"))
    args = parser.parse_args()
    bundle = load_bundle(args.bundle or embedded_bundle("arrhythmia"))
    y_true, y_pred, per_record = [], [], {}
    t0 = time.perf_counter()
    for name in DS2:
        path = args.mitdb / name
        ann = wfdb.rdann(str(path), "atr")
        keep = [i for i, s in enumerate(ann.symbol) if s in SYMBOL_TO_CLASS]
        ref_samples = np.asarray(ann.sample)[keep]
        ref_labels = [SYMBOL_TO_CLASS[ann.symbol[i]] for i in keep]
        got_samples, got_labels = stream_record(bundle, path)
        t, p = match_beats(ref_samples, ref_labels, got_samples, got_labels, int(0.15 * 360))
        y_true += t
        y_pred += p
        per_record[name] = {
            "reference": len(ref_samples),
            "detected": len(got_samples),
            "missed": int(sum(1 for a in p if a == MISSED)),
            "extra": int(sum(1 for a in t if a == MISSED)),
        }
        print(name, per_record[name], flush=True)
    seconds = time.perf_counter() - t0
    classes = (*AAMI_CLASSES, "none")
    stream = beat_statistics(np.array(y_true), np.array(y_pred), classes)
    stream["per_class"].pop("none")
    train = bundle.manifest["final"]["test"]
    result = {
        "bundle": str(bundle.path),
        "records": list(DS2),
        "stream": stream,
        "stream_per_record": per_record,
        "training_path_final_int8": train,
        "difference": {
            f"{k}_{c}": stream["per_class"][c][m] - train[f"{k}_{c}"]
            for c in ("S", "V")
            for k, m in (("se", "se"), ("ppv", "ppv"))
        }
        | {f"f1_{c}": stream["per_class"][c]["f1"] - train[f"f1_{c}"] for c in ("S", "V")},
        "seconds": seconds,
    }
    args.out.write_text(json.dumps(result, indent=2))
    for c in ("N", "S", "V", "F"):
        s = stream["per_class"][c]
        print(f"{c}: stream Se {s['se']:.3f} +P {s['ppv']:.3f} F1 {s['f1']:.3f}")
    print("training path:", {k: round(v, 3) for k, v in train.items()})
    print(f"{seconds:.0f} s for {len(DS2)} records")


if __name__ == "__main__":
    main()
