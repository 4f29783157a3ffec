"""Where a gate change adds or removes false critical VT/VF alarms: two cached streams of
benchmarks/ventricular_alarms.py (e.g. the organised-QRS sign off and on) replayed through the
shipped FusionSpec, record by record, each false alarm onset with the event that raised it and
the gate's bad verdicts in the seconds before it.

    python benchmarks/tremor_alarm_diff.py cache/ventricular_alarms_tremor_off \
        cache/ventricular_alarms_tremor --model-map runs/ventricular/folds.json \
        --model runs/ventricular/fold-all/bundle --records mitdb/107 cudb/cu07
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ventricular_alarms import (  # noqa: E402
    ALARM_LABELS,
    episodes_of,
    fused,
    standing,
    to_events,
    widened,
)

from edge_monitor.alert_rules import CRITICAL, AlertEvent  # noqa: E402
from edge_monitor.bundle import load_bundle  # noqa: E402
from edge_monitor.events import QualityEvent  # noqa: E402
from edge_monitor.ventricular import FusionSpec, ModelView  # noqa: E402

BEFORE_S = 10.0  # the gate's verdicts this long before an onset are listed


def false_onsets(events: list, ref: dict) -> list[dict]:
    """Each false alarm onset: when, what raised it, and the bad verdicts just before."""
    fs, n = ref["fs"], ref["n"]
    excused = widened(ref)
    out = []
    for s, e in standing(events, n):
        if any(a <= s < b for a, b in excused):
            continue
        first = next(
            ev for ev in events
            if isinstance(ev, AlertEvent) and ev.sample == s and ev.level == CRITICAL
            and ev.label in ALARM_LABELS
        )  # fmt: skip
        gate = Counter(
            f"{ev.segment.state}:{ev.segment.reason}" for ev in events
            if isinstance(ev, QualityEvent) and s - BEFORE_S * fs <= ev.segment.end <= s
        )  # fmt: skip
        out.append({"t_s": round(s / fs, 1), "len_s": round((e - s) / fs, 1),
                    "label": first.label, "message": first.message,
                    "gate_before": dict(gate)})  # fmt: skip
    return out


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("caches", nargs=2, type=Path, help="two --cache folders (A, B)")
    cli.add_argument("--records", nargs="+", required=True, help="db/name")
    cli.add_argument("--model-map", type=Path, required=True)
    cli.add_argument("--model", type=Path, required=True, help="for records not in the map")
    cli.add_argument("--out", type=Path)
    args = cli.parse_args()
    data = Path(os.environ.get("ECG_EDGE_DATA", "../shared/data"))
    mapping = json.loads(args.model_map.read_text())
    result = {}
    for key in args.records:
        db, name = key.split("/")
        bundle = load_bundle(Path(mapping.get(key) or args.model), probe=False)
        view = ModelView.of(bundle.name, bundle.contract)
        ref = episodes_of(db, data / db, name)
        row = {}
        for cache in args.caches:
            files = sorted(cache.glob(f"{db}_{name}-*.json"))
            if not files:
                sys.exit(f"no cached stream of {key} in {cache}")
            events = fused(to_events(json.loads(files[-1].read_text())), view, ref["fs"],
                           FusionSpec())  # fmt: skip
            row[str(cache)] = false_onsets(events, ref)
        result[key] = row
        print(key, {c: len(v) for c, v in row.items()}, flush=True)
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
