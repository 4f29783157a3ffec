"""The Monitor says the same whatever blocks the source cuts the stream into: a serial line's few
samples, `replay`'s half seconds and `classify`'s 4 s blocks. It analyses one graded second at a
time; before it did, 4 s blocks against 0.1 s changed 49 grades, 188 beats and 51 critical alert
events over the first 5 minutes of the shared records, most of them in cudb's VF
(benchmarks/block_sizes.py)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import wfdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_monitor.bundle import embedded_beat_bundles, embedded_bundle, load_bundle
from edge_monitor.pipeline import Monitor
from tests.conftest import MITDB, SHARED, need

START, STOP = 45_000, 75_000  # cu01 at 250 Hz: sinus, then VF from 53,541 to the end


@pytest.fixture(scope="module")
def excerpt():
    """cu01 around its VF onset, with 3 s of leads off (NaN) in the sinus part."""
    rec = wfdb.rdrecord(str(need(SHARED / "cudb") / "cu01"), sampfrom=START, sampto=STOP)
    x = rec.p_signal.copy()
    x[1_000:1_750] = np.nan
    models = [load_bundle(p, probe=False) for p in embedded_beat_bundles()]
    models.append(load_bundle(embedded_bundle("ventricular"), probe=False))
    return x, rec.fs, list(rec.sig_name), models


def streamed(excerpt, sizes: list[int]) -> list:
    """Every event of the excerpt pushed in blocks of `sizes` samples, over and over."""
    x, fs, names, models = excerpt
    monitor = Monitor(models, fs, names, start=START, second_lead="auto")
    events, at = [], 0
    for n in itertools.cycle(sizes):
        if at >= len(x):
            break
        events += monitor.push(x[at : at + n])
        at += n
    return events + monitor.finish()


@pytest.fixture(scope="module")
def beat_bundle():
    return load_bundle(embedded_bundle("arrhythmia"))


@pytest.fixture(scope="module")
def whole(excerpt):
    events = streamed(excerpt, [len(excerpt[0])])
    labels = {getattr(e, "label", None) for e in events}
    assert {"N", "VF"} <= labels  # beats before the VF, and the VF alarm in it
    return events


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 3_000), min_size=1, max_size=16))
def test_any_blocks_give_the_events_of_one_push(excerpt, whole, sizes):
    assert streamed(excerpt, sizes) == whole


def test_the_newest_rows_wait_for_their_second(excerpt):
    """Up to a second's rows wait; the stall (or the end) analyses them at once."""
    x, fs, names, models = excerpt
    monitor = Monitor(models, fs, names, start=START)
    monitor.push(x[:600])
    assert monitor.position == START + 500 and monitor.queued == 100
    assert monitor.samples_seen == 600
    monitor.on_stall(True)
    assert monitor.position == START + 600 and monitor.queued == 0
    monitor.push(x[600:900])  # the grid holds: the next second ends at START + 750
    assert monitor.position == START + 750 and monitor.queued == 150


def test_a_source_may_reuse_its_read_buffer(excerpt, whole):
    """The waiting rows are the monitor's own copy, not a view of the caller's array."""
    x, fs, names, models = excerpt
    monitor = Monitor(models, fs, names, start=START, second_lead="auto")
    buffer = np.empty((300, x.shape[1]))
    events = []
    for at in range(0, len(x), 300):
        n = min(300, len(x) - at)
        buffer[:n] = x[at : at + n]
        events += monitor.push(buffer[:n])
        buffer[:] = 99.0  # the driver's next read lands here
    assert events + monitor.finish() == whole


@pytest.mark.parametrize("shape", [(99,), (101,), (100, 2)])
def test_a_mask_must_give_one_flag_per_row(excerpt, shape):
    x, fs, names, models = excerpt
    monitor = Monitor(models, fs, names, start=START)
    with pytest.raises(ValueError, match="one flag per row"):
        monitor.push(x[:100], leads_off=np.zeros(shape, bool))


def test_the_first_read_after_a_stall_may_hold_any_backlog(beat_bundle):
    """A link stalls for 2 s; then the silence (missing rows) and what came back arrive in one
    read of 0.1, 3 or 6 s, before the source says samples flow again. Seconds wholly after the
    first real sample are graded on their signal whatever that read held: a 6 s backlog kept
    them `no_signal` 5 s longer than a 0.1 s read did (found by a review)."""
    rec = wfdb.rdrecord(str(need(MITDB) / "100"), sampto=360 * 30)
    x, fs = rec.p_signal.copy(), 360
    stop, gap = 10 * fs + 100, 2 * fs
    missing = np.zeros(len(x), bool)
    missing[stop : stop + gap] = True
    x[missing] = np.nan

    def events(first_read_s):
        monitor = Monitor([beat_bundle], fs, list(rec.sig_name))
        out = []
        for a in range(0, stop, 36):
            out += monitor.push(x[a : min(a + 36, stop)])
        out += monitor.on_stall(True)
        b = stop + gap + int(first_read_s * fs)
        out += monitor.push(x[stop:b], missing=missing[stop:b])
        out += monitor.on_stall(False)
        for a in range(b, len(x), 36):
            out += monitor.push(x[a : a + 36], missing=missing[a : a + 36])
        return out + monitor.finish()

    first = events(0.1)
    cleared = [e for e in first if getattr(e, "label", None) == "signal" and e.level == "cleared"]
    assert cleared and cleared[0].sample < stop + gap + 3 * fs
    assert events(3.0) == first and events(6.0) == first


def test_a_stop_inside_an_analysis_never_feeds_the_same_rows_twice(beat_bundle, sample_record):
    """Ctrl-C may land inside `push`; `finish` (the session's close) then analysed the rows of
    that push again and invented a beat a second after a real one (found by a review)."""
    rec = wfdb.rdrecord(str(sample_record), sampto=360 * 30)
    x = rec.p_signal
    reference = Monitor([beat_bundle], 360.0, list(rec.sig_name)).stream(x, block_s=100.0)
    real = {e.sample for e in reference if type(e).__name__ == "BeatEvent"}
    monitor = Monitor([beat_bundle], 360.0, list(rec.sig_name))
    on_time, calls = monitor.engine.on_time, [0]

    def stopped_in_the_twelfth_second(*args):
        calls[0] += 1
        if calls[0] == 12:
            raise KeyboardInterrupt
        return on_time(*args)

    monitor.engine.on_time = stopped_in_the_twelfth_second
    events = []
    with pytest.raises(KeyboardInterrupt):
        for a in range(0, len(x), 180):
            events += monitor.push(x[a : a + 180])
    events += monitor.finish()
    beats = [e.sample for e in events if type(e).__name__ == "BeatEvent"]
    assert beats and set(beats) <= real
