"""Reading every lead with its dominant QRS upright (`BeatSpec.upright`)."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_monitor.beats import (
    UPRIGHT_SHARE,
    BeatContextBuilder,
    BeatSpec,
    beat_contexts,
    upright_polarity,
)

UPRIGHT = BeatSpec(upright=True)


def ecg_like(seed: int, n_beats: int, fs: float, down_share: float) -> tuple[np.ndarray, list[int]]:
    """Beats with a positive or a negative dominant deflection, an odd beat of the other sign,
    a T wave, baseline noise: enough shape that the template decides the sign."""
    rng = np.random.default_rng(seed)
    rr = rng.uniform(0.5, 1.2, n_beats)
    peaks = (np.cumsum(np.r_[1.0, rr]) * fs).astype(int)
    x = rng.normal(0, 0.02, peaks[-1] + int(2 * fs))
    sign = -1.0 if rng.random() < down_share else 1.0
    for p in peaks:
        odd = rng.random() < 0.15
        s = -sign if odd else sign
        width = 10 if odd else 3
        x[p - width : p + width + 1] += s * rng.uniform(0.8, 1.2) * np.hanning(2 * width + 1)
        x[p + 20 : p + 41] += 0.2 * sign * np.hanning(21)
    return x, [int(p) for p in peaks]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_beats=st.integers(1, 60), down=st.floats(0, 1))
def test_a_lead_and_its_negation_reach_the_model_alike(seed, n_beats, down):
    """Swapped electrodes change nothing the model sees; the sign is the only difference."""
    x, peaks = ecg_like(seed, n_beats, UPRIGHT.fs, down)
    up = beat_contexts(x, np.array(peaks), UPRIGHT)
    inverted = beat_contexts(-x, np.array(peaks), UPRIGHT)
    for a, b in zip(up, inverted, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_mostly_negative_lead_is_turned_and_an_upright_one_is_not():
    spec = UPRIGHT
    for down in (0.0, 1.0):
        x, peaks = ecg_like(3, 40, spec.fs, down)
        dominant = -1.0 if down else 1.0
        builder = BeatContextBuilder(spec)
        contexts = [c for c in (builder.push(p, x) for p in peaks) if c is not None]
        later = contexts[5:]  # once the template holds the dominant beat
        assert {c.polarity for c in later} == {dominant}
        assert all(c.template[spec.before] > 0 for c in later)
        # the model sees it upright; the beat as recorded is polarity times what it sees
        plain = beat_contexts(x, np.array(peaks), BeatSpec())[0]
        for k, c in enumerate(contexts):
            np.testing.assert_array_equal(c.window * c.polarity, plain[k])


def test_off_reads_as_recorded_and_keeps_the_old_contract_and_cache_key():
    """Bundles and data caches made before the field: the same dict, the same contexts."""
    assert "upright" not in BeatSpec().as_dict()
    assert UPRIGHT.as_dict()["upright"] is True
    x, peaks = ecg_like(5, 30, BeatSpec().fs, 1.0)
    builder = BeatContextBuilder(BeatSpec())
    assert all(c.polarity == 1.0 for c in (builder.push(p, -x) for p in peaks) if c is not None)


def test_a_biphasic_beat_never_turns_the_lead_back_and_forth():
    before = 10
    template = np.zeros(30, np.float32)
    template[before], template[before + 3] = 1.0, -0.9  # R and S of about the same size
    assert template[before] < UPRIGHT_SHARE * np.ptp(template)
    assert upright_polarity(template, before, 0.0) == 1.0  # undecided: the R sample's sign
    assert upright_polarity(template, before, -1.0) == -1.0  # decided: kept
    assert upright_polarity(-template, before, 0.0) == -1.0
    clear = np.zeros(30, np.float32)
    clear[before] = -1.0
    assert upright_polarity(clear, before, 1.0) == -1.0


def biphasic(n_beats: int, fs: float, sign: float = 1.0) -> tuple[np.ndarray, list[int]]:
    """R and S of about the same size: the R sample's sign, never the 0.6 share, decides."""
    x = np.zeros(int((n_beats * 0.8 + 3) * fs))
    peaks = [int(fs * (1 + 0.8 * k)) for k in range(n_beats)]
    for p in peaks:
        x[p - 2 : p + 3] += sign * np.hanning(5)
        x[p + 2 : p + 7] -= sign * 0.9 * np.hanning(5)
    return x, peaks


