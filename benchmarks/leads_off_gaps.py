"""What does the monitor make of the beats after an electrode falls off and is put back? Every
record's leads go missing (NaN on every channel: a front end's leads-off, a Holter's dropout)
for GAP seconds every two minutes from minute 1, over its first 11 minutes; the device Monitor
streams it (the embedded beat and VT/VF models, 1 s blocks), and its beats in the 20 s after
each gap are matched to the reference beats at 150 ms: Se and +P there, against the same
stretches of the record streamed without gaps, and the warnings and critical alarms raised there
that the gapless stream did not raise; and the beats' classes (S and V Se / +P / F1) in those 20 s
and in the whole stretch from each gap to the next. The beat context's other ways at a gap were
measured at commit b21e4dc (`--gap-context span|keep|forget`, since taken out):
leads_off_gaps_span.json and leads_off_gaps_train_{span,keep,forget}.json.

    ECG_EDGE_DATA=../shared/data python benchmarks/leads_off_gaps.py --jobs 2

Writes benchmarks/results/leads_off_gaps.json (`--out`). Run it from another tree's root (a git
worktree) to measure other code on the same mixes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_generalization import TOLERANCE_S, reference_beats, s_and_v  # noqa: E402
from beat_logging import embedded_models, record_paths, record_sets  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from edge_monitor.alert_rules import AlertEvent
from edge_monitor.pipeline import BeatEvent, Monitor
from trainer.metrics import MISSED, match_beats

GAPS_S = (3.0, 10.0, 30.0)
FIRST_S, EVERY_S, UNTIL_S, AFTER_S = 60.0, 120.0, 660.0, 20.0
OUT = Path("benchmarks/results/leads_off_gaps.json")


def gap_spans(fs: float, gap_s: float, n: int) -> list[tuple[int, int]]:
    starts = np.arange(FIRST_S, UNTIL_S - gap_s - AFTER_S, EVERY_S)
    return [(int(s * fs), min(n, int((s + gap_s) * fs))) for s in starts]


def stream(x: np.ndarray, fs: float, names: list[str]) -> tuple[list[int], list, list]:
    monitor = Monitor(embedded_models(), fs, names)
    events = monitor.stream(x, block_s=1.0)
    alerts = [
        (e.sample, e.level, e.label)
        for e in events
        if isinstance(e, AlertEvent) and e.level in ("warning", "critical")
    ]
    beats = [e for e in events if isinstance(e, BeatEvent)]
    return [e.sample for e in beats], alerts, [e.label or "Q" for e in beats]


def classes_after(peaks, labels, ref, ref_labels, spans: list[tuple[int, int]], fs: float):
    """Reference (rows) x device (columns) beat classes (N S V F Q, none) inside `spans`."""
    peaks, labels = np.asarray(peaks), np.asarray(labels, dtype=object)
    counts = np.zeros((MISSED + 1, MISSED + 1), int)
    for a, b in spans:
        r = (ref >= a) & (ref < b)
        d = (peaks >= a) & (peaks < b)
        t, p = match_beats(ref[r], list(np.asarray(ref_labels)[r]), peaks[d], list(labels[d]),
                           int(TOLERANCE_S * fs))  # fmt: skip
        counts += confusion_matrix(t, p, labels=list(range(MISSED + 1)))
    return counts.tolist()


def after_gaps(peaks, ref, ends: list[int], fs: float) -> tuple[int, int, int]:
    """Reference beats, found ones and extra peaks in the AFTER_S after each gap's end."""
    tol, span = int(TOLERANCE_S * fs), int(AFTER_S * fs)
    peaks = np.asarray(peaks)
    n_ref = found = extra = 0
    for end in ends:
        r = ref[(ref >= end) & (ref < end + span)]
        p = peaks[(peaks >= end) & (peaks < end + span)]
        hit = np.zeros(len(p), bool)
        for beat in r:
            near = np.flatnonzero((np.abs(p - beat) <= tol) & ~hit)
            if len(near):
                hit[near[np.argmin(np.abs(p[near] - beat))]] = True
                found += 1
        n_ref += len(r)
        extra += int((~hit).sum())
    return n_ref, found, extra


