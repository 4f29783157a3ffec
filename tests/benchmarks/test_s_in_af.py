"""benchmarks/s_in_af.py's dominant-cycle rule: a sinus cycle with ectopy keeps one, AF has none,
and the measure reads only the past."""

import importlib.util
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

SPEC = importlib.util.spec_from_file_location(
    "s_in_af", Path(__file__).parents[2] / "benchmarks" / "s_in_af.py"
)
s_in_af = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(s_in_af)


def _samples(rr: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(rr)]).astype(np.int64)


def test_sinus_with_premature_beats_keeps_a_dominant_cycle_af_has_none():
    rng = np.random.default_rng(0)
    sinus = np.full(200, 300)  # 360 Hz, 72 bpm
    sinus[::4] = 200  # every fourth beat premature, then a longer interval
    sinus[1::4] = 380
    af = rng.uniform(150, 450, 200).round()
    d_sinus = s_in_af.dominance(_samples(sinus), 32, 0.05)
    d_af = s_in_af.dominance(_samples(af), 32, 0.05)
    assert np.median(d_sinus[40:]) >= 0.45  # the sinus intervals: half of them
    assert np.median(d_af[40:]) < 0.3  # the pre-registered m: AF's S would read N
    assert np.all(s_in_af.dominance(_samples(np.full(50, 250)), 32, 0.05) == 1.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(40, 2000), min_size=8, max_size=80),
    st.integers(0, 79),
    st.integers(40, 2000),
)
def test_dominance_is_causal_and_a_share(rr, cut, new_rr):
    """Changing an interval changes no beat's dominance before the interval's end beat + 1 (a beat's
    own pre-RR is left out); every value is a share in (0, 1]."""
    rr = np.array(rr)
    cut = cut % len(rr)
    changed = rr.copy()
    changed[cut] = new_rr
    a = s_in_af.dominance(_samples(rr), 32, 0.05)
    b = s_in_af.dominance(_samples(changed), 32, 0.05)
    assert np.array_equal(a[: cut + 2], b[: cut + 2])
    assert np.all((a > 0) & (a <= 1))
