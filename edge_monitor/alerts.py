"""Alerts from the beat sequence, the RR intervals and the raw rhythm, gated by signal quality.

Each rule yields a yes/no finding whenever it is evaluated; a `Debouncer` turns findings into
events: raised after k of the last n evaluations, cleared (with a `cleared` event) only when the
finding has been absent for `clear_after` evaluations (hysteresis), and not raised again within a
cooldown. While the signal is not good the rules are frozen and one `inconclusive` event says why:
noise must never become an arrhythmia alarm.

Rule thresholds follow common bedside-monitor defaults (AAMI EC13 / IEC 60601-2-27 style):
bradycardia < 40 bpm, tachycardia > 150 bpm, pause >= 2.5 s, asystole: no beat for 4 s on a good
signal, ventricular run >= 3 consecutive V beats, frequent ectopy > 6 per minute.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edge_monitor.quality import (
    GOOD,
    MESSAGES,
    MODEL_INVALID,
    VF_LEAKAGE,
    VF_MAX_HZ,
    VF_MIN_HZ,
    VF_MIN_PTP_MV,
    vf_leakage,  # noqa: F401  (the VF filter is part of this module's vocabulary)
    vf_like,
)

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
    # probability at least this (the knee of the trade-off on DS1 records in recorded noise,
    # benchmarks/vt_confidence.py: 0.85 keeps 32 of 37 true VT alarms and 20 of 41 false ones,
    # 0.9 only 21 true)
    vt_confidence: float = 0.85
    ectopy_per_min: float = 6.0
    pattern_cycles: int = 3  # bigeminy N V x3, trigeminy N N V x3
    af_beats: int = 32  # RR irregularity window
    af_rmssd: float = 0.12  # normalised successive-difference RMS of RR (S beats count)
    af_turning: float = 0.55  # share of turning points (AF is random: ~2/3)
    # RR intervals next to a ventricular or unclassifiable beat are left out of the AF measure
    # (a PVC's coupling and compensatory pause are irregular by nature, not fibrillation);
    # at least half the window's intervals must remain for AF to be judged at all
    af_exclude_ectopic: bool = True
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
    label: str
    level: str
    message: str


RULES = {
    "VF": Rule("VF", CRITICAL, "ventricular flutter / fibrillation suspected"),
    "asystole": Rule("asystole", CRITICAL, "asystole: no QRS detected"),
    "VT": Rule("VT", CRITICAL, "ventricular tachycardia: {n} ventricular beats at {hr:.0f} bpm"),
    "run": Rule("run", WARNING, "ventricular run (>= {n} consecutive ventricular beats)"),
    "pause": Rule("pause", WARNING, "pause: RR interval of {rr:.1f} s"),
    "brady": Rule("brady", WARNING, "bradycardia: {hr:.0f} bpm"),
    "tachy": Rule("tachy", WARNING, "tachycardia: {hr:.0f} bpm"),
    "AF": Rule("AF", WARNING, "irregular rhythm, suspicious of atrial fibrillation"),
    "couplet": Rule("couplet", WARNING, "ventricular couplet"),
    "bigeminy": Rule("bigeminy", WARNING, "ventricular bigeminy"),
    "trigeminy": Rule("trigeminy", WARNING, "ventricular trigeminy"),
    "PVC": Rule("PVC", WARNING, "frequent PVCs: {n} in the last minute"),
    "PAC": Rule("PAC", WARNING, "frequent PACs: {n} in the last minute"),
}


def irregularity(rr: np.ndarray) -> tuple[float, float]:
    """Normalised RMSSD and share of turning points of an RR series."""
    rr = np.asarray(rr, dtype=np.float64)
    if len(rr) < 3:
        return 0.0, 0.0
    rmssd = float(np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean())
    d = np.diff(rr)
    turning = float(np.mean(d[1:] * d[:-1] < 0))
    return rmssd, turning


class AlertEngine:
    """Feed beats, quality segments and the signal clock; get AlertEvents back."""

    def __init__(
        self,
        fs: float,
        spec: AlertSpec | None = None,
        verify: Callable[[str, int], bool] | None = None,
    ) -> None:
        """`verify(label, sample)` is asked before a critical alarm sounds: when it says no, the
        alarm comes as a warning marked unverified (the signal around it is doubtful)."""
        self.fs = fs
        self.verify = verify
        self.spec = spec or AlertSpec()
        s, cool = self.spec, int(round(self.spec.cooldown_s * fs))
        self.debounce = {
            "VF": Debouncer(2, 3, 2, cool),
            "asystole": Debouncer(1, 1, 1, 0),
            "VT": Debouncer(1, 1, 8, cool),
            "run": Debouncer(1, 1, 8, cool),
            "pause": Debouncer(1, 1, 4, cool),
            "brady": Debouncer(3, 4, 8, cool),
            "tachy": Debouncer(3, 4, 8, cool),
            "AF": Debouncer(8, 12, s.af_beats, cool),
            "couplet": Debouncer(1, 1, 8, cool),
            "bigeminy": Debouncer(1, 1, 8, cool),
            "trigeminy": Debouncer(1, 1, 8, cool),
            "PVC": Debouncer(1, 1, 10, cool),
            "PAC": Debouncer(1, 1, 10, cool),
        }
        self.labels: deque[str] = deque(maxlen=max(s.af_beats + 1, 3 * s.pattern_cycles, 16))
        self.beat_samples: deque[int] = deque(maxlen=s.af_beats + 1)
        self.ectopic: dict[str, deque[int]] = {"V": deque(), "S": deque()}
        self.quality = GOOD  # what the rules may see: the signal's state, else the model's
        self.signal = GOOD  # the signal's own state (quality gate, or no signal at all)
        self.model_ok = True
        self.last_beat: int | None = None
        self.last_r: int | None = None  # newest R peak seen (classification lags behind it)
        self.active: dict[str, str] = {}  # label -> level, for the UI
        self._vf_buffer = np.zeros(0)
        self._vf_start = 0
        # the lead's last seconds (band-passed) and the size of its recent QRS complexes, for
        # the second look before a critical asystole
        self._recent = np.zeros(0)
        self._recent_end = 0  # source index one past its newest sample
        self._r_unmeasured: deque[int] = deque()
        self._qrs_ptp: deque[float] = deque(maxlen=8)

    @property
    def heart_rate(self) -> float | None:
        if len(self.beat_samples) < 2:
            return None
        recent = np.diff(np.asarray(self.beat_samples)[-(self.spec.rate_beats + 1) :])
        return 60.0 * self.fs / float(np.mean(recent))

    def on_quality(self, state: str, sample: int) -> list[AlertEvent]:
        self.signal = state
        return self._settle(sample)

    def on_model(self, valid: bool, sample: int) -> list[AlertEvent]:
        """A model answered with NaN / inf / out-of-range probabilities (`valid` False), or
        answered properly again: while it is invalid no beat label drives a rule."""
        if valid == self.model_ok:
            return []
        self.model_ok = valid
        return self._settle(sample)

    def _settle(self, sample: int) -> list[AlertEvent]:
        """One state for the rules: a bad signal explains everything, else an invalid model."""
        state = self.signal if self.signal != GOOD else (GOOD if self.model_ok else MODEL_INVALID)
        if state == self.quality:
            return []
        previous, self.quality = self.quality, state
        if state != GOOD:
            events = [AlertEvent(sample, INCONCLUSIVE, state, MESSAGES[state])]
            for label in list(self.active):  # the rules are frozen while we cannot see
                if label not in self.debounce:  # "signal": one bad state straight to another
                    continue
                if state == MODEL_INVALID and label in SIGNAL_RULES:
                    continue
                events.append(AlertEvent(sample, CLEARED, label, f"{label}: no longer assessed"))
                self.active.pop(label)
                self.debounce[label].active = False
                self.debounce[label].reset()
            for label, debouncer in self.debounce.items():  # no finding outlives the blindness
                if not (state == MODEL_INVALID and label in SIGNAL_RULES):
                    debouncer.reset()
            self.active["signal"] = INCONCLUSIVE
            self.labels.clear()
            self.beat_samples.clear()
            return events
        self.active.pop("signal", None)
        self.last_beat = None
        if previous != MODEL_INVALID:
            self.last_r = sample  # asystole is timed from when we could see again
        return [AlertEvent(sample, CLEARED, "signal", f"signal good again (was {previous})")]

    def on_r_peak(self, sample: int) -> list[AlertEvent]:
        self.last_r = sample if self.last_r is None else max(self.last_r, sample)
        self._r_unmeasured.append(sample)
        if self.signal != GOOD or not self.debounce["asystole"].active:
            return []
        return self._update("asystole", False, sample, {})

    def on_beat(self, sample: int, label: str) -> list[AlertEvent]:
        if self.quality != GOOD:
            return []
        s = self.spec
        rr = None if self.last_beat is None else (sample - self.last_beat) / self.fs
        self.last_beat = sample
        self.labels.append(label)
        self.beat_samples.append(sample)
        for cls in ("V", "S"):
            q = self.ectopic[cls]
            if label == cls:
                q.append(sample)
            while q and sample - q[0] > 60 * self.fs:
                q.popleft()
        seq = "".join(self.labels)
        hr = self.heart_rate
        vt_rate = self._run_rate(s.vt_beats) if seq.endswith("V" * s.vt_beats) else None
        vt = vt_rate is not None and vt_rate >= s.vt_rate_bpm
        findings = {
            "VT": vt,
            "run": seq.endswith("V" * s.vrun_beats) and not vt,
            "pause": rr is not None and rr >= s.pause_s,
            "brady": hr is not None and len(self.beat_samples) > s.rate_beats and hr < s.brady_bpm,
            "tachy": hr is not None and len(self.beat_samples) > s.rate_beats and hr > s.tachy_bpm,
            "couplet": seq.endswith("NVVN") or seq.endswith("SVVN"),
            "bigeminy": _pattern(seq, "NV", s.pattern_cycles),
            "trigeminy": _pattern(seq, "NNV", s.pattern_cycles),
            "PVC": len(self.ectopic["V"]) > s.ectopy_per_min,
            "PAC": len(self.ectopic["S"]) > s.ectopy_per_min,
            "AF": self._af_like(),
        }
        count = {"PVC": len(self.ectopic["V"]), "PAC": len(self.ectopic["S"]), "VT": s.vt_beats}
        events = []
        for label, finding in findings.items():
            detail = {
                "n": count.get(label, s.vrun_beats),
                "rr": rr or 0.0,
                "hr": (vt_rate if label == "VT" else hr) or 0.0,
            }
            events += self._update(label, finding, sample, detail)
        return events

    def _run_rate(self, beats: int) -> float | None:
        """Rate (bpm) within the last `beats` beats, from their own intervals."""
        if len(self.beat_samples) < beats:
            return None
        return 60.0 * self.fs / float(np.mean(np.diff(np.asarray(self.beat_samples)[-beats:])))

    def on_time(self, sample: int, filtered: np.ndarray) -> list[AlertEvent]:
        """The clock advanced to `sample` with these band-passed samples: asystole and VF."""
        self._remember(sample, filtered)
        if self.signal != GOOD:
            self._vf_buffer = np.zeros(0)
            self._r_unmeasured.clear()
            return []
        self._measure_qrs()
        events = []
        if self.last_r is None:
            self.last_r = sample - len(filtered)
        silent = (sample - self.last_r) / self.fs
        if silent >= self.spec.asystole_s:
            events += self._update("asystole", True, sample, {})
        self._vf_buffer = np.concatenate([self._vf_buffer, np.asarray(filtered).reshape(-1)])
        n = int(round(self.spec.vf_window_s * self.fs))
        while len(self._vf_buffer) >= n:
            window, self._vf_buffer = self._vf_buffer[:n], self._vf_buffer[n // 2 :]
            # VF has amplitude (a low-amplitude window is asystole's business) and a VF rate:
            # mains hum and slow waves pass the VF filter too
            band = (self.spec.vf_min_hz, self.spec.vf_max_hz)
            finding = np.ptp(window) > VF_MIN_PTP_MV and vf_like(
                window, self.fs, self.spec.vf_leakage, band
            )
            events += self._update("VF", bool(finding), sample, {})
        return events

    def silence_confirmed(self) -> bool:
        """Does the lead itself show asystole, not only the R-peak detector? Its last
        `asystole_s` of silence must be quiet next to the recent QRS complexes: a missed run of
        beats, or an artefact that hid them (a baseline jump), is not. True with nothing to
        compare against (no QRS seen yet)."""
        if self.last_r is None or not self._qrs_ptp:
            return True
        start = max(self.last_r + int(round(0.6 * self.fs)), self._recent_end - self._keep_asys())
        stretch = self._recent[max(0, start - (self._recent_end - len(self._recent))) :]
        if len(stretch) < int(self.fs):
            return True
        quiet = self.spec.asystole_quiet * float(np.median(self._qrs_ptp))
        return float(np.ptp(stretch)) <= quiet

    def _keep_asys(self) -> int:
        return int(round(self.spec.asystole_s * self.fs))

    def _remember(self, sample: int, filtered: np.ndarray) -> None:
        x = np.asarray(filtered, dtype=np.float64).reshape(-1)
        keep = self._keep_asys() + int(round(2.0 * self.fs))
        self._recent = np.concatenate([self._recent, x])[-keep:]
        self._recent_end = sample

    def _measure_qrs(self) -> None:
        """Peak-to-peak of the band-passed lead around each R peak whose QRS has arrived."""
        before, after = int(round(0.15 * self.fs)), int(round(0.1 * self.fs))
        first = self._recent_end - len(self._recent)
        while self._r_unmeasured and self._r_unmeasured[0] + after <= self._recent_end:
            r = self._r_unmeasured.popleft()
            if r - before >= first:
                qrs = self._recent[r - before - first : r + after - first]
                self._qrs_ptp.append(float(np.ptp(qrs)))

    def _verified(self, label: str, sample: int) -> bool:
        if label == "asystole" and not self.silence_confirmed():
            return False
        return self.verify is None or self.verify(label, sample)

    def _af_like(self) -> bool:
        s = self.spec
        if len(self.beat_samples) < s.af_beats + 1:
            return False
        samples = np.asarray(self.beat_samples)
        labels = list(self.labels)[-len(samples) :]
        if labels[1:].count("V") > s.af_beats // 4:  # ventricular ectopy is its own finding
            return False
        rr = np.diff(samples) / self.fs
        if s.af_exclude_ectopic:
            supraventricular = np.array([lab in ("N", "S") for lab in labels])
            rr = rr[supraventricular[:-1] & supraventricular[1:]]
            if len(rr) < s.af_beats // 2:
                return False
        rmssd, turning = irregularity(rr)
        return rmssd > s.af_rmssd and turning > s.af_turning

    def _update(self, label: str, finding: bool, sample: int, detail: dict) -> list[AlertEvent]:
        rule = RULES[label]
        change = self.debounce[label].update(finding, sample)
        if change == "raise":
            level, message = rule.level, rule.message.format(**detail)
            if level == CRITICAL and not self._verified(label, sample):
                level, message = WARNING, f"{message} (unverified: doubtful signal or beats)"
            self.active[label] = level
            return [AlertEvent(sample, level, label, message)]
        if (  # an unverified alarm whose finding holds on is asked again: sustained VT escalates
            change is None
            and finding
            and rule.level == CRITICAL
            and self.active.get(label) == WARNING
            and self._verified(label, sample)
        ):
            self.active[label] = CRITICAL
            message = rule.message.format(**detail)
            return [AlertEvent(sample, CRITICAL, label, f"{message} (now verified)")]
        if change == "clear":
            self.active.pop(label, None)
            what = rule.message.format(**{"n": self.spec.vrun_beats, "rr": 0.0, "hr": 0.0})
            return [AlertEvent(sample, CLEARED, label, f"{what.split(':')[0]} ended")]
        return []


def _pattern(seq: str, unit: str, cycles: int) -> bool:
    return seq.endswith(unit * cycles)


class WindowAlerter:
    """Per-class alerts of a window model: the bundle's threshold crossed in k of the last n
    windows raises; the probability staying under `hysteresis` x threshold for `clear_after`
    windows clears."""

    def __init__(
        self,
        classes: list[str],
        thresholds: list[float],
        k: int = 2,
        n: int = 3,
        clear_after: int = 3,
        hysteresis: float = 0.8,
    ) -> None:
        self.classes, self.thresholds, self.hysteresis = classes, thresholds, hysteresis
        self.debounce = {c: Debouncer(k, n, clear_after, 0) for c in classes}
        self.active: dict[str, str] = {}

    def on_window(self, sample: int, probs: np.ndarray, quality_ok: bool) -> list[AlertEvent]:
        if not quality_ok:
            return []
        events = []
        for c, p, t in zip(self.classes, probs, self.thresholds, strict=True):
            d = self.debounce[c]
            finding = p >= t if not d.active else p >= self.hysteresis * t
            change = d.update(bool(finding), sample)
            if change == "raise":
                self.active[c] = WARNING
                events.append(AlertEvent(sample, WARNING, c, f"{c} findings (p={p:.2f})"))
            elif change == "clear":
                self.active.pop(c, None)
                events.append(AlertEvent(sample, CLEARED, c, f"{c} findings no longer seen"))
        return events
