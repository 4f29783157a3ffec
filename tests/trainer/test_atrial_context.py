"""The atrial coherence context feature (trainer.atrial_context): one repeating wave reads 1,
unrelated waves about 1/n, records never mix, and it agrees with edge_monitor/af.py's measure."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.af import coherence
from edge_monitor.beats import BeatSpec
from trainer.atrial_context import P_FROM_S, P_TO_S, p_coherence

SPEC = BeatSpec()


def _windows(stretch_rows: np.ndarray) -> np.ndarray:
    """Beat windows whose atrial stretch holds the given rows (the rest of the window noise)."""
    a = SPEC.before - int(round(P_FROM_S * SPEC.fs))
    b = SPEC.before - int(round(P_TO_S * SPEC.fs))
    rng = np.random.default_rng(1)
    w = rng.normal(size=(len(stretch_rows), SPEC.length)).astype(np.float32)
    w[:, a:b] = stretch_rows[:, : b - a]
    return w


def test_a_repeating_wave_reads_one_and_unrelated_waves_about_one_over_n():
    n, length = 64, 60
    wave = np.sin(np.linspace(0, 3 * np.pi, length))
    same = p_coherence(_windows(np.tile(wave, (n, 1))), np.full(n, "r"), SPEC, beats=16)
    assert np.allclose(same, 1.0, atol=1e-5)
    noise = np.random.default_rng(0).normal(size=(n, length))
    unrelated = p_coherence(_windows(noise), np.full(n, "r"), SPEC, beats=16)
    assert unrelated[0] == 1.0  # one beat agrees with itself
    assert 0.0 < np.median(unrelated[16:]) < 3 / 16


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 40), st.integers(1, 12), st.integers(0, 2**16))
def test_each_beat_reads_the_last_beats_of_its_own_record_as_af_py_does(n, beats, seed):
    rng = np.random.default_rng(seed)
    rows = rng.normal(size=(2 * n, 60))
    windows = _windows(rows)
    groups = np.repeat(["a", "b"], n)
    got = p_coherence(windows, groups, SPEC, beats=beats)
    a = SPEC.before - int(round(P_FROM_S * SPEC.fs))
    b = SPEC.before - int(round(P_TO_S * SPEC.fs))
    for i in range(2 * n):
        first = (i // n) * n  # the record's first row
        lo = max(first, i - beats + 1)
        want = coherence(windows[lo : i + 1, a:b].astype(np.float64))
        assert abs(got[i] - want) < 1e-4
