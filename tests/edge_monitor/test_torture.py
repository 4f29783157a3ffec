"""Torture: real records spliced with flat lines, the ADC rail, leads off, garbage bytes, counter
resets, stalls and recorded noise, through the rpi4 front end's wire format and clipping (the
whole in-process serial path: encode -> decoder -> assembler -> Monitor), in random chunk sizes,
with a clock the test advances. Nothing may raise, every event must be strict JSON, a bad stretch
may never carry a critical alarm, and a stalled link must show no heart rate."""

import json
import random

import numpy as np
import pytest
import wfdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_monitor.alerts import CRITICAL, WARNING
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.dsp import StreamResampler
from edge_monitor.pipeline import Monitor
from edge_monitor.profiles import load_profile
from edge_monitor.reporting import json_text
from edge_monitor.serial_feed import LinkTiming, SampleAssembler
from edge_monitor.wire import LineDecoder, Sample, encode
from tests.conftest import MITDB, NSTDB, SHARED, need

SENSOR = load_profile("rpi4").sensor
FS = SENSOR.fs
BAD = ("flat", "rail", "off", "stall")


@pytest.fixture(scope="module")
def bundle():
    return load_bundle(embedded_bundle("arrhythmia"))


def at_front_end_rate(x: np.ndarray, fs: float) -> np.ndarray:
    return StreamResampler(fs, FS, 1)(np.nan_to_num(x).reshape(-1, 1))[:, 0]


class FrontEnd:
    """Builds the byte stream of a plan and plays it into the monitor, clock and all."""

    def __init__(self, bundle, ecg: np.ndarray, noise: np.ndarray | None, seed: int):
        self.ecg, self.noise = ecg, noise
        self.rng = random.Random(seed)
        self.decoder = LineDecoder(1, counter=True)
        self.assembler = SampleAssembler(
            1, SENSOR.adc_gain, SENSOR.baseline, SENSOR.adc_bits, LinkTiming(FS, SENSOR.stall_s)
        )
        top = 2**SENSOR.adc_bits - 1
        rails = (-SENSOR.baseline / SENSOR.adc_gain, (top - SENSOR.baseline) / SENSOR.adc_gain)
        self.monitor = Monitor([bundle], FS, ["MLII"], rails=rails)
        self.now, self.counter, self.pos, self.sample = 0.0, 0, 0, 0
        self.events: list = []
        self.bad: list[tuple[int, int]] = []
        self.assembler.start(0.0)

    def lines(self, kind: str, n: int) -> list[bytes]:
        if kind == "off":
            values = [None] * n
        elif kind == "flat":
            values = [(SENSOR.baseline + 300,)] * n
        elif kind == "rail":
            values = [(2**SENSOR.adc_bits - 1,)] * n
        else:
            x = np.resize(self.ecg[self.pos :], n)
            self.pos = (self.pos + n) % max(len(self.ecg) - n, 1)
            if kind == "noise" and self.noise is not None:
                x = x + np.resize(self.noise, n)
            adc = np.clip(np.round(x * SENSOR.adc_gain + SENSOR.baseline), 0, 1023)
            values = [(int(v),) for v in adc]
        out = []
        for v in values:
            out.append(encode(Sample(v, self.counter % 65536)))
            self.counter += 1
        return out

    def play(self, plan: list[tuple[str, float]]) -> None:
        for kind, seconds in plan:
            n = int(seconds * FS)
            start = self.monitor.position
            if kind == "stall":
                self._advance(seconds, [])
            elif kind == "reset":
                self.counter = self.rng.randrange(65536)
            elif kind == "garbage":
                self._send(bytes(self.rng.randrange(256) for _ in range(n)), 0.01)
            else:
                self._send(b"".join(self.lines(kind, n)), seconds)
            if kind in BAD:
                self.bad.append((start, self.monitor.position))
        self._advance(3.0, [])  # the front end goes quiet at the end: a stall

    def _send(self, data: bytes, seconds: float) -> None:
        pieces, a = [], 0
        while a < len(data):
            b = a + self.rng.choice([1, 7, 64, 500, 1000])  # at most ~0.4 s of signal a read
            pieces.append(data[a:b])
            a = b
        for piece in pieces:  # the bytes take their share of the segment's time
            self._advance(seconds * len(piece) / len(data), self.decoder.feed(piece))

    def _advance(self, seconds: float, samples: list) -> None:
        """The samples were made over `seconds` and arrive at its end; the run loop polls every
        read timeout meanwhile, data or not."""
        step = 0.05
        while True:
            dt = min(step, seconds)
            self.now += dt
            seconds -= dt
            if samples and seconds <= 1e-9:
                block = self.assembler.assemble(samples, self.now)
                b = block
                self.events += self.monitor.push(b.mv, b.leads_off, b.missing, b.bad)
                samples = []
            stalled = self.assembler.stalled(self.now)
            self.events += self.monitor.on_stall(stalled)
            if stalled:
                assert self.monitor.heart_rate is None
            if seconds <= 1e-9:
                return

    def check(self) -> None:
        self.events += self.monitor.finish()
        for ev in self.events:
            json.loads(json_text(ev.to_json()), parse_constant=_no_constants)
        for ev in self.events:
            if getattr(ev, "level", None) != CRITICAL:
                continue
            for a, b in self.bad:  # a second in, the gate has seen the stretch
                assert not a + FS <= ev.sample < b, (ev, self.bad)


