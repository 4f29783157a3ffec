"""Cross-validation bundles of a VT/VF model of several seeds: for each fold of two or more fold
sets of one recipe (`runs/ventricular`, `runs/ventricular-s2`, ...: `trainer compress --task
ventricular` per fold with different seeds), the fold's fp32 students become one ensemble
checkpoint (`trainer ensemble`, the mean of their logits), which the chain's last stages take
as its student (`trainer compress --student`): int8 static quantization as one graph, the
profile's int8 gate, the contract threshold on that fold's validation windows. Nothing is
trained. Writes `OUT/fold-K/bundle` and `OUT/folds.json` for `ventricular_alarms.py --model-map`.

    ECG_EDGE_DATA=../shared/data python benchmarks/ventricular_ensemble.py \
        --sets runs/ventricular runs/ventricular-s2 --out runs/ventricular-ens-0-2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ventricular_model import write_folds  # noqa: E402

FOLDS = ("1", "2", "3", "all")


def fold_student(bundle: Path) -> Path:
    """The student a fold's bundle shipped: the checkpoint whose sha256 its contract names (a
    folder may hold more than one, as when the int8 gate refused a seed and another was run)."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    shipped = manifest["contract"]["provenance"]["checkpoint_sha256"]
    for ckpt in sorted(bundle.glob("stages/student-*/model.pt")):
        if hashlib.sha256(ckpt.read_bytes()).hexdigest() == shipped:
            return ckpt
    raise SystemExit(f"{bundle}: no student checkpoint with the shipped sha256 {shipped[:12]}")


def build_fold(sets: list[Path], fold: str, out: Path, data_dir: str, profile: str) -> dict:
    bundles = [s / f"fold-{fold}" / "bundle" for s in sets]
    members = [fold_student(b) for b in bundles]
    work = out / f"fold-{fold}"
    ensemble = work / "ensemble.pt"
    trainer = [sys.executable, "-m", "trainer"]
    shutil.rmtree(work / "bundle", ignore_errors=True)  # a refused rerun must not leave the old one
    made = subprocess.run(
        [*trainer, "ensemble", *map(str, members), "--out", str(ensemble)],
        capture_output=True,
        text=True,
    )
    row = {"fold": fold, "members": [str(m) for m in members]}
    if made.returncode != 0:
        return {**row, "returncode": made.returncode, "bundle": None,
                "last_line": made.stderr.strip().splitlines()[-1:]}  # fmt: skip
    env = dict(os.environ)
    env.pop("ECG_EDGE_VENTRICULAR_FOLD", None)
    if fold != "all":
        env["ECG_EDGE_VENTRICULAR_FOLD"] = fold
    teacher = bundles[0] / "stages" / "teacher" / "model.pt"
    command = [
        *trainer, "compress", "--task", "ventricular", "--profile", profile,
        "--data-dir", data_dir, "--prune-ratio", "0", "--no-ablation", "--threads", "1",
        "--latency-runs", "100", "--student", str(ensemble), "--teacher", str(teacher),
        "--out", str(work / "bundle"),
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    (work / "compress.log").write_text(done.stdout + done.stderr)
    manifest = work / "bundle" / "manifest.json"
    shipped = done.returncode == 0 and manifest.exists()  # exit 1: refused or over a budget
    return {
        **row,
        "teacher": str(teacher),
        "returncode": done.returncode,
        "bundle": str(work / "bundle") if shipped else None,
        "last_line": (done.stdout.strip() or done.stderr.strip()).splitlines()[-1:],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=Path, nargs="+", required=True, help="fold-set folders")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data-dir", default=os.environ.get("ECG_EDGE_DATA", "../shared/data"))
    ap.add_argument("--profile", default="rpi4")
    ap.add_argument("--folds", nargs="*", default=list(FOLDS))
    args = ap.parse_args()
    if len(args.sets) < 2:
        raise SystemExit("an ensemble needs two or more fold sets")
    args.out.mkdir(parents=True, exist_ok=True)
    written = args.out / "ensemble.json"
    rows = json.loads(written.read_text())["folds"] if written.exists() else []
    for fold in args.folds:  # each fold's row written as it ends: --folds reruns a part
        row = build_fold(args.sets, fold, args.out, args.data_dir, args.profile)
        rows = [r for r in rows if r["fold"] != fold] + [row]
        summary = {"sets": [str(s) for s in args.sets], "folds": rows}
        written.write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(row), flush=True)
    refused = [r["fold"] for r in rows if r["bundle"] is None]
    if refused:  # a folds map with a stale or missing bundle would score the wrong model
        (args.out / "folds.json").unlink(missing_ok=True)
        raise SystemExit(f"no bundle for folds {refused} (see {written}); no folds.json written")
    write_folds(Path(args.data_dir), args.out)
    print(f"wrote {args.out / 'folds.json'}")


if __name__ == "__main__":
    main()
