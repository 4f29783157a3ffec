"""How should the second lead's answer join the beat lead's? Every beat of the svdb records is
read on both leads through the device Monitor (`second_lead="auto"`), clean and with
`second_lead_noise`'s em / ma mixes on one lead, and both leads' probabilities are logged per
beat; each candidate fusion rule then relabels the same beats offline, matched to the reference
at 150 ms. The rules: `off` (the beat lead alone), `mean` (the mean of both leads), and
`veto-T`: the mean, except that V needs the beat lead's own V probability >= T (the second lead
may confirm or veto a V, never make one alone). Alarms are not simulated here: the chosen rule
is measured with the Monitor itself (`second_lead_noise.py`).

    ECG_EDGE_DATA=../shared/data python benchmarks/second_lead_rules.py --records training --jobs 2

Writes benchmarks/results/second_lead_rules_<records>.json.
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

from edge_monitor.pipeline import BeatEvent, Monitor
from edge_monitor.second_lead import V_FLOOR

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_generalization import database_scores, matched  # noqa: E402
from beat_logging import embedded_models  # noqa: E402
from second_lead_noise import NOISES, noisy_lead, svdb_records  # noqa: E402

TAUS = (0.05, 0.1, 0.2, 0.3, 0.5)
# what the Monitor does now; the development run's JSON was made before the veto, when the
# Monitor's rule was "mean" (its `mean_differs_from_monitor` is that check)
MONITOR_RULE = f"veto-{V_FLOOR}"


def run(task: tuple[Path, str, str, Path]) -> dict:
    """One record under one mix: per beat, the beat lead's and the second lead's probabilities
    (the second's None where the Monitor left the twin out)."""
    path, rid, noise, data = task
    rec = wfdb.rdrecord(str(path))
    fs = float(rec.fs)
    x = noisy_lead(rec.p_signal, fs, path, noise, data)
    monitor = Monitor(embedded_models(), fs, list(rec.sig_name), second_lead="auto")
    second = monitor.second
    if second is None:
        raise SystemExit(f"{rid}: no second lead like lead II")
    pairs: dict[int, tuple] = {}
    fuse = second._fuse

    def logged(beat: BeatEvent, twin: BeatEvent | None) -> BeatEvent:
        pairs[beat.sample] = (beat.probs, None if twin is None else twin.probs)
        return fuse(beat, twin)

    second._fuse = logged  # instrumentation only: the Monitor's own fusion still answers
    events = monitor.stream(x, block_s=1.0)
    beats = [e for e in events if isinstance(e, BeatEvent)]
    classes = second.classes
    logged_or_alone = [pairs.get(b.sample, (b.probs, None)) for b in beats]
    p1 = np.array([_vector(a, classes) for a, _ in logged_or_alone])
    p2 = np.array([_vector(b, classes) for _, b in logged_or_alone])
    return {"record": rid, "noise": noise, "path": path, "fs": fs, "samples":
            [b.sample for b in beats], "p1": p1, "p2": p2, "classes": classes,
            "monitor_labels": [b.label for b in beats]}  # fmt: skip


def _vector(probs: dict | None, classes: list[str]) -> np.ndarray:
    return np.full(len(classes), np.nan) if probs is None else np.array([probs[c] for c in classes])


def labels(row: dict, rule: str) -> list[str | None]:
    """Each beat's label under `rule`."""
    p1, p2, classes = row["p1"], row["p2"], row["classes"]
    v = classes.index("V")
    out: list[str | None] = []
    for a, b in zip(p1, p2, strict=True):
        if not np.isfinite(a).all():
            out.append(None)
            continue
        if rule == "off" or not np.isfinite(b).all():
            out.append(classes[int(a.argmax())])
            continue
        m = (a + b) / 2
        if rule.startswith("veto-") and a[v] < float(rule.removeprefix("veto-")):
            m = m.copy()
            m[v] = -1.0
        out.append(classes[int(m.argmax())])
    return out


def scored(rows: list[dict], rule: str) -> dict:
    results = []
    for row in rows:
        beats = [
            BeatEvent(s, lab, None, "beat")
            for s, lab in zip(row["samples"], labels(row, rule), strict=True)
        ]
        t, p = matched(row["path"], beats, row["fs"], row["fs"])
        results.append({"y_true": np.asarray(t), "y_pred": np.asarray(p)})
    stats = database_scores(results)
    return {f"{k}_{c}": stats[c][k] for c in ("S", "V") for k in ("se", "ppv", "f1")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--records", choices=["held-out", "training"], default="training")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    root, folder, records = svdb_records(args.records)
    tasks = [(folder / r, f"svdb/{r}", noise, root) for noise in NOISES for r in records]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, tasks))
    rules = ("off", "mean", *(f"veto-{t}" for t in TAUS))
    out: dict = {"records": records, "rules": list(rules), "results": {}}
    for noise in NOISES:
        chosen = [r for r in rows if r["noise"] == noise]
        fused = sum(int(np.isfinite(r["p2"]).all(axis=1).sum()) for r in chosen)
        total = sum(len(r["samples"]) for r in chosen)
        # the Monitor's own rule replayed must give the Monitor's labels, or the rest mean nothing
        differ = sum(
            a != b
            for r in chosen
            for a, b in zip(labels(r, MONITOR_RULE), r["monitor_labels"], strict=True)
        )
        out["results"][noise] = {
            "beats": total,
            "beats_on_two_leads": fused,
            f"{MONITOR_RULE}_differs_from_monitor": differ,
        }
        for rule in rules:
            s = scored(chosen, rule)
            out["results"][noise][rule] = s
            print(
                f"{noise:8s} {rule:9s} S Se/+P/F1 {s['se_S']:.3f}/{s['ppv_S']:.3f}/{s['f1_S']:.3f}"
                f"  V {s['se_V']:.3f}/{s['ppv_V']:.3f}/{s['f1_V']:.3f}",
                flush=True,
            )
    out["seconds"] = time.perf_counter() - t0
    path = args.out or Path(f"benchmarks/results/second_lead_rules_{args.records}.json")
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
