"""WFDB headers and signal files read with numpy alone, for the plain records the monitor meets.

`import wfdb` costs 0.4-1 s of start-up (it builds pandas tables at import), about a sixth of
classifying a 30-minute record. Every shared record (MIT-BIH, SVDB, CUDB, NSTDB) is one signal
file in format 212 or 16 with plain header lines, so those are read here; anything else (counter
frequencies, several files, skew, byte offsets, several samples per frame, other formats, short
signal lines) makes `parse_header` answer None and the caller use wfdb. The values are wfdb's to
the bit: the same header defaults (a zero gain is 200, a missing baseline is the ADC zero, no
units is mV) and the same conversion, (digital - baseline) / gain in float64, NaN where the
format's invalid-sample code is (tests/edge_monitor/test_wfdb_numpy.py compares both readers).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMATS = ("16", "212", "80")
INVALID = {"16": -32768, "212": -2048, "80": -128}  # wfdb's INVALID_SAMPLE_VALUE
_RECORD = re.compile(r"[-\w]+ +(\d+) +(\d+(?:\.\d+)?) +(\d+)(?: +[\d:./]+){0,2}")
_GAIN = re.compile(r"(-?\d+(?:\.\d*)?)(?:\((-?\d+)\))?(?:/(\w+))?")
_INT = re.compile(r"-?\d+")


@dataclass
class Header:
    """The header fields the monitor and trainer use (named as wfdb names them)."""

    n_sig: int
    fs: float
    sig_len: int
    sig_name: list[str | None]
    file_name: list[str]
    fmt: list[str]
    byte_offset: list[int | None]
    adc_gain: list[float]
    baseline: list[int]
    units: list[str]
    numpy_readable: bool  # parsed here: one plain signal file `read_frames` reads
    # samples per frame of each signal (wfdb reads a frame's samples averaged: at `fs`)
    samps_per_frame: list[int] = field(default_factory=list)
    fs_given: bool = True  # False: the record line has no rate, `fs` is WFDB's default 250


# Line breaks to str.splitlines but not to wfdb, which reads a header's lines as a text file
# does (\n, \r): a description holding one is one line that wfdb refuses, not two lines here.
_OTHER_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def parse_header(text: str) -> Header | None:
    """The header of a plain single-file record in a format read here, or None (use wfdb)."""
    if _OTHER_BREAKS.search(text):
        return None
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    record = _RECORD.fullmatch(lines[0]) if lines else None
    if record is None:
        return None
    n_sig = int(record[1])
    if n_sig < 1 or len(lines) < 1 + n_sig:
        return None
    signals = [_signal_line(line) for line in lines[1 : 1 + n_sig]]
    if any(s is None for s in signals) or len({(s[0], s[1]) for s in signals}) != 1:
        return None  # a line not plain, or several files or formats
    return Header(
        n_sig=n_sig,
        fs=float(record[2]),
        sig_len=int(record[3]),
        sig_name=[s[6] for s in signals],
        file_name=[s[0] for s in signals],
        fmt=[s[1] for s in signals],
        byte_offset=[None] * n_sig,
        adc_gain=[s[2] for s in signals],
        baseline=[s[3] for s in signals],
        units=[s[4] for s in signals],
        numpy_readable=True,
    )


def _signal_line(line: str) -> tuple | None:
    """(file, format, gain, baseline, units, adc zero, description) of a plain signal line:
    all nine fields, a format read here, a description without tabs; else None."""
    parts = line.split(maxsplit=8)
    if len(parts) < 9 or parts[1] not in FORMATS or "\t" in parts[8]:
        return None
    if not re.fullmatch(r"[-\w]+\.?\w*", parts[0]):
        return None
    gain = _GAIN.fullmatch(parts[2])
    if gain is None or not all(_INT.fullmatch(p) for p in parts[3:8]):
        return None
    if parts[3].startswith("-") or parts[7].startswith("-"):  # resolution, block size
        return None
    value = float(gain[1]) or 200.0  # WFDB: a zero gain means the default 200
    zero = int(parts[4])
    baseline = int(gain[2]) if gain[2] is not None else zero
    return parts[0], parts[1], value, baseline, gain[3] or "mV", zero, parts[8]


def read_frames(
    header: Header, record_path: Path, start: int, stop: int, channels: list[int] | None = None
) -> np.ndarray:
    """Frames [start, stop) of the chosen channels in physical units, (n, channels) float64.
    Raises EOFError when the file holds fewer samples."""
    n, fmt = header.n_sig, header.fmt[0]
    first, last = start * n, stop * n  # sample indices, frame-major
    path = record_path.parent / header.file_name[0]
    with _open_regular(path) as f:
        if fmt == "212":
            d = _read_212(f, first, last, path)
        else:
            width = 2 if fmt == "16" else 1
            f.seek(first * width)
            raw = f.read((last - first) * width)
            if len(raw) != (last - first) * width:
                raise EOFError(f"{path} ends before sample {last}")
            d = np.frombuffer(raw, "<i2" if fmt == "16" else np.uint8).astype(np.int64)
            if fmt == "80":
                d -= 128
    d = d.reshape(stop - start, n)
    picked = list(range(n)) if channels is None else list(channels)
    d = d[:, picked]
    x = d.astype(np.float64)
    np.subtract(x, [header.baseline[c] for c in picked], x)
    np.divide(x, [header.adc_gain[c] for c in picked], x)
    x[d == INVALID[fmt]] = np.nan
    return x


def _open_regular(path: Path):
    """The file for reading, refused unless it is a regular file when opened: the name was
    checked before the stream began, and a FIFO swapped in since would block the open (and
    the replay) for good, a device never end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_212(f, first: int, last: int, path: Path) -> np.ndarray:
    """Samples [first, last) of a format-212 file: two 12-bit samples in every three bytes."""
    pair0, pair1 = first // 2, (last + 1) // 2
    f.seek(3 * pair0)
    raw = f.read(3 * (pair1 - pair0))
    need = 3 * (pair1 - pair0) - (1 if last % 2 else 0)  # an odd end uses 2 bytes of 3
    if len(raw) < need:
        raise EOFError(f"{path} ends before sample {last}")
    raw = raw + bytes(3 * (pair1 - pair0) - len(raw))
    b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int64)
    d = np.empty(2 * len(b), np.int64)
    d[0::2] = b[:, 0] | ((b[:, 1] & 0x0F) << 8)
    d[1::2] = b[:, 2] | ((b[:, 1] & 0xF0) << 4)
    d[d > 2047] -= 4096
    return d[first - 2 * pair0 : last - 2 * pair0]