def run(task: tuple[Path, str, float]) -> dict:
    path, rid, gap_s = task
    rec = wfdb.rdrecord(str(path))
    fs = float(rec.fs)
    n = min(len(rec.p_signal), int(UNTIL_S * fs))
    x = rec.p_signal[:n]
    spans = gap_spans(fs, gap_s, n)
    gappy = x.copy()
    for a, b in spans:
        gappy[a:b] = np.nan
    ref, ref_labels = reference_beats(path)
    ref_labels = list(np.asarray(ref_labels)[ref < n])
    ref = ref[ref < n]
    ends = [b for _, b in spans]
    clean_peaks, clean_alerts, clean_labels = stream(x, fs, list(rec.sig_name))
    gap_peaks, gap_alerts, gap_labels = stream(gappy, fs, list(rec.sig_name))
    span = int(AFTER_S * fs)
    windows = [(e, e + span) for e in ends]
    stretches = [(e, a) for e, (a, _) in zip(ends, [*spans[1:], (n, n)], strict=True)]
    classes = {
        f"{name}_{arm}": classes_after(peaks, labels, ref, ref_labels, where, fs)
        for name, where in (("after", windows), ("until_next", stretches))
        for arm, peaks, labels in (("clean", clean_peaks, clean_labels),
                                   ("gaps", gap_peaks, gap_labels))
    }  # fmt: skip

    def inside(alerts):
        return {(lv, lb) for s, lv, lb in alerts if any(a <= s < b for a, b in windows)}

    new = sorted(inside(gap_alerts) - inside(clean_alerts))
    return {"record": rid, "gap_s": gap_s, "clean": after_gaps(clean_peaks, ref, ends, fs),
            "gaps": after_gaps(gap_peaks, ref, ends, fs), "new_alerts": new,
            "classes": classes}  # fmt: skip


def pooled(rows: list[dict], key: str) -> dict:
    n_ref = sum(r[key][0] for r in rows)
    found = sum(r[key][1] for r in rows)
    extra = sum(r[key][2] for r in rows)
    return {"reference_beats": n_ref, "se": found / n_ref, "ppv": found / (found + extra)}


def class_scores(rows: list[dict], key: str) -> dict:
    """S and V Se / +P / F1 of the beats in one kind of stretch, pooled over records."""
    return s_and_v(np.sum([r["classes"][key] for r in rows], axis=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--split", choices=["test", "train"], default="test",
        help="the test records (MIT-BIH DS2, held-out svdb) or the training ones (development)",
    )  # fmt: skip
    args = parser.parse_args()
    root, sets = record_sets()
    ids = sets["train"] if args.split == "train" else sets["test_mitdb"] + sets["test_svdb"]
    paths = list(zip(record_paths(ids, root), ids, strict=True))
    tasks = [(p, i, g) for g in GAPS_S for p, i in paths]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, tasks))
    out: dict = {"records": [i for _, i in paths], "gaps_s": list(GAPS_S), "results": {}}
    for g in GAPS_S:
        chosen = [r for r in rows if r["gap_s"] == g]
        alerts: dict = {}
        for r in chosen:
            for level, label in r["new_alerts"]:
                alerts[f"{level} {label}"] = alerts.get(f"{level} {label}", 0) + 1
        out["results"][str(g)] = {
            "without_gaps": pooled(chosen, "clean"),
            "after_gaps": pooled(chosen, "gaps"),
            "records_with_new_alerts_after_gaps": alerts,
            "beat_classes": {key: class_scores(chosen, key) for key in chosen[0]["classes"]},
            "per_record": {
                r["record"]: {"clean": r["clean"], "gaps": r["gaps"], "new_alerts": r["new_alerts"]}
                for r in chosen
            },
        }
        s = out["results"][str(g)]
        print(
            f"gap {g:4.0f} s: beats in the {AFTER_S:.0f} s after each gap Se/+P "
            f"{s['after_gaps']['se']:.3f}/{s['after_gaps']['ppv']:.3f} (no gaps "
            f"{s['without_gaps']['se']:.3f}/{s['without_gaps']['ppv']:.3f}); new alerts {alerts}",
            flush=True,
        )
        for key, sc in s["beat_classes"].items():
            print(f"  {key:18s} " + "  ".join(
                f"{c} Se/+P/F1 {v['se']:.3f}/{v['ppv']:.3f}/{v['f1']:.3f} (n {v['support']})"
                for c, v in sc.items()), flush=True)  # fmt: skip
    out["seconds"] = time.perf_counter() - t0
    args.out.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
