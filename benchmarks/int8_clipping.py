"""How far a bundle's int8 outputs fall short of what its weights would answer with float
activations: trainer.quantize.range_gap between the int8 model and its `unclipped_twin` (the
same graph with every activation's quantize / dequantize pair removed), on the task's validation
and test splits, batch 1 through onnxruntime as the device runs it.

Why: the int8 gate compares a model against its fp32 twin, which only the chain that built it
has. The embedded bundles ship without their stages/ (no fp32 twin), and were gated on AUC / F1
before the gate read output ranges (7 Dec). A calibration range that clips an activation keeps
ranks and passes a rank score while the device's probability thresholds never fire; the twin
exposes that from the int8 file alone. The same check is what to run on a stranger's bundle.

    ECG_EDGE_DATA=../shared/data python benchmarks/int8_clipping.py \
        --out benchmarks/results/int8_clipping_embedded.json
    ECG_EDGE_DATA=../shared/data python benchmarks/int8_clipping.py \
        runs/ventricular-ens-3-4-minmax/fold-1/bundle runs/ventricular-s4/fold-1/bundle \
        --out benchmarks/results/int8_clipping_folds.json

A bundle trained on a fold of the VT/VF records is scored on that fold (its manifest's
$ECG_EDGE_VENTRICULAR_FOLD). Where the bundle keeps its chain's stages/final/onnx_test_probs.npz,
the gap against the real fp32 twin is written beside the twin's, as a check of the method.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

from edge_monitor.bundle import MODEL_FILE, embedded_bundle, load_bundle
from edge_monitor.errors import EcgEdgeError, first_line
from trainer.kinds import kind_of
from trainer.onnx_eval import onnx_predict
from trainer.quantize import range_gap, unclipped_twin

EMBEDDED = ("diagnostic", "arrhythmia", "ventricular")


def check(bundle: Path, data_dir: str | None) -> dict:
    manifest = load_bundle(bundle, probe=False).manifest  # hash, keys, contract: proven
    env = manifest.get("stages", {}).get("_data", {}).get("env", {})
    before = {key: os.environ.get(key) for key in env}
    os.environ.update(env)  # the fold this bundle was tested on
    try:
        kind = kind_of(manifest["task"])
        leads = kind.lead_option(manifest["contract"]["leads"])
        data = kind.load(data_dir, leads, None, None, manifest.get("seed", 0))
    finally:  # the caller's environment as it was
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    model = bundle / MODEL_FILE
    with tempfile.TemporaryDirectory(prefix="ecg-edge-twin-") as work:
        twin = Path(work) / "twin.onnx"
        onnx.save(unclipped_twin(onnx.load(str(model))), str(twin))
        out: dict = {"task": manifest["task"], "env": env}
        for name in ("val", "test"):
            split = getattr(data, name)
            int8, floats = onnx_predict(model, split), onnx_predict(twin, split)
            out[name] = {
                "rows": len(split),
                "range_gap_vs_unclipped": round(range_gap(floats, int8), 5),
                "max_abs_diff": round(float(np.nanmax(np.abs(floats - int8))), 5),
                "int8_p01_p99": np.round(np.percentile(int8, [1, 99], axis=0), 4).tolist(),
                "unclipped_p01_p99": np.round(np.percentile(floats, [1, 99], axis=0), 4).tolist(),
            }
    chain = bundle / "stages" / "final" / "onnx_test_probs.npz"
    if chain.exists():
        d = np.load(chain)
        out["test"]["range_gap_vs_fp32 (the chain's)"] = round(range_gap(d["fp32"], d["int8"]), 5)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", type=Path, nargs="*", help="bundle folders (default: embedded)")
    ap.add_argument("--data-dir", default=None, help="else each task's variable / $ECG_EDGE_DATA")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    bundles = args.bundles or [embedded_bundle(t) for t in EMBEDDED]
    result = {"command": "python benchmarks/int8_clipping.py " + " ".join(sys.argv[1:])}
    try:
        args.out.write_text(json.dumps(result) + "\n")  # writable before the work, not after
        for bundle in bundles:
            result[str(bundle)] = check(bundle, args.data_dir)
            print(bundle, json.dumps(result[str(bundle)]), flush=True)
            args.out.write_text(json.dumps(result, indent=1) + "\n")  # each bundle as it ends
    except (EcgEdgeError, OSError, ValueError) as exc:
        sys.exit(f"error: {first_line(exc)}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
