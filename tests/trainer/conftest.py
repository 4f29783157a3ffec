"""Shared trainer-test settings: one torch thread, profile files that force the int8 gate, and
fewer bootstrap resamples for tests that check a run's outputs rather than its intervals.

Tiny models gain nothing from a second thread, and on a busy 2-core machine (CI, or a shared
workstation) torch's OpenMP workers wait on each other: a tiny model's epoch took 10-20 times
longer with 2 threads than with 1. Every TrainConfig here says `threads=ONE_THREAD` and every
`train` / `compress` command `--threads 1` (the trainer sets torch's threads from the config);
the autouse fixture covers the torch work done before any training run.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

ONE_THREAD = 1


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    torch.set_num_threads(ONE_THREAD)


def gate_profile(folder: Path, max_drop: float, methods: tuple[str, ...] = ("minmax",)) -> Path:
    """The host profile as a TOML file with its int8 limits set to `max_drop` and room in every
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
    text, n = re.subn(  # the output range check alike: 1 passes every model (a gap is <= 1)
        r"(?m)^max_int8_f1_drop = .*$",
        f"max_int8_f1_drop = {max_drop}\nmax_int8_range_gap = {min(max_drop, 1.0)}",
        text,
    )
    assert n == 1
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


# the resamples a score's bootstrap draws in tests that check a run's files and messages, not
# its interval (the commands draw 1000; tests/trainer/test_metrics.py tests the bootstrap itself)
FEW_RESAMPLES = 100


@contextmanager
def fewer_resamples() -> Iterator[None]:
    """The AUC bootstraps (trainer.metrics.bootstrap_ci, paired_bootstrap) on FEW_RESAMPLES
    resamples: each resample is one sklearn roc_auc_score call per class (about 3 ms of input
    checks), so 1000 made an evaluation's interval most of a tiny run's time (36 of 51 s of the
    ventricular compress test, 33 of 38 s of the diagnostic train-and-evaluate test, profiled).
    The real bootstrap still runs, on fewer draws: the files, fields and intervals are all
    there; only their width is coarser."""
    from trainer import metrics

    draw = metrics._resample_indices
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            metrics,
            "_resample_indices",
            lambda n, n_boot, seed: draw(n, min(n_boot, FEW_RESAMPLES), seed),
        )
        yield


@pytest.fixture
def few_resamples() -> Iterator[None]:
    with fewer_resamples():
        yield
