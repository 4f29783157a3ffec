"""Reading WFDB files with errors a user can act on: the path and what is wrong, in one line.

Shared by the trainer's data sets and the monitor's replay. Plain single-file records in formats
212, 16 and 80 are read with numpy (`wfdb_numpy`, the same values to the bit); wfdb, whose import
costs the monitor 0.4-1 s of start-up, is imported only for the others and for annotations.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge_monitor.errors import DataNotFoundError, InputError, first_line
from edge_monitor.wfdb_numpy import FORMATS, Header, parse_header, read_frames

if TYPE_CHECKING:
    import wfdb

# Limits on what a record may ask of the reader: a header is a few lines of text, an ECG has a
# handful of leads sampled at most at a few kHz. A file past them is a mistake or an attack, and
# the answer is one line, not a hang, a swollen process or a silent default.
MAX_HEADER_BYTES = 1 << 20
MAX_ANNOTATION_BYTES = 64 << 20
MAX_SIGNALS = 64
MAX_FS = 20_000.0
# |adc_gain|, counts per physical unit: wfdb writes a format-32 record of a 1 mV signal at
# 2.1e9 counts per mV (its full range), a 0.05 mV one at 4e10
GAIN_RANGE = (1e-6, 1e11)
MAX_SAMPLES_PER_FRAME = 64
# counts: past it a float64 no longer holds the integer (format 32's 2**31 fits)
MAX_BASELINE = 2**53
MAX_WHOLE_SAMPLES = 200_000_000  # read_signal holds the record in memory (8 bytes a value)


def read_signal(record_path: Path, channels: list[int] | None = None) -> tuple[np.ndarray, dict]:
    """Physical signal (samples, channels) in the header's units plus the header fields we use."""
    header = read_header(record_path)
    check_signal_files(header, record_path)
    picked = list(range(header.n_sig)) if channels is None else list(channels)
    if any(not 0 <= c < header.n_sig for c in picked):
        raise InputError(f"{record_path} has {header.n_sig} signals: no channel {picked}")
    if header.sig_len * len(picked) > MAX_WHOLE_SAMPLES:
        raise InputError(
            f"{record_path}: {header.sig_len} samples x {len(picked)} signals is too much to "
            "read whole (replay streams it)"
        )
    try:
        x = read_block(header, record_path, 0, header.sig_len, channels)
    except FileNotFoundError as exc:
        raise DataNotFoundError(f"WFDB signal file missing for {record_path}: {exc}") from exc
    except Exception as exc:
        raise InputError(f"cannot read WFDB record {record_path}: {first_line(exc)}") from exc
    if x is None or len(x) != header.sig_len:
        got = 0 if x is None else len(x)
        raise InputError(
            f"truncated WFDB record {record_path}: header says {header.sig_len} samples, got {got}"
        )
    meta = {
        "fs": float(header.fs),
        "sig_name": [header.sig_name[c] for c in picked],
        "units": ["mV"] * len(picked),  # read_block converts
    }
    return np.asarray(x, dtype=np.float64), meta


def read_block(
    header: Header, record_path: Path, start: int, stop: int, channels: list[int] | None
) -> np.ndarray | None:
    """Frames [start, stop) in mV: numpy for a plain record, else wfdb (None when wfdb reads
    no signal). Errors are the readers' own; callers say them in one line."""
    if header.numpy_readable:
        x = read_frames(header, record_path, start, stop, channels)
    else:
        import wfdb

        path = str(record_path)
        x = wfdb.rdrecord(path, sampfrom=start, sampto=stop, channels=channels).p_signal
    scale = millivolts_per_unit(header, channels)
    return x if x is None or not np.any(scale != 1.0) else x * scale


# every filter, gate threshold and model input is set in mV; a database recorded in uV or V
# (allowed by WFDB) is converted, and a unit we do not know is read as mV, WFDB's default
MILLIVOLTS_PER = {"mv": 1.0, "uv": 1e-3, "\u03bcv": 1e-3, "nv": 1e-6, "v": 1e3}
MILLIVOLTS_PER |= {"millivolt": 1.0, "microvolt": 1e-3, "nanovolt": 1e-6, "volt": 1e3}
MILLIVOLTS_PER |= {name + "s": f for name, f in MILLIVOLTS_PER.items() if len(name) > 3}


def unit_key(unit: str) -> str:
    """A unit as MILLIVOLTS_PER knows it: ` uV`, `UV` and `\u00b5V` are one unit."""
    return unit.strip().casefold()


