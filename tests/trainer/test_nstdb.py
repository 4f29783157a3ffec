"""The noise stress mixer: nst's protocol and SNR, checked against the published 118e* records."""

import numpy as np
import pytest

from edge_monitor.errors import InputError
from edge_monitor.wfdb_io import read_signal
from trainer.datasets import nstdb

FS = 360.0


def test_protocol_spans_alternate_after_five_clean_minutes():
    spans = nstdb.noisy_spans(650_000, FS)
    assert spans[0] == (108_000, 151_200)  # 5:00-7:00
    assert spans[1][0] - spans[0][1] == 43_200  # two clean minutes between
    assert spans[-1] == (626_400, 650_000)  # the last one cut at the record's end
    assert nstdb.noisy_spans(100_000, FS) == []


def test_mix_has_the_asked_snr_and_no_steps(mitdb_dir, nstdb_dir):
    clean, _ = read_signal(mitdb_dir / "100", channels=[0])
    clean = clean[:, 0]
    beats = nstdb.normal_beats(mitdb_dir / "100")
    noise = nstdb.load_noise("ma", nstdb_dir)
    spans = nstdb.noisy_spans(len(clean), FS)
    s = nstdb.qrs_amplitude(clean, beats, FS)
    for snr in (12.0, 0.0):
        g = nstdb.gain_for_snr(snr, s, nstdb.noise_amplitude(noise.signal, FS, spans))
        mixed = nstdb.add_noise(clean, noise.signal, g, spans)
        added = mixed - clean
        assert nstdb.snr_db(s, nstdb.noise_amplitude(added, FS, spans)) == pytest.approx(
            snr, abs=1e-6
        )
        assert np.all(added[: spans[0][0]] == 0)  # the first five minutes stay clean
        jumps = np.abs(np.diff(added))
        inside = np.concatenate([jumps[a : b - 1] for a, b in spans])
        assert jumps.max() <= inside.max() + 1e-12  # switching the noise on or off makes no step


def test_our_mix_reproduces_the_published_records_on_v1(mitdb_dir, nstdb_dir):
    """em recovered from 118e_6 and mixed at 12 dB equals the published 118e12 on V1 to a few
    ADC units, and our SNR measure reads 12 dB on it (MLII reads 5.4 dB lower: see the module)."""
    clean, _ = read_signal(mitdb_dir / "118", channels=[1])
    published, _ = read_signal(nstdb_dir / "118e12", channels=[1])
    clean, published = clean[:, 0], published[:, 0]
    spans = nstdb.noisy_spans(len(clean), FS)
    s = nstdb.qrs_amplitude(clean, nstdb.normal_beats(mitdb_dir / "118"), FS)
    measured = nstdb.snr_db(s, nstdb.noise_amplitude(published - clean, FS, spans))
    assert measured == pytest.approx(12.0, abs=0.05)
    em = nstdb.recover_em(nstdb_dir, mitdb_dir, channel=1)
    assert np.isnan(em.signal[: spans[0][0]]).all()
    g = nstdb.gain_for_snr(12.0, s, nstdb.noise_amplitude(em.signal, FS, spans))
    mine = nstdb.add_noise(clean, em.signal, g, spans)
    d = mine - published
    residual = np.concatenate([d[a:b] - d[a] for a, b in spans])
    assert np.sqrt(np.mean(residual**2)) < 0.02  # mV: 4 ADC units, against a noise RMS of 0.36 mV


def test_unknown_noise_and_missing_noise_are_refused(nstdb_dir, mitdb_dir):
    with pytest.raises(InputError, match="unknown noise"):
        nstdb.load_noise("hum", nstdb_dir)
    em = nstdb.recover_em(nstdb_dir, mitdb_dir)
    with pytest.raises(InputError, match="not known"):
        nstdb.add_noise(np.zeros(10_000), em.signal[:10_000], 1.0, [(0, 5_000)])


def test_training_noise_is_the_first_five_minutes_at_the_model_rate(nstdb_dir):
    from edge_monitor.dsp import FilterSpec

    tracks = nstdb.training_noise(nstdb_dir, 180.0, FilterSpec())
    assert len(tracks) == 4  # bw and ma, two channels each
    assert all(len(t) == int(nstdb.CLEAN_S * 180) and t.dtype == np.float32 for t in tracks)
    assert all(np.isfinite(t).all() and t.std() > 0 for t in tracks)


def test_training_em_is_the_channel_the_stress_test_leaves_alone(nstdb_dir, mitdb_dir):
    from edge_monitor.dsp import FilterSpec, filter_record, resample_record

    spec = FilterSpec()
    tracks = nstdb.training_noise(nstdb_dir, 180.0, spec, mitdb=mitdb_dir)
    assert len(tracks) == 5  # bw and ma two channels each, em's second channel
    em = tracks[-1]
    stretches = nstdb.noisy_spans(650_000, 360.0)
    assert len(em) == sum(int(round((b - a) / 2)) for a, b in stretches)
    assert np.isfinite(em).all() and em.std() > 0
    tested = nstdb.recover_em(nstdb_dir, mitdb_dir, channel=0)  # what the stress test mixes
    a, b = stretches[0]
    first = resample_record(filter_record(tested.signal[a:b, None], 360.0, spec), 360.0, 180.0)
    r = np.corrcoef(first[:, 0], em[: len(first)])[0, 1]
    assert abs(r) < 0.5  # another waveform, not the tested one


def test_recorded_noise_lands_at_the_drawn_snr_on_the_beat_only(nstdb_dir):
    from edge_monitor.dsp import FilterSpec
    from trainer.batches import add_recorded_noise

    rng = np.random.default_rng(0)
    tracks = nstdb.training_noise(nstdb_dir, 180.0, FilterSpec())
    beat = np.zeros((8, 2, 90), np.float32)
    beat[:, :, 40:50] = np.hanning(10)[None, None, :]  # a QRS-like bump, peak-to-peak 1
    noisy = add_recorded_noise(beat, tracks, prob=1.0, snr_db=(6.0, 6.0), rng=rng)
    assert np.array_equal(noisy[:, 1], beat[:, 1])  # the template is untouched
    added = noisy[:, 0] - beat[:, 0]
    rms = np.sqrt(np.mean((added - added.mean(axis=1, keepdims=True)) ** 2, axis=1))
    snr = 20 * np.log10(np.ptp(beat[:, 0], axis=1) / (rms * np.sqrt(8)))
    assert np.allclose(snr, 6.0, atol=1e-3)
    untouched = add_recorded_noise(beat, tracks, prob=0.0, snr_db=(6.0, 6.0), rng=rng)
    assert np.array_equal(untouched, beat)
