"""Every second the quality gate called "noisy", in and just after VT/VF and everywhere else:
which of the gate's signs fired (amplitude, broadband, detector disagreement, smooth wave,
mains), the VT/VF model's probability there, and the VF filter's reading of the context, so the
trade-off of any rule that lets such seconds through is visible before it is made.

Read from the stream cache of benchmarks/ventricular_alarms.py (its bad segments' verdicts are
logged with their reasons since the gate split), so it streams only what is not cached yet:

    python benchmarks/ventricular_noisy.py --model-map runs/ventricular/folds.json \\
        --model runs/ventricular/fold-all/bundle --gate-exempt-p 0.9 \\
        --cache cache/ventricular_alarms_noisy --databases mitdb svdb cudb nstdb \\
        --out benchmarks/results/ventricular_noisy.json

Where a second lies (its end): `episode` (inside an annotated VT/VF episode), `after` (within
8 s after one: the span in which a cleared alarm must rise again), `noise` (inside annotated
noise or an nstdb noise stretch, outside both), `other`. The model's probability is read as the
fusion reads it: the last window that ended by the second's end (`p_last`) and the highest of
those ending in the 8 s before (`p_max_8s`, the fusion's vouching horizon, FusionSpec.vouch_s).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ventricular_alarms import load, parser  # noqa: E402

from edge_monitor.quality import NOISY  # noqa: E402
from edge_monitor.quality_signs import DISAGREEMENT  # noqa: E402
from edge_monitor.vf import VF_MAX_HZ, VF_MIN_HZ  # noqa: E402

AFTER_S = 8.0  # "after" an episode: a cleared alarm has this long to rise again (one segment)
VOUCH_S = 8.0
PLACES = ("episode", "after", "noise", "other")
MEASURES = ("p_last", "p_max_8s", "leakage", "vf_hz", "hf_ratio", "ptp_mv", "kurtosis", "agreement")


def place(ref: dict, s0: int, s1: int) -> str:
    """Where the second [s0, s1) lies (by its end) relative to the reference spans."""
    after = int(AFTER_S * ref["fs"])
    if any(a < s1 <= b for a, b in ref["vf"]):
        return "episode"
    if any(b < s1 <= b + after for _, b in ref["vf"]):
        return "after"
    if any(a < s1 <= b for a, b in ref["noise"]):
        return "noise"
    return "other"


def noisy_rows(key: str, log: list[dict], ref: dict, view) -> list[dict]:
    """One row per noisy second: where, why, the model's view and the VF filter's reading."""
    fs = ref["fs"]
    wins = [(e["end"], view.probability(e["probs"])) for e in log
            if e["t"] == "w" and e.get("probs") and view]  # fmt: skip
    ends = np.asarray([w[0] for w in wins], dtype=np.int64)
    probs = np.asarray([w[1] for w in wins], dtype=np.float64)
    rows = []
    for e in log:
        if e["t"] != "q" or e["state"] != NOISY:
            continue
        end = e["end"]
        upto = int(np.searchsorted(ends, end, side="right"))
        since = int(np.searchsorted(ends, end - int(VOUCH_S * fs), side="right"))
        rows.append({
            "record": key, "t_s": round(e["start"] / fs, 1), "where": place(ref, e["start"], end),
            "reason": e.get("reason") or "?",
            "p_last": round(float(probs[upto - 1]), 3) if upto else None,
            "p_max_8s": round(float(probs[since:upto].max()), 3) if upto > since else None,
            **{k: e.get(k) for k in ("leakage", "vf_hz", "hf_ratio", "ptp_mv", "kurtosis",
                                     "agreement")},
        })  # fmt: skip
    return rows


def quantiles(values: list) -> dict | None:
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if not v.size:
        return None
    q = np.quantile(v, [0.1, 0.5, 0.9])
    return {
        "n": int(v.size),
        "p10": round(q[0], 3),
        "median": round(q[1], 3),
        "p90": round(q[2], 3),
    }


def vf_rate(r: dict) -> bool:
    """The context oscillates at a VF / flutter rate (the VF filter's own frequency)."""
    return r["vf_hz"] is not None and VF_MIN_HZ <= r["vf_hz"] <= VF_MAX_HZ


# what a rule exempting disagreement-alone seconds would let through, per candidate condition
CANDIDATES = {
    "disagreement alone": lambda r: True,
    "+ VF rate": vf_rate,
    **{f"+ VF rate, p_max_8s >= {p}": (lambda r, p=p: vf_rate(r) and (r["p_max_8s"] or 0) >= p)
       for p in (0.3, 0.5, 0.7, 0.9)},
    **{f"+ VF rate, leakage < {x}": (lambda r, x=x: vf_rate(r) and (r["leakage"] or 1) < x)
       for x in (0.7, 0.8, 0.9)},
}  # fmt: skip


def summarise(rows: list[dict]) -> dict:
    """Counts by database, place and reason; the measures of disagreement-alone seconds by
    place; and what each candidate condition would let through, by place and database."""
    dbs = sorted({r["record"].split("/")[0] for r in rows}) + ["all"]
    out: dict = {"counts": {}, "disagreement_alone_measures": {}, "candidates": {}}
    for db in dbs:
        mine = [r for r in rows if db == "all" or r["record"].startswith(db + "/")]
        out["counts"][db] = {
            w: dict(sorted(_count(r["reason"] for r in mine if r["where"] == w).items()))
            for w in PLACES
        }
        alone = [r for r in mine if r["reason"] == DISAGREEMENT]
        out["candidates"][db] = {
            name: {w: sum(1 for r in alone if r["where"] == w and rule(r)) for w in PLACES}
            for name, rule in CANDIDATES.items()
        }
        if db == "all":
            out["disagreement_alone_measures"] = {
                w: {m: quantiles([r[m] for r in alone if r["where"] == w]) for m in MEASURES}
                for w in PLACES
            }
    return out


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return out


def main() -> None:
    cli = parser()
    cli.add_argument("--out", type=Path, default=Path("benchmarks/results/ventricular_noisy.json"))
    args = cli.parse_args()
    data = load(args)
    rows = []
    for key, log in data.logs.items():
        rows += noisy_rows(key, log, data.refs[key], data.views[key])
    near = [r for r in rows if r["where"] in ("episode", "after")]  # elsewhere: summaries only
    result = {"cache": str(args.cache), **summarise(rows), "seconds_in_or_after_episodes": near}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    for title in ("counts", "candidates"):
        print(f"## {title}")
        for db, v in result[title].items():
            print(f"  {db}: {json.dumps(v)}")
    print("## disagreement_alone_measures")
    for w, v in result["disagreement_alone_measures"].items():
        print(f"  {w}: {json.dumps(v)}")


if __name__ == "__main__":
    main()