def unknown_units(units: list[str]) -> list[str]:
    """Units this reader does not know (read as mV): the caller says so once."""
    return sorted(
        {u.strip() for u in units if u and u.strip() and unit_key(u) not in MILLIVOLTS_PER}
    )


def millivolts_per_unit(header: Header, channels: list[int] | None) -> np.ndarray:
    picked = range(header.n_sig) if channels is None else channels
    units = list(header.units or [])
    names = [(units[c] if c < len(units) and units[c] else "mV") for c in picked]
    return np.array([MILLIVOLTS_PER.get(unit_key(u), 1.0) for u in names])


@dataclass(frozen=True)
class HeaderText:
    """A header's bytes, read once. `text` is their ASCII (what the parsers and `lines` read: a
    BOM or a stray byte never makes a comment a field); `units` each data line's units as
    written (UTF-8, else Latin-1: older tools' micro sign), the record line's first."""

    text: str
    lines: list[str]  # record and signal lines, stripped, broken as str.splitlines breaks them
    units: list[str]
    names: list[str] = field(default_factory=list)  # each data line's description as written

    def signal_units(self, n_sig: int) -> list[str]:
        """The units of the `n_sig` signal lines after the record line (mV where none)."""
        units = self.units[1 : 1 + n_sig]
        return units + ["mV"] * (n_sig - len(units))

    def signal_names(self, parsed: list[str]) -> list[str]:
        """The parsed (ASCII) names, except where a name lost characters outside ASCII: there
        the name as written. Dropping them silently made a Cabrera '−aVR' (inverted aVR)
        read as aVR; as written it matches no lead."""
        written = self.names[1 : 1 + len(parsed)]
        out = list(parsed)
        for i, (name, as_written) in enumerate(zip(parsed, written, strict=False)):
            if as_written != name and as_written.encode("ascii", "ignore").decode() == name:
                out[i] = as_written
        return out


def header_text(raw: bytes) -> HeaderText:
    """One walk over the header's lines, broken at CR LF, CR or LF as wfdb breaks them. wfdb
    (and our parser, held to it) reads `uV` right but `\u00b5V` as `V`, which would scale the
    samples a millionfold the wrong way: the units come from each line's own text instead."""
    lines, units, names = [], [], []
    for line in re.split(rb"\r\n|\r|\n", raw):
        plain = line.decode("ascii", errors="ignore")
        pieces = (p.strip() for p in plain.splitlines())  # a form feed breaks here, not in wfdb
        lines += [p for p in pieces if p and not p.startswith("#")]
        if not plain.strip() or plain.strip().startswith("#"):
            continue
        try:
            written = line.decode("utf-8")
        except UnicodeDecodeError:
            written = line.decode("latin-1")
        parts = written.replace("\ufeff", "").split()
        gain = parts[2] if len(parts) > 2 else ""
        units.append(gain.split("/", 1)[1] if "/" in gain else "mV")
        names.append(" ".join(parts[8:]))
    return HeaderText(raw.decode("ascii", errors="ignore"), lines, units, names)


def read_header(record_path: Path) -> Header:
    """The header of a single-segment record, checked before and after it is parsed (here for a
    plain record, else by wfdb): a regular file of at most MAX_HEADER_BYTES inside the record's
    folder, a sane rate, signal count and gains. Unnamed signals get the name `ch<i>` (WFDB
    allows them; wfdb gives None)."""
    hea = _sibling(record_path, ".hea")
    read = header_text(_read_bytes(hea, record_path.parent, MAX_HEADER_BYTES))
    n_sig = _check_header_lines(read.lines, hea)
    header = parse_header(read.text) or _wfdb_header(record_path, hea)
    if not header.sig_len and header.sig_name:
        header.sig_len = _length_from_file(header, record_path)
        # wfdb reads such a record whole but not in blocks (its sampto meets a None length)
        header.numpy_readable = header.sig_len > 0
    names = header.sig_name or []
    if not names or not header.sig_len or len(names) != header.n_sig or header.n_sig != n_sig:
        raise InputError(f"corrupt WFDB header {hea}: no valid signal lines or length")
    names = read.signal_names(names)
    header.sig_name = [name if name else f"ch{i}" for i, name in enumerate(names)]
    header.units = read.signal_units(header.n_sig)
    header.fs_given = len(read.lines[0].split()) > 2  # WFDB reads a missing rate as 250 Hz
    return header


