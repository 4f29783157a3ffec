"""Same-run latency of the compress chain's models: the torch teacher, the fp32 ONNX twin and the
int8 model, single-threaded and with the profile's threads, so that their ratios hold."""

from __future__ import annotations

import platform
from pathlib import Path

import torch

from edge_monitor.contract import read_contract
from edge_monitor.inference import LatencyStats, open_session, time_interleaved
from edge_monitor.profiles import DeviceProfile
from trainer.checkpoint import load_checkpoint
from trainer.export import real_inputs
from trainer.splits import TaskData
from trainer.train import seed_everything

LATENCY_ROUNDS = 5


def measure_latencies(
    teacher: Path,
    fp32: Path,
    int8: Path,
    data: TaskData,
    profile: DeviceProfile,
    runs: int,
    seed: int = 0,
) -> dict:
    """p50 etc. per model over `runs` calls, taken in interleaved rounds (teacher, fp32,
    int8, int8 with the profile's threads, again...): on a busy machine a slow spell then hits
    every model, and a long torch call is not the only one preempted."""
    contract = read_contract(int8)
    feeds = real_inputs(data.test, contract.inputs, 64, seed=seed)
    model, _ = load_checkpoint(teacher)
    seed_everything(seed, 1)
    model.eval()
    args = [[torch.from_numpy(v) for v in f.values()] for f in feeds]

    def torch_call(i: int) -> None:
        with torch.inference_mode():
            model(*args[i % len(args)])

    rt = profile.runtime
    calls = {"torch_teacher_fp32_1t": torch_call}
    for label, path, threads in (
        ("onnx_fp32_1t", fp32, (1, 1)),
        ("onnx_int8_1t", int8, (1, 1)),
        ("onnx_int8_profile", int8, (rt.intra_op_threads, rt.inter_op_threads)),
    ):
        session = open_session(path, *threads)
        calls[label] = lambda i, s=session: s.run(None, feeds[i % len(feeds)])
    rounds = time_interleaved(calls, {name: runs for name in calls}, LATENCY_ROUNDS)
    seconds = {name: [t for r in per_round for t in r] for name, per_round in rounds.items()}
    result = {k: LatencyStats.from_seconds(v).to_dict() for k, v in seconds.items()}
    keys = ("torch_teacher_fp32_1t", "onnx_fp32_1t", "onnx_int8_1t")
    t, f, q = (result[k]["p50_ms"] for k in keys)
    result["speedup_int8_vs_torch_teacher"] = t / q
    result["speedup_int8_vs_onnx_fp32"] = f / q
    result["host"] = f"{platform.machine()} {platform.processor() or platform.platform()}"
    result["profile_threads"] = [rt.intra_op_threads, rt.inter_op_threads]
    result["rounds"] = LATENCY_ROUNDS
    return result
