"""PTB-XL rhythm strips as beat counter-examples: the N beats of atrial fibrillation and flutter
from many patients (issue 13).

Why: once svdb is in training, most false S beats on unseen patients are N beats inside atrial
fibrillation (MIT-BIH labels every beat of AF "N", whatever its RR), and the training records hold
AF in only two patients (MIT-BIH DS1 201 and 203; the shared svdb records carry no rhythm
annotations). PTB-XL's 10 s strips whose statements say AFIB or AFLT add some hundred AF patients.

They carry no beat annotations, so the beats are where the device's own R-peak detector puts them
(`edge_monitor.qrs`), read from lead II through the device recipe like every other beat database,
and all are labelled N. A strip whose statements admit a non-N beat (premature ventricular beats,
bigeminy, trigeminy, pacing, supraventricular tachycardia) is left out, and so are each strip's
first and last beats (no true RR before or after them). The strips join training only: never a
validation fold or a test set, whose beats stay reference-annotated.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

from edge_monitor.beat_recipe import BeatRecipe
from edge_monitor.beats import RR_FEATURES, BeatSpec
from edge_monitor.errors import DataNotFoundError, InputError
from edge_monitor.qrs import detect_r_peaks
from edge_monitor.wfdb_io import read_header, read_signal
from trainer.datasets import mitdb, ptbxl
from trainer.datasets.cache import cached, default_cache_dir, fingerprint

# PTB-XL rhythm statement -> the MIT-BIH rhythm name the trainer's AF emphasis reads
STRIP_RHYTHMS = {"AFIB": "AFIB", "AFLT": "AFL"}
# statements that put beats other than N into a strip
NOT_ALL_N = ("PVC", "BIGU", "TRIGU", "PACE", "SVTAC", "PSVT")
LEAD = "II"
PREFIX = "ptbxl"  # record ids "ptbxl/<ecg_id>"


def strip_table(root: Path) -> pd.DataFrame:
    """The AF / flutter strips whose statements admit only N beats, with their rhythm name."""
    try:
        db = pd.read_csv(root / "ptbxl_database.csv", index_col="ecg_id")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot read {root / 'ptbxl_database.csv'}: {exc}") from exc
    if missing := {"scp_codes", "filename_lr"} - set(db.columns):
        raise InputError(f"ptbxl_database.csv lacks columns: {', '.join(sorted(missing))}")

    def rhythm(codes: str) -> str:
        try:
            statements = ast.literal_eval(codes)
        except (ValueError, SyntaxError) as exc:
            raise InputError(f"malformed scp_codes entry {codes!r}") from exc
        if not isinstance(statements, dict):  # a bare 'AFIB' would match by substring
            raise InputError(f"malformed scp_codes entry {codes!r} (not a mapping)")
        if any(s in statements for s in NOT_ALL_N):
            return ""
        return next((STRIP_RHYTHMS[s] for s in STRIP_RHYTHMS if s in statements), "")

    db["rhythm"] = db.scp_codes.apply(rhythm)
    return db[db.rhythm != ""]


def read_strip(path: Path, rhythm: str, spec: BeatSpec) -> dict[str, np.ndarray]:
    """One strip's inner beats (detected on lead II at the source rate), labelled N."""
    names = [n.upper() for n in read_header(path).sig_name]
    if LEAD not in names:
        raise InputError(f"{path}: no lead {LEAD} (leads {', '.join(names)})")
    x, meta = read_signal(path, channels=[names.index(LEAD)])
    lead = np.nan_to_num(x[:, 0])
    peaks = detect_r_peaks(lead, meta["fs"])
    recipe = BeatRecipe(mitdb.ARRHYTHMIA_FILTER, spec)
    windows, templates, rr = recipe.record_contexts(lead, meta["fs"], peaks)
    inner = slice(1, max(1, len(peaks) - 1))
    n = len(peaks[inner])
    return {
        "windows": windows[inner],
        "templates": templates[inner],
        "rr": rr[inner] if n else np.zeros((0, len(RR_FEATURES)), np.float32),
        "labels": np.zeros(n, np.int64),
        "samples": peaks[inner],
        "rhythms": np.full(n, rhythm),
    }


def load_strips(
    data_dir: str | Path | None, spec: BeatSpec | None = None, cache_dir: Path | None = None
) -> mitdb.BeatSet:
    """Every AF / flutter strip of the PTB-XL folder as N beats (cached as one npz)."""
    root = ptbxl.resolve_dir(data_dir)
    spec = spec or BeatSpec()
    table = strip_table(root)
    if table.empty:
        raise DataNotFoundError(f"no AF / flutter strips without ectopy listed in {root}")
    files = [root / "ptbxl_database.csv"]
    files += [root / f"{rel}.{ext}" for rel in table.filename_lr for ext in ("hea", "dat")]
    for f in files[1:]:
        if not f.exists():
            raise DataNotFoundError(f"PTB-XL record missing: {f} (see benchmarks/prepare_ptbxl.sh)")
    settings = {
        "spec": spec.as_dict(),
        "filter": mitdb.ARRHYTHMIA_FILTER.as_dict(),
        "lead": LEAD,
        "rhythms": STRIP_RHYTHMS,
        "not_all_n": list(NOT_ALL_N),
    }
    path = cache_dir or default_cache_dir()
    path = path / "ptbxl_strips" / f"strips-{fingerprint(files, settings)}.npz"

    def build() -> dict[str, np.ndarray]:
        parts = [
            read_strip(root / rel, rhythm, spec)
            for rel, rhythm in zip(table.filename_lr, table.rhythm, strict=True)
        ]
        n = [len(p["labels"]) for p in parts]
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        out["records"] = np.repeat([f"{PREFIX}/{i}" for i in table.index], n)
        return out

    arrays = cached(path, build)
    if not len(arrays["labels"]):
        raise DataNotFoundError(f"no beats found in the AF / flutter strips of {root}")
    return mitdb.BeatSet(
        windows=arrays["windows"],
        templates=arrays["templates"],
        rr=arrays["rr"],
        labels=arrays["labels"],
        records=arrays["records"].astype(str),
        samples=arrays["samples"],
        rhythms=arrays["rhythms"].astype(str),
    )
