"""What a session reports: strict JSON and a bounded alert history that still counts everything."""

import json

from edge_monitor.alerts import WARNING, AlertEvent
from edge_monitor.reporting import ALERT_HISTORY, Tracker, json_text


def test_the_alert_history_is_bounded_and_the_counts_cover_every_alert():
    tracker = Tracker(250.0)
    for i in range(10 * ALERT_HISTORY):
        tracker.on_event(AlertEvent(i, WARNING, "PVC", "frequent PVCs"))
    assert len(tracker.alerts) == ALERT_HISTORY
    assert tracker.alert_levels == {WARNING: 10 * ALERT_HISTORY}
    assert tracker.alerts[-1]["sample"] == 10 * ALERT_HISTORY - 1


def test_json_lines_carry_null_never_nan():
    line = json_text({"p": float("nan"), "q": [float("inf"), 1.0], "r": {"s": -float("inf")}})
    assert json.loads(line) == {"p": None, "q": [None, 1.0], "r": {"s": None}}