def _no_constants(token):
    raise AssertionError(f"not strict JSON: {token}")


@pytest.fixture(scope="module")
def sample_ecg(sample_record):
    rec = wfdb.rdrecord(str(sample_record), channels=[0])
    return at_front_end_rate(rec.p_signal[:, 0], rec.fs)


SEGMENT = st.tuples(
    st.sampled_from(["ecg", "ecg", "ecg", "flat", "rail", "off", "stall", "garbage", "reset"]),
    st.floats(0.2, 12.0),
)


@given(plan=st.lists(SEGMENT, min_size=1, max_size=8), seed=st.integers(0, 10_000))
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_splice_of_the_sample_record_streams_through(bundle, sample_ecg, plan, seed):
    fe = FrontEnd(bundle, sample_ecg, None, seed)
    fe.play([("ecg", 8.0), *plan, ("ecg", 8.0)])
    fe.check()
    assert fe.monitor.samples_seen > 0


@pytest.mark.parametrize("record,start_s", [("207", 1570.0), ("203", 0.0), ("105", 60.0)])
def test_real_ventricular_and_noisy_records_spliced_with_faults(bundle, record, start_s):
    """Record 207's flutter, 203's multiform VT and 105's noise, each cut with every fault a
    loosening electrode and a flaky board make, and recorded electrode motion mixed in."""
    rec = wfdb.rdrecord(
        str(need(MITDB) / record),
        channels=[0],
        sampfrom=int(start_s * 360),
        sampto=int((start_s + 150) * 360),
    )
    ecg = at_front_end_rate(rec.p_signal[:, 0], rec.fs)
    em = wfdb.rdrecord(str(need(NSTDB) / "118e_6"), channels=[0], sampto=360 * 60)
    clean = wfdb.rdrecord(str(MITDB / "118"), channels=[0], sampto=360 * 60)
    noise = at_front_end_rate(em.p_signal[:, 0] - clean.p_signal[:, 0], 360.0)
    fe = FrontEnd(bundle, ecg, noise, seed=int(record))
    plan = [("ecg", 30.0), ("noise", 10.0), ("ecg", 5.0), ("off", 3.0), ("flat", 4.0)]
    plan += [("rail", 3.0), ("noise", 2.0), ("ecg", 20.0), ("stall", 5.0), ("reset", 0.0)]
    plan += [("garbage", 2.0), ("ecg", 30.0), ("off", 0.5), ("ecg", 20.0)]
    fe.play(plan)
    fe.check()
    link = fe.assembler.stats
    assert link.resets >= 1 and fe.decoder.stats.bad() > 0
    levels = {getattr(e, "level", None) for e in fe.events}
    assert "inconclusive" in levels


@pytest.mark.slow
def test_every_shared_cudb_record_streams_through_the_front_end(bundle):
    """The independent VF records that killed `classify` (bad state straight to another), first
    two minutes of each through the rpi4 front end with a stall in the middle."""
    cudb = need(SHARED / "cudb")
    for hea in sorted(cudb.glob("*.hea"))[:6]:
        rec = wfdb.rdrecord(str(hea.with_suffix("")), channels=[0], sampto=250 * 120)
        fe = FrontEnd(bundle, at_front_end_rate(rec.p_signal[:, 0], rec.fs), None, seed=1)
        fe.play([("ecg", 50.0), ("stall", 4.0), ("ecg", 50.0)])
        fe.check()
        assert any(
            getattr(e, "level", None) in (CRITICAL, WARNING, "inconclusive") for e in fe.events
        )
