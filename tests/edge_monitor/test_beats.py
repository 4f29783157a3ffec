import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.beats import RR_FEATURES, BeatContextBuilder, BeatSpec, beat_contexts


def synthetic_beats(rr_s: list[float], fs: float) -> tuple[np.ndarray, np.ndarray]:
    peaks = (np.cumsum([1.0] + rr_s) * fs).astype(int)
    x = np.zeros(peaks[-1] + int(2 * fs))
    for p in peaks:
        x[p - 3 : p + 4] += np.hanning(7)
    return x, peaks


def test_streaming_builder_equals_whole_record():
    spec = BeatSpec()
    x, peaks = synthetic_beats([0.8] * 10 + [0.5, 1.1] + [0.8] * 10, spec.fs)
    windows, templates, rr = beat_contexts(x, peaks, spec)
    builder = BeatContextBuilder(spec)
    streamed = [builder.push(p, x) for p in peaks]
    streamed = [c for c in streamed if c is not None]
    assert len(streamed) == len(peaks) - 1
    for k, ctx in enumerate(streamed):
        assert ctx.r_index == peaks[k]
        np.testing.assert_array_equal(ctx.window, windows[k])
        np.testing.assert_array_equal(ctx.template, templates[k])
        np.testing.assert_array_equal(ctx.rr, rr[k])


def test_premature_beat_is_early_against_the_local_rhythm():
    spec = BeatSpec()
    x, peaks = synthetic_beats([0.8] * 12 + [0.5, 1.1] + [0.8] * 5, spec.fs)
    _, _, rr = beat_contexts(x, peaks, spec)
    premature = 13  # its pre-RR is the 0.5 s interval
    f = dict(zip(RR_FEATURES, rr[premature], strict=True))
    assert f["pre_rr_local"] < 0.7 and f["post_rr_local"] > 1.2
    assert f["pre_rr_long"] < 0.7 and f["local_rr_cv"] > 0.05
    normal = dict(zip(RR_FEATURES, rr[8], strict=True))
    assert abs(normal["pre_rr_local"] - 1.0) < 0.02


def test_window_is_centred_on_the_r_peak_and_scaled_by_qrs_amplitude():
    spec = BeatSpec()
    x, peaks = synthetic_beats([0.8] * 6, spec.fs)
    windows, _, _ = beat_contexts(3.0 * x, peaks, spec)
    assert windows.shape == (len(peaks), spec.length)
    assert int(np.argmax(windows[3])) == spec.before
    assert abs(windows[3].max() - 1.0) < 0.05  # amplitude 3 divided by the running QRS size 3


def test_no_beats_gives_empty_arrays():
    w, _, rr = beat_contexts(np.zeros(1000), np.array([], dtype=int), BeatSpec())
    assert w.shape == (0, BeatSpec().length) and rr.shape == (0, len(RR_FEATURES))


def test_template_is_the_dominant_beat_not_the_ectopic_one():
    spec = BeatSpec()
    x, peaks = synthetic_beats([0.8] * 20, spec.fs)
    ectopic = peaks[15]
    x[ectopic - 10 : ectopic + 11] -= 2 * np.hanning(21)  # a wide, inverted beat
    windows, templates, _ = beat_contexts(x, peaks, spec)
    assert np.abs(windows[15] - templates[15]).max() > 1.0  # differs from this patient's template
    assert np.abs(windows[14] - templates[14]).max() < 0.05
    assert np.abs(templates[16] - templates[14]).max() < 0.05  # one odd beat does not move it


def _regular_with_break(rr: float, before: int, after: int, gap_s: float, fs: float):
    pre = [int(round(fs * (1 + k * rr))) for k in range(before)]
    t0 = pre[-1] + int(round(gap_s * fs))
    post = [t0 + int(round(fs * k * rr)) for k in range(after)]
    x = np.zeros(post[-1] + int(2 * fs))
    for p in pre + post:
        x[p - 3 : p + 4] += np.hanning(7)
    return x, pre, post


@settings(max_examples=40, deadline=None)
@given(
    rr=st.floats(0.4, 1.5),
    before=st.integers(1, 40),
    after=st.integers(2, 40),
    gap_s=st.floats(2.0, 600.0),
)
def test_no_rr_interval_spans_a_break_in_the_signal(rr, before, after, gap_s):
    """A regular rhythm broken by leads off: every beat reads as regular as before the break
    (the interval across a 30 s break made beats premature for minutes: PAC warnings)."""
    spec = BeatSpec()
    x, pre, post = _regular_with_break(rr, before, after, gap_s, spec.fs)
    builder = BeatContextBuilder(spec)
    out = [builder.push(p, x) for p in pre]
    out.append(builder.break_rhythm(x))
    out += [builder.push(p, x) for p in post]
    contexts = [c for c in out if c is not None]
    assert [c.r_index for c in contexts] == pre + post[:-1]  # each beat once, in order
    regular = np.array([1, 1, 1, 1, 1, 0, 0], np.float32)
    for c in contexts:
        np.testing.assert_allclose(c.rr, regular, atol=0.03)
    spanned = BeatContextBuilder(spec)  # the interval across the break taken as an RR
    old = [spanned.push(p, x) for p in pre + post]
    assert any(np.abs(c.rr - regular).max() > 0.03 for c in old if c is not None)


def test_after_a_break_the_beats_start_as_a_record_does():
    spec = BeatSpec()
    x, pre, post = _regular_with_break(0.8, 12, 10, 5.0, spec.fs)
    builder = BeatContextBuilder(spec)
    for p in pre:
        builder.push(p, x)
    assert builder.break_rhythm(x).r_index == pre[-1]
    fresh = BeatContextBuilder(spec)
    for p in post:
        a, b = builder.push(p, x), fresh.push(p, x)
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_array_equal(a.window, b.window)
            np.testing.assert_array_equal(a.template, b.template)
            np.testing.assert_array_equal(a.rr, b.rr)
    assert BeatContextBuilder(spec).break_rhythm(x) is None  # nothing held: nothing to close
