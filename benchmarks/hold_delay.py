"""What the fusion's tremor hold costs each real VT/VF episode: the same cached streams as
benchmarks/ventricular_alarms.py replayed through the shipped FusionSpec with the hold off, the
full hold (never released), and released after 1, 2 or 3 seconds of the bare oscillation
(`FusionSpec.organised_release`; 2 is shipped, set before this ran). Per variant: episodes >= 4 s
alarmed, false critical alarms, and each episode's alarm delay against the hold off (the
episodes it delays, by how much).

    python benchmarks/hold_delay.py --model-map runs/ventricular/folds.json \
        --model runs/ventricular/fold-all/bundle --gate-exempt-p 0.9 \
        --out benchmarks/results/hold_delay.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ventricular_alarms import fused, load, parser, pool, score, to_events  # noqa: E402

from edge_monitor.ventricular import FusionSpec  # noqa: E402

VARIANTS = {
    "hold off": FusionSpec(withhold_organised=False),
    "hold, never released": FusionSpec(organised_release=0),
    "released after 1 bare s": FusionSpec(organised_release=1, release_window_s=0.0),
    "released after 2 bare s": FusionSpec(organised_release=2, release_window_s=0.0),
    "released after 3 bare s": FusionSpec(organised_release=3, release_window_s=0.0),
    "2 bare s outnumbering organised over 10 s": FusionSpec(organised_release=2,
                                                            release_window_s=10.0),
    "3 bare s outnumbering organised over 10 s": FusionSpec(organised_release=3,
                                                            release_window_s=10.0),
    "2 bare s outnumbering organised over 20 s": FusionSpec(organised_release=2,
                                                            release_window_s=20.0),
    "shipped": FusionSpec(),
}  # fmt: skip
LATER_S = 0.5  # a delay this much longer than with the hold off is listed


def per_episode(rows: dict[str, dict]) -> dict[str, list]:
    """Record -> its episodes' (seconds, delay or None)."""
    return {k: [(e["seconds"], e["delay_s"]) for e in r["episodes"]] for k, r in rows.items()}


def against_off(off: dict[str, list], on: dict[str, list]) -> list[dict]:
    """The episodes (>= 4 s) alarmed later than with the hold off, or missed."""
    out = []
    for key, eps in on.items():
        for i, ((seconds, delay), (_, base)) in enumerate(zip(eps, off[key], strict=True)):
            if seconds < 4.0 or base is None:
                continue
            if delay is None or delay - base > LATER_S:
                out.append({"record": key, "episode": i, "seconds": seconds,
                            "delay_off_s": round(base, 1),
                            "delay_s": None if delay is None else round(delay, 1)})  # fmt: skip
    return out


def main() -> None:
    cli = parser()
    cli.add_argument("--out", type=Path, default=Path("benchmarks/results/hold_delay.json"))
    args = cli.parse_args()
    data = load(args)
    events = {k: to_events(v) for k, v in data.logs.items()}
    fs = {k: data.refs[k]["fs"] for k in events}
    rows = {
        name: {k: score(fused(events[k], data.views[k], fs[k], spec), data.refs[k])
               for k in events}
        for name, spec in VARIANTS.items()
    }  # fmt: skip
    off = per_episode(rows["hold off"])
    result: dict = {"records": list(events), "later_than_off_by_s": LATER_S, "variants": {}}
    for name, spec in VARIANTS.items():
        summary = pool(list(rows[name].values()))
        later = against_off(off, per_episode(rows[name]))
        result["variants"][name] = {
            "organised_release": spec.organised_release,
            "release_window_s": spec.release_window_s,
            "withhold_organised": spec.withhold_organised,
            **{k: summary[k] for k in ("se_>=4s", "episodes_<4s", "median_delay_>=4s_s",
                                       "false", "false_per_hour", "segment_se", "segment_sp")},
            "episodes_later_than_off": later,
        }  # fmt: skip
        print(f"{name}: >=4s {summary['se_>=4s']}, median delay "
              f"{summary['median_delay_>=4s_s']} s, false {summary['false']}, "
              f"{len(later)} episodes later: "
              + ", ".join(f"{e['record']}#{e['episode']} {e['delay_off_s']}->{e['delay_s']}"
                          for e in later))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
