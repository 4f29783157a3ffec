"""Does a second intra-op thread pay for a small model? Each bundle's int8 session at 1 and at 2
(or --threads) intra-op threads, called in turn on the same input (interleaved, so both see
the same machine), batch 1 as the monitor calls it: median, mean and p95 per call, and the ratio.
onnxruntime hands each operator's work to its pool; for a model of a few million
multiply-accumulates the hand-over and the wake-up of a sleeping thread (the monitor's sessions
never spin) may cost more than the work saved.

    python benchmarks/session_threads.py --synthetic --out benchmarks/results/session_threads.json

--synthetic adds untrained int8 ResNets of 2-600 M MACs: where a second thread starts to pay
(edge_monitor.inference.PARALLEL_MIN_MACS).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import numpy as np

from edge_monitor.bundle import load_bundle
from edge_monitor.inference import open_session, time_interleaved

DEFAULT_MODELS = Path(__file__).resolve().parents[1] / "edge_monitor" / "default_models"


def stats(seconds: list[float]) -> dict:
    us = np.asarray(seconds) * 1e6
    return {
        "median_us": float(np.median(us)),
        "mean_us": float(us.mean()),
        "p95_us": float(np.percentile(us, 95)),
    }


def interleaved(model: bytes | Path, threads: list[int], calls: int, warmup: int) -> dict:
    """Seconds per call of one ONNX model's session at each thread count, called in turn."""
    sessions = {t: open_session(model, t) for t in threads}
    rng = np.random.default_rng(0)
    feed = {
        i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(
            np.float32
        )
        for i in sessions[threads[0]].get_inputs()
    }
    # one call per thread count a round: a, b, a, b, ... (a slow spell hits both alike)
    runs = {str(t): (lambda i, s=session: s.run(None, feed)) for t, session in sessions.items()}
    taken = time_interleaved(runs, dict.fromkeys(runs, calls), rounds=calls, warmup=warmup)
    row: dict = {
        "threads": {t: stats([x for r in rounds for x in r]) for t, rounds in taken.items()}
    }
    base = row["threads"][str(threads[0])]["median_us"]
    row["median_ratio"] = {str(t): row["threads"][str(t)]["median_us"] / base for t in threads}
    return row


def measure(bundle_dir: Path, threads: list[int], calls: int, warmup: int) -> dict:
    bundle = load_bundle(bundle_dir)
    return {
        "bundle": bundle.name,
        "task": bundle.task,
        "macs": bundle.manifest.get("model", {}).get("macs"),
        **interleaved(bundle.model_source, threads, calls, warmup),
    }


# untrained ResNets of growing width and input (int8 like the shipped ones, calibrated on noise:
# the speed of a convolution does not depend on its weights): where a second thread starts to pay
SYNTHETIC = (
    ((8, 16, 32), 500, 1),
    ((16, 32, 64), 500, 1),
    ((16, 32, 64), 1000, 12),
    ((32, 64, 64), 500, 12),
    ((24, 48, 64), 1000, 12),
    ((32, 48, 64), 1000, 12),
    ((32, 64, 64), 1000, 12),
    ((64, 128, 128), 1000, 12),
    ((64, 128, 256), 2500, 12),
)


def synthetic(threads: list[int], calls: int, warmup: int) -> list[dict]:
    import tempfile

    import torch
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from trainer.models import ModelConfig, build_model, model_size

    class Noise(CalibrationDataReader):
        def __init__(self, shape: tuple[int, ...]) -> None:
            rng = np.random.default_rng(0)
            self.feeds = iter(
                [{"ecg": rng.standard_normal(shape).astype(np.float32)} for _ in range(8)]
            )

        def get_next(self):
            return next(self.feeds, None)

    rows = []
    torch.manual_seed(0)
    for widths, length, leads in SYNTHETIC:
        cfg = ModelConfig(
            in_channels=leads, n_classes=5, input_length=length, widths=widths, head_hidden=32
        )
        model = build_model(cfg).eval()
        with tempfile.TemporaryDirectory() as tmp:
            fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            x = torch.randn(1, leads, length)
            torch.onnx.export(model, (x,), fp32, input_names=["ecg"], dynamo=False)
            quantize_static(
                fp32, int8, Noise((1, leads, length)), quant_format=QuantFormat.QDQ,
                per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            )  # fmt: skip
            row = interleaved(int8.read_bytes(), threads, calls, warmup)
        rows.append({"synthetic": [list(widths), length, leads], "macs": model_size(model).macs,
                     **row})  # fmt: skip
        print_row(f"resnet {widths} x {leads} x {length}", rows[-1])
    return rows


def print_row(name: str, r: dict) -> None:
    line = ", ".join(
        f"{t} thread(s) {v['median_us']:.0f} us (p95 {v['p95_us']:.0f})"
        for t, v in r["threads"].items()
    )
    print(f"{name} ({r['macs']:,} MACs): {line}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", type=Path, nargs="*", help="bundle folders (default: embedded)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--synthetic", action="store_true",
                    help="also untrained int8 ResNets of 2-600 M MACs (needs torch)")  # fmt: skip
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    bundles = args.bundles or sorted(p.parent for p in DEFAULT_MODELS.glob("*/manifest.json"))
    rows = []
    for b in bundles:
        rows.append(measure(b, args.threads, args.calls, args.warmup))
        print_row(rows[-1]["bundle"], rows[-1])
    result = {
        "command": "python benchmarks/session_threads.py " + " ".join(sys.argv[1:]),
        "host": {"machine": platform.machine(), "processor": platform.processor()},
        "calls": args.calls,
        "models": rows,
    }
    if args.synthetic:
        result["synthetic"] = synthetic(args.threads, args.calls // 4, args.warmup)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
