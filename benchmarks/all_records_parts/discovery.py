"""Where the records are: each database's folder from the flags or the environment, PTB-XL's
compact copy restored as WFDB files, the record names of a folder, and which edge_monitor the
subprocesses import."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

DATABASES = ("mitdb", "svdb", "cudb", "nstdb", "ptbxl")
PTBXL_TEST_FOLD = 10  # the publishers' test fold: 255 of the shared 1987 ten-second records
DATA_ENV = "ECG_EDGE_DATA"


def database_dirs(args) -> dict[str, Path]:
    """name -> folder, for the databases asked for (all those found when none is named)."""
    found: dict[str, Path] = {}
    for name in DATABASES:
        path = getattr(args, name)
        if path is None:
            path = os.environ.get(f"ECG_EDGE_{name.upper()}")
        if path is None and DATA_ENV in os.environ:
            path = Path(os.environ[DATA_ENV]) / name
        if path is not None:
            found[name] = Path(path)
    for folder in args.folder or []:
        found[Path(folder).name] = Path(folder)
    wanted = args.databases or list(found)
    out = {}
    for name in wanted:
        if name not in found:
            sys.exit(f"no folder for {name}: pass --{name} / --folder, or set ${DATA_ENV}")
        if not found[name].is_dir():
            if args.databases:
                sys.exit(f"{name} folder not found: {found[name]}")
            print(f"skipping {name}: {found[name]} is not a folder", flush=True)
            continue
        out[name] = found[name]
    if "ptbxl" in out:
        out["ptbxl"] = ptbxl_wfdb(out["ptbxl"], args.ptbxl_folds, args.scratch)
    if not out:
        sys.exit(f"no database folders: pass --mitdb ... or set ${DATA_ENV}")
    return out


def ptbxl_wfdb(folder: Path, folds: list[int], scratch: Path) -> Path:
    """PTB-XL's shared copy is a compact .npz with its own restore script: the records of
    `folds` written back as the published WFDB files (checksums verified by the script), into one
    flat folder under `scratch`. A folder that already holds WFDB headers is used as it is."""
    if any(folder.glob("*.hea")):
        return folder
    restore, table = folder / "restore_wfdb.py", folder / "ptbxl_database.csv"
    if not restore.is_file() or not table.is_file():
        sys.exit(f"ptbxl: {folder} has neither WFDB headers nor restore_wfdb.py + the table")
    with table.open(newline="") as f:
        ids = [r["ecg_id"] for r in csv.DictReader(f) if int(float(r["strat_fold"])) in folds]
    restored, flat = scratch / "ptbxl_restored", scratch / "ptbxl"
    subprocess.run(
        [sys.executable, str(restore), str(restored), "--ids", *ids],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    flat.mkdir(exist_ok=True)
    for path in restored.glob("records100/*/*_lr.*"):
        path.replace(flat / path.name)
    print(f"ptbxl: {len(ids)} records of folds {folds} restored as WFDB in {flat}", flush=True)
    return flat


def records_of(folder: Path, limit: int | None, only: list[str] | None) -> list[str]:
    names = sorted(p.stem for p in folder.glob("*.hea"))
    if only:
        names = [n for n in names if n in only]
    return names[:limit] if limit else names


def code_under_test(env: dict) -> dict:
    """Which edge_monitor the subprocesses import, and its git commit (dirty or not)."""
    out = subprocess.run(
        [sys.executable, "-c", "import edge_monitor; print(edge_monitor.__file__)"],
        capture_output=True,
        text=True,
        env=env,
    )
    path = out.stdout.strip()
    info = {"edge_monitor": path, "python": sys.executable}
    if path:
        root = Path(path).parent
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True)
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "."], capture_output=True
        )
        info["commit"] = rev.stdout.decode().strip()
        info["edge_monitor_dirty"] = bool(dirty.stdout.strip())
    return info
