"""The AF detector: ectopy is regularly irregular and must not read as AF; real AF from MIT-BIH
must; the invariants hold for any RR sequence."""

from __future__ import annotations

import numpy as np
import pytest
import wfdb
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import resample_poly

from edge_monitor.af import FEATURES, AfDetector, AfFeatures, AfParams, coherence
from edge_monitor.alerts import AlertEngine
from edge_monitor.bundle import embedded_bundle, load_bundle
from edge_monitor.pipeline import Monitor, find_channel
from trainer.datasets.excerpt import write_mitdb_excerpt

FS = 360.0
NO_SIGNAL = np.zeros(0)
WINDOW = AfParams().beats


def judge(
    rr_s: list[float], labels: str, params: AfParams | None = None
) -> tuple[bool, AfDetector]:
    """Feed one window of beats (no signal: the atrial measure stays unknown)."""
    detector = AfDetector(FS, params)
    samples = np.concatenate([[0], np.cumsum(np.round(np.asarray(rr_s) * FS))]).astype(int)
    verdict = detector(list(samples), list(labels), NO_SIGNAL, int(samples[-1]))
    return verdict, detector


def test_regular_rhythm_with_frequent_pvcs_is_not_af():
    # sinus at 0.8 s; every fourth beat a PVC at 0.5 s coupling with a full compensatory pause
    rr, labels = [], "N"
    for k in range(WINDOW):
        if k % 4 == 3:
            rr += [0.5, 1.1]
            labels += "VN"
        else:
            rr.append(0.8)
            labels += "N"
    verdict, detector = judge(rr, labels)
    assert not verdict
    assert detector.last is not None and detector.last.irregularity == 0.0


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0.3, 1.5),
    b=st.floats(0.3, 1.5),
    labels=st.text(alphabet="NSVQF", min_size=WINDOW + 1, max_size=WINDOW + 1),
    jitter_ms=st.floats(0.0, 8.0),
)
def test_no_af_on_any_bigeminy_whatever_the_labels(a, b, labels, jitter_ms):
    """Two alternating intervals (bigeminy, labelled anyhow, with a few ms of detector jitter)
    are regular at lag 2: never AF."""
    rng = np.random.default_rng(0)
    rr = [(a if k % 2 else b) + rng.uniform(-1, 1) * jitter_ms / 1000 for k in range(WINDOW)]
    verdict, detector = judge(rr, labels)
    assert not verdict
    if detector.last is not None:
        assert detector.last.irregularity < 0.05


@settings(max_examples=60, deadline=None)
@given(rr=st.lists(st.floats(0.0, 3.0), min_size=WINDOW, max_size=WINDOW), labels=st.text("NV"))
def test_any_rr_sequence_gives_a_bounded_verdict(rr, labels):
    """Whatever the intervals (zero ones too: a duplicated R peak) and labels, the detector
    answers with finite measures or declines, never raises."""
    labels = (labels * (WINDOW + 1))[: WINDOW + 1] if labels else "N" * (WINDOW + 1)
    verdict, detector = judge(rr, labels)
    assert verdict in (True, False)
    if detector.last is not None:
        assert np.isfinite(detector.last.vector()).all()


@settings(max_examples=60, deadline=None)
@given(scale=st.floats(0.3, 1.5), rr=st.lists(st.floats(0.5, 2.0), min_size=32, max_size=32))
def test_irregularity_does_not_depend_on_the_heart_rate(scale, rr):
    """The measure is relative: the same rhythm faster or slower reads the same."""
    clean = np.ones(32, bool)
    from edge_monitor.af import irregularity

    base = irregularity(np.asarray(rr), clean)
    assert irregularity(np.asarray(rr) * scale, clean) == pytest.approx(base, rel=1e-9, abs=1e-12)


def test_shipped_model_reads_regular_rhythms_as_not_af_whatever_the_atria_show():
    """With no RR irregularity the logistic model says no at any atrial coherence: the P-wave
    measure alone never raises AF (noise that hides the P waves is not fibrillation)."""
    detector = AfDetector(FS)
    assert len(detector.params.weights) == len(FEATURES)
    for coherent in np.linspace(0.0, 1.0, 11):
        assert detector.probability(AfFeatures(0.0, coherent)) <= detector.params.threshold
        assert detector.probability(AfFeatures(0.01, coherent)) <= detector.params.threshold


