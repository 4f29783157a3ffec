"""One training run through the real CLI, in its own process: its time and memory are its own."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def train_via_cli(
    task: str, model: str, data_dir: str, out: Path, seed: int, extra: list[str] | None = None
) -> dict:
    """`trainer train ...`; returns its metrics.json plus wall time and the command line."""
    cmd = [
        sys.executable,
        "-m",
        "trainer",
        "train",
        "--task",
        task,
        "--model",
        model,
        "--data-dir",
        data_dir,
        "--out",
        str(out),
        "--seed",
        str(seed),
        *(extra or []),
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    metrics = json.loads((out / "metrics.json").read_text())
    metrics["wall_seconds"] = time.perf_counter() - t0
    metrics["command"] = " ".join(["trainer", *cmd[3:]])
    return metrics
