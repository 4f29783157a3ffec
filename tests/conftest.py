"""Fixtures: tiny real-format data sets written into tmp_path from the shared real data.

MIT-BIH excerpts (ODC-By 1.0, Moody & Mark 2001) and PTB-XL records (CC BY 4.0, Wagner et al.
2020) come from ../shared/data beside the project root; tests that need them skip when it is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.datasets.excerpt import write_mitdb_excerpt

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ECG_EDGE_SHARED", ROOT.parent / "shared" / "data"))
MITDB = SHARED / "mitdb"
PTBXL = SHARED / "ptbxl"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's cache."""
    monkeypatch.setenv("ECG_EDGE_CACHE", str(tmp_path / "cache"))
    for var in ("ECG_EDGE_DATA", "ECG_EDGE_MITDB", "ECG_EDGE_PTBXL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    return need(MITDB)


@pytest.fixture(scope="session")
def tiny_mitdb(tmp_path_factory) -> Path:
    """Two minutes of six real records: train 201, 208; validation 106, 223; test 100, 232."""
    src = need(MITDB)
    out = tmp_path_factory.mktemp("mitdb")
    for name in ("201", "208", "106", "223", "100", "232"):
        write_mitdb_excerpt(src, name, out, seconds=120.0)
    return out


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
    ids = sorted(set(chosen.index) | {17})
    subprocess.run(
        [sys.executable, str(src / "restore_wfdb.py"), str(out), "--ids", *map(str, ids)],
        check=True,
        capture_output=True,
    )
    db.loc[ids].to_csv(out / "ptbxl_database.csv")
    (out / "scp_statements.csv").write_bytes((src / "scp_statements.csv").read_bytes())
    return out
