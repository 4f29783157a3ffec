"""A record's reference annotations as sample spans: AF/AFL episodes, VT/VF episodes and
annotated noise (plus nstdb's protocol stretches and its noise recordings)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import wfdb

AF_RHYTHMS = ("(AFIB", "(AFL")
NST_CLEAN_S, NST_SEGMENT_S = 300.0, 120.0  # trainer/datasets/nstdb.py: the protocol's stretches
NST_TEST_RECORD = re.compile(r"^\d+e_?\d+$")  # 118e24, 118e_6, ...
NOISE_RECORDS = ("bw", "ma", "em")


def spans_until_next(samples, keys, is_on, end: int) -> list[tuple[int, int]]:
    """[a, b) stretches that start at an annotation for which is_on(key) and end at the next."""
    spans, start = [], None
    for s, k in zip(samples, keys, strict=True):
        if start is not None:
            spans.append((start, int(s)))
            start = None
        if is_on(k):
            start = int(s)
    if start is not None:
        spans.append((start, end))
    return [(a, b) for a, b in spans if b > a]


def merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def inside(sample: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= sample < b for a, b in spans)


def span_seconds(spans, fs: float) -> float:
    return sum(b - a for a, b in spans) / fs


def reference(db: str, folder: Path, name: str) -> dict:
    """Rhythm, AF/AFL, VF and noise spans of a record, in its own samples."""
    record = folder / name
    header = wfdb.rdheader(str(record))
    n, fs = int(header.sig_len), float(header.fs)
    ref: dict = {"n": n, "fs": fs, "annotated": False, "af": [], "vf": [], "noise": []}
    noise_source = []
    if (folder / f"{name}.atr").exists():
        ann = wfdb.rdann(str(record), "atr")
        ref["annotated"] = True
        samples = np.asarray(ann.sample)
        aux = [(a or "").strip("\x00 ") for a in ann.aux_note]
        rhythm = [(int(s), a) for s, a in zip(samples, aux, strict=True) if a.startswith("(")]
        r_s, r_a = [s for s, _ in rhythm], [a for _, a in rhythm]
        ref["af"] = merge(spans_until_next(r_s, r_a, lambda a: a in AF_RHYTHMS, n))
        ref["vf"] = merge(
            spans_until_next(r_s, r_a, lambda a: a.startswith(("(VF", "(VFL", "(VT")), n)
            + spans_until_next(
                [int(s) for s, y in zip(samples, ann.symbol, strict=True) if y in "[]"],
                [y for y in ann.symbol if y in "[]"],
                lambda y: y == "[",
                n,
            )
        )
        tilde = [
            (int(s), int(t))
            for s, y, t in zip(samples, ann.symbol, ann.subtype, strict=True)
            if y == "~"
        ]
        noise = spans_until_next([s for s, _ in tilde], [t for _, t in tilde], lambda t: t != 0, n)
        noise += spans_until_next(r_s, r_a, lambda a: a.startswith("(NOISE"), n)
        if tilde:
            noise_source.append("~ annotations")
        if NST_TEST_RECORD.match(name):
            start, step = int(round(NST_CLEAN_S * fs)), int(round(NST_SEGMENT_S * fs))
            noise += [(a, min(a + step, n)) for a in range(start, n, 2 * step)]
            noise_source.append("nst protocol stretches")
        ref["noise"] = merge(noise)
    elif db == "nstdb" and name in NOISE_RECORDS:
        ref["noise"] = [(0, n)]
        noise_source.append("noise recording")
    ref["noise_source"] = noise_source
    return ref
