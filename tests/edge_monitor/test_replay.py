"""Replaying a WFDB record in chunks, paced by its sample clock (a fake clock here)."""

import numpy as np
import pytest
import wfdb

from edge_monitor.errors import DataNotFoundError, InputError
from edge_monitor.sources import replay_record


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def test_chunks_reassemble_the_record_with_its_own_sample_numbers(tiny_mitdb):
    chunks = list(
        replay_record(tiny_mitdb / "100.dat", chunk_s=0.7, speed=0, start_s=10, stop_s=30)
    )
    whole = wfdb.rdrecord(str(tiny_mitdb / "100"), sampfrom=3600, sampto=10800).p_signal
    np.testing.assert_array_equal(np.vstack([c.samples for c in chunks]), whole)
    assert chunks[0].start == 3600 and chunks[1].start == 3600 + 252
    assert chunks[0].fs == 360.0 and chunks[0].sig_name == ["MLII", "V5"]


def test_speed_sets_the_pace(tiny_mitdb):
    t = FakeTime()
    for _ in replay_record(
        tiny_mitdb / "100", chunk_s=1.0, speed=1.0, stop_s=5, sleep=t.sleep, clock=t.clock
    ):
        t.now += 0.01  # processing time
    assert abs(t.now - 5.0) < 0.02  # five seconds of signal took five seconds
    t = FakeTime()
    for _ in replay_record(
        tiny_mitdb / "100", chunk_s=1.0, speed=4.0, stop_s=8, sleep=t.sleep, clock=t.clock
    ):
        pass
    assert abs(t.now - 2.0) < 1e-9
    t = FakeTime()
    list(replay_record(tiny_mitdb / "100", speed=0, stop_s=8, sleep=t.sleep, clock=t.clock))
    assert t.slept == []


def test_one_channel_and_every_way_of_naming_a_record(tiny_mitdb):
    for name in ("100", "100.hea", "100.dat"):
        first = next(replay_record(tiny_mitdb / name, speed=0, channels=[1]))
        assert first.samples.shape == (360, 1) and first.sig_name == ["V5"]


def test_bad_records_are_clear_errors(tiny_mitdb, tmp_path):
    with pytest.raises(DataNotFoundError, match="not found"):
        next(replay_record(tmp_path / "nope.dat", speed=0))
    (tmp_path / "bad.hea").write_text("bad 1 three hundred\n")
    with pytest.raises(InputError):
        next(replay_record(tmp_path / "bad", speed=0))
    for ext in ("hea", "atr"):
        (tmp_path / f"100.{ext}").write_bytes((tiny_mitdb / f"100.{ext}").read_bytes())
    (tmp_path / "100.dat").write_bytes((tiny_mitdb / "100.dat").read_bytes()[:30000])
    with pytest.raises(InputError, match="100"):
        list(replay_record(tmp_path / "100", speed=0))
    with pytest.raises(InputError, match="no samples"):
        next(replay_record(tiny_mitdb / "100", speed=0, start_s=500))
