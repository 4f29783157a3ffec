"""What the blind hold (FusionSpec.blind_hold_s) does to the shipped fusion spec on the cached
streams of benchmarks/ventricular_alarms.py: shockable 8 s segments, false alarm onsets, and the
seconds a critical VT/VF alarm stands outside every episode (widened as the false alarms are),
per database, with the hold off and at the given values. The spec is the shipped one, chosen on
these records, so the figures are in-sample: what the hold itself changes, not an estimate.

    python benchmarks/blind_hold_cost.py --model-map runs/ventricular-last-s2/folds.json \\
        --model runs/ventricular-last-s2/fold-all/bundle --gate-exempt-p 0.9 \\
        --out benchmarks/results/blind_hold_cost_s2.json

(the same options as ventricular_alarms.py, which it shares the cache with; `--code-from` replays
streams made by another edge_monitor.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ventricular_alarms as va  # noqa: E402

from edge_monitor.ventricular import FusionSpec  # noqa: E402

# the value every pre-registration tested (docs/preregistrations/2026-12-07-blind-hold*.md), kept
# apart from FusionSpec's default so the comparison stands whatever the default is
TESTED_HOLD_S = 10.0


def outside_seconds(events: list, ref: dict) -> float:
    """Seconds a critical alarm stands outside every episode widened by LEAD_S and GRACE_S."""
    excused = va.widened(ref)
    total = 0
    for s, e in va.standing(events, ref["n"]):
        total += (e - s) - sum(max(0, min(e, b) - max(s, a)) for a, b in excused)
    return total / ref["fs"]


def main() -> None:
    cli = va.parser()
    cli.add_argument("--holds", type=float, nargs="+", default=[0.0, TESTED_HOLD_S])
    cli.add_argument("--out", type=Path, required=True)
    args = cli.parse_args()
    data = va.load(args)
    result: dict = {"command": "python benchmarks/blind_hold_cost.py " + " ".join(sys.argv[1:])}
    for hold in args.holds:
        spec = FusionSpec().tuned(blind_hold_s=hold)
        rows, seconds = {}, {}
        for key, log in data.logs.items():
            events = va.fused(log, data.views[key], data.refs[key]["fs"], spec)
            rows[key] = va.score(events, data.refs[key])
            db = key.split("/")[0]
            seconds[db] = seconds.get(db, 0.0) + outside_seconds(events, data.refs[key])
        summary = va.summary(rows)
        seconds["all"] = sum(seconds.values())
        result[f"blind_hold_s={hold:g}"] = {
            db: {"segments": p["segments"], "segment_se": p["segment_se"],
                 "segment_sp": p["segment_sp"], "false": p["false"],
                 "alarm_s_outside_episodes": round(seconds[db], 1)}
            for db, p in summary.items()
        }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
