"""How sure must the beat model be of a run before a VT alarm sounds as critical? Chosen on DS1.

Every MIT-BIH DS1 record streams through the Monitor (the default bundle) clean and with
electrode motion and muscle noise at 12 and 6 dB, on the protocol's noise and with its bursts
reversed (benchmarks/noise_stress.py mixes them), with the confidence check off. Each VT alarm
that the detector-agreement check lets sound is kept with the model's mean V probability over the
run's beats (`Monitor.run_confidence`) and judged true or false as the noise stress test does. For
each threshold: how many true and false VT alarms would still sound as critical. DS1 holds the
training patients (and the validation four), never the test patients: the threshold is chosen
here, its effect is measured on DS2 by noise_stress.py. It ignores escalation (a doubtful run
that becomes sure later), which only the full monitor shows.

    python benchmarks/vt_confidence.py --mitdb ../shared/data/mitdb --nstdb ../shared/data/nstdb

Writes benchmarks/results/vt_confidence.json (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
from pathlib import Path

import noise_stress
import numpy as np
from noise_stress import (
    FS,
    Task,
    _init,
    check_inputs,
    justified,
    mixed,
    monitor_events,
    reference_events,
)

from edge_monitor.alerts import CRITICAL, AlertEvent, AlertSpec
from edge_monitor.pipeline import Monitor
from edge_monitor.quality import QualitySpec
from trainer.datasets import nstdb
from trainer.datasets.mitdb import DS1

THRESHOLDS = (0.0, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
CONDITIONS = [("clean", None, False)] + [
    (noise, snr, reverse) for noise in ("em", "ma") for snr in (12.0, 6.0) for reverse in (0, 1)
]


def vt_alarms(task_and_reverse: tuple[Task, bool]) -> list[dict]:
    task, reverse = task_and_reverse
    x, header, path, _ = mixed(task, reverse)
    monitor = Monitor(
        [noise_stress._CONTEXT["bundle"]], FS, header["sig_name"], alerts=AlertSpec(vt_confidence=0)
    )
    asked: dict[int, float] = {}
    verify = monitor.engine.verify

    def recording_verify(label: str, sample: int) -> bool:
        if label == "VT":
            asked[sample] = monitor.run_confidence()
        return verify(label, sample) if verify else True

    monitor.engine.verify = recording_verify
    spans, _ = reference_events(path, FS)
    out = []
    for e in monitor_events(monitor, x):
        vt = isinstance(e, AlertEvent) and e.label == "VT" and e.level == CRITICAL
        if not vt or e.sample < nstdb.CLEAN_S * FS:
            continue
        out.append(
            {
                "record": task.record,
                "noise": task.noise,
                "snr": task.snr,
                "reversed": bool(reverse),
                "sample": int(e.sample),
                "confidence": asked[e.sample],
                "true": justified(e.sample, spans),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mitdb", type=Path, required=True)
    parser.add_argument("--nstdb", type=Path, required=True)
    parser.add_argument("--records", nargs="*", default=list(DS1))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/vt_confidence.json"))
    args = parser.parse_args()
    check_inputs(args.mitdb, args.nstdb, args.records)
    t0 = time.perf_counter()
    tasks = [(Task(r, n, s), bool(rev)) for n, s, rev in CONDITIONS for r in args.records]
    ctx = mp.get_context("spawn")
    initargs = (args.mitdb, args.nstdb, QualitySpec(), None, None)
    with ctx.Pool(args.workers, initializer=_init, initargs=initargs) as pool:
        alarms = [a for part in pool.imap_unordered(vt_alarms, tasks) for a in part]
    alarms.sort(key=lambda a: (a["record"], a["noise"], a["snr"] or 0, a["reversed"], a["sample"]))
    true = [a for a in alarms if a["true"]]
    false = [a for a in alarms if not a["true"]]
    table = [
        {
            "threshold": t,
            "true_kept": sum(a["confidence"] >= t for a in true),
            "false_kept": sum(a["confidence"] >= t for a in false),
        }
        for t in THRESHOLDS
    ]
    result = {
        "bundle": "embedded arrhythmia",
        "records": args.records,
        "conditions": [list(c) for c in CONDITIONS],
        "true_alarms": len(true),
        "false_alarms": len(false),
        "thresholds": table,
        "confidence_quantiles": {
            k: np.quantile([a["confidence"] for a in v], [0.1, 0.25, 0.5]).round(3).tolist()
            for k, v in (("true", true), ("false", false))
            if v
        },
        "alarms": alarms,
        "seconds": time.perf_counter() - t0,
    }
    args.out.write_text(json.dumps(result, indent=1))
    print(f"{len(true)} true and {len(false)} false critical VT alarms on DS1 (confidence off)")
    for row in table:
        print(
            f"  >= {row['threshold']:.2f}: true kept {row['true_kept']}/{len(true)}, "
            f"false kept {row['false_kept']}/{len(false)}"
        )


if __name__ == "__main__":
    main()
