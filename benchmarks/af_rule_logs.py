"""How benchmarks/af_rule.py streams each record once through the real Monitor and logs every
input of its alert engine (a split of af_rule.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import wfdb

from edge_monitor.alerts import AlertEngine
from edge_monitor.bundle import embedded_beat_bundles, load_bundle
from edge_monitor.pipeline import Monitor, find_channel

LOGGED = ("on_quality", "on_model", "on_beat", "on_r_peak", "on_time")


class EngineLog:
    """Stands in for the Monitor's engine: passes every call through and logs it."""

    def __init__(self, engine: AlertEngine) -> None:
        self._engine = engine
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        target = getattr(self._engine, name)
        if name not in LOGGED:
            return target

        def logged(*args):
            self.calls.append(
                (name, *(np.array(a) if isinstance(a, np.ndarray) else a for a in args))
            )
            return target(*args)

        return logged


def stream(bundles: list, record: Path, second_lead: str | None = None) -> dict | None:
    """The engine's inputs over the record's MLII (`second_lead` "auto": with the beat model on
    a second lead too, where the record has one like lead II)."""
    header = wfdb.rdheader(str(record))
    channel = find_channel(header.sig_name, "MLII")
    if channel is None:
        return None
    if second_lead is None:
        x = wfdb.rdrecord(str(record), channels=[channel]).p_signal
        monitor = Monitor(bundles, header.fs, [header.sig_name[channel]])
    else:
        x = wfdb.rdrecord(str(record)).p_signal
        names = list(header.sig_name)
        monitor = Monitor(bundles, header.fs, names, channel, second_lead=second_lead)
    log = EngineLog(monitor.engine)
    monitor.engine = log
    monitor.stream(x, block_s=4.0)
    return {"calls": log.calls, "fs": float(header.fs), "n": len(x)}


def load_logs(
    mitdb: Path, names: list[str], cache: Path | None, second_lead: str | None = None
) -> dict[str, dict]:
    bundles = [load_bundle(p, probe=False) for p in embedded_beat_bundles()]
    logs = {}
    folder = mitdb.name + (f"-second-{second_lead}" if second_lead else "")
    # the cache is per beat model set: a companion for inverted beats changes the logs
    folder += "".join(f"-{b.manifest['model']['sha256'][:8]}" for b in bundles[1:])
    for name in names:
        path = cache / folder / f"{name}.pkl" if cache else None
        if path and path.exists():
            log = pickle.loads(path.read_bytes())
        else:
            log = stream(bundles, mitdb / name, second_lead)
            if path and log:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(pickle.dumps(log))
        if log is None:
            print(f"{name}: no MLII lead, left out", flush=True)
        else:
            logs[name] = log | {"episodes": episodes(mitdb / name, log["n"])}
    return logs


def episodes(record: Path, n: int) -> list[tuple[int, int, str]]:
    """Annotated AF and flutter stretches [a, b) with their kind (AFIB / AFL)."""
    ann = wfdb.rdann(str(record), "atr")
    rhythm = [
        (int(s), a.strip("\x00 "))
        for s, a in zip(ann.sample, ann.aux_note, strict=True)
        if a and a.startswith("(")
    ]
    ends = [s for s, _ in rhythm[1:]] + [n]  # one more than rhythm when there is none
    return [
        (s, e, a[1:]) for (s, a), e in zip(rhythm, ends, strict=False) if a in ("(AFIB", "(AFL")
    ]
