"""The beat recipe the trainer and the device share (edge_monitor/beat_recipe.py)."""

import numpy as np

from edge_monitor.beat_recipe import BeatRecipe
from edge_monitor.beats import BeatSpec
from edge_monitor.dsp import FilterSpec

RECIPE = BeatRecipe(FilterSpec(0.5, 40.0), BeatSpec())


def beats_at(fs: float, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    peaks = (np.cumsum(rng.uniform(0.6, 1.0, n)) * fs).astype(int) + int(fs)
    x = rng.normal(0, 0.02, peaks[-1] + int(2 * fs))
    for p in peaks:
        x[p - 3 : p + 4] += np.hanning(7)
    return x, peaks


def test_missing_samples_in_a_whole_record_hold_the_last_value_as_the_device_does():
    """One NaN sample reached some thirty beats' windows through the running amplitude median
    (a database a user points the trainer at may hold invalid samples)."""
    fs = 360.0
    x, peaks = beats_at(fs, 60)
    holed = x.copy()
    holed[int(20 * fs)] = np.nan
    holed[int(30 * fs) : int(30.5 * fs)] = np.nan
    held = x.copy()
    held[int(20 * fs)] = held[int(20 * fs) - 1]
    held[int(30 * fs) : int(30.5 * fs)] = held[int(30 * fs) - 1]
    got = RECIPE.record_contexts(holed, fs, peaks)
    assert all(np.isfinite(a).all() for a in got)
    for a, b in zip(got, RECIPE.record_contexts(held, fs, peaks), strict=True):
        np.testing.assert_array_equal(a, b)
