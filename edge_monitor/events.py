"""The values the streaming pipeline emits, in source sample numbering: beats, windows, quality
segments (alerts are `edge_monitor.alerts.AlertEvent`). Each knows its JSON line."""

from __future__ import annotations

from dataclasses import dataclass

from edge_monitor.alerts import AlertEvent
from edge_monitor.quality import SegmentQuality


@dataclass(frozen=True)
class BeatEvent:
    """`label` and `probs` are None when the model's output was invalid (NaN, inf, or not a
    probability): such a beat is reported, never labelled. `label` is "Q" (unclassifiable) and
    `probs` None for the beat before a gap of over a minute, whose signal is gone (the rules
    count it as they count any Q beat). `model_label` is the model's own label where the
    monitor reports another (an S beat inside a standing AF warning is N, see `Monitor`); None
    where they agree."""

    sample: int
    label: str | None
    probs: dict[str, float] | None
    model: str
    model_label: str | None = None
    qrs_down: bool = False  # its dominant beat points down at the R peak (not in the JSON)

    def to_json(self) -> dict:
        out = {"type": "beat", "sample": self.sample, "label": self.label, "probs": self.probs}
        if self.model_label is not None:
            out["model_label"] = self.model_label
        return out


@dataclass(frozen=True)
class WindowEvent:
    start: int
    end: int
    probs: dict[str, float] | None  # None: the model's output was invalid
    model: str
    quality_ok: bool

    def to_json(self) -> dict:
        return {"type": "window", "start": self.start, "end": self.end, "probs": self.probs}


@dataclass(frozen=True)
class QualityEvent:
    segment: SegmentQuality

    def to_json(self) -> dict:
        s = self.segment
        return {"type": "quality", "start": s.start, "end": s.end, "state": s.state}


Event = BeatEvent | WindowEvent | QualityEvent | AlertEvent


def sample_of(ev: object) -> int | None:
    """Where an event lies on the stream's clock: a beat's or an alert's sample, a window's or a
    quality segment's end (None for anything else)."""
    if isinstance(ev, AlertEvent | BeatEvent):
        return ev.sample
    if isinstance(ev, QualityEvent):
        return ev.segment.end
    return ev.end if isinstance(ev, WindowEvent) else None
