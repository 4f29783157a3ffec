"""The vocabulary of alerts: levels, the rule table (message and debouncing of each rule, named
in one place), the tunable thresholds (`AlertSpec`, validated), the events and the debouncer.

Rule thresholds follow common bedside-monitor defaults (AAMI EC13 / IEC 60601-2-27 style):
bradycardia < 40 bpm, tachycardia > 150 bpm, pause >= 2.5 s, asystole: no beat for 4 s on a good
signal, ventricular run >= 3 consecutive V beats, frequent ectopy > 6 per minute.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, fields

import numpy as np

from edge_monitor.vf import VF_LEAKAGE, VF_MAX_HZ, VF_MIN_HZ

CRITICAL, WARNING, CLEARED, INCONCLUSIVE = "critical", "warning", "cleared", "inconclusive"
# rules that read the signal itself, not the beat model: they go on while the model is invalid
SIGNAL_RULES = ("VF", "asystole")


@dataclass(frozen=True)
class AlertSpec:
    brady_bpm: float = 40.0
    tachy_bpm: float = 150.0
    rate_beats: int = 8  # heart rate over the last beats
    pause_s: float = 2.5
    asystole_s: float = 4.0
    vrun_beats: int = 3  # a ventricular run: warning
    vt_beats: int = 5  # ventricular tachycardia, critical: this many V beats in a row...
    vt_rate_bpm: float = 100.0  # ...at least this fast (as bedside monitors define V-tach)
    # ...and sounds as critical only when the beat model is sure of them: their mean V
    # probability at least this (noise-deformed beats are called V with less conviction than a
    # true run; the knee of the trade-off on DS1 records in recorded noise, measured by
    # benchmarks/vt_confidence.py)
    vt_confidence: float = 0.85
    ectopy_per_min: float = 6.0
    pattern_cycles: int = 3  # bigeminy N V x3, trigeminy N N V x3
    # AF: the window of beats the AF detector judges (edge_monitor/af.py holds its method, its
    # model and where they were measured)
    af_beats: int = 64
    af_rmssd: float = 0.24  # no longer read (af.py replaced it); kept while a test names it
    vf_window_s: float = 4.0
    vf_leakage: float = VF_LEAKAGE  # Kuo & Dillman VF-filter leakage below this: VF-like...
    vf_min_hz: float = VF_MIN_HZ  # ...at a VF / flutter rate (quality.py says on what data)
    vf_max_hz: float = VF_MAX_HZ
    # a critical asystole needs the lead itself quiet over the last `asystole_s` of silence
    # (from 0.6 s after the last R, past its T wave): band-passed peak-to-peak at most this share
    # of the recent QRS complexes'. MIT-BIH's real pauses (201, 219, 232) read 0.08-0.16; 208's
    # electrode artefact at 23:04, which hid 6 beats from both detectors, 0.45
    asystole_quiet: float = 0.3
    cooldown_s: float = 30.0

    def __post_init__(self) -> None:
        """Every threshold a finite, positive number: a spec from a config file must not turn
        a rule off by a typo (a NaN compares false with everything)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise ValueError(f"AlertSpec.{f.name} = {value!r}: a finite number >= 0")
        if self.vf_min_hz >= self.vf_max_hz or self.af_beats < 8:
            raise ValueError("AlertSpec: needs vf_min_hz < vf_max_hz and af_beats >= 8")


@dataclass(frozen=True)
class AlertEvent:
    sample: int  # source numbering
    level: str  # critical | warning | cleared | inconclusive
    label: str
    message: str

    def to_json(self) -> dict:
        return {
            "type": "alert",
            "sample": self.sample,
            "level": self.level,
            "label": self.label,
            "message": self.message,
        }


