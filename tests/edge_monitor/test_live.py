"""The serial session in process, over pyserial's loop:// port: recordings that cannot start,
a stall seen by the session, a damaged line that overflows nothing."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def ecg_lines(sample_record, first: int, n: int, start_counter: int) -> bytes:
    """Lines of the real record as the host profile's front end sends them (with a counter)."""
    import wfdb

    mv = wfdb.rdrecord(str(sample_record), channels=[0]).p_signal[first : first + n, 0]
    adc = np.round(mv * SETTINGS.adc_gain).astype(int) + SETTINGS.baseline
    return b"".join(encode(Sample((int(v),), start_counter + i)) for i, v in enumerate(adc))


def feed(s, clock, data: bytes, seconds: float) -> None:
    """The bytes arrive over `seconds` of (fake) wall clock, read by as many steps as it takes."""
    s.source._port.write(data)
    steps = max(1, int(seconds / 0.1))
    for _ in range(steps):
        clock.now += seconds / steps
        s.step()
    while s.source._port.in_waiting:
        s.step()


def signal_events(events):
    return [e for e in events if e["type"] == "alert" and e["label"] == "signal"]


@pytest.mark.slow
def test_a_stall_never_says_the_signal_is_good_again_before_samples_return(bundles, sample_record):
    """4 s minus a little of ECG, the sender dies (a partly filled second is graded as the stall
    begins), 3 s of silence, then ECG again: "signal good again" only after samples came back."""
    s, events, clock = session(bundles)
    sent = 1400  # the stall starts 40 samples into a one-second quality segment
    for k in range(0, sent, 180):
        feed(s, clock, ecg_lines(sample_record, k, min(180, sent - k), k), 0.5)
    assert s.monitor.signal_state == "good"
    clock.now += 1.5
    stalled_at = len(events)
    s.step()
    assert s.monitor.stalled and events[-1]["state"] == STALLED
    for _ in range(15):  # 3 s more of silence
        clock.now += 0.2
        s.step()
    silence = round(clock.now * 360) - sent
    back = sent
    for k in range(sent, sent + 5 * 360, 180):  # ECG again, its counter ran on through the stall
        feed(s, clock, ecg_lines(sample_record, k, 180, k + silence), 0.5)
    s.close()
    after = events[stalled_at:]
    cleared = [e for e in signal_events(after) if e["level"] == "cleared"]
    resumed = back + silence  # the first real sample after the stall, in stream numbering
    assert cleared and all(e["sample"] > resumed for e in cleared), signal_events(after)
    assert [e for e in after if e.get("label") == "no_signal"][0]["level"] == "inconclusive"


@pytest.mark.slow
def test_a_closed_session_after_a_stall_stays_without_signal(bundles, sample_record):
    """The sender dies and the monitor is stopped: the silence recorded at the close never grades
    the partly filled second before it as good."""
    s, events, clock = session(bundles)
    for k in range(0, 1400, 175):
        feed(s, clock, ecg_lines(sample_record, k, 175, k), 0.5)
    clock.now += 1.5
    s.step()
    mark = len(events)
    clock.now += 3.0
    s.close()
    assert not [e for e in signal_events(events[mark:]) if e["level"] == "cleared"]
    assert s.monitor.signal_state == "no_signal"


def test_garbage_bytes_read_as_unreadable_not_as_no_signal(bundles):
    """A wrong baud rate: bytes arrive, none decodes to a sample. That is not "no signal"."""
    s, events, clock = session(bundles)
    noise = np.random.default_rng(7).integers(0, 256, 30_000, dtype=np.uint8).tobytes()
    for k in range(0, len(noise), 3000):
        feed(s, clock, noise[k : k + 3000], 0.3)
    assert s.decoder.stats.bad() > 0 and s.decoder.stats.samples == 0
    assert s.stats_line()["source_state"] == "unreadable"
    clock.now += 2.0
    s.close()  # the silence up to the stop, recorded, is still the unreadable link's
    assert s.monitor.signal_state == "unreadable"
    alerts = [e for e in events if e["type"] == "alert" and e["level"] == "inconclusive"]
    assert [e["label"] for e in alerts] == ["unreadable"]
    assert "check the baud rate" in alerts[0]["message"]
    said = [e for e in events if e["type"] == "status" and e["state"] == "unreadable"]
    assert said and "check the baud rate" in said[0]["error"]
    assert not [e for e in events if e["type"] == "status" and e["state"] == STALLED]


