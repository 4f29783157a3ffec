import numpy as np
import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.serial_feed import SampleAssembler
from edge_monitor.wire import LineDecoder, Sample, encode


def test_round_trip_with_and_without_counter():
    samples = [Sample((512, 498)), Sample(None), Sample((-3, 1023))]
    plain = LineDecoder(n_channels=2)
    assert plain.feed(b"".join(encode(s) for s in samples)) == samples
    counted = [Sample(s.values, counter=i) for i, s in enumerate(samples)]
    dec = LineDecoder(n_channels=2, counter=True)
    assert dec.feed(b"".join(encode(s) for s in counted)) == counted
    assert dec.stats.samples == 2 and dec.stats.leads_off == 1


@pytest.mark.parametrize("cut", [1, 3, 7, 1000])
def test_lines_split_anywhere_decode_the_same(cut):
    stream = b"".join(encode(Sample((i, -i), counter=i)) for i in range(200)).replace(
        b"\n", b"\r\n"
    )
    dec = LineDecoder(n_channels=2, counter=True)
    got = []
    for i in range(0, len(stream), cut):
        got += dec.feed(stream[i : i + cut])
    assert [s.counter for s in got] == list(range(200))
    assert dec.stats.bad() == 0


def test_garbage_is_counted_and_skipped_never_raised():
    dec = LineDecoder(n_channels=2)
    lines = [b"abc\n", b"512,\n", b"1,2,3\n", b"12.5,3\n", b"--5,4\n", b",\n", b"512,498\n"]
    got = dec.feed(b"".join(lines))
    assert got == [Sample((512, 498))]
    assert dec.stats.garbage == 6 and dec.stats.samples == 1


def test_bytes_that_are_not_text_and_a_wrong_baud_rate():
    dec = LineDecoder(n_channels=1)
    rng = np.random.default_rng(0)
    noise = bytes(
        rng.integers(0, 256, 5000, dtype=np.uint8)
    )  # what 9600 baud read at 115200 looks like
    got = dec.feed(noise + b"\n100\n101\n")
    assert got[-2:] == [Sample((100,)), Sample((101,))]
    assert dec.stats.bad() > 0
    assert len(dec._buffer) <= dec.max_line


def test_an_overlong_line_is_dropped_whole_and_memory_stays_bounded():
    dec = LineDecoder(n_channels=1, max_line=32)
    for _ in range(100):
        assert dec.feed(b"7" * 1000) == []
        assert len(dec._buffer) <= 32
    assert dec.feed(b"\n42\n") == [Sample((42,))]
    assert dec.stats.overlong == 1


def test_counter_gaps_are_lost_samples_and_wrap_is_not():
    dec = LineDecoder(n_channels=1, counter=True, counter_modulo=256)
    asm = SampleAssembler(1, 1.0, 0, counter_modulo=256)
    for c in [250, 251, 252, 255, 0, 1, 4]:
        asm.assemble(dec.feed(encode(Sample((1,), counter=c))))
    assert asm.stats.lost == 2 + 2  # 253, 254 and 2, 3; 255 -> 0 is the wrap


def test_through_a_real_pyserial_port():
    port = serial.serial_for_url("loop://", timeout=0.1)
    sent = [Sample((500 + i,), counter=i) for i in range(50)]
    for s in sent:
        port.write(encode(s))
    dec = LineDecoder(n_channels=1, counter=True)
    got = []
    while len(got) < len(sent):
        chunk = port.read(64)
        assert chunk, "the loop port went quiet"
        got += dec.feed(chunk)
    port.close()
    assert got == sent


def test_a_damaged_line_with_a_counter_does_not_fake_a_gap():
    dec = LineDecoder(1, counter=True)
    dec.feed(b"7,500\n8,501\n")
    dec.feed(b"12,abc\n")  # garbage whose first field happens to be a number
    dec.feed(b"9,502\n")
    assert dec.stats.garbage == 1


@given(st.lists(st.binary(max_size=200), max_size=30), st.booleans(), st.integers(1, 3))
@settings(max_examples=300, deadline=None)
def test_any_bytes_in_any_pieces_never_crash_and_are_accounted_for(pieces, counter, channels):
    dec = LineDecoder(channels, counter=counter, max_line=64)
    got = []
    for piece in pieces:
        got += dec.feed(piece)
    s = dec.stats
    assert s.samples + s.leads_off == len(got)
    assert s.bytes == sum(len(p) for p in pieces)
    assert len(dec._buffer) <= dec.max_line  # bounded, whatever arrives
    for sample in got:
        assert sample.values is None or len(sample.values) == channels
