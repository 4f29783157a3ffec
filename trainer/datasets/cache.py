"""An npz cache keyed by what the arrays were made from, so a second run does not reparse WFDB.

npz and never pickle: `np.load(..., allow_pickle=False)` cannot run code from a planted file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

CACHE_ENV = "ECG_EDGE_CACHE"
CACHE_FORMAT = 7  # bump when the arrays a loader writes change meaning


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "ecg-edge"))


def fingerprint(files: Iterable[Path], settings: dict) -> str:
    """Hash of the input files' names, sizes and mtimes plus the preprocessing settings."""
    h = hashlib.sha256(json.dumps({"format": CACHE_FORMAT, **settings}, sort_keys=True).encode())
    for f in sorted(files):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def cached(path: Path | None, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Load `path` if it exists, else build the arrays and write them there atomically. A build
    parses WFDB files (a minute for a whole database): it shows a spinner on a terminal, so a
    cold first run of train, evaluate or compress is not silent."""
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    from trainer.progress import progress

    what = f"parsing records for the cache ({path.name})" if path is not None else "parsing records"
    with progress(what, None):
        arrays = build()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # one temporary name per process: two runs building the same entry (seeds trained side
        # by side) must not move each other's half-written file
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    return arrays
