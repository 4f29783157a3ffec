"""MIT-BIH Noise Stress Test: real recorded noise added to clean ECG at a chosen SNR, as nst does.

The protocol (Moody, Muldrow & Mark 1984; WFDB's `nst`): the first 5 minutes stay clean, then
noise is switched on and off every 2 minutes. nst defines the SNR from the peak-to-peak amplitude
`S` of the normal QRS complexes and the RMS amplitude `N` of the noise as if both were sinusoids:
SNR = 20 log10(S / (N sqrt(8))), so the noise gain is 10^(-SNR/20) sqrt(2)/4 * S / N. When the
gain switches, an offset keeps the output continuous (a step would be an artefact nst never made).

`S` is the trimmed mean (5-95 %) of the QRS peak-to-peak over the AAMI N beats of the record;
`N` is the root of the mean power of the noise in 1-second windows, each with its own mean
removed, over the stretches where the noise is added. Measured this way, the published 118e*
records read their nominal SNR on V1 to within 0.04 dB (the noise stress benchmark re-checks it).

The electrode-motion record `em` is not in our copy of nstdb; the 118e* records are record 118
plus scaled `em`, so their difference from mitdb/118 recovers `em` inside the noisy stretches,
which is all a protocol mix needs (the same stretches of every 30-minute record).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_monitor.errors import InputError
from edge_monitor.wfdb_io import read_annotations, read_signal
from trainer.datasets.locate import dataset_dir

DATA_ENV = "ECG_EDGE_NSTDB"
NOISE_NAMES = ("bw", "ma", "em")
CLEAN_S = 300.0  # the protocol's clean start
SEGMENT_S = 120.0  # then noise on / off every two minutes
EM_SOURCE = "118e_6"  # the published record with the most em noise: the least quantisation error
NORMAL_SYMBOLS = "NLRej"  # AAMI N


def resolve_dir(data_dir: str | Path | None) -> Path:
    """The nstdb folder from the flag, else $ECG_EDGE_NSTDB, else $ECG_EDGE_DATA/nstdb."""
    return dataset_dir(data_dir, DATA_ENV, "nstdb", "MIT-BIH Noise Stress Test")


@dataclass(frozen=True)
class NoiseTrack:
    """One noise signal in mV at `fs`; NaN where it is not known (em outside the stretches)."""

    name: str
    signal: np.ndarray
    fs: float


def noisy_spans(n_samples: int, fs: float) -> list[tuple[int, int]]:
    """Sample ranges [a, b) where the protocol adds noise."""
    start, step = int(round(CLEAN_S * fs)), int(round(SEGMENT_S * fs))
    return [(a, min(a + step, n_samples)) for a in range(start, n_samples, 2 * step)]


def qrs_amplitude(x: np.ndarray, beats: np.ndarray, fs: float, half_s: float = 0.05) -> float:
    """Trimmed mean peak-to-peak of the QRS complexes at `beats` (reference R positions)."""
    h = max(1, int(round(half_s * fs)))
    beats = np.asarray(beats)
    beats = beats[(beats >= h) & (beats < len(x) - h)]
    if len(beats) == 0:
        raise InputError("no beats to measure the QRS amplitude on")
    ptp = np.sort([np.ptp(x[b - h : b + h]) for b in beats])
    k = len(ptp)
    return float(np.mean(ptp[int(0.05 * k) : max(int(0.95 * k), int(0.05 * k) + 1)]))


def noise_amplitude(noise: np.ndarray, fs: float, spans: list[tuple[int, int]]) -> float:
    """RMS of the noise over `spans`: mean power of 1-second windows, each mean-removed (the
    offsets between stretches are not noise power)."""
    w = int(round(fs))
    powers = []
    for a, b in spans:
        seg = np.asarray(noise[a:b], dtype=np.float64)
        seg = seg[: len(seg) // w * w].reshape(-1, w)
        seg = seg[np.isfinite(seg).all(axis=1)]
        powers.append(seg.var(axis=1))
    power = np.concatenate(powers) if powers else np.zeros(0)
    if power.size == 0 or power.mean() <= 0:
        raise InputError("no noise to measure in the given stretches")
    return float(np.sqrt(power.mean()))


def gain_for_snr(snr_db: float, signal_ptp: float, noise_rms: float) -> float:
    return 10.0 ** (-snr_db / 20.0) * np.sqrt(2.0) / 4.0 * signal_ptp / noise_rms


def snr_db(signal_ptp: float, noise_rms: float) -> float:
    return float(20.0 * np.log10(signal_ptp / (noise_rms * np.sqrt(8.0))))


def add_noise(
    clean: np.ndarray, noise: np.ndarray, gain: float, spans: list[tuple[int, int]]
) -> np.ndarray:
    """`clean` plus `gain` x `noise` inside `spans`; between them the offset the noise left is
    held, so the output has no steps (nst's rule)."""
    out = np.asarray(clean, dtype=np.float64).copy()
    offset = 0.0
    last = 0
    for a, b in spans:
        out[last:a] += offset
        piece = gain * (np.asarray(noise[a:b], dtype=np.float64) - noise[a]) + offset
        if not np.isfinite(piece).all():
            raise InputError(f"noise not known in samples {a}-{b}")
        out[a:b] += piece
        offset, last = float(piece[-1]), b
    out[last:] += offset
    return out


TRAINING_NOISE = ("bw", "ma")
EM_TRAINING_CHANNEL = 1  # the stress test mixes em's channel 0 into MLII; training sees the other


def training_noise(
    nstdb: Path, fs_out: float, filter_spec, mitdb: Path | None = None
) -> list[np.ndarray]:
    """Augmentation noise through the device's front-end filter at the beat model's rate, none
    of which the noise stress test (bw and ma from minute 5 on, em's channel 0) reuses: the first
    5 minutes of bw and ma, both channels, and, given MIT-BIH (record 118), em's second channel
    in each noisy stretch. em's channels were recorded together from other electrode pairs
    (band-passed correlation 0.12, 0.3 at a 0.1 s lag): the same motions, other waveforms.
    Without em, hardening never saw the artefact that makes most false VT alarms."""
    tracks = []
    for name in TRAINING_NOISE:
        signal, header = read_signal(nstdb / name)
        fs = float(header["fs"])
        head = signal[: int(round(CLEAN_S * fs))]
        tracks += _model_rate(head, fs, fs_out, filter_spec)
    if mitdb is not None:
        em = recover_em(nstdb, mitdb, channel=EM_TRAINING_CHANNEL)
        stretches = [
            _model_rate(em.signal[a:b, None], em.fs, fs_out, filter_spec)[0]
            for a, b in noisy_spans(len(em.signal), em.fs)
        ]  # filtered one by one (no steps), then one track like each channel of bw and ma
        tracks.append(np.concatenate(stretches))
    return tracks


def _model_rate(x: np.ndarray, fs: float, fs_out: float, filter_spec) -> list[np.ndarray]:
    from edge_monitor.dsp import filter_record, resample_record

    model = resample_record(filter_record(x, fs, filter_spec), fs, fs_out)
    return [np.ascontiguousarray(model[:, c], dtype=np.float32) for c in range(model.shape[1])]


def normal_beats(record_path: Path) -> np.ndarray:
    ann = read_annotations(record_path)
    return np.array(
        [s for s, sym in zip(ann.sample, ann.symbol, strict=True) if sym in NORMAL_SYMBOLS]
    )


def load_noise(name: str, nstdb: Path, mitdb: Path | None = None) -> NoiseTrack:
    """Channel 0 of a noise record (it goes onto the first lead, as nst adds signal i to i)."""
    if name not in NOISE_NAMES:
        raise InputError(f"unknown noise {name!r}: one of {', '.join(NOISE_NAMES)}")
    if name == "em":
        if mitdb is None:
            raise InputError("recovering em needs the MIT-BIH folder (record 118)")
        return recover_em(nstdb, mitdb)
    signal, header = read_signal(nstdb / name, channels=[0])
    return NoiseTrack(name, signal[:, 0], float(header["fs"]))


def recover_em(nstdb: Path, mitdb: Path, source: str = EM_SOURCE, channel: int = 0) -> NoiseTrack:
    """em inside the protocol's noisy stretches: 118e* minus 118, each stretch started at zero
    (its scale is irrelevant: mixing rescales to the SNR)."""
    noisy, header = read_signal(nstdb / source, channels=[channel])
    clean, _ = read_signal(mitdb / "118", channels=[channel])
    n = min(len(noisy), len(clean))
    diff = noisy[:n, 0] - clean[:n, 0]
    fs = float(header["fs"])
    em = np.full(n, np.nan)
    for a, b in noisy_spans(n, fs):
        em[a:b] = diff[a:b] - diff[a]
    return NoiseTrack("em", em, fs)
