"""Per-class alerts of a window model (the diagnostic superclasses): debounced crossings of the
bundle's thresholds, with hysteresis."""

from __future__ import annotations

import numpy as np

from edge_monitor.alert_rules import CLEARED, WARNING, AlertEvent, Debouncer


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
