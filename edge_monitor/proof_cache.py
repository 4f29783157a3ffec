"""Passed trial runs remembered per user, so start-up does not prove the same model again.

A trial run (`bundle_proof.trial_run`) starts a child Python with numpy and onnxruntime: about a
second per model at every start-up, for models that never change. A passed proof is kept in
`$ECG_EDGE_CACHE/proofs` (else `$XDG_CACHE_HOME/ecg-edge/proofs`, else
`~/.cache/ecg-edge/proofs`; `ECG_EDGE_PROOF_CACHE=off` turns it off; a relative value is
ignored, as the XDG spec says, since a trusted folder must not move with the current folder, and
`~` is the home folder) under a key of everything the trial's verdict depends on: the sha256 of
the model bytes that were just hashed against the manifest, the trial's limits (threads, memory,
p95 budget, budget), the interpreter, numpy and onnxruntime versions, the host (uname), the
machine (CPU model and count, memory: a card image moved from a Pi 4 to a Pi Zero 2 W keeps its
host name, kernel and `aarch64`, and a Pi 4's timings would pass a model too slow for the Zero)
and the source of the proving code (the machine and the code are read once a process). Any
change proves again; a failed or refused proof is
never written (`bundle.load_bundle` writes only after every check passed).

An entry lets a model skip its sandboxed trial, so whoever can write one could wave a bomb
through. Entries are trusted only in a folder owned by this user and writable by no one else,
opened without following links and pinned by descriptor (a folder swapped after the check is not
read); each entry must be a small regular file with the same owner and modes, whose JSON repeats
the whole key and holds a report of the exact shape a trial writes. Anything else (a stranger's
folder, a link, a FIFO, garbage, a report with NaN timings) is ignored without a word and the
trial simply runs, as it does when the folder cannot be made or written.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import platform
import stat
import sys
from pathlib import Path

ENV_SWITCH = "ECG_EDGE_PROOF_CACHE"
OFF = {"0", "off", "no", "false"}
ENTRY_MAX_BYTES = 64 << 10  # a report is a few hundred bytes
MAX_RUNS = 64  # timed runs a report may list (bundle_proof runs 5)
_SOURCES = ("bundle_proof.py", "inference.py", "contract.py", "proof_cache.py")


def cache_dir() -> Path | None:
    """Where proofs are kept, or None when the switch is off (or the OS cannot open files
    relative to a folder descriptor, which the checks need)."""
    if os.environ.get(ENV_SWITCH, "").strip().lower() in OFF or os.open not in os.supports_dir_fd:
        return None
    for name, below in (("ECG_EDGE_CACHE", ()), ("XDG_CACHE_HOME", ("ecg-edge",))):
        root = _absolute(os.environ.get(name, ""))
        if root is not None:
            return root.joinpath(*below, "proofs")
    return Path.home() / ".cache" / "ecg-edge" / "proofs"


def _absolute(value: str) -> Path | None:
    """An environment variable's folder: `~` expanded; empty or relative (a folder that would
    follow the current one, `cd`ed into an unpacked download) is None."""
    root = Path(os.path.expanduser(value)) if value else None
    return root if root is not None and root.is_absolute() else None


def key_material(sha256: str, args: dict) -> dict | None:
    """Everything the trial's verdict depends on (the model's path is not: the same bytes
    elsewhere are the same model), or None when the proving code cannot be read."""
    import numpy as np
    import onnxruntime as ort

    code = _code_sha256()
    if code is None:
        return None
    cpu, cpus, memory = _machine()
    return {
        "model_sha256": sha256,
        "trial": {k: args[k] for k in ("threads", "memory_mb", "p95_ms", "budget_ms")},
        "python": [sys.executable, sys.version],
        "numpy": np.__version__,
        "onnxruntime": ort.__version__,
        "host": [platform.system(), platform.node(), platform.release(), platform.machine()],
        "machine": [list(cpu), cpus, memory],
        "code_sha256": code,
    }


@functools.cache
def _code_sha256() -> str | None:
    """The proving code's sha256, read once a process (every model's recall and remember at
    start-up asks; the code this process runs cannot change under it), or None if unreadable."""
    here = Path(__file__).resolve().parent
    code = hashlib.sha256()
    try:
        for name in _SOURCES:
            code.update((here / name).read_bytes())
    except OSError:
        return None
    return code.hexdigest()


# /proc/cpuinfo fields that name the processor and the board (x86 and ARM), not its state
_CPUINFO = "/proc/cpuinfo"
_X86 = {"vendor_id", "cpu family", "model", "model name", "stepping"}
_ARM = {"CPU implementer", "CPU architecture", "CPU variant", "CPU part", "CPU revision"}
_BOARD = {"Hardware", "Revision", "Model"}  # a Raspberry Pi's (Revision: its board code)
_CPU_FIELDS = _X86 | _ARM | _BOARD


@functools.cache
def _machine() -> tuple[tuple[str, ...], int | None, int | None]:
    """What timings depend on beyond uname: the processor and board, how many CPUs, memory.
    Read once a process, as every model's recall and remember at start-up ask for it (a board
    does not change under a running process); `_machine.cache_clear()` reads it again."""
    cpu: set[str] = set()
    try:
        with open(_CPUINFO, "rb") as f:
            text = f.read(1 << 20).decode("ascii", "replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        field, colon, value = line.partition(":")
        if colon and field.strip() in _CPU_FIELDS:
            cpu.add(f"{field.strip()}: {value.strip()}")
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = None
    return tuple(sorted(cpu)), os.cpu_count(), memory


def _entry_name(material: dict) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest() + ".json"


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by no one else (ssh's rule for its own files)."""
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _open_dir(create: bool) -> int | None:
    """A descriptor on the cache folder if it is this user's alone, else None."""
    try:
        folder = cache_dir()
        if folder is None:
            return None
        if create:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(folder, flags)
    except (OSError, ValueError, RuntimeError):  # missing, a link, a NUL, no home folder
        return None
    if _private(os.fstat(fd)):
        return fd
    os.close(fd)
    return None


