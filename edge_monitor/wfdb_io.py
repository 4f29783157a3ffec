"""Reading WFDB files with errors a user can act on: the path and what is wrong, in one line.

Shared by the trainer's data sets and the monitor's replay; imported only where a file is read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from edge_monitor.errors import DataNotFoundError, InputError


def read_signal(record_path: Path, channels: list[int] | None = None) -> tuple[np.ndarray, dict]:
    """Physical signal (samples, channels) in the header's units plus the header fields we use."""
    header = read_header(record_path)
    try:
        record = wfdb.rdrecord(str(record_path), channels=channels)
    except FileNotFoundError as exc:
        raise DataNotFoundError(f"WFDB signal file missing for {record_path}: {exc}") from exc
    except Exception as exc:
        raise InputError(f"cannot read WFDB record {record_path}: {_short(exc)}") from exc
    x = record.p_signal
    if x is None or len(x) != header.sig_len:
        got = 0 if x is None else len(x)
        raise InputError(
            f"truncated WFDB record {record_path}: header says {header.sig_len} samples, got {got}"
        )
    meta = {"fs": float(record.fs), "sig_name": list(record.sig_name), "units": list(record.units)}
    return np.asarray(x, dtype=np.float64), meta


def read_header(record_path: Path) -> wfdb.Record:
    hea = record_path.with_suffix(".hea")
    if not hea.exists():
        raise DataNotFoundError(f"WFDB header not found: {hea}")
    try:
        header = wfdb.rdheader(str(record_path))
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed text
        raise InputError(f"corrupt WFDB header {hea}: {_short(exc)}") from exc
    if not header.sig_name or not header.sig_len or len(header.sig_name) != header.n_sig:
        raise InputError(f"corrupt WFDB header {hea}: no valid signal lines or length")
    return header


BITS_PER_SAMPLE = {
    "8": 8,
    "16": 16,
    "24": 24,
    "32": 32,
    "61": 16,
    "80": 8,
    "160": 16,
    "212": 12,
    "310": 32 / 3,
    "311": 32 / 3,
}


def check_signal_files(header: wfdb.Record, record_path: Path) -> None:
    """Refuse a header that promises more samples than its signal files hold, before a stream
    starts (a lying header would otherwise surface as garbage or a crash minutes in)."""
    folder = record_path.parent
    files: dict[str, list[str]] = {}
    for name, fmt in zip(header.file_name or [], header.fmt or [], strict=False):
        files.setdefault(name, []).append(str(fmt))
    for name, fmts in files.items():
        path = folder / name
        if not path.exists():
            raise DataNotFoundError(f"WFDB signal file missing for {record_path}: {path}")
        if any(f not in BITS_PER_SAMPLE for f in fmts):
            raise InputError(f"{record_path}: unsupported WFDB format {', '.join(fmts)}")
        frame_bits = sum(BITS_PER_SAMPLE[f] for f in fmts)
        need = int(np.ceil(header.sig_len * frame_bits / 8))
        have = path.stat().st_size
        if have < need:
            raise InputError(
                f"{record_path}: the header promises {header.sig_len} samples "
                f"({need} bytes of {name}), the file holds {have} bytes"
            )


def read_annotations(record_path: Path, extension: str = "atr") -> wfdb.Annotation:
    ann = record_path.with_suffix(f".{extension}")
    if not ann.exists():
        raise DataNotFoundError(f"annotation file not found: {ann}")
    try:
        return wfdb.rdann(str(record_path), extension)
    except Exception as exc:
        raise InputError(f"corrupt annotation file {ann}: {_short(exc)}") from exc


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
