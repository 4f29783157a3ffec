"""Fetching the data sets from PhysioNet for users who are online (wfdb does the transfer)."""

from __future__ import annotations

import socket
from pathlib import Path

from edge_monitor.errors import InputError, NetworkError

PHYSIONET_HOST = "physionet.org"
DATABASES = {"mitdb": "mitdb/1.0.0", "ptbxl": "ptb-xl/1.0.3"}


def check_reachable(host: str = PHYSIONET_HOST, timeout_s: float = 5.0) -> None:
    """Fail in seconds with one line instead of hanging inside a download."""
    try:
        socket.create_connection((host, 443), timeout=timeout_s).close()
    except OSError as exc:
        raise NetworkError(
            f"cannot reach {host} ({exc.__class__.__name__}: {exc}); "
            "download on a machine that is online, then pass --data-dir"
        ) from exc


def download(name: str, to: Path) -> Path:
    if name not in DATABASES:
        raise InputError(f"unknown data set {name!r}; choose one of {', '.join(DATABASES)}")
    check_reachable()
    import wfdb

    to.mkdir(parents=True, exist_ok=True)
    db = DATABASES[name]
    try:
        if name == "mitdb":
            wfdb.dl_database(db, str(to), annotators=["atr"])
        else:  # the tables, then the 100 Hz records only (the 500 Hz set is ten times larger)
            wfdb.dl_files(db, str(to), ["ptbxl_database.csv", "scp_statements.csv", "RECORDS"])
            names = (to / "RECORDS").read_text().split()
            wfdb.dl_database(db, str(to), records=[r for r in names if r.startswith("records100/")])
    except OSError as exc:
        raise NetworkError(f"download of {name} from {PHYSIONET_HOST} failed: {exc}") from exc
    return to
