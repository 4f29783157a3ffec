"""Does how the source is read change what the monitor says? A serial front end hands the Monitor
a few samples at a time, `classify` and `replay` a second or more. Every record's first minutes
(mitdb, svdb, cudb: the shared ones with beats and VT/VF) are streamed through the device
Monitor (the embedded models, the CLI's second lead and stand-in lead) in blocks of 0.1 s (the
reference: nearest to a serial line) and of each other size; against the reference, counted per
record: beats missing or extra or given another label (the same sample), seconds graded
otherwise, window-model windows whose quality flag differs, and alerts (sample, level, label)
found in one stream only, critical ones apart; and the CPU seconds each block size took.

    ECG_EDGE_DATA=../shared/data python benchmarks/block_sizes.py --jobs 2

Writes benchmarks/results/block_sizes.json (`--out`). Run it from another tree's root (a git
worktree) to measure other code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_logging import embedded_models  # noqa: E402

from edge_monitor.alert_rules import AlertEvent
from edge_monitor.events import QualityEvent
from edge_monitor.leads import find_channel, stand_in_channel
from edge_monitor.pipeline import BeatEvent, Monitor, WindowEvent

REFERENCE_S = 0.1
DATABASES = ("mitdb", "svdb", "cudb")


def streamed(path: Path, minutes: float, block_s: float) -> dict[str, list]:
    """What the Monitor says about the record's first minutes, read in blocks of `block_s`."""
    header = wfdb.rdheader(str(path))
    stop = min(header.sig_len, int(round(minutes * 60 * header.fs)))
    rec = wfdb.rdrecord(str(path), sampto=stop)
    names = list(rec.sig_name)
    channel = None if find_channel(names, "MLII") is not None else stand_in_channel(names)
    monitor = Monitor(embedded_models(), rec.fs, names, channel, second_lead="auto")
    out: dict[str, list] = {"beats": [], "grades": [], "windows": [], "alerts": []}
    for e in monitor.stream(rec.p_signal, block_s=block_s):
        if isinstance(e, BeatEvent):
            out["beats"].append((e.sample, e.label))
        elif isinstance(e, QualityEvent):
            out["grades"].append((e.segment.start, e.segment.state))
        elif isinstance(e, WindowEvent):
            out["windows"].append((e.end, e.quality_ok))
        elif isinstance(e, AlertEvent):
            out["alerts"].append((e.sample, e.level, e.label))
    return out


def compared(ref: dict[str, list], other: dict[str, list]) -> dict[str, int]:
    """Counts of what `other` says otherwise than the reference."""
    ref_beats, beats = dict(ref["beats"]), dict(other["beats"])
    shared = ref_beats.keys() & beats.keys()
    only_ref = Counter(map(tuple, ref["alerts"])) - Counter(map(tuple, other["alerts"]))
    only_other = Counter(map(tuple, other["alerts"])) - Counter(map(tuple, ref["alerts"]))
    return {
        "beats": len(ref_beats),
        "beats_missing": len(ref_beats.keys() - beats.keys()),
        "beats_extra": len(beats.keys() - ref_beats.keys()),
        "beats_relabelled": sum(ref_beats[s] != beats[s] for s in shared),
        "grades": len(ref["grades"]),
        "grades_differ": len(set(map(tuple, ref["grades"])) ^ set(map(tuple, other["grades"])))
        // 2,
        "windows": len(ref["windows"]),
        "windows_differ": len(set(map(tuple, ref["windows"])) ^ set(map(tuple, other["windows"])))
        // 2,
        "alerts": len(ref["alerts"]),
        "alerts_only_one_side": sum(only_ref.values()) + sum(only_other.values()),
        "critical_only_one_side": sum(
            n for a, n in (only_ref + only_other).items() if a[1] == "critical"
        ),
    }


def run(task: tuple[Path, str, float, tuple[float, ...]]) -> dict:
    """Each size's differences from the reference and the CPU seconds each streaming took."""
    path, key, minutes, sizes = task
    t0 = time.process_time()
    ref = streamed(path, minutes, REFERENCE_S)
    row: dict = {"record": key, "cpu_s": {f"{REFERENCE_S:g}": time.process_time() - t0}}
    for s in sizes:
        t0 = time.process_time()
        other = streamed(path, minutes, s)
        row["cpu_s"][f"{s:g}"] = time.process_time() - t0
        row[f"{s:g}"] = compared(ref, other)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="folder of mitdb/ svdb/ cudb/ (ECG_EDGE_DATA)")
    parser.add_argument("--minutes", type=float, default=5.0, help="of each record, from its start")
    parser.add_argument("--sizes", type=float, nargs="+", default=[1.0, 4.0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--records", type=int, help="only the first N records of each database")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/block_sizes.json"))
    args = parser.parse_args()
    root = args.data or (
        Path(os.environ["ECG_EDGE_DATA"]) if "ECG_EDGE_DATA" in os.environ else None
    )
    if root is None:
        raise SystemExit("pass --data or set ECG_EDGE_DATA")
    tasks = []
    for db in DATABASES:
        names = sorted(p.stem for p in (root / db).glob("*.hea"))[: args.records]
        tasks += [(root / db / n, f"{db}/{n}", args.minutes, tuple(args.sizes)) for n in names]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, tasks))
    totals = {}
    for size in (f"{s:g}" for s in args.sizes):
        keys = rows[0][size].keys()
        totals[size] = {k: sum(r[size][k] for r in rows) for k in keys}
        totals[size]["records_with_any_difference"] = sum(
            any(v for k, v in r[size].items() if k not in ("beats", "grades", "windows", "alerts"))
            for r in rows
        )
        print(
            f"blocks of {size} s against {REFERENCE_S:g} s:", json.dumps(totals[size]), flush=True
        )
    cpu = {k: round(sum(r["cpu_s"][k] for r in rows), 2) for k in rows[0]["cpu_s"]}
    print("CPU seconds of streaming, by block size:", json.dumps(cpu), flush=True)
    doc = {
        "argv": sys.argv[1:],
        "cpu_s_by_block_size": cpu,
        "reference_block_s": REFERENCE_S,
        "minutes": args.minutes,
        "records": len(rows),
        "totals": totals,
        "per_record": rows,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.write_text(json.dumps(doc, indent=1))
    print(f"wrote {args.out} ({doc['seconds']} s)")


if __name__ == "__main__":
    main()
