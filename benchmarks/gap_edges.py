"""Does losing the signal make beats that were never there? Every unpaced MIT-BIH (44) and svdb
(39) record's first 11 minutes lose their signal (NaN on every channel: a leads-off, a dropout)
ten times (`--fill held` or `zero`: a flat line instead, unflagged, as a recorder may write
one), at 60 s + 60 k (k = 0..9, each start jittered by up to 1 s from a seed per record),
for 0.3, 1, 3, 10 and 30 s in turn; the device Monitor (embedded beat and VT/VF models, the
CLI's second lead, 1 s blocks) streams the record with and without the gaps. A beat of the
gapped stream that the gapless one has not (150 ms) is invented; a gapless beat outside the
gaps the gapped stream lacks is lost. Both are counted by where they lie: in the 2 s before a
gap, inside it, in the 5 s after it, or elsewhere; invented beats by the label they were given;
beats of both streams in the 2 s before or the 5 s after a gap given another label (relabelled);
and the warnings and critical alarms standing at some time from 2 s before a gap to 20 s after
it that did not stand at any time there in the gapless stream (an alarm cleared by the gap and
raised again after it is not new).

    ECG_EDGE_DATA=../shared/data python benchmarks/gap_edges.py --jobs 2

Writes benchmarks/results/gap_edges.json (`--out`). Run it from another tree's root (a git
worktree) to measure other code on the same gaps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_generalization import TOLERANCE_S  # noqa: E402
from beat_logging import embedded_models, record_paths, record_sets  # noqa: E402

from edge_monitor.alert_rules import AlertEvent
from edge_monitor.pipeline import BeatEvent, Monitor
from edge_monitor.second_lead import DEFAULT as SECOND_LEAD

GAP_LENGTHS_S = (0.3, 1.0, 3.0, 10.0, 30.0)
FIRST_S, EVERY_S, N_GAPS = 60.0, 60.0, 10
BEFORE_S, AFTER_S, ALERT_AFTER_S = 2.0, 5.0, 20.0
PLACES = ("before", "inside", "after", "elsewhere")
OUT = Path("benchmarks/results/gap_edges.json")


def gap_spans(record_id: str, fs: float, n: int) -> list[tuple[int, int, float]]:
    """(start, end, length in s) of the record's gaps: the same for every tree and run."""
    rng = np.random.default_rng(zlib.crc32(record_id.encode()))
    spans = []
    for k in range(N_GAPS):
        start = FIRST_S + EVERY_S * k + float(rng.uniform(0.0, 1.0))
        length = GAP_LENGTHS_S[k % len(GAP_LENGTHS_S)]
        a, b = int(start * fs), int((start + length) * fs)
        if b < n:
            spans.append((a, b, length))
    return spans


def place(sample: int, spans: list[tuple[int, int, float]], fs: float) -> tuple[str, float]:
    """Where a beat lies against the gaps, and the length of the gap it lies by."""
    for a, b, length in spans:
        if a - BEFORE_S * fs <= sample < a:
            return "before", length
        if a <= sample < b:
            return "inside", length
        if b <= sample < b + AFTER_S * fs:
            return "after", length
    return "elsewhere", 0.0


def stream(x: np.ndarray, fs: float, names: list[str]) -> tuple[np.ndarray, list[str], list]:
    monitor = Monitor(embedded_models(), fs, names, second_lead=SECOND_LEAD)
    events = monitor.stream(x, block_s=1.0)
    beats = [e for e in events if isinstance(e, BeatEvent)]
    alerts = [(e.sample, e.level, e.label) for e in events if isinstance(e, AlertEvent)]
    return np.array([b.sample for b in beats], np.int64), [b.label or "Q" for b in beats], alerts


def standing(alerts: list, lo: float, hi: float) -> set[str]:
    """'level label' of the warnings and critical alarms standing at some time in [lo, hi)."""
    active: dict[str, str] = {}
    seen: set[str] = set()
    for sample, level, label in alerts:
        if sample >= hi:
            break
        if sample >= lo:
            seen |= {f"{lv} {lb}" for lb, lv in active.items()}
        if level in ("warning", "critical"):
            active[label] = level
        else:
            active.pop(label, None)
    return seen | {f"{lv} {lb}" for lb, lv in active.items()}


