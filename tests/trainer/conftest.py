"""Shared trainer-test settings: one torch thread, and profile files that force the int8 gate.

Tiny models gain nothing from a second thread, and on a busy 2-core machine (CI, or a shared
workstation) torch's OpenMP workers wait on each other: a tiny model's epoch took 10-20 times
longer with 2 threads than with 1. Every TrainConfig here says `threads=ONE_THREAD` and every
`train` / `compress` command `--threads 1` (the trainer sets torch's threads from the config);
the autouse fixture covers the torch work done before any training run.
"""

import re
from pathlib import Path

import pytest
import torch

ONE_THREAD = 1


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    torch.set_num_threads(ONE_THREAD)


def gate_profile(folder: Path, max_drop: float, methods: tuple[str, ...] = ("minmax",)) -> Path:
    """The host profile as a TOML file with both int8 limits set to `max_drop` and room in every
    other budget: 1 passes every int8 model (a loss is at most 1; an undefined one, nan, passes
    as in trainer.quantize.gate); a refusal is forced by reporting a larger drop. Whether
    int8 keeps a tiny model's scores depends on the CPU's integer kernels (AVX-512 VNNI, AVX2 and
    ARM dot products round and saturate differently), so no test expects one verdict from real
    numerics. `methods`: the calibrations tried (one by default: most runs test the gate's
    verdict, not the method's choice)."""
    from importlib import resources

    text = resources.files("device_profiles").joinpath("host.toml").read_text()
    for key, value in (
        ("max_int8_auc_drop", max_drop),
        ("max_int8_f1_drop", max_drop),
        ("latency_p95_ms", 1e6),
        ("peak_rss_mb", 1e6),
    ):
        text, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        assert n == 1, key
    text, n = re.subn(
        r"(?m)^model_kb = .*$", "model_kb = { arrhythmia = 1e6, diagnostic = 1e6 }", text
    )
    assert n == 1
    listed = ", ".join(f'"{m}"' for m in methods)
    text, n = re.subn(r"(?m)^calibration_methods = .*$", f"calibration_methods = [{listed}]", text)
    assert n == 1
    name = f"gate{max_drop:+g}" + ("" if methods == ("minmax",) else "-" + "-".join(methods))
    text = re.sub(r"(?m)^name = .*$", f'name = "{name}"', text)
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path
