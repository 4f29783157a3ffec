"""The bundle's manifest.json: what the compress chain made, how it scored and whether it meets
the profile's budgets (model size, int8 gate, latency on this host)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from edge_monitor.bundle import BUNDLE_FORMAT, MODEL_FILE, sha256_file
from edge_monitor.contract import read_contract
from edge_monitor.profiles import DeviceProfile
from trainer.checkpoint import git_commit
from trainer.kinds import kind_of
from trainer.splits import TaskData


def with_env(command: str, env: dict[str, str]) -> str:
    """The command as it must be typed again: the environment variables the task read (e.g. the
    ventricular test fold) go in front, so the manifest alone reproduces the bundle."""
    return " ".join([*(f"{k}={v}" for k, v in sorted(env.items())), command])


def bundle_manifest(
    out: Path,
    data: TaskData,
    profile: DeviceProfile,
    stages: dict,
    *,
    chosen: Path,
    latency: dict,
    command: str,
    seed: int,
    seconds: float,
) -> dict:
    """The manifest of the bundle in `out` (its model.onnx written), from the chain's stage
    records and the latency measured in this run."""
    model_path = out / MODEL_FILE
    final = stages["final-int8"]
    return {
        "format": BUNDLE_FORMAT,
        "task": data.task,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "command": with_env(command, data.source.get("env", {})),
        "seed": seed,
        "profile": {"name": profile.name, "description": profile.description},
        "model": {
            "file": MODEL_FILE,
            "sha256": sha256_file(model_path),
            "bytes": model_path.stat().st_size,
            "params": final["params"],
            "macs": final["macs"],
        },
        "contract": read_contract(model_path).as_json(),
        "stages": {
            **stages,
            "_data": {
                "dataset": data.source["dataset"],
                "test_size": len(data.test),
                **({"env": data.source["env"]} if data.source.get("env") else {}),
            },
            "_comparisons": paired_comparisons(data, out / "stages"),
            "_seconds": seconds,
        },
        "final": {"from": str(chosen), **{k: final[k] for k in ("test", "bytes", "calibration")}},
        "latency": latency,
        "checks": budget_checks(model_path, data, profile, final, latency),
    }


def budget_checks(
    model_path: Path, data: TaskData, profile: DeviceProfile, final: dict, latency: dict
) -> dict[str, dict]:
    """The profile's budgets against the shipped model: name -> {ok, detail}."""
    budget_kb = kind_of(data.task).model_kb(profile.budgets)
    size_kb = model_path.stat().st_size / 1024
    p95 = latency["onnx_int8_profile"]["p95_ms"]
    return {
        "model_kb": {
            "ok": size_kb <= budget_kb,
            "detail": f"{size_kb:.1f} KB (limit {budget_kb})",
        },
        "int8_drop": {"ok": final["gate"]["ok"], "detail": final["gate"]["detail"]},
        "latency_p95_ms_host": {
            "ok": p95 <= profile.budgets.latency_p95_ms,
            "detail": f"{p95:.2f} ms on this host with the profile's threads (limit "
            f"{profile.budgets.latency_p95_ms}; the board itself is slower: see the bench)",
        },
    }


def paired_comparisons(data: TaskData, stages_dir: Path) -> dict[str, dict]:
    """Final int8 against the teacher and against its own fp32 twin, on the same test records."""
    final = np.load(stages_dir / "final" / "onnx_test_probs.npz")
    teacher = np.load(stages_dir / "teacher" / "onnx_test_probs.npz")
    return kind_of(data.task).paired(final, teacher)