@dataclass
class Debouncer:
    """k of n to raise, `clear_after` quiet evaluations to clear, cooldown between raises."""

    k: int = 1
    n: int = 1
    clear_after: int = 3
    cooldown: int = 0  # samples
    history: deque = field(default_factory=deque)
    active: bool = False
    quiet: int = 0
    cleared_at: int | None = None

    def update(self, finding: bool, sample: int) -> str | None:
        """'raise', 'clear' or None."""
        self.history.append(bool(finding))
        while len(self.history) > self.n:
            self.history.popleft()
        if not self.active:
            cooling = self.cleared_at is not None and sample - self.cleared_at < self.cooldown
            if sum(self.history) >= self.k and not cooling:
                self.active, self.quiet = True, 0
                return "raise"
            return None
        self.quiet = 0 if finding else self.quiet + 1
        if self.quiet >= self.clear_after:
            self.active, self.cleared_at = False, sample
            self.history.clear()
            return "clear"
        return None

    def reset(self) -> None:
        self.history.clear()


@dataclass(frozen=True)
class Rule:
    """A rule's level and message, and how its findings become events: raised after `raise_k`
    of the last `raise_n` evaluations, cleared after `clear_after` quiet ones, not raised again
    within the spec's cooldown unless `cooled` is False (an asystole is re-announced at once)."""

    label: str
    level: str
    message: str
    raise_k: int = 1
    raise_n: int = 1
    clear_after: int = 8
    cooled: bool = True

    def __post_init__(self) -> None:
        if self.level not in (CRITICAL, WARNING):
            raise ValueError(f"rule {self.label}: level {self.level!r}")
        if not 1 <= self.raise_k <= self.raise_n or self.clear_after < 1:
            raise ValueError(f"rule {self.label}: needs 1 <= k <= n and clear_after >= 1")

    def debouncer(self, cooldown_samples: int) -> Debouncer:
        cooldown = cooldown_samples if self.cooled else 0
        return Debouncer(self.raise_k, self.raise_n, self.clear_after, cooldown)


_RULE_LIST = [
    # VF: 2 of the last 3 half-overlapping 4 s windows; cleared after 2 quiet ones
    Rule("VF", CRITICAL, "ventricular flutter / fibrillation suspected", 2, 3, 2),
    Rule("asystole", CRITICAL, "asystole: no QRS detected", 1, 1, 1, cooled=False),
    Rule("VT", CRITICAL, "ventricular tachycardia: {n} ventricular beats at {hr:.0f} bpm"),
    Rule("run", WARNING, "ventricular run (>= {n} consecutive ventricular beats)"),
    Rule("pause", WARNING, "pause: RR interval of {rr:.1f} s", clear_after=4),
    # a rate over 8 beats must hold for 3 of 4 beats: one long or short RR is not a rhythm
    Rule("brady", WARNING, "bradycardia: {hr:.0f} bpm", 3, 4),
    Rule("tachy", WARNING, "tachycardia: {hr:.0f} bpm", 3, 4),
    # AF: irregular in 8 of the last 12 beats' windows, clear after a window's worth (32)
    Rule("AF", WARNING, "irregular rhythm, suspicious of atrial fibrillation", 8, 12, 32),
    Rule("couplet", WARNING, "ventricular couplet"),
    Rule("bigeminy", WARNING, "ventricular bigeminy"),
    Rule("trigeminy", WARNING, "ventricular trigeminy"),
    Rule("PVC", WARNING, "frequent PVCs: {n} in the last minute", clear_after=10),
    Rule("PAC", WARNING, "frequent PACs: {n} in the last minute", clear_after=10),
]
RULES = {r.label: r for r in _RULE_LIST}


def irregularity(rr: np.ndarray) -> tuple[float, float]:
    """Normalised RMSSD and share of turning points of an RR series: the measures of the
    earlier AF rule, kept for tools; the monitor's AF detector is edge_monitor/af.py."""
    rr = np.asarray(rr, dtype=np.float64)
    if len(rr) < 3:
        return 0.0, 0.0
    rmssd = float(np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean())
    d = np.diff(rr)
    turning = float(np.mean(d[1:] * d[:-1] < 0))
    return rmssd, turning
