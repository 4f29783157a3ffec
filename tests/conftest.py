"""Fixtures: tiny real-format data sets written into tmp_path from the shared real data.

MIT-BIH excerpts (ODC-By 1.0, Moody & Mark 2001) and PTB-XL records (CC BY 4.0, Wagner et al.
2020) come from $ECG_EDGE_SHARED, else ../shared/data beside the project root, else $ECG_EDGE_DATA
(the data root the commands and benchmarks read: a clone made elsewhere finds the data as they do);
tests that need them skip when it is absent, and fail instead when ECG_EDGE_REQUIRE_DATA=1 (CI).
Inside a test ECG_EDGE_DATA is unset (_isolated_cache): the code under test is given its data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from trainer.datasets.excerpt import write_mitdb_excerpt

# CI draws the same property-test examples every run (a clean clone has no example database),
# so a stop cannot fail on one rare draw of a statistical property; runs without
# ECG_EDGE_REQUIRE_DATA keep hypothesis's random exploration. HYPOTHESIS_PROFILE=ci (or
# =default) chooses either anywhere.
settings.register_profile("ci", derandomize=True)
_PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("ECG_EDGE_REQUIRE_DATA") else "default"
)
settings.load_profile(_PROFILE)

ROOT = Path(__file__).resolve().parents[1]
_BESIDE = ROOT.parent / "shared" / "data"
SHARED = Path(
    os.environ.get("ECG_EDGE_SHARED")
    or (_BESIDE if _BESIDE.is_dir() else os.environ.get("ECG_EDGE_DATA", _BESIDE))
)
MITDB = SHARED / "mitdb"
PTBXL = SHARED / "ptbxl"
NSTDB = SHARED / "nstdb"


REQUIRE_DATA = "ECG_EDGE_REQUIRE_DATA"


def need(path: Path) -> Path:
    """The shared data at `path`: a test without it skips, or fails where the run requires the
    data (`ECG_EDGE_REQUIRE_DATA=1`, as .ci/run sets) so that a CI without the data cannot pass
    by skipping every test that reads it."""
    if not path.exists():
        message = f"shared data not found at {path} (set ECG_EDGE_SHARED to its folder)"
        if os.environ.get(REQUIRE_DATA, "") not in ("", "0"):
            pytest.fail(f"{message}; {REQUIRE_DATA} is set, so this is a failure", pytrace=False)
        pytest.skip(message)
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The modules holding a test marked `slow` start first, in their order, then the rest in
    theirs: with two workers (scripts/test.sh runs pytest-xdist by module) the long modules
    overlap the many short ones instead of ending the run on one worker while the other waits.
    Whole modules move (a stable sort on a per-file key), so a one-process run (`-n 0`) does
    not split one and build its module fixtures twice."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's cache or follows their data, profile or fold choice."""
    isolate(monkeypatch, tmp_path / "cache")


