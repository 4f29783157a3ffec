"""int8 against fp32 ONNX and against the torch teacher, one thread, same run, for the teachers and
the shipped students of the compress bundles: where does int8 pay on this CPU, and how much faster
is the deployed model than the model it was compressed from?

    python benchmarks/int8_speed.py runs/compress/diagnostic-rpi4 runs/compress/arrhythmia-rpi4

Every model is timed in several short rounds, interleaved (teacher, fp32, int8, teacher, ...), and
the median of the rounds' p50s is reported: on a shared machine a slow spell then hits every
model alike instead of one of them. Writes benchmarks/results/int8_speed.json.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from edge_monitor.inference import open_session, time_interleaved
from trainer.checkpoint import load_checkpoint


def feeds_for(session, n: int = 16) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [
        {i.name: rng.normal(0, 0.3, i.shape).astype(np.float32) for i in session.get_inputs()}
        for _ in range(n)
    ]


def callables(bundle: Path, manifest: dict) -> dict[str, Callable[[int], object]]:
    """One batch-1 inference per call: the torch teacher, and both ONNX twins of both stages."""
    out = {}
    feeds = None
    for stage in ("teacher", "final"):
        for precision in ("fp32", "int8"):
            session = open_session(bundle / "stages" / stage / f"model-{precision}.onnx")
            feeds = feeds or feeds_for(session)
            out[f"{stage}-{precision}"] = lambda i, s=session, f=feeds: s.run(None, f[i % len(f)])
    model, _ = load_checkpoint(Path(manifest["stages"]["teacher"]["checkpoint"]))
    model.eval()
    assert feeds is not None
    args = [[torch.from_numpy(v) for v in f.values()] for f in feeds]

    def teacher(i: int) -> object:
        with torch.inference_mode():
            return model(*args[i % len(args)])

    out["teacher-torch"] = teacher
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", type=Path, nargs="+")
    parser.add_argument("--runs", type=int, default=1000, help="inferences per model and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/int8_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, speedups = [], []
    for bundle in args.bundles:
        manifest = json.loads((bundle / "manifest.json").read_text())
        calls = callables(bundle, manifest)
        per_round = {
            k: max(args.runs // 20, 50) if k == "teacher-torch" else args.runs for k in calls
        }
        taken = time_interleaved(
            calls, {k: n * args.rounds for k, n in per_round.items()}, args.rounds
        )
        rounds = {k: [float(np.median(r) * 1e3) for r in v] for k, v in taken.items()}
        p50 = {k: float(np.median(v)) for k, v in rounds.items()}
        for stage in ("teacher", "final"):
            row = {
                "bundle": bundle.name,
                "model": stage,
                "macs": manifest["stages"][f"{stage}-int8"]["macs"],
                "fp32_p50_ms": p50[f"{stage}-fp32"],
                "int8_p50_ms": p50[f"{stage}-int8"],
                "rounds_ms": {p: rounds[f"{stage}-{p}"] for p in ("fp32", "int8")},
            }
            row["int8_speedup"] = row["fp32_p50_ms"] / row["int8_p50_ms"]
            rows.append(row)
            print(row)
        speedups.append(
            {
                "bundle": bundle.name,
                "torch_teacher_p50_ms": p50["teacher-torch"],
                "torch_teacher_rounds_ms": rounds["teacher-torch"],
                "int8_student_p50_ms": p50["final-int8"],
                "int8_student_vs_torch_teacher": p50["teacher-torch"] / p50["final-int8"],
                "int8_student_vs_its_fp32_onnx": p50["final-fp32"] / p50["final-int8"],
            }
        )
        print(speedups[-1])
    result = {"rows": rows, "students": speedups, "threads": 1, "rounds": args.rounds}
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
