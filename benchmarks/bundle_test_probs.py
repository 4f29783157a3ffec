"""A bundle's shipped model scored again on its task's test split, written where `trainer report`
reads it: a copy of the bundle with stages/final/onnx_test_probs.npz (int8 probabilities only).

The embedded bundles ship without their stages/ folder (it holds every intermediate model), so
their per-class ROC, confusion matrix and per-class AUC need the test probabilities again:

    python benchmarks/bundle_test_probs.py edge_monitor/default_models/diagnostic \
        --data-dir ../shared/data/ptbxl --out /tmp/diagnostic-report
    trainer report /tmp/diagnostic-report

Prints the headline recomputed beside the manifest's (they agree when the data is the same).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np

from edge_monitor.bundle import MANIFEST_FILE, MODEL_FILE
from trainer.kinds import kind_of
from trainer.onnx_eval import onnx_predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    manifest = json.loads((args.bundle / MANIFEST_FILE).read_text())
    kind = kind_of(manifest["task"])
    leads = kind.lead_option(manifest["contract"]["leads"])
    data = kind.load(args.data_dir, leads, None, None, manifest["seed"])
    shutil.copytree(args.bundle, args.out, dirs_exist_ok=True)
    probs = onnx_predict(args.out / MODEL_FILE, data.test)
    folder = args.out / "stages" / "final"
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / "onnx_test_probs.npz", int8=probs, y=data.test.y, groups=data.test.groups)
    again = kind.headline(kind.onnx_test(data.test.y, probs, data.classes))
    recorded = kind.headline(manifest["stages"]["final-int8"]["test"])
    print(
        json.dumps(
            {
                "bundle": str(args.bundle),
                "test_size": len(data.test),
                "manifest_test_size": manifest["stages"]["_data"]["test_size"],
                "headline_again": again,
                "headline_manifest": recorded,
            }
        )
    )


if __name__ == "__main__":
    main()
