import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.dsp import (
    FilterSpec,
    StreamFilter,
    StreamResampler,
    design_sos,
    filter_record,
    resample_record,
    window_starts,
)
from edge_monitor.errors import InputError


def chunks(x: np.ndarray, sizes: list[int]):
    start, k = 0, 0
    while start < len(x):
        n = sizes[k % len(sizes)]
        yield x[start : start + n]
        start, k = start + n, k + 1


@pytest.mark.parametrize("sizes", [[1], [7, 300, 1, 64], [5000]])
def test_chunked_filtering_equals_one_shot(sizes):
    rng = np.random.default_rng(0)
    x = (
        rng.normal(size=(3000, 2)) + 1.5
    )  # an offset: the steady-state start must not depend on chunks
    spec = FilterSpec(notch_hz=60.0)
    stream = StreamFilter(design_sos(spec, 360.0), 2)
    chunked = np.vstack([stream(c) for c in chunks(x, sizes)])
    # block matrix products round differently from one chunking to another: 1e-12 mV, not more
    np.testing.assert_allclose(chunked, filter_record(x, 360.0, spec), rtol=0, atol=1e-9)


def test_band_pass_keeps_the_qrs_band_and_removes_wander_and_mains():
    fs = 360.0
    t = np.arange(int(30 * fs)) / fs
    spec = FilterSpec(low_hz=0.5, high_hz=40.0, notch_hz=60.0)

    def gain(freq: float) -> float:
        y = filter_record(np.sin(2 * np.pi * freq * t), fs, spec)[int(10 * fs) :, 0]
        return float(np.sqrt(2) * y.std())

    assert 0.9 < gain(10.0) < 1.1
    assert gain(0.05) < 0.05  # baseline wander
    assert gain(60.0) < 0.05  # mains


def test_notch_above_nyquist_is_left_out():
    assert (
        design_sos(FilterSpec(notch_hz=50.0), 100.0).shape[0]
        == design_sos(FilterSpec(), 100.0).shape[0]
    )


def test_a_notch_too_wide_for_the_rate_is_an_input_error():
    spec = FilterSpec(0.5, 40.0, 2, notch_hz=50.0, notch_q=0.5)
    with pytest.raises(InputError, match="cannot be made at 150 Hz"):
        design_sos(spec, 150.0)
    assert design_sos(spec, 250.0).shape == (3, 6)


def test_bad_band_is_an_input_error():
    with pytest.raises(InputError):
        design_sos(FilterSpec(low_hz=40.0, high_hz=0.5), 360.0)


@pytest.mark.parametrize(
    ("fs_in", "fs_out"), [(360.0, 180.0), (250.0, 180.0), (500.0, 360.0), (100.0, 250.0)]
)
@pytest.mark.parametrize("sizes", [[1], [13, 400, 2], [100000]])
def test_chunked_resampling_equals_one_shot(fs_in, fs_out, sizes):
    x = np.random.default_rng(1).normal(size=(4000, 1))
    stream = StreamResampler(fs_in, fs_out, 1)
    chunked = np.vstack([stream(c) for c in chunks(x, sizes)])
    np.testing.assert_allclose(chunked, resample_record(x, fs_in, fs_out), atol=1e-12)


def test_integer_down_factor_is_plain_decimation():
    x = np.random.default_rng(2).normal(size=(1000, 2))
    np.testing.assert_array_equal(resample_record(x, 360.0, 180.0), x[::2])


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([(360.0, 180.0), (250.0, 125.0), (1000.0, 250.0), (500.0, 250.0)]),
    st.lists(st.integers(1, 700), min_size=1, max_size=12),
    st.lists(st.integers(0, 2999), max_size=3),
)
def test_decimation_shortcut_gives_the_interpolations_samples(rates, sizes, holes):
    """An integer step takes every k-th sample instead of interpolating with weights 1 and 0:
    the same samples, in whatever chunks; a chunk holding a NaN goes the general way."""
    x = np.random.default_rng(3).normal(size=(3000, 2))
    x[holes] = np.nan
    fast, general = StreamResampler(*rates, 2), StreamResampler(*rates, 2)
    general._every = 0  # the interpolation for every chunk
    got = np.vstack([fast(c) for c in chunks(x, sizes)])
    want = np.vstack([general(c) for c in chunks(x, sizes)])
    np.testing.assert_array_equal(got, want)
    assert fast._next_pos == general._next_pos and fast._consumed == general._consumed


def test_resampling_keeps_a_band_limited_sine():
    fs_in, fs_out, f = 250.0, 180.0, 8.0
    t_in = np.arange(2500) / fs_in
    y = resample_record(np.sin(2 * np.pi * f * t_in), fs_in, fs_out)[:, 0]
    t_out = np.arange(len(y)) / fs_out
    assert len(y) == int(np.floor((2500 - 1) * fs_out / fs_in)) + 1
    assert np.max(np.abs(y - np.sin(2 * np.pi * f * t_out))) < 0.05


def test_window_starts_cover_the_record_to_its_end():
    assert window_starts(1000, 250, 125) == [0, 125, 250, 375, 500, 625, 750]
    assert window_starts(1000, 300, 125) == [0, 125, 250, 375, 500, 625, 700]
    assert window_starts(200, 250, 125) == [0]


@given(
    st.lists(st.tuples(st.integers(-3, 3), st.integers(1, 30)), min_size=1, max_size=30),
    st.lists(st.integers(1, 50), min_size=1, max_size=20),
)
def test_still_runs_mark_a_repeated_value_from_its_min_length_on_whatever_the_chunks(runs, cuts):
    from edge_monitor.dsp import StillRuns

    x = np.concatenate([np.full(n, float(v)) for v, n in runs])
    whole = StillRuns(8)(x)
    change = np.r_[True, x[1:] != x[:-1]]
    began = np.maximum.accumulate(np.where(change, np.arange(len(x)), 0))
    np.testing.assert_array_equal(whole, np.arange(len(x)) - began >= 8)
    still, parts, at = StillRuns(8), [], 0
    for n in cuts * (len(x) // sum(cuts) + 1):
        parts.append(still(x[at : at + n]))
        at += n
    np.testing.assert_array_equal(np.concatenate(parts)[: len(x)], whole)


def test_mask_runs_are_half_open_and_numbered_from_the_offset():
    from edge_monitor.dsp import mask_runs

    assert mask_runs(np.array([0, 1, 1, 0, 1], bool), 10) == [(11, 13), (14, 15)]
    assert mask_runs(np.ones(3, bool)) == [(0, 3)] and mask_runs(np.zeros(0, bool)) == []
