"""The ranges a model contract's numbers must lie in: a contract that would make the device loop
(stride 0), hang (a filter of order 1e6) or allocate gigabytes (a beat context of 1e9 samples)
is refused when it is read, in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edge_monitor.beats import RR_FEATURES
from edge_monitor.contract import (
    ACTIVATIONS,
    AGGREGATES,
    CONTRACT_VERSION,
    MAX_CLASSES,
    MAX_FS,
    BeatInput,
    WindowInput,
    _is_count,
    _is_number,
)
from edge_monitor.errors import InputError

if TYPE_CHECKING:
    from edge_monitor.contract import ModelContract


def validate(c: ModelContract) -> None:
    """Every number finite and in a range a real ECG model can have."""
    if c.version != CONTRACT_VERSION:
        raise InputError(f"model contract version {c.version!r} is not {CONTRACT_VERSION}")
    _in_range("fs", c.fs, 1.0, MAX_FS)
    if c.activation not in ACTIVATIONS:
        raise InputError(f"contract activation {c.activation!r} is not one of {ACTIVATIONS}")
    if not c.classes or len(c.classes) > MAX_CLASSES or len(set(c.classes)) != len(c.classes):
        raise InputError(f"contract classes must be 1-{MAX_CLASSES} distinct names")
    if not c.leads or len(set(c.leads)) != len(c.leads):
        raise InputError("contract leads must be distinct names, at least one")
    if c.thresholds is not None:
        if len(c.thresholds) != len(c.classes):
            raise InputError("model contract has a threshold count unlike its class count")
        for t in c.thresholds:
            _in_range("threshold", t, 0.0, 1.0)
    f = c.filter
    _in_range("filter.low_hz", f.low_hz, 0.01, 10.0)
    _in_range("filter.high_hz", f.high_hz, f.low_hz + 0.1, 500.0)
    _count("filter.order", f.order, 1, 8)
    if f.notch_hz != 0:
        _in_range("filter.notch_hz", f.notch_hz, 40.0, 70.0)
    _in_range("filter.notch_q", f.notch_q, 0.5, 200.0)
    if isinstance(c.input, BeatInput):
        _validate_beats(c, c.input)
    elif isinstance(c.input, WindowInput):
        _validate_windows(c, c.input)
    else:
        raise InputError("contract input is neither beats nor windows")


BEAT_READS = ("all", "qrs_down")  # every beat; the beats whose dominant QRS points down


def _validate_beats(c: ModelContract, b: BeatInput) -> None:
    s = b.beat
    _in_range("beat.fs", s.fs, 1.0, MAX_FS)
    if abs(s.fs - c.fs) > 1e-6:
        raise InputError(f"contract beat.fs {s.fs} differs from the model rate {c.fs}")
    for name, value, top in [
        ("beat.before", s.before, 4 * s.fs),
        ("beat.after", s.after, 4 * s.fs),
        ("beat.local_beats", s.local_beats, 1000),
        ("beat.long_beats", s.long_beats, 10000),
        ("beat.amplitude_beats", s.amplitude_beats, 1000),
        ("beat.template_beats", s.template_beats, 1000),
    ]:
        _count(name, value, 1, int(top))
    _in_range("beat.template_min_rr", s.template_min_rr, 0.0, 2.0)
    if unknown := set(b.rr_features) - set(RR_FEATURES):
        raise InputError(
            f"contract rr_features {sorted(unknown)} are not computed here "
            f"(this monitor computes {', '.join(RR_FEATURES)})"
        )
    if len(set(b.rr_features)) != len(b.rr_features):
        raise InputError("contract rr_features must name each feature once")
    if b.source_fs is not None:
        _in_range("source_fs", b.source_fs, 1.0, 20000.0)
    if b.reads not in BEAT_READS:
        raise InputError(f"contract reads {b.reads!r} is not one of {', '.join(BEAT_READS)}")
    if b.lead not in c.leads:
        raise InputError(f"contract beat lead {b.lead!r} is not among its leads {c.leads}")
    expected = {"beat": [1, len(b.channels), s.before + s.after], "rr": [1, len(b.rr_features)]}
    if c.inputs != expected:
        raise InputError(f"contract inputs {c.inputs} do not match its beat geometry {expected}")


def _validate_windows(c: ModelContract, w: WindowInput) -> None:
    _count("window", w.window, 1, int(120 * c.fs))
    _count("stride", w.stride, 1, w.window * 10)
    _count("record_samples", w.record_samples, w.window, int(3600 * c.fs))
    if w.aggregate not in AGGREGATES:
        raise InputError(f"contract aggregate {w.aggregate!r} is not one of {AGGREGATES}")
    expected = {"ecg": [1, len(c.leads), w.window]}
    if c.inputs != expected:
        raise InputError(f"contract inputs {c.inputs} do not match its window geometry {expected}")


def _in_range(name: str, value: Any, low: float, high: float) -> None:
    if not _is_number(value) or not low <= value <= high:
        raise InputError(f"contract {name} = {value!r} is not a number in [{low:g}, {high:g}]")


def _count(name: str, value: Any, low: int, high: int) -> None:
    if not _is_count(value) or not low <= value <= high:
        raise InputError(f"contract {name} = {value!r} is not a whole number in [{low}, {high}]")