def test_a_port_that_appears_late_says_connected_without_the_old_error(bundles, tmp_path):
    """The open failed ("could not open port"), then the port appears: `connected` carries no
    error from before."""
    import os
    import time
    import tty

    link = tmp_path / "ttyLATE"
    events: list[dict] = []
    settings = SerialSettings(str(link), 115200, 360.0, 200.0, 1024, 11, ["MLII"], counter=True)
    s = SerialSession(settings, bundles, (1, 1), None, events.append)
    assert not s.open() and "could not open port" in s.source.last_error
    s.step()
    master, slave = os.openpty()
    tty.setraw(master)
    link.symlink_to(os.ttyname(slave))
    deadline = time.monotonic() + 30
    while s.state != "connected" and time.monotonic() < deadline:
        s.step()
    s.close()
    os.close(master)
    os.close(slave)
    said = [e for e in events if e["type"] == "status"]
    assert said[0]["state"] == "reconnecting" and "could not open port" in said[0]["error"]
    assert said[-1]["state"] == "connected" and said[-1]["error"] == ""


def test_the_last_second_of_a_live_run_is_emitted_as_replay_would(bundles, sample_record):
    """The monitor analyses whole seconds; when the run ends, what still waits is analysed and
    its beats (and any alerts) are emitted and recorded like all the others: the session's beat
    lines are those of the same samples through one push."""
    import wfdb

    from edge_monitor.pipeline import BeatEvent, Monitor

    n = int(360 * 9.6)
    s, events, clock = session(bundles)
    for first in range(0, n, 360):  # a second at a time: loop:// holds little
        feed(s, clock, ecg_lines(sample_record, first, min(360, n - first), first), 1.0)
    s.close()
    s.summary(1.0)
    live = [e["sample"] for e in events if e["type"] == "beat"]
    mv = wfdb.rdrecord(str(sample_record), channels=[0]).p_signal[:n, 0]
    adc = np.round(mv * SETTINGS.adc_gain) / SETTINGS.adc_gain  # what the wire carries
    offline = Monitor(bundles, 360.0, ["MLII"]).stream(adc.reshape(-1, 1), block_s=100.0)
    expected = [e.sample for e in offline if isinstance(e, BeatEvent)]
    assert live == expected and expected[-1] > 360 * 9  # a beat of the last, partial second


def test_a_pipe_closed_at_the_end_leaves_the_recording_whole(bundles, sample_record, tmp_path):
    """Closing emits the last second's events; if stdout is gone by then (`| head`), the port
    and the recording are closed all the same, every received sample in the record."""
    closed = False

    def emit(obj):
        if closed:
            raise BrokenPipeError
        sink.append(obj)

    sink: list[dict] = []
    clock = Clock()
    s = SerialSession(SETTINGS, bundles, (1, 1), None, emit, tmp_path, clock=clock)
    assert s.open()
    for first in (0, 360, 720):  # loop:// holds little: a second at a time
        n = min(360, 900 - first)
        feed(s, clock, ecg_lines(sample_record, first, n, first), 0.1)
    assert s.monitor.queued == 180
    closed = True
    with pytest.raises(BrokenPipeError):
        s.close()
    assert s.recorder.samples == 900
    header = next(tmp_path.rglob("*.hea")).read_text()
    assert header.split()[3] == "900"


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(30, 300), min_size=1, max_size=8))
def test_a_serial_line_reports_what_one_push_of_the_same_samples_does(
    bundles, sample_record, reads
):
    """The real session (wire lines, decoder, assembler) read in any sizes reports the beats
    and alerts that one push of the same samples gives: `run` and `classify` agree."""
    import wfdb

    from edge_monitor.pipeline import BeatEvent, Monitor

    n = 360 * 12
    mv = wfdb.rdrecord(str(sample_record), channels=[0]).p_signal[:n, 0]
    counts = np.round(mv * SETTINGS.adc_gain).astype(int) + SETTINGS.baseline
    lines = [encode(Sample((int(v),), i)) for i, v in enumerate(counts)]
    s, events, clock = session(bundles)
    sent, k = 0, 0
    while sent < n:
        size = min(reads[k % len(reads)], n - sent)
        feed(s, clock, b"".join(lines[sent : sent + size]), 0.05)
        sent, k = sent + size, k + 1
    s.close()
    s.summary(1.0)
    adc = np.round(mv * SETTINGS.adc_gain) / SETTINGS.adc_gain
    offline = Monitor(bundles, 360.0, ["MLII"]).stream(adc.reshape(-1, 1), block_s=100.0)
    assert [(e["sample"], e["label"]) for e in events if e["type"] == "beat"] == [
        (e.sample, e.label) for e in offline if isinstance(e, BeatEvent)
    ]
    alerts = [(e.sample, e.level, e.label) for e in offline if type(e).__name__ == "AlertEvent"]
    live = [(e["sample"], e["level"], e["label"]) for e in events if e["type"] == "alert"]
    assert live == alerts