@pytest.mark.parametrize("gap_s", [3.0, 30.0])
def test_after_a_gap_the_sign_is_decided_again(gap_s):
    """Electrodes put back the other way round during leads off: the lead is decided anew, as
    at a record's start (a biphasic lead after the gap keeps whatever sign it is given, so a
    builder that remembered the sign from before the gap would read it turned)."""
    spec = UPRIGHT
    x, peaks = ecg_like(11, 30, spec.fs, 1.0)  # QRS down: decided -1
    y, later = biphasic(30, spec.fs)
    shift = len(x) + int(gap_s * spec.fs)
    signal = np.concatenate([x, np.zeros(shift - len(x)), y])
    builder = BeatContextBuilder(spec)
    first = [c for c in (builder.push(p, signal) for p in peaks) if c is not None]
    builder.break_rhythm(signal)
    second = [c for c in (builder.push(p + shift, signal) for p in later) if c is not None]
    assert first[-1].polarity == -1.0 and {c.polarity for c in second} == {1.0}
    fresh = BeatContextBuilder(replace(spec))
    again = [c for c in (fresh.push(p + shift, signal) for p in later) if c is not None]
    for a, b in zip(second, again, strict=True):
        np.testing.assert_array_equal(a.window, b.window)


def test_a_first_beat_of_the_other_sign_is_outvoted_by_the_dominant_beats():
    """The first beat decides alone (it is its own template); once the template holds the
    patient's dominant beat, the lead turns to it."""
    spec = UPRIGHT
    x, peaks = ecg_like(2, 40, spec.fs, 0.0)
    p = peaks[0]
    x[p - 12 : p + 13] = -1.5 * np.hanning(25)  # a wide, inverted first beat
    builder = BeatContextBuilder(spec)
    contexts = [c for c in (builder.push(r, x) for r in peaks) if c is not None]
    assert contexts[0].polarity == -1.0 and contexts[-1].polarity == 1.0
    assert all(c.polarity == 1.0 for c in contexts[10:])


def test_flat_stretches_decide_nothing_in_either_polarity():
    """Digital zeros (a flat lead, a template of zeros) neither decide nor turn the lead, so a
    lead and its negation still read alike after them."""
    spec = UPRIGHT
    flat = np.zeros(40, np.float32)
    assert upright_polarity(flat, 10, 0.0) == 0.0
    assert upright_polarity(flat, 10, 1.0) == 1.0 and upright_polarity(flat, 10, -1.0) == -1.0
    x, peaks = biphasic(40, spec.fs)
    x[peaks[0] - 60 : peaks[12]] = 0.0  # beats on a flat start
    x[peaks[20] - 60 : peaks[30] + 60] = 0.0  # and a flat stretch later
    up = beat_contexts(x, np.array(peaks), spec)
    for a, b in zip(up, beat_contexts(-x, np.array(peaks), spec), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_biphasic_lead_and_its_negation_read_alike():
    """Where neither deflection dominates, the first beat decides in both polarities (a fixed
    starting sign would read the lead as recorded one way and turned the other)."""
    spec = UPRIGHT
    x = np.zeros(int(30 * spec.fs))
    peaks = [int(spec.fs * (1 + 0.8 * k)) for k in range(30)]
    for p in peaks:
        x[p - 2 : p + 3] += np.hanning(5)
        x[p + 2 : p + 7] -= 0.9 * np.hanning(5)
    up = beat_contexts(x, np.array(peaks), spec)
    np.testing.assert_array_equal(up[0], beat_contexts(-x, np.array(peaks), spec)[0])
    assert up[0][10][spec.before] > 0


def test_on_the_device_a_swapped_lead_gives_the_same_beats_and_is_still_named(sample_record):
    """A bundle whose contract says upright (the embedded model's weights, for the plumbing):
    the record and its negation give the same beat labels and probabilities through the whole
    stream (detector, quality gate, context), and the verdict's note still sees the lead as
    recorded."""
    import wfdb

    from edge_monitor.bundle import embedded_bundle, load_bundle
    from edge_monitor.events import BeatEvent
    from edge_monitor.pipeline import Monitor

    bundle = load_bundle(embedded_bundle("arrhythmia"))
    beat = replace(bundle.contract.input.beat, upright=True)
    bundle = replace(bundle, contract=replace(bundle.contract, input=replace(
        bundle.contract.input, beat=beat)))  # fmt: skip
    rec = wfdb.rdrecord(str(sample_record))
    runs = []
    for sign in (1, -1):
        monitor = Monitor([bundle], rec.fs, rec.sig_name)
        events = monitor.stream(sign * rec.p_signal)
        beats = [e.to_json() for e in events if isinstance(e, BeatEvent)]
        runs.append((beats, monitor.qrs_down[True] / monitor.qrs_down.total()))
    assert len(runs[0][0]) > 50 and runs[0][0] == runs[1][0]
    assert runs[0][1] < 0.1 and runs[1][1] > 0.9
