"""One process against N torchrun ranks: the same seed should give the same model.

Usage:
    python benchmarks/ddp_parity.py [--data-dir $ECG_EDGE_DATA/mitdb] [--model student] \
        [--epochs 5] [--limit 6000] [--nproc 2] [--runs runs/ddp_parity] [--out benchmarks/results]

Both runs go through the real CLI in their own processes: `trainer train` alone, then
`torchrun --standalone --nproc_per_node=N -m trainer train` (gloo on this CPU), with the same
seed, config and data, patience long enough that both train every epoch; and, as the yardstick,
one process with twice the threads (the same arithmetic summed in another order: how far float
rounding alone carries this training) and one process with other seeds (the seed spread).
Compared with the one-process run: every weight (largest
absolute and relative difference), each epoch's training loss and validation score, the best
epoch, and the answers on the validation and test beats (classes that differ, largest probability
difference, the headline). Writes ddp_parity.json (one entry per task and model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from trainer.checkpoint import load_checkpoint
from trainer.config import load_config
from trainer.kinds import kind_of
from trainer.models import build_model
from trainer.splits import TaskData
from trainer.tasks import load_task
from trainer.train import Objective, model_config_for, predict, seed_everything


def train(
    launcher: list[str], args: argparse.Namespace, out: Path, threads: int, seed: int
) -> dict:
    """One `trainer train` run through `launcher`; its command line and wall time (None when
    `--reuse` found its checkpoint from an earlier run of the same command)."""
    # every epoch runs: patience as long as the run where the task keeps its best epoch (a task
    # that keeps its last one never stops early, and refuses --patience)
    stops = load_config(None, task=args.task).keep_epoch == "best"
    options = [
        *("train", "--task", args.task, "--model", args.model, "--out", str(out)),
        *("--epochs", str(args.epochs), "--seed", str(seed)),
        *(("--patience", str(args.epochs)) if stops else ()),
        *("--threads", str(threads), "--no-evaluate"),
        *(("--limit", str(args.limit)) if args.limit else ()),
        *(("--data-dir", args.data_dir) if args.data_dir else ()),
    ]
    shown = ["torchrun", *launcher[2:]] if launcher else ["python"]
    command = " ".join([*shown, "-m", "trainer", *options])
    if args.reuse and (out / "model.pt").exists():
        return {"command": command, "wall_seconds": None}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *launcher, "-m", "trainer", *options], check=True)
    return {"command": command, "wall_seconds": time.perf_counter() - t0}


def epochs_side_by_side(histories: dict[str, list[dict]]) -> list[dict]:
    """Each epoch's training loss and validation score, run by run."""
    rows = zip(*histories.values(), strict=False)
    return [
        {
            "epoch": row[0]["epoch"],
            **{
                f"{key}_{run}": entry[key]
                for run, entry in zip(histories, row, strict=True)
                for key in ("train_loss", "val_score")
            },
        }
        for row in rows
    ]


def weight_differences(a: dict, b: dict) -> dict:
    """Largest absolute difference of any weight, and relative to that tensor's largest value."""
    worst_abs, worst_rel, where = 0.0, 0.0, ""
    for key, value in a.items():
        if not value.is_floating_point():
            continue
        diff = float((value - b[key]).abs().max())
        scale = float(value.abs().max()) or 1.0
        if diff > worst_abs:
            worst_abs, where = diff, key
        worst_rel = max(worst_rel, diff / scale)
    return {"max_abs": worst_abs, "max_rel": worst_rel, "worst_tensor": where}


def answers(args: argparse.Namespace, data: TaskData, runs: dict[str, Path]) -> dict:
    """Each run's model on the validation and test splits, against the one-process run."""
    kind = kind_of(args.task)
    result: dict = {}
    for name, split in (("val", data.val), ("test", data.test)):
        probs = {
            run: predict(load_checkpoint(path)[0], split, args.task) for run, path in runs.items()
        }
        base = probs["one_process"]
        result[name] = {"rows": len(split)}
        for run, p in probs.items():
            result[name][run] = {
                "headline": kind.validation_score(split, p),
                "classes_differ": int((p.argmax(1) != base.argmax(1)).sum()),
                "max_prob_diff": float(np.abs(p - base).max()),
            }
    return result


