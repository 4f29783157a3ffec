"""The quality gate's means skip np.mean's dispatch (a dozen a second): they must stay np.mean to
the bit, or a segment on a threshold could be graded differently."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_monitor.quality import _mean, kurtosis


def numpy_kurtosis(x: np.ndarray) -> float:
    """The gate's kurtosis as written with np.mean."""
    d = x - x.mean()
    d2 = d * d
    var = float(np.mean(d2))
    return float(np.mean(d2 * d2) / (var * var)) if var > 1e-12 else 0.0


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(1, 3000), elements=st.floats(-50, 50)))
def test_means_and_kurtosis_are_numpys_to_the_bit(x):
    assert _mean(x) == float(np.mean(x))
    assert _mean(x * x) == float(np.mean(x * x))
    assert kurtosis(x) == numpy_kurtosis(x)
