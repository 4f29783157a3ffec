"""The sweeping trace: braille dots (2 x 4 points per character cell, U+2800..U+28FF) drawn the
way a bedside monitor sweeps: new samples overwrite the oldest from left to right, a small gap
ahead of the newest. Beside it the lead name and a 1 mV scale bar; under it 1 s ticks on the
screen's one clock and the recent beat labels. Its width follows the terminal."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.text import Text

from edge_monitor.safe_text import one_line
from edge_monitor.trace_buffer import TraceSnapshot

GAP_S = 0.25  # blank ahead of the newest sample, so the eye finds the sweep head
MARGIN = 5  # columns left of the trace: scale label and bar
DOTS_PER_S = 45.0  # about; the sweep lasts a whole number of seconds between 4 and 10
SPANS_MV = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0)
TRACE_STYLE = "bold green"
BEAT_STYLE = {"N": "green", "S": "yellow", "V": "bold red", "F": "magenta", "Q": "dim", "?": "dim"}
# braille dot bit of (row within the cell 0..3, column 0..1)
_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]])


def braille(dots: np.ndarray) -> list[str]:
    """A boolean canvas (rows multiple of 4, columns multiple of 2) as lines of braille."""
    h, w = dots.shape
    cells = dots.reshape(h // 4, 4, w // 2, 2) * _BITS[None, :, None, :]
    codes = 0x2800 + cells.sum(axis=(1, 3))
    return ["".join(map(chr, row)) for row in codes]


def sweep_seconds(dot_columns: int) -> int:
    return int(np.clip(round(dot_columns / DOTS_PER_S), 4, 10))


@dataclass(frozen=True)
class Sweep:
    """Where each instant goes on a sweep of `seconds` over `columns` (dot or cell) columns
    whose newest sample is at `end_s`: a second always lands on the same column."""

    seconds: int
    columns: int
    end_s: float

    def column(self, t: np.ndarray) -> np.ndarray:
        """Column of each time (-1: outside the sweep or in its gap)."""
        t = np.asarray(t, dtype=np.float64)
        col = np.floor(np.mod(t, self.seconds) / self.seconds * self.columns).astype(int)
        shown = (t <= self.end_s) & (t > self.end_s - self.seconds + GAP_S)
        return np.where(shown, np.minimum(col, self.columns - 1), -1)

    def tick_time(self, k: int) -> float:
        """The time shown at second k of the sweep: this pass left of the head, else the last."""
        origin = math.floor(self.end_s / self.seconds) * self.seconds
        t = origin + k
        return t if t <= self.end_s else t - self.seconds


def column_ranges(snap: TraceSnapshot, sweep: Sweep) -> tuple[np.ndarray, np.ndarray]:
    """Minimum and maximum (mV) drawn in each dot column; NaN where nothing is."""
    lo = np.full(sweep.columns, np.nan)
    hi = np.full(sweep.columns, np.nan)
    n = len(snap.lo)
    if n == 0:
        return lo, hi
    t = snap.end_s - (n - np.arange(n) - 0.5) / snap.hz
    col = sweep.column(t)
    keep = (col >= 0) & np.isfinite(snap.lo)
    np.fmin.at(lo, col[keep], snap.lo[keep])
    np.fmax.at(hi, col[keep], snap.hi[keep])
    return lo, hi


def fit_scale(lo: np.ndarray, hi: np.ndarray) -> tuple[float, float]:
    """(bottom mV, span mV) of the canvas: a span from a fixed ladder (no flicker between
    frames) that holds the visible trace, centred on it."""
    finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    if finite.size == 0:
        return -0.5, 2.0
    low, high = np.percentile(finite, [0.5, 99.5])
    need = 1.15 * (high - low)
    span = next((s for s in SPANS_MV if s >= need), SPANS_MV[-1])
    centre = round((high + low) / 2 / 0.1) * 0.1
    return centre - span / 2, span


def draw(lo: np.ndarray, hi: np.ndarray, rows: int, bottom: float, span: float) -> np.ndarray:
    """The dot canvas of the trace: each column a vertical run from its minimum to its maximum,
    joined to its left neighbour so that a steep QRS stays one line."""
    h = rows * 4
    to_dot = lambda v: np.clip(np.round((h - 1) * (1 - (v - bottom) / span)), 0, h - 1)  # noqa: E731
    prev_lo, prev_hi = np.roll(lo, 1), np.roll(hi, 1)
    prev_lo[0] = prev_hi[0] = np.nan
    joined_lo = np.fmin(lo, np.where(np.isfinite(lo), prev_hi, np.nan))
    joined_hi = np.fmax(hi, np.where(np.isfinite(hi), prev_lo, np.nan))
    drawn = np.isfinite(lo)
    top = to_dot(np.where(drawn, joined_hi, 0.0))
    low = to_dot(np.where(drawn, joined_lo, 0.0))
    y = np.arange(h)[:, None]
    return (y >= top[None, :]) & (y <= low[None, :]) & drawn[None, :]


def scale_bar(rows: int, bottom: float, span: float) -> tuple[np.ndarray, int]:
    """A one-dot-column canvas (doubled to a braille cell) with a 1 mV bar standing on 0 mV,
    and the text row of its middle for the label."""
    h = rows * 4
    to_dot = lambda v: int(np.clip(round((h - 1) * (1 - (v - bottom) / span)), 0, h - 1))  # noqa: E731
    y0, y1 = to_dot(0.0), to_dot(1.0)
    dots = np.zeros((h, 2), bool)
    dots[y1 : y0 + 1, 1] = True
    dots[y1, 0] = dots[y0, 0] = True
    return dots, (y0 + y1) // 8


def trace_lines(snap: TraceSnapshot, width: int, height: int) -> list[Text]:
    """The trace band as `height` lines of `width` cells: a header (lead, filter, sweep), the
    beat labels, the dots with the scale at their left, and the ticks."""
    width, rows = max(width, MARGIN + 8), max(height - 3, 1)
    cells = width - MARGIN
    sweep = Sweep(sweep_seconds(2 * cells), 2 * cells, snap.end_s)
    lo, hi = column_ranges(snap, sweep)
    bottom, span = fit_scale(lo, hi)
    dots = braille(draw(lo, hi, rows, bottom, span))
    bar, label_row = scale_bar(rows, bottom, span)
    bars = braille(bar)
    header = Text.assemble(
        (one_line(snap.lead or "lead ?"), "bold cyan"),
        (f"  0.5-40 Hz  sweep {sweep.seconds} s", "dim"),
    )
    lines = [header, _beat_labels(snap, sweep, cells)]
    for i, line in enumerate(dots):
        label = ("1 mV" if i == label_row else "").ljust(MARGIN - 1)
        lines.append(Text.assemble((label + bars[i], "cyan"), (line, TRACE_STYLE)))
    lines.append(_ticks(sweep, cells))
    return lines[:height]


def _beat_labels(snap: TraceSnapshot, sweep: Sweep, cells: int) -> Text:
    """Each recent beat's label over the column of its R peak."""
    row = Text(" " * (MARGIN + cells))
    if snap.beats:
        times = np.array([t for t, _ in snap.beats])
        cols = Sweep(sweep.seconds, cells, sweep.end_s).column(times)
        for col, (_, label) in zip(cols, snap.beats, strict=True):
            if col >= 0:
                at = MARGIN + int(col)
                row.plain = row.plain[:at] + label[:1] + row.plain[at + 1 :]
                row.stylize(BEAT_STYLE.get(label, ""), at, at + 1)
    return row


def _ticks(sweep: Sweep, cells: int) -> Text:
    """A tick at each second with the time it shows (this pass or the last)."""
    chars = [" "] * cells
    for k in range(sweep.seconds):
        at = int(k / sweep.seconds * cells)
        chars[at] = "┴"
        label = clock_text(sweep.tick_time(k)) if sweep.end_s > 0 else ""
        if at + 1 + len(label) < min(cells, int((k + 1) / sweep.seconds * cells)):
            chars[at + 1 : at + 1 + len(label)] = label
    return Text(" " * MARGIN + "".join(chars), style="dim")


def clock_text(seconds: float) -> str:
    """The screen's one clock: H:MM:SS of record (or stream) time."""
    s = max(int(seconds), 0)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"
