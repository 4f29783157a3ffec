"""What a session reports: strict JSON, a bounded alert history that still counts everything,
rates over the last seconds, and acknowledged alarms as events."""

import json
import math

import pytest

from edge_monitor.alarm_latch import ACK
from edge_monitor.alerts import WARNING, AlertEvent
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.replay_session import ReplaySession
from edge_monitor.reporting import ALERT_HISTORY, Tracker, json_text
from edge_monitor.run_loop import run_loop
from edge_monitor.stats import PipelineCost, RecentRate


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


def test_the_sample_rate_is_over_the_last_seconds_not_since_start():
    rate = RecentRate(window_s=5.0)
    assert math.isnan(rate.per_second())  # `--` before data
    for i in range(80):  # 20 s at 360 samples/s, in quarter seconds
        rate.add(i * 0.25, 90)
    for i in range(80, 100):  # then 5 s at a third of it
        rate.add(i * 0.25, 30)
    assert rate.per_second() == pytest.approx(120.0, rel=0.06)  # a mean since start: ~264


def test_the_pipeline_cost_is_per_beat_and_unknown_without_beats():
    cost = PipelineCost(window_s=5.0)
    cost.add(0.0, 0.004, 0)
    assert math.isnan(cost.ms_per_beat())
    cost.add(1.0, 0.006, 2)
    assert cost.ms_per_beat() == pytest.approx(5.0)  # 10 ms of pushes, 2 beats
    cost.add(10.0, 0.001, 1)  # the old pushes have left the window
    assert cost.ms_per_beat() == pytest.approx(1.0)


def test_a_vt_on_mitdb_205_latches_until_the_key_and_the_ack_is_logged(mitdb_dir):
    """Real record, real pipeline, the run loop's key path: `a` once the VT alarm is up."""
    events: list[dict] = []
    bundles = [load_bundle(embedded_bundle("arrhythmia"))]
    session = ReplaySession(mitdb_dir / "205", bundles, (1, 1), None, events.append, 0.0, 290, 304)
    seen: list[int] = []

    def keys() -> str:
        pending = len(session.tracker.latch.pending)
        seen.append(pending)
        return "a" if pending else ""

    views: list = []
    result = run_loop(session, on_view=views.append, keys=keys)
    assert max(seen) >= 1  # the VT latched
    acks = [e for e in events if e["type"] == ACK]
    assert acks and acks[0]["labels"][0] == "VT" and acks[0]["acknowledged_at"]
    assert json.loads(json_text(acks[0])) == acks[0]  # a JSON line like the alerts
    last = views[-1]
    assert last.finished and not last.alarms and last.alarms_raised >= 1
    assert any(a["level"] == ACK for a in last.alerts)
    assert result["alarms_acknowledged"] >= 1 and result["alarms_unacknowledged"] == 0