def batch_assembly(args: argparse.Namespace, data: TaskData) -> dict:
    """One epoch in one process: seconds drawing the batches (every rank draws each global batch
    whole) against seconds of the training steps (which N ranks share); the drawing's share
    bounds the speed-up N ranks can give (Amdahl), before communication and validation."""
    cfg = load_config(None, task=args.task, model=args.model, seed=args.seed, threads=args.threads)
    seed_everything(cfg.seed, cfg.threads)
    kind = kind_of(args.task)
    model = build_model(model_config_for(cfg, data))
    rng = np.random.default_rng(cfg.seed)
    t0 = time.perf_counter()
    batches = list(kind.batches(data.train, model.cfg.input_length, cfg, rng, None))
    drawn = time.perf_counter() - t0
    objective = Objective(kind, cfg, kind.class_weights(data.train.y, cfg))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    model.train()
    t0 = time.perf_counter()
    for batch in batches:
        loss = objective(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    stepped = time.perf_counter() - t0
    share = drawn / (drawn + stepped)
    return {
        "batches": len(batches),
        "draw_seconds": drawn,
        "step_seconds": stepped,
        "draw_share": share,
        "speedup_bound": {str(n): 1 / (share + (1 - share) / n) for n in (2, 4, 8)},
    }


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="arrhythmia")
    ap.add_argument("--model", default="student")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--limit", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--other-seeds", nargs="*", type=int, default=[1, 2], help="seed spread")
    ap.add_argument("--reuse", action="store_true", help="keep checkpoints of earlier runs")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--runs", default="runs/ddp_parity")
    ap.add_argument("--out", default="benchmarks/results")
    return ap.parse_args()


def run_all(args: argparse.Namespace) -> tuple[dict[str, Path], dict]:
    """The runs: one process, its rounding and seed yardsticks, and the ranks; their
    checkpoints and commands."""
    folder = Path(args.runs) / f"{args.task}-{args.model}"
    runs = {
        "one_process": folder / "one" / "model.pt",
        "one_process_more_threads": folder / "one-threads" / "model.pt",
        "ranks": folder / f"ranks{args.nproc}" / "model.pt",
        **{f"one_process_seed{s}": folder / f"one-seed{s}" / "model.pt" for s in args.other_seeds},
    }
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={args.nproc}"]
    t, seed = args.threads, args.seed
    done = {
        "one_process": train([], args, runs["one_process"].parent, t, seed),
        # the rounding yardstick: the same run with another thread count sums in another order
        "one_process_more_threads": train(
            [], args, runs["one_process_more_threads"].parent, 2 * t, seed
        ),
        "ranks": train(launcher, args, runs["ranks"].parent, t, seed),
        # the seed yardstick: what another seed changes
        **{
            f"one_process_seed{s}": train([], args, runs[f"one_process_seed{s}"].parent, t, s)
            for s in args.other_seeds
        },
    }
    return runs, done


def compare(args: argparse.Namespace, runs: dict[str, Path], done: dict) -> dict:
    ckpt = {run: load_checkpoint(path)[1] for run, path in runs.items()}
    data = load_task(args.task, args.data_dir, limit=args.limit, seed=args.seed)
    one = ckpt["one_process"]
    return {
        "task": args.task,
        "model": args.model,
        "nproc": args.nproc,
        "runs": done,
        "ranks_recorded": ckpt["ranks"]["resources"].get("ranks"),
        "weights_vs_one_process": {
            run: weight_differences(one["state_dict"], c["state_dict"])
            for run, c in ckpt.items()
            if run != "one_process"
        },
        "best_epoch": {run: c["metrics"]["best_epoch"] for run, c in ckpt.items()},
        "epochs": epochs_side_by_side({run: c["history"] for run, c in ckpt.items()}),
        "answers": answers(args, data, runs),
        "batch_assembly": batch_assembly(args, data),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
        },
    }


def main() -> None:
    args = parse_args()
    runs, done = run_all(args)
    result = compare(args, runs, done)
    out = Path(args.out) / "ddp_parity.json"  # one entry per task and model
    out.parent.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**earlier, f"{args.task}-{args.model}": result}, indent=2))
    for run, w in result["weights_vs_one_process"].items():
        print(f"{run}: weights max |diff| {w['max_abs']:.2e} (relative {w['max_rel']:.2e})")
    for name, r in result["answers"].items():
        for run in runs:
            a = r[run]
            print(
                f"{name} {run}: headline {a['headline']:.4f}, {a['classes_differ']} of "
                f"{r['rows']} beats classed otherwise than one process"
            )
    a = result["batch_assembly"]
    bounds = " / ".join(f"{v:.1f}" for v in a["speedup_bound"].values())
    print(
        f"drawing batches: {a['draw_share']:.0%} of an epoch's time in one process "
        f"(speed-up bound at 2 / 4 / 8 ranks: {bounds})"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
