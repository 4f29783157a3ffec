"""Serial samples to blocks: millivolts, leads-off rows, invalid rows for lost or stalled time,
with the counter weighed against the wall clock."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.recorder import INVALID
from edge_monitor.serial_feed import LinkTiming, SampleAssembler
from edge_monitor.wire import LineDecoder, Sample

FS = 250.0


def assembler(**timing) -> SampleAssembler:
    return SampleAssembler(1, 341.3, 512, adc_bits=10, timing=LinkTiming(FS, **timing))


def test_counter_gaps_become_invalid_rows_and_mv_is_scaled():
    asm = SampleAssembler(1, adc_gain=200.0, baseline=1024, adc_bits=11)
    block = asm.assemble(
        [Sample((1224,), 7), Sample((1024,), 8), Sample(None, 9), Sample((824,), 12)]
    )
    assert block.filled == 2 and asm.filled == 2 and asm.stats.lost == 2
    assert block.adc[:, 0].tolist() == [1224, 1024, INVALID, INVALID, INVALID, 824]
    assert block.leads_off.tolist() == [False, False, True, False, False, False]
    assert block.missing.tolist() == [False, False, False, True, True, False]
    assert np.allclose(block.mv[[0, 1, 5], 0], [1.0, 0.0, -1.0])
    assert np.isnan(block.mv[2:5, 0]).all()
    # the counter wraps without a false gap
    asm2 = SampleAssembler(1, 200.0, 1024, counter_modulo=16)
    assert asm2.assemble([Sample((1,), 15), Sample((1,), 0)]).filled == 0


def test_values_outside_the_adc_range_are_bad_samples_never_clipped_or_overflowing():
    asm = assembler()
    values = [-5, 1024, 99999, 2147483648, 9999999999, -40000, 512, 0, 1023]
    block = asm.assemble([Sample((v,)) for v in values], now=0.0)
    assert block.adc[:, 0].tolist() == [INVALID] * 6 + [512, 0, 1023]
    assert block.bad.tolist() == [True] * 6 + [False] * 3 and not block.missing.any()
    assert asm.stats.out_of_range == 6


def test_a_counter_gap_the_wall_clock_cannot_explain_is_a_reset_not_a_loss():
    asm = assembler()
    asm.assemble([Sample((512,), 0)], now=0.0)
    # 100 lines each claiming +32,767, arriving within a millisecond
    lines = [Sample((512,), (1 + 32767 * k) % 65536) for k in range(1, 101)]
    block = asm.assemble(lines, now=0.001)
    assert len(block.adc) == 100 and asm.stats.lost == 0 and asm.stats.resets == 100


def test_a_gap_the_silence_explains_is_filled_exactly():
    asm = assembler()
    asm.assemble([Sample((512,), c) for c in range(10)], now=0.0)
    # 2 s of silence, then the counter says 500 samples were lost on the way
    block = asm.assemble([Sample((512,), 510)], now=2.0)
    assert asm.stats.lost == 500 and block.missing.sum() == 500 and len(block.adc) == 501


def test_a_counter_reset_after_a_reboot_invents_no_time():
    asm = assembler()
    asm.assemble([Sample((512,), c) for c in range(40000, 40100)], now=0.0)
    block = asm.assemble([Sample((512,), c) for c in range(0, 50)], now=0.3)  # the board rebooted
    assert asm.stats.lost == 0 and asm.stats.resets == 1 and len(block.adc) == 50
    # and backwards
    asm.assemble([Sample((512,), c) for c in range(20000, 20010)], now=0.6)
    asm.assemble([Sample((512,), c) for c in range(5, 10)], now=0.7)
    assert asm.stats.lost == 0 and asm.stats.resets == 3


def test_a_late_line_is_dropped_not_added_as_time():
    asm = assembler()
    asm.assemble([Sample((512,), c) for c in range(100)], now=0.0)
    block = asm.assemble([Sample((512,), 97), Sample((512,), 100)], now=0.01)
    assert len(block.adc) == 1 and asm.stats.late == 1


def test_a_stall_without_counter_becomes_invalid_rows_of_its_wall_clock_length():
    asm = assembler(stall_s=1.0)
    asm.start(0.0)
    assert not asm.stalled(0.5) and asm.stalled(1.0)  # silent from the open: no signal
    asm.assemble([Sample((512,))] * 25, now=0.1)
    assert not asm.stalled(1.0) and asm.stalled(1.1)
    assert abs(asm.lag_s(8.1) - (8.1 - 25 / FS)) < 1e-9  # since the open: the lag grows
    block = asm.assemble([Sample((512,))] * 25, now=8.1)  # 8 s later the board speaks again
    assert block.missing.sum() == 8 * 250 - 25 and asm.stats.stalled == 8 * 250 - 25
    assert asm.lag_s(8.1) < 0.2  # true time again: the lag is back near 0


def test_a_short_pause_of_the_link_fills_nothing():
    asm = assembler(stall_s=1.0)
    asm.assemble([Sample((512,))] * 25, now=0.0)
    block = asm.assemble([Sample((512,))] * 25, now=0.5)
    assert block.filled == 0 and not block.missing.any()


def test_a_stalled_board_that_buffered_sends_its_backlog_which_is_caught_up():
    asm = assembler(stall_s=1.0)
    asm.assemble([Sample((512,), c) for c in range(250)], now=1.0)
    # 3 s of silence, then all 750 samples of it arrive with contiguous counters
    block = asm.assemble([Sample((512,), c) for c in range(250, 1000)], now=4.0)
    assert block.filled == 0 and len(block.adc) == 750 and asm.stats.late == 0
    assert asm.lag_s(4.0) < 0.01


@given(
    st.lists(
        st.tuples(st.binary(max_size=120), st.floats(0, 3, allow_nan=False)),
        max_size=25,
    ),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_any_bytes_at_any_pace_through_decoder_and_assembler_never_crash(pieces, counter):
    """The fuzz test of the live input path: whatever arrives, no exception, shapes hold, every
    row is a valid ADC value or INVALID, and counter gaps never exceed the wall clock's
    allowance (plus one slack per read)."""
    dec = LineDecoder(1, counter=counter)
    asm = assembler(stall_s=1.0)
    now = 0.0
    asm.start(now)
    for data, dt in pieces:
        now += dt
        block = asm.assemble(dec.feed(data), now=now)
        n = len(block.adc)
        assert block.mv.shape == (n, 1) and block.leads_off.shape == (n,)
        valid = block.adc[:, 0] != INVALID
        assert ((block.adc[valid, 0] >= 0) & (block.adc[valid, 0] <= 1023)).all()
        assert np.isnan(block.mv[~valid, 0]).all()
    t = asm.timing
    allowance = now * FS * (1 + t.rate_tolerance) + (len(pieces) + 1) * t.slack_s * FS
    assert asm.filled <= allowance


def test_silence_before_the_first_sample_and_at_the_stop_is_recorded_as_time():
    asm = assembler(stall_s=1.0)
    asm.start(10.0)
    block = asm.assemble([Sample((512,))] * 25, now=13.0)  # the board spoke 3 s after the open
    assert block.missing[: 3 * 250 - 25].all() and len(block.adc) == 3 * 250
    tail = asm.close(20.0)  # then hung for 7 s until Ctrl-C
    assert len(tail.adc) == 7 * 250 and tail.missing.all() and asm.stats.stalls == 2
    assert asm._rows == 10 * 250  # the open-to-stop wall time, in samples
    assert len(asm.close(20.5).adc) == 0  # a short silence at the stop is no stall
