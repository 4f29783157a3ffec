"""Critical alarms latch: each stays on the screen until someone acknowledges it, even when the
rhythm that raised it has ended, as a bedside monitor's latching high-priority alarm does
(IEC 60601-1-8). The acknowledgement is itself an event, with the time it was made."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from edge_monitor.alert_rules import CRITICAL, AlertEvent

ACK = "ack"  # the level of an acknowledgement in the alert log


@dataclass(frozen=True)
class Alarm:
    sample: int
    label: str
    message: str
    time: str  # on the screen's clock


@dataclass
class AlarmLatch:
    pending: list[Alarm] = field(default_factory=list)  # oldest first
    raised: int = 0  # critical alarms seen so far: a new one rings the bell once
    acknowledged: int = 0  # alarms acknowledged so far

    def on_alert(self, ev: AlertEvent, time_text: str) -> None:
        if ev.level == CRITICAL:
            self.pending.append(Alarm(ev.sample, ev.label, ev.message, time_text))
            self.raised += 1

    def acknowledge(self, sample: int, time_text: str, wall: float | None = None) -> dict | None:
        """Clear the banner; the event to log, or None when nothing was waiting."""
        if not self.pending:
            return None
        labels = [a.label for a in self.pending]
        self.acknowledged += len(labels)
        self.pending = []
        wall = time.time() if wall is None else wall
        return {
            "type": ACK,
            "sample": sample,
            "record_time": time_text,
            "labels": labels,
            "acknowledged_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall)),
            "message": f"acknowledged: {', '.join(labels)}",
        }
