import numpy as np

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
