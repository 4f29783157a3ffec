"""The serial session in process, over pyserial's loop:// port: recordings that cannot start,
a stall seen by the session, a damaged line that overflows nothing."""

import json

import pytest

from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.recorder import open_recorder
from edge_monitor.reporting import json_text
from edge_monitor.serial_session import STALLED, SerialSession, SerialSettings
from edge_monitor.wire import Sample, encode

SETTINGS = SerialSettings("loop://", 115200, 360.0, 200.0, 1024, 11, ["MLII"], counter=True)


@pytest.fixture(scope="module")
def bundles():
    return [load_bundle(embedded_bundle("arrhythmia"))]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def session(bundles, record_dir=None):
    events: list[dict] = []
    clock = Clock()
    s = SerialSession(SETTINGS, bundles, (1, 1), None, events.append, record_dir, clock=clock)
    assert s.open()
    return s, events, clock


def test_a_record_path_that_cannot_hold_a_recording_leaves_monitoring_on(bundles, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    s, events, clock = session(bundles, blocker)
    assert s.recorder is None and "cannot record into" in s.recording_error
    said = [e for e in events if e["type"] == "status" and e.get("error")]
    assert len(said) == 1 and "cannot record into" in said[0]["error"]
    s.source._port.write(b"".join(encode(Sample((1024,), i)) for i in range(100)))
    clock.now = 0.3
    s.step()
    assert s.monitor.samples_seen == 100  # monitoring goes on
    assert s.recording_text().startswith("STOPPED")
    summary = s.summary(1.0)
    s.close()
    assert summary["recording"] is None and "cannot record into" in summary["recording_error"]
    json.loads(json_text(summary))  # strict: no NaN before the first beat


def test_lines_that_overflow_an_int32_are_bad_samples(bundles):
    s, events, clock = session(bundles)
    s.source._port.write(b"0,1024\n1,2147483648\n2,9999999999\n3,-40000\n4,1024\n")
    clock.now = 0.2
    s.step()
    assert s.monitor.samples_seen == 5 and s.assembler.stats.out_of_range == 3
    s.close()


def test_the_session_says_stalled_and_the_monitor_shows_no_rate(bundles):
    s, events, clock = session(bundles)
    for k in range(12):  # 6 s of a regular 1 Hz spike train
        lines = [
            Sample((1024 + (400 if (k * 180 + i) % 360 == 0 else 0),), k * 180 + i)
            for i in range(180)
        ]
        s.source._port.write(b"".join(encode(x) for x in lines))
        clock.now += 0.5
        s.step()
    clock.now += 1.5  # silence
    s.step()
    assert s.monitor.stalled and s.monitor.heart_rate is None
    assert [e for e in events if e["type"] == "status" and e["state"] == STALLED]
    assert [e for e in events if e.get("label") == "no_signal" and e["level"] == "inconclusive"]
    assert s.stats_line()["quality"] == "no_signal" and s.stats_line()["heart_rate"] is None
    s.close()


def test_two_recorders_in_one_second_get_two_records(tmp_path):
    a = open_recorder(tmp_path, 250.0, ["MLII"], 341.3, 512)
    b = open_recorder(tmp_path, 250.0, ["MLII"], 341.3, 512)
    assert a.name != b.name
    a.close()
    b.close()


def test_values_outside_the_adc_range_read_as_bad_values_not_as_no_signal(bundles):
    """A board printing one wrong value in five (a wrong baud rate, debug prints): the quality
    says so, and not 'check the cable' (the data does arrive)."""
    s, events, clock = session(bundles)
    for k in range(8):  # 4 s, every fifth value past the 11-bit ADC's top
        values = [99999 if i % 5 == 0 else 1024 + (300 if i % 360 == 0 else 0) for i in range(180)]
        s.source._port.write(
            b"".join(encode(Sample((v,), k * 180 + i)) for i, v in enumerate(values))
        )
        clock.now += 0.5
        s.step()
    labels = {e["label"] for e in events if e.get("level") == "inconclusive"}
    assert "bad_values" in labels and "no_signal" not in labels
    assert s.assembler.stats.out_of_range == 8 * 36
    s.close()