def isolate(monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    """_isolated_cache's work, for a module-scoped fixture too (it runs before the autouse one:
    `with pytest.MonkeyPatch.context() as mp: isolate(mp, ...)`)."""
    monkeypatch.setenv("ECG_EDGE_CACHE", str(cache))
    for var in (
        "ECG_EDGE_DATA",
        "ECG_EDGE_MITDB",
        "ECG_EDGE_PTBXL",
        "ECG_EDGE_NSTDB",
        "ECG_EDGE_SVDB",
        "ECG_EDGE_CUDB",
        "ECG_EDGE_PROFILE",
        "ECG_EDGE_VENTRICULAR_FOLD",
    ):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    return need(MITDB)


@pytest.fixture(scope="session")
def nstdb_dir() -> Path:
    return need(NSTDB)


@pytest.fixture(scope="session")
def tiny_mitdb(tmp_path_factory) -> Path:
    """Two minutes of six real records: train 201, 208; validation 106, 223; test 100, 232."""
    src = need(MITDB)
    out = tmp_path_factory.mktemp("mitdb")
    for name in ("201", "208", "106", "223", "100", "232"):
        write_mitdb_excerpt(src, name, out, seconds=120.0)
    return out


@pytest.fixture(scope="session")
def svdb_800(tmp_path_factory):
    """40 s of svdb 800 (128 Hz, ECG1 and ECG2): signal (read-only), rate, names."""
    import wfdb

    out = tmp_path_factory.mktemp("svdb")
    write_mitdb_excerpt(need(SHARED / "svdb"), "800", out, seconds=40.0)
    rec = wfdb.rdrecord(str(out / "800"))
    rec.p_signal.setflags(write=False)  # shared by modules: a test copies before changing it
    return rec.p_signal, float(rec.fs), list(rec.sig_name)


@pytest.fixture(scope="session")
def tiny_ptbxl(tmp_path_factory) -> Path:
    """Real PTB-XL records, eight labelled per fold, as WFDB files plus their CSV rows."""
    import pandas as pd

    src = need(PTBXL)
    out = tmp_path_factory.mktemp("ptbxl")
    from trainer.datasets.ptbxl import read_labels

    db = pd.read_csv(src / "ptbxl_database.csv", index_col="ecg_id")
    labelled = read_labels(src).superclasses.str.len() > 0
    chosen = db[labelled].groupby("strat_fold", group_keys=False).head(8)
    # ecg_id 17 has no diagnostic superclass: the "reported and left out" path runs too
    return write_ptbxl_records(src, out, sorted(set(chosen.index) | {17}))


def write_ptbxl_records(src: Path, out: Path, ids: list[int]) -> Path:
    """The shared PTB-XL records `ids` as WFDB files in `out`, with their CSV rows and the
    statements table: a PTB-XL folder in the publishers' layout."""
    import pandas as pd

    subprocess.run(
        [sys.executable, str(src / "restore_wfdb.py"), str(out), "--ids", *map(str, ids)],
        check=True,
        capture_output=True,
    )
    db = pd.read_csv(src / "ptbxl_database.csv", index_col="ecg_id")
    db.loc[ids].to_csv(out / "ptbxl_database.csv")
    (out / "scp_statements.csv").write_bytes((src / "scp_statements.csv").read_bytes())
    return out


@pytest.fixture(scope="session")
def sample_record() -> Path:
    """The MIT-BIH excerpt shipped with the edge runtime."""
    from edge_monitor.cli import _sample_record

    return _sample_record()


def write_window_model(
    folder: Path, classes=("NORM", "MI"), leads=("II",), aggregate: str = "max"
) -> Path:
    """A tiny window model (mean and variance per lead -> logits) with a valid contract and a
    manifest: a real ONNX file for runtime tests that need no trained network."""
    import json

    import onnx
    from onnx import TensorProto, helper

    from edge_monitor.bundle import BUNDLE_FORMAT, sha256_file
    from edge_monitor.contract import ModelContract, WindowInput
    from edge_monitor.dsp import FilterSpec

    n_leads, window = len(leads), 250
    x = helper.make_tensor_value_info("ecg", TensorProto.FLOAT, [1, n_leads, window])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, len(classes)])
    w = helper.make_tensor(
        "w", TensorProto.FLOAT, [n_leads, len(classes)], [0.5] * n_leads * len(classes)
    )
    nodes = [
        helper.make_node("ReduceMean", ["ecg"], ["m"], axes=[2], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    contract = ModelContract(
        task="diagnostic",
        fs=100.0,
        leads=list(leads),
        classes=list(classes),
        inputs={"ecg": [1, n_leads, window]},
        output="logits",
        activation="sigmoid",
        filter=FilterSpec(0.5, 40.0, 2, 0.0, 30.0),
        input=WindowInput(window=window, stride=125, aggregate=aggregate, record_samples=1000),
        thresholds=[0.5] * len(classes),
    )
    helper.set_model_props(model, contract.to_metadata())
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(folder / "model.onnx"))
    manifest = {
        "format": BUNDLE_FORMAT,
        "task": "diagnostic",
        "created": "2026-01-01T00:00:00+00:00",
        "git_commit": "test",
        "command": "tests",
        "seed": 0,
        "profile": {"name": "host"},
        "model": {
            "file": "model.onnx",
            "sha256": sha256_file(folder / "model.onnx"),
            "bytes": (folder / "model.onnx").stat().st_size,
            "params": len(classes) * n_leads,
            "macs": 0,
        },
        "contract": {},
        "stages": {},
        "final": {},
        "latency": {},
        "checks": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture(scope="session")
def tiny_window_bundle(tmp_path_factory):
    from edge_monitor.bundle import load_bundle

    return load_bundle(write_window_model(tmp_path_factory.mktemp("window") / "tiny-window"))
