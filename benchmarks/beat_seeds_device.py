"""A beat recipe's seed spread on the device path: the int8 bundles of its seeds, each streamed by
`beat_generalization.py` (the Monitor's own R peaks, DSP, second lead and companion), gathered
from that file into one configuration of a `beat_seeds.py`-shaped JSON, with mean and sample sd
per metric. `beat_seeds_paired.py` then compares two such configurations seed by seed, as it does
on the training path.

    python benchmarks/beat_seeds_device.py --name a1-int8 --entry 0=a1-s0-int8 \\
        --entry 1=a1-s1-int8 --refused 2 --out benchmarks/results/beat_seeds_device.json

Why a file of its own: the training-path spread (`beat_seeds.py`) scores reference beats in fp32;
the issue's figure is what the device reports, after hardening, int8 and the monitor's beats.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

SOURCE = Path("benchmarks/results/beat_generalization.json")
METRICS = ("f1_S", "se_S", "ppv_S", "f1_V", "se_V", "ppv_V")


def seed_row(label: str, entry: object) -> dict:
    """One bundle's device-path figures per database, named as beat_seeds.py names them; an
    entry not shaped as beat_generalization.py writes it is refused in one line."""
    try:
        row = {}
        for db, scores in entry["databases"].items():
            row[db] = {
                f"{stat}_{cls}": float(scores[cls][stat])
                for cls in ("S", "V")
                for stat in ("f1", "se", "ppv")
            }
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SystemExit(
            f"error: entry {label!r} has no databases with S and V f1 / se / ppv"
        ) from None
    if not row:
        raise SystemExit(f"error: entry {label!r} scores no database")
    return row


def gather(source: dict, entries: list[tuple[int, str]], refused: list[int]) -> dict:
    """The configuration: per seed its label, bundle and figures; per metric mean and sd over the
    seeds that have a bundle (the refused ones are listed, not scored). A seed or label given
    twice, or a seed both scored and refused, is refused: each seed is one draw."""
    seeds_given = [seed for seed, _ in entries] + list(refused)
    labels = [label for _, label in entries]
    if len(set(seeds_given)) < len(seeds_given) or len(set(labels)) < len(labels):
        raise SystemExit("error: each seed and each label once (in --entry and --refused)")
    if min(seeds_given) < 0:
        raise SystemExit("error: seeds are numbers >= 0")
    missing = [label for label in labels if label not in source]
    if missing:
        raise SystemExit(f"error: no entry {', '.join(map(repr, missing))} in the source file")
    seeds = []
    for seed, label in sorted(entries):
        entry = source[label]
        row = seed_row(label, entry)  # first: it refuses an entry that is not an object
        seeds.append({"seed": seed, "label": label, "bundle": entry.get("bundle"),
                      "model_sha256": entry.get("model_sha256"), "databases": row})  # fmt: skip
    databases = set(seeds[0]["databases"])
    if any(set(s["databases"]) != databases for s in seeds):
        raise SystemExit("error: the entries score different databases")
    summary = {}
    for db in sorted(databases):
        for metric in METRICS:
            x = np.array([s["databases"][db][metric] for s in seeds])
            sd = float(x.std(ddof=1)) if len(x) > 1 else None
            summary[f"{db} {metric}"] = {"mean": float(x.mean()), "sd": sd}
    rows = [{**{k: v for k, v in s.items() if k != "databases"}, **s["databases"]} for s in seeds]
    return {"seeds": rows, "refused_by_the_int8_gate": sorted(refused),
            "summary (over the seeds with a bundle; sample sd)": summary}  # fmt: skip


def entry_pair(text: str) -> tuple[int, str]:
    seed, sep, label = text.partition("=")
    if not sep or not seed.strip().isdigit() or not label:
        raise argparse.ArgumentTypeError(f"expected SEED=LABEL, not {text!r}")
    return int(seed), label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the configuration's name in --out")
    parser.add_argument(
        "--entry", type=entry_pair, action="append", required=True, metavar="SEED=LABEL",
        help="a seed and its beat_generalization entry",
    )  # fmt: skip
    parser.add_argument("--refused", type=int, nargs="*", default=[],
                        help="seeds whose chain the int8 gate refused (no bundle)")  # fmt: skip
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        source = json.loads(args.source.read_text())
        doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read {args.source} or {args.out}: {exc}") from None
    if not isinstance(source, dict) or not isinstance(doc, dict):
        raise SystemExit(f"error: {args.source} and {args.out} must each hold a JSON object")
    doc[args.name] = gather(source, args.entry, args.refused)
    try:  # whole or not at all: a file other runs add to
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n")
        os.replace(tmp, args.out)
    except OSError as exc:
        raise SystemExit(f"error: cannot write {args.out}: {exc}") from None
    for key, v in doc[args.name]["summary (over the seeds with a bundle; sample sd)"].items():
        if key.endswith(("f1_S", "f1_V")):
            sd = "-" if v["sd"] is None else f"{v['sd']:.3f}"
            print(f"{args.name} {key}: {v['mean']:.3f} +- {sd}")


if __name__ == "__main__":
    main()