def recall(sha256: str, args: dict) -> dict | None:
    """The remembered report of a passed trial under exactly these conditions, or None."""
    material = key_material(sha256, args)
    fd = _open_dir(create=False) if material else None
    if fd is None:
        return None
    try:
        data = _read_entry(fd, _entry_name(material))
    finally:
        os.close(fd)
    try:
        entry = json.loads(data) if data is not None else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(entry, dict) or entry.get("key") != material:
        return None
    report = entry.get("report")
    return {**report, "args": args, "cached": True} if _valid_report(report) else None


def _read_entry(dir_fd: int, name: str) -> bytes | None:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st) or st.st_size > ENTRY_MAX_BYTES:
            return None
        data = os.read(fd, ENTRY_MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= ENTRY_MAX_BYTES else None


def _valid_report(report) -> bool:
    """Exactly what a passed trial writes: the graph's io, the timed runs, the output shape."""
    if not isinstance(report, dict) or set(report) != {"io", "seconds", "shape"}:
        return False
    io, seconds, shape = report["io"], report["seconds"], report["shape"]
    if not isinstance(io, dict) or set(io) != {"inputs", "outputs"}:
        return False
    if not all(isinstance(v, list) and all(map(_valid_tensor, v)) for v in io.values()):
        return False
    if not io["outputs"] or not isinstance(seconds, list) or not 0 < len(seconds) <= MAX_RUNS:
        return False
    if not all(type(s) is float and math.isfinite(s) and s >= 0 for s in seconds):
        return False
    return isinstance(shape, list) and all(type(d) is int for d in shape)


def _valid_tensor(t) -> bool:
    if not isinstance(t, dict) or set(t) != {"name", "shape", "type"}:
        return False
    dims = t["shape"]
    return (
        isinstance(t["name"], str)
        and isinstance(t["type"], str)
        and isinstance(dims, list)
        and all(d is None or type(d) in (int, str) for d in dims)
    )


def remember(sha256: str, report: dict) -> None:
    """Keep a passed trial's report (the caller has checked it passed). Written to a private
    temporary file and renamed, so a reader never sees half an entry; any failure is silent."""
    proof = {k: report.get(k) for k in ("io", "seconds", "shape")}
    if report.get("cached") or not _valid_report(proof):
        return
    material = key_material(sha256, report["args"])
    fd = _open_dir(create=True) if material else None
    if fd is None:
        return
    tmp = f".{os.getpid()}.{os.urandom(8).hex()}.tmp"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        out = os.open(tmp, flags, 0o600, dir_fd=fd)
        with os.fdopen(out, "w") as f:
            json.dump({"key": material, "report": proof}, f)
        os.replace(tmp, _entry_name(material), src_dir_fd=fd, dst_dir_fd=fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=fd)
    finally:
        os.close(fd)
