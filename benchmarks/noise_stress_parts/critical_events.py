"""The reference spans that justify a critical alarm (V runs, VF/VFL episodes, pauses) and
those a monitor must alarm on, and whether an alarm falls near one."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_monitor.alerts import AlertSpec
from edge_monitor.wfdb_io import read_annotations
from trainer.datasets.mitdb import SYMBOL_TO_CLASS

FS = 360.0
TOL = int(0.15 * FS)
ALERT_BEFORE_S, ALERT_AFTER_S = 2.0, 10.0


def reference_events(
    record: Path, fs: float
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans that justify a critical alarm (V runs >= 3, VF/VFL episodes, gaps within the matching
    tolerance of the asystole time or longer) and,
    among them, those a monitor must alarm on (V runs as long and fast as the VT rule's)."""
    spec = AlertSpec()
    ann = read_annotations(record)
    spans, required = [], []
    beats = [
        (s, sym) for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in SYMBOL_TO_CLASS
    ]
    run: list[int] = []
    for s, sym in beats + [(None, "N")]:
        if sym in "VE":
            run.append(int(s))
            continue
        if len(run) >= spec.vrun_beats:
            spans.append((run[0], run[-1]))
        if len(run) >= spec.vt_beats:
            fast = [
                60 * fs / np.mean(np.diff(run[i : i + spec.vt_beats]))
                for i in range(len(run) - spec.vt_beats + 1)
            ]
            if max(fast) >= spec.vt_rate_bpm:
                required.append((run[0], run[-1]))
        run = []
    rhythm_start = None
    for s, aux in zip(ann.sample, ann.aux_note, strict=True):
        aux = (aux or "").strip("\x00 ")
        if aux.startswith("("):
            if rhythm_start is not None:
                spans.append((rhythm_start, int(s)))
                required.append((rhythm_start, int(s)))
                rhythm_start = None
            if aux.startswith(("(VF", "(VFL")):
                rhythm_start = int(s)
    samples = np.array([b[0] for b in beats])
    rr = np.diff(samples) / fs
    # the monitor times silence from its own R peaks, which may sit up to the beat-matching
    # tolerance from the reference marks: a 3.99 s reference pause can be a 4 s one to it
    at = np.flatnonzero(rr >= spec.asystole_s - TOL / fs)
    gaps = [(int(samples[i]), int(samples[i + 1])) for i in at]
    # the clock is checked once per second and the detector decides late: a pause must outlast
    # the asystole time by a second to be one the monitor has to catch
    long_gaps = [gap for i, gap in zip(at, gaps, strict=True) if rr[i] >= spec.asystole_s + 1]
    return spans + gaps, required + long_gaps


def justified(sample: int, spans: list[tuple[int, int]]) -> bool:
    """Is a critical alarm at `sample` explained by one of the reference spans (from 10 s
    before it to 2 s after)?"""
    before, after = int(ALERT_BEFORE_S * FS), int(ALERT_AFTER_S * FS)
    return any(a - before <= sample <= b + after for a, b in spans)
