"""Recording what the monitor received: the raw stream as a WFDB record, alerts as JSON lines.

wfdb-python writes a record in one call from a whole array; a monitor must instead append for
hours and survive a pulled plug, so the format-16 signal file is appended here by hand (little-
endian int16, channels interleaved) and the header is rewritten with the current length at every
flush. A sample the front end did not deliver (leads off, dropped on the link) is stored as WFDB's
invalid value -32768, which readers turn into NaN: the record keeps true time. A full disk stops
the recording with a message; monitoring goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
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
        self._dat = open(self.folder / f"{name}.dat", "wb")  # noqa: SIM115 (held open for hours)
        self._alerts = open(self.folder / f"{name}.alerts.jsonl", "a")  # noqa: SIM115
        self._write_header()

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
            self._alerts.write(json.dumps(event) + "\n")
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
