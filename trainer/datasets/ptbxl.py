"""PTB-XL (100 Hz): the five diagnostic superclasses, multi-label, on the publishers' folds.

Labels are aggregated as the PTB-XL benchmark does: the `diagnostic_class` of every SCP statement
of a record that is a diagnostic statement (likelihoods ignored). Folds 1-8 train, 9 validate,
10 test; the test fold is never used for tuning.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from edge_monitor.dsp import FilterSpec, filter_record
from edge_monitor.errors import DataNotFoundError, InputError
from edge_monitor.wfdb_io import read_signal
from trainer.datasets.cache import cached, default_cache_dir, fingerprint
from trainer.datasets.locate import dataset_dir

SUPERCLASSES = ("NORM", "MI", "STTC", "CD", "HYP")
LEADS = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")
FOLDS = {"train": tuple(range(1, 9)), "val": (9,), "test": (10,)}
DATA_ENV = "ECG_EDGE_PTBXL"
# A gentle 0.5 Hz high-pass removes wander without flattening ST segments too much.
DIAGNOSTIC_FILTER = FilterSpec(low_hz=0.5, high_hz=40.0, order=2)


@dataclass(frozen=True)
class PtbxlSet:
    """Filtered records (n, leads, samples) in mV, multi-hot labels and their identities."""

    signals: np.ndarray
    labels: np.ndarray  # (n, 5) float32
    ecg_ids: np.ndarray
    patient_ids: np.ndarray
    folds: np.ndarray
    leads: tuple[str, ...]
    fs: float
    dropped_unlabelled: int

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> PtbxlSet:
        return PtbxlSet(
            self.signals[mask],
            self.labels[mask],
            self.ecg_ids[mask],
            self.patient_ids[mask],
            self.folds[mask],
            self.leads,
            self.fs,
            self.dropped_unlabelled,
        )

    def counts(self) -> dict[str, int]:
        return {c: int(self.labels[:, i].sum()) for i, c in enumerate(SUPERCLASSES)}


def resolve_dir(data_dir: str | Path | None) -> Path:
    """The PTB-XL folder from the flag, else $ECG_EDGE_PTBXL, else $ECG_EDGE_DATA/ptbxl."""
    path = dataset_dir(data_dir, DATA_ENV, "ptbxl", "PTB-XL")
    for name in ("ptbxl_database.csv", "scp_statements.csv"):
        if not (path / name).exists():
            raise DataNotFoundError(f"{name} not found in {path}")
    return path


def parse_leads(leads: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """'all', None, 'II' or 'I,II,V2' -> the leads in PTB-XL order; unknown names are an error."""
    if leads is None or leads == "all":
        return LEADS
    names = [s.strip().upper() for s in leads.split(",")] if isinstance(leads, str) else leads
    unknown = [n for n in names if n not in LEADS]
    if unknown or not names:
        raise InputError(
            f"unknown lead(s) {', '.join(unknown) or '(none)'}; PTB-XL has {', '.join(LEADS)}"
        )
    return tuple(n for n in LEADS if n in names)


def read_labels(root: Path) -> pd.DataFrame:
    """The database table with a `superclasses` column (a sorted list per record)."""
    try:
        db = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
        statements = pd.read_csv(root / "scp_statements.csv", index_col=0)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read the PTB-XL tables in {root}: {exc}") from exc
    needed = {"scp_codes", "strat_fold", "patient_id", "filename_lr"}
    if missing := needed - set(db.columns):
        raise InputError(f"ptbxl_database.csv lacks columns: {', '.join(sorted(missing))}")
    if "diagnostic" not in statements.columns or "diagnostic_class" not in statements.columns:
        raise InputError("scp_statements.csv lacks the diagnostic / diagnostic_class columns")
    diagnostic = statements[statements.diagnostic == 1]["diagnostic_class"].to_dict()

    def superclasses(codes: str) -> list[str]:
        try:
            parsed = ast.literal_eval(codes)
        except (ValueError, SyntaxError) as exc:
            raise InputError(f"malformed scp_codes entry {codes!r}") from exc
        return sorted({diagnostic[c] for c in parsed if c in diagnostic})

    db["superclasses"] = db.scp_codes.apply(superclasses)
    return db


def read_records(root: Path, db: pd.DataFrame, leads: tuple[str, ...]) -> dict[str, np.ndarray]:
    channels = [LEADS.index(lead) for lead in leads]
    signals = []
    for ecg_id, rel in zip(db.index, db.filename_lr, strict=True):
        x, meta = read_signal(root / rel, channels=channels)
        if meta["fs"] != 100:
            raise InputError(f"{root / rel}: expected 100 Hz, header says {meta['fs']} Hz")
        if len(x) != 1000:
            raise InputError(f"{root / rel}: expected 1000 samples, got {len(x)} (ecg_id {ecg_id})")
        signals.append(filter_record(x, meta["fs"], DIAGNOSTIC_FILTER).T.astype(np.float32))
    labels = np.array(
        [[c in s for c in SUPERCLASSES] for s in db.superclasses], dtype=np.float32
    ).reshape(-1, len(SUPERCLASSES))
    return {
        "signals": np.stack(signals) if signals else np.zeros((0, len(leads), 1000), np.float32),
        "labels": labels,
        "ecg_ids": db.index.to_numpy(np.int64),
        "patient_ids": db.patient_id.to_numpy(np.float64).astype(np.int64),
        "folds": db.strat_fold.to_numpy(np.int64),
    }


def load_ptbxl(
    data_dir: str | Path | None,
    leads: str | tuple[str, ...] | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    limit: int | None = None,
) -> PtbxlSet:
    """All labelled records on disk; records without a superclass are counted and left out."""
    root = resolve_dir(data_dir)
    lead_names = parse_leads(leads)
    db = read_labels(root)
    unlabelled = int((db.superclasses.str.len() == 0).sum())
    db = db[db.superclasses.str.len() > 0]
    if limit is not None:  # a quick run keeps every fold represented
        db = db.groupby("strat_fold", group_keys=False).head(max(1, limit // 10))
    if len(db) == 0:
        raise DataNotFoundError(f"no labelled records listed in {root / 'ptbxl_database.csv'}")
    files = [root / "ptbxl_database.csv", root / "scp_statements.csv"]
    files += [root / f"{rel}.dat" for rel in db.filename_lr]
    for f in files[2:]:
        if not f.exists():
            raise DataNotFoundError(f"PTB-XL record missing: {f}")
    settings = {"leads": list(lead_names), "filter": DIAGNOSTIC_FILTER.as_dict(), "n": len(db)}
    key = fingerprint(files, settings)
    cache = (cache_dir or default_cache_dir()) if use_cache else None
    path = None if cache is None else cache / "ptbxl" / f"ptbxl-{key}.npz"
    arrays = cached(path, lambda: read_records(root, db, lead_names))
    return PtbxlSet(
        signals=arrays["signals"],
        labels=arrays["labels"],
        ecg_ids=arrays["ecg_ids"],
        patient_ids=arrays["patient_ids"],
        folds=arrays["folds"],
        leads=lead_names,
        fs=100.0,
        dropped_unlabelled=unlabelled,
    )


def split(data: PtbxlSet, name: str) -> PtbxlSet:
    if name not in FOLDS:
        raise InputError(f"unknown split {name!r}; choose one of {', '.join(FOLDS)}")
    return data.subset(np.isin(data.folds, FOLDS[name]))
