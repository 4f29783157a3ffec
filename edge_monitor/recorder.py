"""Recording what the monitor received: the raw stream as a WFDB record, alerts as JSON lines.

wfdb-python writes a record in one call from a whole array; a monitor must instead append for
hours and survive a pulled plug, so the format-16 signal file is appended here by hand (little-
endian int16, channels interleaved) and the header is rewritten with the current length at every
flush. A sample the front end did not deliver (leads off, dropped on the link) is stored as WFDB's
invalid value -32768, which readers turn into NaN: the record keeps true time. A full disk stops
the recording with a message; monitoring goes on.

Each monitor gets a record of its own: the signal file is created exclusively (never opened over
another monitor's) and held under an advisory lock, and a taken name gets a numbered suffix.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

import numpy as np

INVALID = -32768


class WfdbRecorder:
    def __init__(
        self,
        folder: Path,
        name: str,
        fs: float,
        sig_name: list[str],
        adc_gain: float,
        baseline: int,
        units: str = "mV",
        flush_every: int = 250,
    ) -> None:
        self.folder, self.name = Path(folder), name
        self.fs, self.sig_name = fs, list(sig_name)
        self.adc_gain, self.baseline, self.units = adc_gain, baseline, units
        self.flush_every = flush_every
        self.samples = 0
        self.error: str | None = None
        self._unflushed = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self._dat = _create_exclusive(self.folder / f"{name}.dat")
        try:
            self._alerts = open(self.folder / f"{name}.alerts.jsonl", "x")  # noqa: SIM115
            self._write_header()
        except OSError:
            self._dat.close()
            raise

    @property
    def ok(self) -> bool:
        return self.error is None

    def write_adc(self, values: np.ndarray) -> None:
        """(samples, channels) ADC counts; rows of INVALID for samples that never arrived."""
        if self.error is not None:
            return
        block = np.clip(np.asarray(values), INVALID, 32767).astype("<i2")
        try:
            self._dat.write(block.tobytes())
            self.samples += len(block)
            self._unflushed += len(block)
            if self._unflushed >= self.flush_every:
                self.flush()
        except OSError as exc:
            self._fail(exc)

    def write_alert(self, event: dict) -> None:
        if self.error is not None:
            return
        try:
            self._alerts.write(json.dumps(event, allow_nan=False) + "\n")
            self._alerts.flush()
        except OSError as exc:
            self._fail(exc)

    def flush(self) -> None:
        if self.error is not None:
            return
        try:
            self._dat.flush()
            os.fsync(self._dat.fileno())
            self._write_header()
            self._unflushed = 0
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        self.flush()
        for f in (self._dat, self._alerts):
            with contextlib.suppress(OSError):  # a full disk may refuse the last flush too
                f.close()

    def _write_header(self) -> None:
        n = len(self.sig_name)
        lines = [f"{self.name} {n} {self.fs:g} {self.samples}"]
        for lead in self.sig_name:
            lines.append(
                f"{self.name}.dat 16 {self.adc_gain:g}({self.baseline})/{self.units} 16 0 0 0 0 "
                f"{lead}"
            )
        tmp = self.folder / f".{self.name}.hea.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.folder / f"{self.name}.hea")  # atomic: a reader never sees half

    def _fail(self, exc: OSError) -> None:
        self.error = f"recording stopped after {self.samples} samples: {exc.strerror or exc}"


def _create_exclusive(path: Path):
    """Create the file, refusing one that exists, and lock it against a second writer."""
    handle = open(path, "xb")  # noqa: SIM115 (held open for hours)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise
    return handle


def open_recorder(
    folder: Path,
    fs: float,
    sig_name: list[str],
    adc_gain: float,
    baseline: int,
    prefix: str = "ecg",
    attempts: int = 100,
) -> WfdbRecorder:
    """A new record named after the local time; a name another monitor took (same second,
    same folder) gets a suffix. Raises OSError when the folder cannot hold a recording."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():  # a file, /dev/null: mkdir said "exists"
        raise NotADirectoryError(f"{folder} is not a folder")
    stem = f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(attempts):
        name = stem if k == 0 else f"{stem}-{k + 1}"
        try:
            return WfdbRecorder(folder, name, fs, sig_name, adc_gain, baseline)
        except FileExistsError:
            continue
    raise FileExistsError(f"{attempts} records named {stem}* already in {folder}")
