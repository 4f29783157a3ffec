"""Does putting every seed at the same S operating point remove the seed spread?
(docs/preregistrations/2026-12-06-aligned-operating-point.md)

Each student of a configuration (seed i validated on patient fold i, as benchmarks/beat_seeds.py
trained it) gets its own shift of the S logit, chosen on its own validation fold so that the
fold's S sensitivity equals the configuration's mean unshifted validation S sensitivity. A common
shift moved nothing (docs/beat_data.md); the spread is where each seed puts its S boundary
(docs/beat_af.md 6), which a per-seed shift could line up. No training; training path (reference
beats, fp32), the test databases apart.

    ECG_EDGE_DATA=../shared/data python benchmarks/beat_align.py \
        --name student-e40-nolate-af4-last-distil --drop-late-s 0.95

Writes the configuration's entry (per seed: validation S Se, shift, test unshifted / aligned /
at the seed's own F1-best shift; mean +- sd of each) to benchmarks/results/beat_align.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from edge_monitor.errors import InputError
from trainer.datasets import beatdb
from trainer.kinds import kind_of
from trainer.scoring import load_for

sys.path.insert(0, str(Path(__file__).resolve().parent))
from beat_seed_data import seed_data  # noqa: E402
from beat_seeds import S_BIASES, S, mean_sd, print_summary, test_scores, val_bias_curve  # noqa: E402

OUT = Path("benchmarks/results/beat_align.json")
MAX_SHIFT = 3.0


def s_margins(probs: np.ndarray) -> np.ndarray:
    """log p_S minus the largest other class's log-probability: S is read where this > 0."""
    logp = np.log(np.maximum(probs, 1e-12))
    others = np.delete(logp, S, axis=1).max(axis=1)
    return logp[:, S] - others


def shift_for_se(margins_of_s: np.ndarray, target_se: float) -> float:
    """The S logit shift at which a share `target_se` of these S beats read S."""
    shift = -float(np.quantile(margins_of_s, 1.0 - target_se))
    return float(np.clip(shift, -MAX_SHIFT, MAX_SHIFT))


def validation_margins(ckpt: Path, data) -> np.ndarray:
    """The S margins of the validation fold's S beats."""
    model, _ = load_for(ckpt, data)
    probs = kind_of("arrhythmia").predict(model, data.val, 0, 4096, "mean")
    return s_margins(probs)[data.val.y == S]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the configuration (runs/beat_seeds/NAME)")
    parser.add_argument("--label", help="its entry in the JSON (default: the name)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--runs", type=Path, default=Path("runs/beat_seeds"))
    parser.add_argument("--drop-late-s", type=float, default=0.0, help="as the seeds were run")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for off in ("refit", "other_leads", "af_strips", "p_coherence", "score_other_leads"):
        setattr(args, off, False)
    args.train_on = None
    root = beatdb.multi_db_root(None)
    if root is None:
        raise SystemExit("set ECG_EDGE_DATA to a folder holding mitdb/ and svdb/")

    ckpts = {seed: args.runs / args.name / f"s{seed}" / "model.pt" for seed in args.seeds}
    if missing := [str(c) for c in ckpts.values() if not c.exists()]:
        raise SystemExit(f"no checkpoint {', '.join(missing)}: train the seeds (beat_seeds.py)")
    seeds = []
    for seed, ckpt in ckpts.items():
        data = seed_data(args, seed, root)
        margins = validation_margins(ckpt, data)
        curve = val_bias_curve(ckpt, data)
        seeds.append({"seed": seed, "ckpt": ckpt, "data": data, "margins": margins, "curve": curve})
        print(f"seed {seed}: {len(margins)} validation S beats, Se {np.mean(margins > 0):.3f}")
    target = float(np.mean([np.mean(s["margins"] > 0) for s in seeds]))
    rows = []
    for s in seeds:
        shift = shift_for_se(s["margins"], target)
        best = S_BIASES[int(np.nanargmax(s["curve"]))]
        rows.append(
            {
                "seed": s["seed"],
                "fold": s["seed"] % beatdb.N_FOLDS,
                "val_s_beats": int(len(s["margins"])),
                "val_s_se": float(np.mean(s["margins"] > 0)),
                "shift": shift,
                "val_s_se_aligned": float(np.mean(s["margins"] + shift > 0)),
                "f1_best_shift": best,
                "unaligned": test_scores(s["ckpt"], s["data"]),
                "aligned": test_scores(s["ckpt"], s["data"], shift),
                "f1_best": test_scores(s["ckpt"], s["data"], best),
            }
        )
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "f1_best"}), flush=True)
    entry = {
        "name": args.name,
        "target_val_s_se": target,
        "seeds": rows,
        "summary": {k: mean_sd([r[k] for r in rows]) for k in ("unaligned", "aligned", "f1_best")},
    }
    doc = json.loads(args.out.read_text()) if args.out.exists() else {}
    doc[args.label or args.name] = entry
    args.out.write_text(json.dumps(doc, indent=2))
    for key, summary in entry["summary"].items():
        print_summary(f"{args.name} {key}", summary)


if __name__ == "__main__":
    try:
        main()
    except InputError as exc:  # a checkpoint that reads other inputs than these data: one line
        raise SystemExit(str(exc)) from None