def _length_from_file(header: Header, record_path: Path) -> int:
    """WFDB allows a header without its length (a recorder that did not know it when it wrote
    the header): the one signal file's size gives it, as wfdb reckons it. 0 where it cannot."""
    files, fmts = set(header.file_name or []), set(header.fmt or [])
    if len(files) != 1 or len(fmts) != 1 or not fmts <= set(FORMATS):
        return 0
    if any(header.byte_offset or []):
        return 0
    if any(k > 1 for k in header.samps_per_frame):  # neither reader reads it in blocks
        raise InputError(
            f"{record_path}: a header without its length and with several samples a frame "
            "is not read here (write the length on its record line)"
        )
    size = checked_file(record_path.parent / files.pop(), record_path.parent)
    frame_bits = BITS_PER_SAMPLE[fmts.pop()] * max(header.n_sig, 1)
    return int(size * 8 // frame_bits)


def _wfdb_header(record_path: Path, hea: Path) -> Header:
    import wfdb

    try:
        h = wfdb.rdheader(str(record_path))
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed text
        raise InputError(f"corrupt WFDB header {hea}: {first_line(exc)}") from exc
    n = h.n_sig or 0
    return Header(
        n_sig=n,
        fs=h.fs,
        sig_len=h.sig_len,
        sig_name=list(h.sig_name or []),
        file_name=list(h.file_name or []),
        fmt=[str(f) for f in h.fmt or []],
        byte_offset=list(h.byte_offset or [None] * n),
        adc_gain=list(h.adc_gain or []),
        baseline=list(h.baseline or []),
        units=list(h.units or []),
        numpy_readable=False,
        samps_per_frame=[int(k or 1) for k in h.samps_per_frame or [1] * n],
    )


def _sibling(record_path: Path, suffix: str) -> Path:
    """`100` -> `100.hea`; a record name may hold dots (`a.b` -> `a.b.hea`)."""
    return record_path.parent / (record_path.name + suffix)


def checked_file(path: Path, folder: Path, max_bytes: int | None = None) -> int:
    """Size in bytes of `path` after refusing what a record must not be: missing, a symlink
    that leads out of `folder`, not a regular file (a FIFO would hang a read, a device never
    ends), or larger than `max_bytes`."""
    try:
        real = path.resolve(strict=True)
    except (FileNotFoundError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise DataNotFoundError(f"not found: {path}") from exc
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    base = folder.resolve()
    if not real.is_relative_to(base):
        raise InputError(f"{path} leads out of its record's folder (to {real}): refused")
    try:
        st = os.stat(real)
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path} is not a regular file: refused")
    if max_bytes is not None and st.st_size > max_bytes:
        raise InputError(f"{path} is {st.st_size} bytes, more than the {max_bytes} allowed")
    return st.st_size


def _read_bytes(path: Path, folder: Path, max_bytes: int) -> bytes:
    """The file's bytes, read in one bounded read through a non-blocking descriptor that is
    checked again after opening (the name could have been swapped for a FIFO meanwhile)."""
    if not path.exists() and not path.is_symlink():
        raise DataNotFoundError(f"WFDB header not found: {path}")
    checked_file(path, folder, max_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"cannot open {path}: {exc.strerror or exc}") from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{path} is not a regular file: refused")
        data = os.read(fd, max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InputError(f"{path} is more than the {max_bytes} bytes a header may have")
    return data


def _check_header_lines(lines: list[str], hea: Path) -> int:
    """Number of signals, after checking the fields wfdb would silently replace or misread
    (it turns `fs -1` or `nan` into 250 Hz, `1e9` into 1 Hz, a gain of `nan` into 200)."""
    if not lines:
        raise InputError(f"corrupt WFDB header {hea}: no record line")
    fields = lines[0].split()
    if len(fields) < 2:
        raise InputError(f"corrupt WFDB header {hea}: no signal count on the record line")
    if "/" in fields[0]:
        raise InputError(
            f"{hea}: multi-segment WFDB records are not supported (read one of its segments)"
        )
    try:
        n_sig = int(fields[1])
    except ValueError:
        raise InputError(f"corrupt WFDB header {hea}: signal count {fields[1]!r}") from None
    if n_sig == 0:
        raise InputError(f"{hea}: no signals (a record of annotations only)")
    if not 1 <= n_sig <= MAX_SIGNALS:
        raise InputError(f"{hea}: {n_sig} signals (this reader takes 1 to {MAX_SIGNALS})")
    if len(fields) > 2:
        text_fs = fields[2].split("/")[0]
        fs = _number(text_fs) if PLAIN_DECIMAL.fullmatch(text_fs) else None  # wfdb reads
        if fs is None or not 0 < fs <= MAX_FS:  # "3.6e2" as 3.6 Hz: a plain number or nothing
            raise InputError(
                f"{hea}: sampling frequency {text_fs!r} (must be a plain decimal number above 0 "
                f"and at most {MAX_FS:g} Hz)"
            )
    if len(fields) > 3 and not fields[3].isdigit():  # wfdb reads "1e12" as 1 sample
        raise InputError(f"corrupt WFDB header {hea}: length {fields[3]!r} is not a sample count")
    for i, line in enumerate(lines[1 : 1 + n_sig]):
        parts = line.split()
        frame = re.match(r"\d+x(\d+)", parts[1]) if len(parts) > 1 else None  # then :skew, +offset
        if frame and not 1 <= int(frame[1]) <= MAX_SAMPLES_PER_FRAME:
            raise InputError(
                f"{hea}: signal {i} has {frame[1]} samples per frame (1 to "
                f"{MAX_SAMPLES_PER_FRAME} are read)"
            )
        if len(parts) < 3:
            continue  # no gain: WFDB's default 200
        baseline = re.search(r"\((-?\d+)\)", parts[2])
        if baseline and abs(int(baseline[1])) > MAX_BASELINE:
            raise InputError(
                f"{hea}: signal {i} has ADC baseline {baseline[1]!r} (at most {MAX_BASELINE:g} "
                f"counts either way)"
            )
        text_gain = parts[2].split("(")[0].split("/")[0]
        gain = _number(text_gain)
        if gain == 0:
            continue  # the WFDB spec: a zero gain means the default 200 (nstdb's noise records)
        if gain is None or not GAIN_RANGE[0] <= abs(gain) <= GAIN_RANGE[1]:
            raise InputError(
                f"{hea}: signal {i} has ADC gain {text_gain!r} (must be finite, with a size "
                f"from {GAIN_RANGE[0]:g} to {GAIN_RANGE[1]:g} counts per unit)"
            )
    return n_sig


PLAIN_DECIMAL = re.compile(r"\d+(\.\d*)?|\.\d+")


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


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


def check_signal_files(header: Header, record_path: Path) -> None:
    """Refuse signal files that do not match their header before a stream starts: missing,
    outside the record's folder, not regular, shorter than the samples promised (a lying header
    would otherwise surface as garbage or a crash minutes in) or far longer (not this record's)."""
    folder = record_path.parent
    files: dict[str, list[tuple[str, int]]] = {}
    offsets: dict[str, int] = {}
    per_frame = header.samps_per_frame or [1] * header.n_sig  # MIMIC's 16x4: four a frame
    for i, (name, fmt) in enumerate(zip(header.file_name or [], header.fmt or [], strict=False)):
        files.setdefault(name, []).append((str(fmt), per_frame[i]))
        offset = (header.byte_offset or [None] * header.n_sig)[i]
        offsets[name] = max(offsets.get(name, 0), int(offset or 0))
    for name, signals in files.items():
        path = folder / name
        if not path.exists():
            raise DataNotFoundError(f"WFDB signal file missing for {record_path}: {path}")
        if any(f not in BITS_PER_SAMPLE for f, _ in signals):
            fmts = ", ".join(f for f, _ in signals)
            raise InputError(f"{record_path}: unsupported WFDB format {fmts}")
        frame_bits = sum(BITS_PER_SAMPLE[f] * k for f, k in signals)
        need = offsets[name] + int(np.ceil(header.sig_len * frame_bits / 8))
        have = checked_file(path, folder)
        if have < need:
            raise InputError(
                f"{record_path}: the header promises {header.sig_len} samples "
                f"({need} bytes of {name}), the file holds {have} bytes"
            )
        if have > need + need // 64 + 65536:
            raise InputError(
                f"{record_path}: {name} holds {have} bytes, the header describes {need}: "
                "not this record's signal file?"
            )


def read_annotations(record_path: Path, extension: str = "atr") -> wfdb.Annotation:
    ann = _sibling(record_path, f".{extension}")
    if not ann.exists():
        raise DataNotFoundError(f"annotation file not found: {ann}")
    checked_file(ann, record_path.parent, MAX_ANNOTATION_BYTES)
    import wfdb

    try:
        return wfdb.rdann(str(record_path), extension)
    except Exception as exc:
        raise InputError(f"corrupt annotation file {ann}: {first_line(exc)}") from exc
