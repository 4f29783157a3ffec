"""One task: a mixed record streamed through the Monitor, its beats matched to the reference and
its critical alarms judged, from the protocol's test period on."""

from __future__ import annotations

import numpy as np

from edge_monitor.alerts import CRITICAL, AlertEvent
from edge_monitor.bundle import Bundle
from edge_monitor.pipeline import SETTLE_S, BeatEvent, Monitor, QualityEvent
from edge_monitor.quality import QualitySpec
from edge_monitor.wfdb_io import read_annotations
from trainer.datasets import nstdb
from trainer.datasets.mitdb import SYMBOL_TO_CLASS
from trainer.metrics import match_beats

from .context import CONTEXT, Task
from .critical_events import FS, TOL, justified, reference_events
from .mixing import mixed


def monitor_events(monitor: Monitor, x: np.ndarray) -> list:
    """Every event of a whole record pushed in one-second blocks, as a serial source delivers."""
    return monitor.stream(x, block_s=1.0)


def stream(
    bundles: list[Bundle], x: np.ndarray, sig_name: list[str], quality: QualitySpec | None = None
) -> dict:
    """Beats, critical alarms and the spans graded not analysable, of one signal."""
    monitor = Monitor(bundles, FS, sig_name, quality=quality)
    beats, labels, alerts, bad = [], [], [], []
    for e in monitor_events(monitor, x):
        if isinstance(e, BeatEvent):
            beats.append(e.sample)
            labels.append(e.label)
        elif isinstance(e, AlertEvent) and e.level == CRITICAL:
            alerts.append((e.sample, e.label))
        elif isinstance(e, QualityEvent) and not e.segment.ok:
            bad.append((e.segment.start, e.segment.end))
    return {"beats": np.array(beats), "labels": labels, "alerts": alerts, "bad": bad}


def _mask(n: int, spans, pad_after: int = 0) -> np.ndarray:
    m = np.zeros(n, bool)
    for a, b in spans:
        m[max(0, a) : min(n, b + pad_after)] = True
    return m


def run_task(task: Task) -> dict:
    """One task in a worker: its beats matched and its critical alarms judged, from minute 5."""
    ctx = CONTEXT
    x, header, path, spans = mixed(task, ctx["reverse"])
    n = len(x)
    out = stream(ctx["bundles"], x, header["sig_name"], ctx["quality"])
    test_start = int(nstdb.CLEAN_S * FS)
    ann = read_annotations(path)
    keep = [i for i, sym in enumerate(ann.symbol) if sym in SYMBOL_TO_CLASS]
    ref = np.asarray(ann.sample)[keep]
    ref_labels = np.array([SYMBOL_TO_CLASS[ann.symbol[i]] for i in keep])
    got, got_labels = out["beats"], np.array(out["labels"], dtype=object)
    bad = _mask(n, out["bad"], pad_after=int(SETTLE_S * FS))
    noisy = _mask(n, spans)
    test = np.zeros(n, bool)
    test[test_start:] = True

    def score(use_ref: np.ndarray, use_got: np.ndarray) -> tuple[list[int], list[int]]:
        return match_beats(
            ref[use_ref], list(ref_labels[use_ref]), got[use_got], list(got_labels[use_got]), TOL
        )

    in_test_ref, in_test_got = test[ref], test[got] if len(got) else np.zeros(0, bool)
    all_t, all_p = score(in_test_ref, in_test_got)
    gated_ref = in_test_ref & ~bad[ref]
    gated_got = in_test_got & (~bad[got] if len(got) else np.zeros(0, bool))
    gated_t, gated_p = score(gated_ref, gated_got)

    events, required = reference_events(path, FS)
    alert_samples = [a for a, _ in out["alerts"]]
    required = [(a, b) for a, b in required if a >= test_start]
    found = sum(any(justified(t, [span]) for t in alert_samples) for span in required)
    critical = []
    for sample, label in out["alerts"]:
        if sample < test_start:
            continue
        true = justified(sample, events)
        critical.append(
            {
                "sample": int(sample),
                "label": label,
                "true": true,
                "in_noise": bool(noisy[min(sample, n - 1)]),
            }
        )
    seconds_bad = _mask(n, out["bad"])
    return {
        "record": task.record,
        "noise": task.noise,
        "snr": task.snr,
        "all": (all_t, all_p),
        "gated": (gated_t, gated_p),
        "reference_beats": int(in_test_ref.sum()),
        "gated_reference_beats": int(gated_ref.sum()),
        "critical": critical,
        "critical_events": len(required),
        "critical_events_found": int(found),
        "test_hours": float(test.sum() / FS / 3600),
        "noisy_hours": float(noisy.sum() / FS / 3600),
        "inconclusive_noisy": float(seconds_bad[noisy].mean()),
        "inconclusive_clean": float(seconds_bad[test & ~noisy].mean()),
    }
