"""Beats on an inverted lead: every record streamed through the device Monitor (the embedded beat
and VT/VF models, the beat lead alone) as recorded and multiplied by -1 (swapped electrodes, a
Holter channel of the other polarity, a lead whose QRS is mostly negative), the beats matched to
the reference at 150 ms: S and V Se / +P / F1 pooled, and per record its confusion.

    ECG_EDGE_DATA=../shared/data python benchmarks/polarity.py --split train --jobs 2

Writes benchmarks/results/polarity_<split>.json (`--out`). Run it from another tree's root (a git
worktree) to measure other code; `--bundle` for another beat model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import wfdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_generalization import matched, s_and_v  # noqa: E402
from beat_logging import embedded_models, record_paths, record_sets  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from edge_monitor.bundle import load_bundle
from edge_monitor.pipeline import BeatEvent, Monitor
from trainer.metrics import MISSED

SIGNS = (1, -1)


def run(task: tuple[Path, str, int, Path | None]) -> dict:
    path, rid, sign, bundle, companion = task
    rec = wfdb.rdrecord(str(path))
    models = embedded_models()
    if bundle is not None:  # another beat model beside the embedded VT/VF model
        models = [load_bundle(bundle, probe=False), *models[1:]]
    if companion is not None:  # it reads the beats whose QRS points down
        models.append(load_bundle(companion, probe=False))
    monitor = Monitor(models, rec.fs, list(rec.sig_name))
    beats = [
        dataclasses.replace(e, label=e.label or "Q")  # an invalid model answer: no class
        for e in monitor.stream(sign * rec.p_signal)
        if isinstance(e, BeatEvent)
    ]
    t, p = matched(path, beats, rec.fs, rec.fs)
    counts = confusion_matrix(t, p, labels=list(range(MISSED + 1)))
    return {"record": rid, "sign": sign, "confusion": counts.tolist()}


def scores(counts: np.ndarray) -> dict:
    out = s_and_v(counts)
    n = int(counts[:MISSED].sum())
    missed, extra = int(counts[:MISSED, MISSED].sum()), int(counts[MISSED].sum())
    found = n - missed
    out["r_peaks"] = {"se": found / max(n, 1), "ppv": found / max(found + extra, 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--split", choices=["test", "train"], default="test")
    parser.add_argument("--bundle", type=Path, help="this beat bundle, not the embedded one")
    parser.add_argument(
        "--companion", type=Path, help="a bundle that reads the beats whose QRS points down"
    )
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    root, sets = record_sets()
    ids = sets["train"] if args.split == "train" else sets["test_mitdb"] + sets["test_svdb"]
    paths = list(zip(record_paths(ids, root), ids, strict=True))
    tasks = [(p, i, s, args.bundle, args.companion) for s in SIGNS for p, i in paths]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run, tasks))
    out: dict = {"split": args.split, "bundle": str(args.bundle or "embedded"),
                 "companion": str(args.companion) if args.companion else None,
                 "records": [i for _, i in paths]}  # fmt: skip
    for sign in SIGNS:
        chosen = [r for r in rows if r["sign"] == sign]
        name = "as_recorded" if sign == 1 else "inverted"
        for db in ("mitdb", "svdb"):
            part = [r for r in chosen if r["record"].startswith("svdb/") == (db == "svdb")]
            if part:
                out.setdefault(name, {})[db] = scores(np.sum([r["confusion"] for r in part], 0))
        out.setdefault(name, {})["all"] = scores(np.sum([r["confusion"] for r in chosen], 0))
        out[name]["per_record"] = {r["record"]: r["confusion"] for r in chosen}
        for key, sc in out[name].items():
            if key != "per_record":
                print(f"{name:11s} {key:5s} " + "  ".join(
                    f"{c} Se/+P/F1 {v['se']:.3f}/{v['ppv']:.3f}/{v['f1']:.3f}"
                    for c, v in sc.items() if c != "r_peaks"), flush=True)  # fmt: skip
    out["seconds"] = time.perf_counter() - t0
    target = args.out or Path(f"benchmarks/results/polarity_{args.split}.json")
    target.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
