"""beats.median must be np.median to the bit: the trainer and the device share it, and a model
trained on one median and run on another would see shifted beats."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge_monitor.beats import median

SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-45, 3.4e38, -3.4e38, np.nan])


def floats(dtype) -> st.SearchStrategy:
    width = 32 if dtype == np.float32 else 64
    plain = st.floats(allow_nan=False, allow_infinity=True, width=width)
    return st.one_of(plain, SPECIAL, st.integers(-3, 3).map(float))  # ties and signed zeros


def same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=200, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_median_of_a_vector_is_np_median_to_the_bit(data, dtype):
    n = data.draw(st.integers(1, 200), label="length (even and odd)")
    x = data.draw(hnp.arrays(dtype, n, elements=floats(dtype)))
    with np.errstate(all="ignore"):
        assert same(median(x), np.median(x))


@settings(max_examples=80, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_median_along_axis_0_is_np_median_to_the_bit(data, dtype):
    shape = data.draw(st.tuples(st.integers(1, 17), st.integers(1, 40)), label="shape")
    x = data.draw(hnp.arrays(dtype, shape, elements=floats(dtype)))
    with np.errstate(all="ignore"):
        assert same(median(x, axis=0), np.median(x, axis=0))


def test_median_answers_nan_like_np_median():
    x = np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]], np.float32)
    assert same(median(x, axis=0), np.median(x, axis=0))
    assert np.isnan(median(x[:, 1]))
