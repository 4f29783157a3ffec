"""Which kernels onnxruntime runs for each embedded model on this machine (after its graph
optimizations), from one profiled inference: shows whether the int8 convolutions were fused into
integer kernels here. Needs only onnxruntime and numpy, so it runs in the emulated Pi userland.

    python scripts/kernel_counts.py > kernels.json
"""

from __future__ import annotations

import collections
import json
import platform
import tempfile
from importlib import resources

import numpy as np
import onnxruntime as ort


def kernel_counts(path: str) -> dict[str, int]:
    opts = ort.SessionOptions()
    opts.enable_profiling = True
    opts.intra_op_num_threads = 1
    opts.profile_file_prefix = tempfile.mkdtemp() + "/profile"
    session = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {
        i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
        for i in session.get_inputs()
    }
    session.run(None, feed)
    with open(session.end_profiling()) as f:
        events = json.load(f)
    ops = collections.Counter(
        e["args"]["op_name"]
        for e in events
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
    )
    return dict(sorted(ops.items()))


def main() -> None:
    models = resources.files("edge_monitor") / "default_models"
    out = {"machine": platform.machine(), "onnxruntime": ort.__version__, "models": {}}
    for task in ("arrhythmia", "diagnostic"):
        out["models"][task] = kernel_counts(str(models / task / "model.onnx"))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
