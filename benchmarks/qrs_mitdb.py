"""R-peak detection on all 48 MIT-BIH records against the reference beat annotations.

Usage:
    python benchmarks/qrs_mitdb.py --data-dir ../shared/data/mitdb \
        [--out benchmarks/results/qrs_mitdb.json]

Scoring: wfdb.processing.compare_annotations with a 150 ms match window, over whole records.
Reference beats are the WFDB beat annotations except ventricular flutter waves ('!', record 207),
as AAMI EC57 excludes VF episodes from QRS scoring; detections inside those episodes still count
as false positives here, so the figure is conservative. The detector runs in 1 s chunks, as on
the device.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import wfdb
from wfdb.processing import compare_annotations

from edge_monitor.qrs import detect_r_peaks
from trainer.datasets.mitdb import list_records, resolve_dir

BEAT_SYMBOLS = set("NLRBaJASVrFejnE/fQ?")
TOLERANCE_S = 0.150


def score_record(path: Path) -> dict:
    rec = wfdb.rdrecord(str(path), channels=[0])
    ann = wfdb.rdann(str(path), "atr")
    ref = np.array([s for s, y in zip(ann.sample, ann.symbol, strict=True) if y in BEAT_SYMBOLS])
    t0 = time.perf_counter()
    det = detect_r_peaks(rec.p_signal[:, 0], rec.fs, chunk=int(rec.fs))
    seconds = time.perf_counter() - t0
    cmp = compare_annotations(ref, det, int(TOLERANCE_S * rec.fs))
    cmp.compare()
    offsets_ms = det[cmp.matching_sample_nums[cmp.matched_ref_inds]] - ref[cmp.matched_ref_inds]
    offsets_ms = 1000.0 * offsets_ms / rec.fs
    return {
        "record": path.name,
        "reference_beats": len(ref),
        "detected": len(det),
        "tp": int(cmp.tp),
        "fn": int(cmp.fn),
        "fp": int(cmp.fp),
        "se": float(cmp.sensitivity),
        "ppv": float(cmp.positive_predictivity),
        "offset_ms_median": float(np.median(offsets_ms)) if len(offsets_ms) else None,
        "seconds": seconds,
        "signal_seconds": rec.sig_len / rec.fs,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", default="benchmarks/results/qrs_mitdb.json")
    args = ap.parse_args()
    root = resolve_dir(args.data_dir)
    rows = [score_record(root / name) for name in list_records(root)]
    tp, fn, fp = (sum(r[k] for r in rows) for k in ("tp", "fn", "fp"))
    worst = sorted(rows, key=lambda r: min(r["se"], r["ppv"]))[:5]
    summary = {
        "records": len(rows),
        "reference_beats": tp + fn,
        "gross_se": tp / (tp + fn),
        "gross_ppv": tp / (tp + fp),
        "mean_record_se": float(np.mean([r["se"] for r in rows])),
        "mean_record_ppv": float(np.mean([r["ppv"] for r in rows])),
        "records_below_0.99": [r["record"] for r in rows if min(r["se"], r["ppv"]) < 0.99],
        "worst": [{k: r[k] for k in ("record", "se", "ppv")} for r in worst],
        "realtime_factor": sum(r["signal_seconds"] for r in rows) / sum(r["seconds"] for r in rows),
        "tolerance_ms": 1000 * TOLERANCE_S,
        "host": platform.processor() or platform.machine(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "per_record": rows}, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
