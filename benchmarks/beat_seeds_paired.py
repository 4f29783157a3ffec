"""Two beat-student recipes compared seed by seed: the same seed trains both on the same patient
fold, so their difference per seed removes the fold's share of the spread (not the chaos of
training itself, docs/beat_af.md 9). Reads configurations of a `beat_seeds.py` JSON, writes the
mean difference with a t-based 95 % interval over the pairs, per metric, into the same file.

    python benchmarks/beat_seeds_paired.py benchmarks/results/beat_seeds_msd.json \\
        student-e40-nolate-af4-last-msd-nocv student-e40-nolate-af4-last-rebuilt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import stats

METRICS = (("mitdb", "f1_S"), ("mitdb", "f1_V"), ("svdb", "f1_S"), ("svdb", "f1_V"))


def paired(doc: dict, name: str, against: str) -> dict:
    """Per metric: the pairs' seeds, each difference `name` - `against`, their mean, sd and 95 %
    interval (Student's t over the pairs)."""
    for n in (name, against):
        if n not in doc:
            raise SystemExit(f"no configuration {n!r} in the file (it has {', '.join(doc)})")
    a = {s["seed"]: s for s in doc[name]["seeds"]}
    b = {s["seed"]: s for s in doc[against]["seeds"]}
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        raise SystemExit(f"{name} and {against} share {len(seeds)} seed(s): at least 2 are needed")
    out: dict = {"against": against, "seeds": seeds}
    for db, metric in METRICS:
        d = np.array([a[s][db][metric] - b[s][db][metric] for s in seeds])
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        out[f"{db} {metric}"] = {
            "differences": [round(float(x), 4) for x in d],
            "mean": float(d.mean()),
            "sd": float(d.std(ddof=1)),
            "ci95": [float(d.mean() - half), float(d.mean() + half)],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a beat_seeds.py JSON file")
    parser.add_argument("name", help="the configuration compared")
    parser.add_argument("against", help="the configuration it is compared with")
    args = parser.parse_args()
    try:
        doc = json.loads(args.results.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read {args.results}: {exc}") from None
    result = paired(doc, args.name, args.against)
    doc[args.name]["paired"] = result
    args.results.write_text(json.dumps(doc, indent=2))
    for key, v in result.items():
        if isinstance(v, dict):
            lo, hi = v["ci95"]
            print(f"{key}: {v['mean']:+.3f} [{lo:+.3f}, {hi:+.3f}] over seeds {result['seeds']}")


if __name__ == "__main__":
    main()
