"""What one CLI run printed: strict JSON lines, the error line of its stderr, and the counts a row
keeps (alerts by level, beats, how far the lines stray from sample order)."""

from __future__ import annotations

import json

TRACEBACK = "Traceback (most recent call last)"


def _no_constant(token: str):
    raise ValueError(f"{token} is not JSON")


def parse_lines(text: str) -> tuple[list[dict], list[str]]:
    """Strict JSON objects and the lines that are not (NaN / Infinity tokens included)."""
    events, invalid = [], []
    for line in text.splitlines():
        try:
            obj = json.loads(line, parse_constant=_no_constant)
        except ValueError:
            invalid.append(line[:200])
            continue
        if isinstance(obj, dict):
            events.append(obj)
        else:
            invalid.append(line[:200])
    return events, invalid


def error_line(stderr: str) -> str | None:
    """The exception line of a traceback, else the first line of stderr."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return None
    if TRACEBACK in stderr:
        after = stderr[stderr.rindex(TRACEBACK) :].splitlines()
        tail = [line for line in after if line.strip() and not line.startswith((" ", "\t"))]
        return tail[-1][:300] if len(tail) > 1 else lines[-1][:300]
    return lines[0][:300]


def alert_counts(events: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in events:
        if e.get("type") == "alert":
            counts[str(e.get("level"))] = counts.get(str(e.get("level")), 0) + 1
    return dict(sorted(counts.items()))


def beat_count(summary: dict | None, events: list[dict]) -> int:
    beats = (summary or {}).get("beats")
    if isinstance(beats, dict):
        return int(sum(v for v in beats.values() if isinstance(v, int | float)))
    if isinstance(beats, int | float):
        return int(beats)
    return sum(1 for e in events if e.get("type") == "beat")


def event_sample(event: dict) -> int | None:
    """The sample a line is about: a beat's or an alert's `sample`, a window's `end`."""
    value = event.get("sample", event.get("end"))
    return int(value) if isinstance(value, int | float) else None


def sample_order(events: list[dict], fs: float) -> dict:
    """How far the lines stray from sample order: lines about an earlier sample than a line
    before them, and the largest step back (seconds)."""
    late, back, newest = 0, 0, None
    for e in events:
        s = event_sample(e)
        if s is None:
            continue
        if newest is not None and s < newest:
            late, back = late + 1, max(back, newest - s)
        newest = s if newest is None else max(newest, s)
    return {"lines_out_of_sample_order": late, "max_step_back_s": round(back / fs, 3)}


def last_summary(events: list[dict]) -> dict | None:
    summaries = [e for e in events if e.get("type") == "summary"]
    return summaries[-1] if summaries else None
