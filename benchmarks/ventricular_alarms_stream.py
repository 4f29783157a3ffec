"""How benchmarks/ventricular_alarms.py streams a record through the device Monitor once and
caches its events (alerts, ventricular windows, the gate's bad, organised or VF-like seconds),
keyed by the bytes of the models and of every edge_monitor module, and LOG_VERSION: a split of
ventricular_alarms.py, which re-exports these names."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import wfdb

from edge_monitor.alert_rules import AlertEvent
from edge_monitor.bundle import embedded_beat_bundles, load_bundle
from edge_monitor.events import BeatEvent, QualityEvent, WindowEvent
from edge_monitor.pipeline import Monitor, find_channel
from edge_monitor.quality import QualitySpec, SegmentQuality
from edge_monitor.ventricular import FusionSpec

# what a log holds: bump it when _logged or the entries change (the cache key carries it)
LOG_VERSION = 3  # 2: VF-like seconds too (they end the tremor hold); 3: V beats (sustained VT)


@dataclass(frozen=True)
class StreamOptions:
    """What changes a record's stream, and so names its own cache entry. `exempt`: the fusion's
    experimental gate exemption; `organised`: the gate's tremor sign, logged on the seconds it
    marks; `second_lead`: the Monitor's, "auto" or None; `inverted`: every lead negated, as
    swapped electrodes give it; `all_beats`: every reported beat logged, not the V beats alone
    (the slow-regular withholding reads them all)."""

    exempt: float = 0.0
    organised: bool = False
    second_lead: str | None = None
    inverted: bool = False
    all_beats: bool = False

    @classmethod
    def of(cls, args: argparse.Namespace) -> StreamOptions:
        """The options a benchmark's command line (ventricular_alarms.parser) set."""
        return cls(args.gate_exempt_p, args.organised_qrs, args.second_lead, args.inverted,
                   args.all_beats)  # fmt: skip

    def tag(self) -> str:
        """The cache name's suffix: empty for the defaults, so the earliest caches still match."""
        tag = f"-exempt{self.exempt:g}" if self.exempt > 0 else ""
        tag += "-organised" if self.organised else ""
        tag += f"-second{self.second_lead}" if self.second_lead else ""
        tag += "-inverted" if self.inverted else ""
        return tag + ("-allbeats" if self.all_beats else "")


def stream_record(
    folder: Path, name: str, bundles: list, options: StreamOptions = StreamOptions()
) -> list[dict]:
    """The record through the Monitor, fusion's events off: its alert and ventricular-window
    events (and the gate's seconds and beats the fusion reads), as `options` say."""
    header = wfdb.rdheader(str(folder / name))
    x = wfdb.rdrecord(str(folder / name)).p_signal
    return stream_signal(-x if options.inverted else x, header, bundles, options)


def stream_signal(x, header, bundles: list, options: StreamOptions = StreamOptions()) -> list:
    """stream_record's work on a signal already read (or mixed: benchmarks/hold_tremor.py);
    `options.inverted` is the caller's to apply."""
    channel = find_channel(header.sig_name, "MLII")
    fusion = FusionSpec(gate_exempt_p=options.exempt)
    quality = QualitySpec(organised_qrs=options.organised)
    monitor = Monitor(bundles, header.fs, list(header.sig_name), channel or 0, fusion=fusion,
                      quality=quality, second_lead=options.second_lead)  # fmt: skip
    fuse = monitor.fusion
    if fuse is not None:  # the fusion still sees every event (for its hint), its output is dropped
        monitor._fuse = lambda events: (fuse.process(list(events)), events)[1]
    else:
        monitor.fusion = None
    log = []
    for ev in monitor.stream(x, block_s=4.0):
        if isinstance(ev, AlertEvent):
            log.append({"t": "a", **ev.to_json()})
        elif isinstance(ev, WindowEvent) and any(w.per_window for w in monitor.windows):
            log.append({"t": "w", "start": ev.start, "end": ev.end, "probs": ev.probs,
                        "model": ev.model, "ok": ev.quality_ok})  # fmt: skip
        elif isinstance(ev, QualityEvent) and _logged(ev.segment):
            log.append({"t": "q", **ev.segment.as_json()})
        elif isinstance(ev, BeatEvent) and (ev.label == "V" or options.all_beats):
            # the fusion read V beats alone until withhold_slow_regular, which reads them all
            log.append({"t": "b", "sample": ev.sample, "label": ev.label})
    return log


def _logged(segment: SegmentQuality) -> bool:
    """The seconds the fusion acts on: bad, organised (the tremor hold) or VF-like (they end
    it); a plain good second changes nothing there."""
    return not segment.ok or segment.organised or segment.oscillation


def monitor_folder() -> Path:
    """The edge_monitor package this process runs."""
    return Path(sys.modules[Monitor.__module__].__file__).parent


def code_hash(bundles: list, code_from: Path | None = None) -> str:
    """The bytes of the models and of the edge_monitor modules (this process's, or those in the
    folder `code_from`) that a cached stream depends on: 12 hex digits of their sha256."""
    h = hashlib.sha256()
    for f in [*(Path(b.model_path) for b in bundles),
              *sorted((code_from or monitor_folder()).glob("*.py"))]:  # fmt: skip
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def cached_log(
    cache: Path,
    key: str,
    folder: Path,
    bundles: list,
    options: StreamOptions = StreamOptions(),
    code_from: Path | None = None,
) -> list[dict]:
    """The record's events, streamed once per set of model files and monitor code (by their
    bytes: a bundle rewritten in place, any edited edge_monitor module, or a new LOG_VERSION,
    streams again) and per `options`. `code_from`: an edge_monitor folder whose streamed logs to
    replay instead (for a change to the fusion alone, whose output the stream drops); never
    streams."""
    tag = code_hash(bundles, code_from) + options.tag() + f"-log{LOG_VERSION}"
    path = cache / f"{key.replace('/', '_')}-{tag}.json"
    if path.exists():
        return json.loads(path.read_text())
    if code_from is not None:
        raise SystemExit(f"{path}: not streamed by the code in {code_from}")
    log = stream_record(folder, key.split("/")[1], bundles, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(log))
    return log


def _prefill(task: tuple[Path, str, Path, str | None, StreamOptions]) -> str:
    """Stream one record into the cache (a worker of --jobs)."""
    cache, key, folder, path, options = task
    beat, *companion = [load_bundle(p, probe=False) for p in embedded_beat_bundles()]
    bundles = [beat] + ([load_bundle(Path(path), probe=False)] if path else []) + companion
    cached_log(cache, key, folder, bundles, options)
    return key
