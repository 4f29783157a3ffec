"""Alerts from the beat sequence, the RR intervals and the raw rhythm, gated by signal quality.

Each rule yields a yes/no finding whenever it is evaluated; a `Debouncer` turns findings into
events: raised after k of the last n evaluations, cleared (with a `cleared` event) only when the
finding has been absent for `clear_after` evaluations (hysteresis), and not raised again within a
cooldown. While the signal is not good the rules are frozen and one `inconclusive` event says why:
noise must never become an arrhythmia alarm.

The rule table, thresholds and events live in alert_rules.py; window models' per-class alerts
in window_alerts.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from edge_monitor.af import AfDetector
from edge_monitor.alert_rules import (
    CLEARED,
    CRITICAL,
    INCONCLUSIVE,
    RULES,
    SIGNAL_RULES,
    WARNING,
    AlertEvent,
    AlertSpec,
    Debouncer,
    irregularity,
)
from edge_monitor.quality import GOOD, MESSAGES, MODEL_INVALID
from edge_monitor.vf import VF_MIN_PTP_MV, vf_leakage, vf_like
from edge_monitor.window_alerts import WindowAlerter

__all__ = [
    "CLEARED",
    "CRITICAL",
    "INCONCLUSIVE",
    "RULES",
    "SIGNAL_RULES",
    "WARNING",
    "AlertEngine",
    "AlertEvent",
    "AlertSpec",
    "Debouncer",
    "WindowAlerter",
    "irregularity",
    "vf_leakage",
]


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
        self.debounce = {label: rule.debouncer(cool) for label, rule in RULES.items()}
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
        # the mean of the last intervals, from their ends (the same value, asked every beat)
        k = min(self.spec.rate_beats, len(self.beat_samples) - 1)
        return 60.0 * self.fs / ((self.beat_samples[-1] - self.beat_samples[-1 - k]) / k)

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
        """Irregular RR that discounts ectopy, and no repeating P wave (edge_monitor/af.py);
        the detector is made on first use and may be replaced (benchmarks/af_rule.py does)."""
        if getattr(self, "af", None) is None:
            self.af = AfDetector.with_window(self.fs, self.spec.af_beats)
        return self.af(self.beat_samples, self.labels, self._recent, self._recent_end)

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