def test_coherence_is_one_for_a_repeated_wave_and_small_for_unrelated_ones():
    wave = np.sin(np.linspace(0, np.pi, 23))
    assert coherence(np.tile(wave, (20, 1))) == pytest.approx(1.0)
    noise = np.random.default_rng(2).normal(size=(20, 23))
    assert coherence(noise) < 0.2


def test_atrial_stretches_are_cut_from_the_signal_and_survive_a_restarted_numbering():
    """A lead with the same P wave before every QRS reads coherent, also after the source's
    sample numbering starts again (a second recording)."""
    p_wave = np.sin(np.linspace(0, np.pi, int(0.1 * FS))) * 0.15
    detector = AfDetector(FS)
    for first in (20_000, 500):
        samples = [int(first + k * 0.8 * FS) for k in range(WINDOW + 1)]
        signal = np.zeros(samples[-1] + 10)
        for s in samples:
            signal[s - int(0.2 * FS) : s - int(0.2 * FS) + len(p_wave)] += p_wave
        f = detector.features(samples, "N" * len(samples), signal, len(signal))
        assert f is not None and f.p_coherence > 0.95 and f.irregularity == 0.0


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        AfParams(beats=4)
    with pytest.raises(ValueError):
        AfParams(weights=(1.0,))
    with pytest.raises(ValueError):
        AfParams(p_from_s=0.05, p_to_s=0.2)


def stream_af_alerts(folder, name: str, fs: int | None = None) -> list:
    """AF events of a record through the Monitor, resampled to `fs` first when given."""
    header = wfdb.rdheader(str(folder / name))
    channel = find_channel(header.sig_name, "MLII")
    x = wfdb.rdrecord(str(folder / name), channels=[channel]).p_signal
    if fs is not None:
        x = resample_poly(x, fs, int(header.fs), axis=0)
    bundle = load_bundle(embedded_bundle("arrhythmia"), probe=False)
    monitor = Monitor([bundle], float(fs or header.fs), [header.sig_name[channel]])
    return [e for e in monitor.stream(x, block_s=1.0) if getattr(e, "label", None) == "AF"]


@pytest.fixture(scope="module")
def excerpts(tmp_path_factory, mitdb_dir):
    """150 s each: real AF with ventricular ectopy (201 from 0 s, 219 from 400 s) and sinus
    rhythm with frequent PVCs, bigeminy and trigeminy (119 from 0 s, 233 from 120 s)."""
    out = tmp_path_factory.mktemp("af")
    for name, start in (("201", 0.0), ("219", 400.0), ("119", 0.0), ("233", 120.0)):
        write_mitdb_excerpt(mitdb_dir, name, out, 150.0, start_s=start, new_name=f"x{name}")
    return out


@pytest.mark.parametrize("name", ["201", "219"])
def test_real_af_from_mitdb_is_warned(excerpts, name):
    assert any(e.level == "warning" for e in stream_af_alerts(excerpts, f"x{name}"))


@pytest.mark.parametrize("name", ["119", "233"])
def test_real_ectopy_from_mitdb_is_not_af(excerpts, name):
    assert not any(e.level == "warning" for e in stream_af_alerts(excerpts, f"x{name}"))


@pytest.mark.parametrize(("name", "af"), [("201", True), ("233", False)])
def test_the_same_verdicts_from_a_128_hz_front_end(excerpts, name, af):
    """The atrial stretch and the RR measures are in seconds: a 128 Hz source reads alike."""
    warned = any(e.level == "warning" for e in stream_af_alerts(excerpts, f"x{name}", fs=128))
    assert warned == af


def test_the_engine_asks_the_detector():
    engine = AlertEngine(FS)
    rng = np.random.default_rng(1)
    sample = 0
    for _ in range(WINDOW + 8):
        sample += int(rng.uniform(0.45, 1.1) * FS)
        engine.on_beat(sample, "N")
    assert engine.af.last is not None and engine.af.last.irregularity > 0.1