def matches(a: np.ndarray, b: np.ndarray, tol: int) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Pairs (i, j) of `a` and `b` (sorted) within `tol`, each sample of `b` the partner of one
    of `a` at most (the nearest free one), and the indices of `a` left without a partner (a
    second detection of one beat is left)."""
    used = np.zeros(len(b), bool)
    pairs, left = [], []
    for i, x in enumerate(a.tolist()):
        lo, hi = np.searchsorted(b, x - tol), np.searchsorted(b, x + tol, side="right")
        free = [j for j in range(lo, hi) if not used[j]]
        if free:
            j = min(free, key=lambda j: abs(int(b[j]) - x))
            used[j] = True
            pairs.append((i, int(j)))
        else:
            left.append(i)
    return pairs, np.array(left, dtype=np.int64)


def unmatched(a: np.ndarray, b: np.ndarray, tol: int) -> np.ndarray:
    """Indices of `a` left without a partner in `b` (see `matches`)."""
    return matches(a, b, tol)[1]


FILLS = ("nan", "held", "zero")  # NaN: flagged; the last value or 0: a flat line, unflagged


def run(task: tuple[Path, str, str]) -> dict:
    path, rid, fill = task
    rec = wfdb.rdrecord(str(path))
    fs = float(rec.fs)
    n = min(len(rec.p_signal), int((FIRST_S + EVERY_S * N_GAPS) * fs))
    x = rec.p_signal[:n]
    spans = gap_spans(rid, fs, n)
    gappy = x.copy()
    for a, b, _ in spans:
        gappy[a:b] = {"nan": np.nan, "held": gappy[a - 1], "zero": 0.0}[fill]
    clean, clean_labels, clean_alerts = stream(x, fs, list(rec.sig_name))
    gapped, labels, gap_alerts = stream(gappy, fs, list(rec.sig_name))
    tol = int(TOLERANCE_S * fs)
    pairs, left = matches(gapped, clean, tol)
    relabelled: Counter = Counter()
    for i, j in pairs:
        where, length = place(int(gapped[i]), spans, fs)
        if where in ("before", "after") and labels[i] != clean_labels[j]:
            relabelled[f"{where} {length:g} s {clean_labels[j]}->{labels[i]}"] += 1
    invented: Counter = Counter()
    invented_labels: Counter = Counter()
    for i in left:
        where, length = place(int(gapped[i]), spans, fs)
        invented[f"{where} {length:g} s" if where != "elsewhere" else where] += 1
        invented_labels[labels[i]] += 1
    lost: Counter = Counter()
    for i in unmatched(clean, gapped, tol):
        where, length = place(int(clean[i]), spans, fs)
        if where != "inside":
            lost[f"{where} {length:g} s" if where != "elsewhere" else where] += 1
    new_alerts: Counter = Counter()
    for a, b, _ in spans:
        lo, hi = a - BEFORE_S * fs, b + ALERT_AFTER_S * fs
        new_alerts.update(standing(gap_alerts, lo, hi) - standing(clean_alerts, lo, hi))
    return {
        "record": rid,
        "gaps": len(spans),
        "beats_gapless": len(clean),
        "invented": dict(invented),
        "invented_labels": dict(invented_labels),
        "relabelled": dict(relabelled),
        "lost": dict(lost),
        "new_alerts": dict(new_alerts),
    }


def totals(rows: list[dict]) -> dict:
    out: dict = {"records": len(rows), "gaps": sum(r["gaps"] for r in rows)}
    for key in ("invented", "invented_labels", "relabelled", "lost", "new_alerts"):
        total: Counter = Counter()
        for r in rows:
            total.update(r.get(key, {}))
        out[key] = dict(sorted(total.items()))
    out["invented_all"] = sum(out["invented"].values())
    out["relabelled_all"] = sum(out["relabelled"].values())
    out["lost_all"] = sum(out["lost"].values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, help="default: gap_edges.json, gap_edges_FILL.json")
    parser.add_argument("--records", type=int, help="only the first N records (a quick look)")
    parser.add_argument(
        "--fill", choices=FILLS, default="nan", help="what the gaps hold (default: NaN, flagged)"
    )
    args = parser.parse_args()
    out = args.out or (OUT if args.fill == "nan" else OUT.with_name(f"gap_edges_{args.fill}.json"))
    root, sets = record_sets()
    ids = sorted({i for group in sets.values() for i in group})[: args.records]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        tasks = zip(record_paths(ids, root), ids, [args.fill] * len(ids), strict=True)
        rows = list(pool.map(run, tasks))
    doc = {
        "fill": args.fill,
        "gap_lengths_s": GAP_LENGTHS_S,
        "places": {"before": BEFORE_S, "after": AFTER_S, "alerts_after": ALERT_AFTER_S},
        "all": totals(rows),
        **{
            db: totals([r for r in rows if r["record"].startswith("svdb/") == (db == "svdb")])
            for db in ("mitdb", "svdb")
        },
        "per_record": rows,
        "seconds": time.perf_counter() - t0,
    }
    out.write_text(json.dumps(doc, indent=2))
    for key in ("all", "mitdb", "svdb"):
        t = doc[key]
        print(f"{key}: {t['gaps']} gaps, invented {t['invented_all']} {t['invented_labels']}, "
              f"relabelled {t['relabelled_all']}, lost {t['lost_all']}, "
              f"new alerts {t['new_alerts']}")  # fmt: skip


if __name__ == "__main__":
    main()
