"""Signal quality per one-second segment: is this lead fit to raise an arrhythmia alarm on?

A monitor that alarms on a loose electrode is worse than none, so every segment of the analysed
lead gets a state before any beat in it may drive an alert: `leads_off` (the front end flagged it,
`!` on the wire), `flat` (no amplitude: a dead lead or a disconnected cable reads as a constant),
`saturated` (the amplifier sits at an ADC rail), `noisy` (motion or muscle artefact), else `good`.
Noise needs two signs at once: a low kurtosis of the band-passed signal (an ECG is peaky, kurtosis
well above 5; broadband artefact is near-Gaussian, near 3: Li & Clifford's kSQI) and much energy
above the ECG band (muscle noise). Kurtosis alone would call a ventricular tachycardia noise (wide,
sinus-like complexes have a low kurtosis) and silence the alarm that matters most; VT has little
energy above 40 Hz. An amplitude ceiling no body-surface ECG reaches catches motion artefact.
Electrode motion is in-band and peaky, so it passes both: the third sign is disagreement between
two unrelated QRS detectors over the last seconds (Li, Clifford & Mark's bSQI): the monitor's own
Pan-Tompkins detector and Elgendi's block detector (qrs_blocks.block_peaks). A VT or a
bradycardia is seen alike by both; artefact is not. Ventricular flutter and fibrillation confuse
both detectors as well: a VF-like stretch (Kuo & Dillman's filter at a VF rate, as the VF alarm
uses) is never called noise for disagreeing.
Three things that are no ECG at all pass those signs, so each has its own: mains hum (a 50 or 60 Hz
line; peaky ECG under it keeps the kurtosis high), low-level white noise (too small to hide a QRS
by amplitude, yet with a noise floor above 40 Hz that no real lead at rest shows) and a smooth
periodic wave slower than VF (a sine's kurtosis is 1.5, a triangle's 1.8: no QRS in it).
Thresholds live in QualitySpec; benchmarks/noise_stress.py measures them (tuned on DS1 records).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from edge_monitor import vf
from edge_monitor.vf import mains_amplitude, vf_frequency, vf_leakage, vf_like

GOOD, LEADS_OFF, FLAT, SATURATED, NOISY = "good", "leads_off", "flat", "saturated", "noisy"
# not a segment verdict: the front end sent nothing (a stalled or unplugged link, or rows filled
# for samples lost on the way); the monitor and the alert engine treat it as any bad state
NO_SIGNAL = "no_signal"
# values outside the front end's ADC range arrive (a wrong baud rate, a board's debug prints)
BAD_VALUES = "bad_values"
# bytes arrive but no valid sample decodes from them (a wrong baud rate, another protocol)
UNREADABLE = "unreadable"
# the beat or window model returned NaN / inf / out-of-range probabilities: no label is trusted
MODEL_INVALID = "model_invalid"
MESSAGES = {
    GOOD: "signal good",
    LEADS_OFF: "leads off: check the electrodes",
    FLAT: "flat line: check the electrodes and the cable",
    SATURATED: "signal at the ADC rail: check the electrodes (amplifier saturated)",
    NOISY: "too noisy to analyse: keep still, check electrode contact",
    NO_SIGNAL: "no signal from the front end: check the cable and the board",
    BAD_VALUES: "values outside the ADC's range: check the baud rate and the board's output",
    UNREADABLE: "data arrives but is unreadable: check the baud rate",
    MODEL_INVALID: "model output invalid: rhythm not assessed",
}


@dataclass(frozen=True)
class QualitySpec:
    segment_s: float = 1.0
    context_s: float = 3.0  # noise statistics over the last seconds (a segment may hold no beat)
    leads_off_share: float = 0.2  # flagged samples in a segment
    flat_ptp_mv: float = 0.05  # band-passed peak-to-peak below this: no ECG
    rail_share: float = 0.05  # samples at (within 1% of the span of) an ADC rail
    stuck_share: float = 0.3  # without known rails: share of samples equal to the extreme value
    max_ptp_mv: float = 10.0  # band-passed peak-to-peak above this: artefact
    min_kurtosis: float = 4.0  # below: near-Gaussian noise dominates...
    noise_min_ptp_mv: float = 0.3  # ...if it is big enough to hide a QRS (a pause is not noise)
    hf_ratio: float = 0.35  # ...if also RMS above 40 Hz / RMS of the 0.5-40 Hz band exceeds this
    hf_cut_hz: float = 40.0
    agreement_s: float = 10.0  # detector agreement over this many seconds...
    agreement_lag_s: float = 1.5  # ...ending this long ago (the detector decides late)
    min_agreement: float = 0.8  # matched / (matched + unmatched of either) below this: noisy
    agreement_tol_s: float = 0.15
    min_alarm_agreement: float = 0.9  # a VT alarm asks more of the beats before it...
    alarm_agreement_s: float = 8.0  # ...over this many seconds
    vf_leakage: float = vf.VF_LEAKAGE  # VF-like: the detectors may disagree there
    vf_min_hz: float = vf.VF_MIN_HZ
    vf_max_hz: float = vf.VF_MAX_HZ
    # a 50/60 Hz line above this amplitude (mV) is mains hum: no MIT-BIH or cudb record reaches
    # 0.09 mV in any 3 s of its first lead; the hum that fooled the VF rule (issue 12) had 0.35
    mains_max_mv: float = 0.15
    # near-Gaussian with an RMS above 40 Hz over this (mV): noise, however small in the band
    # (0.05 mV of white noise reads 0.044; of 95,000 3 s windows of mitdb and cudb, 2 that are
    # near-Gaussian and under 0.3 mV read more)
    hf_floor_mv: float = 0.02
    # kurtosis under this at a rate below VF, with amplitude to hide a QRS: a smooth wave, no ECG
    # (a sine 1.5, a triangle 1.8; of 3 s windows at < 2.2 Hz with 0.3 mV, none of 28,800 in
    # MIT-BIH and 4 of 2,900 in cudb read under 2.0)
    smooth_kurtosis: float = 2.0
    # rails unknown (a file): flagged samples amid an unflagged signal this large (mV) on a rail
    # (clip_rail_samples at its max or min) are a clipping amplifier, not a lead off: format 212
    # writes the lowest code as "invalid" (cudb's clipped VF; set on cudb, docs/ventricular.md)
    clip_min_ptp_mv: float = 5.0
    clip_rail_samples: int = 3
    # ...or a flagged run entered or left from this outer share of its span (off the scale)
    clip_edge_share: float = 0.02
    # a VF-like oscillation over organised QRS complexes (vf.qrs_interval over this many seconds
    # of the sharp band, the oscillation at least vf.QRS_OSC_RATIO times their rate) is a tremor
    # or shivering, not VF: VF has no separate complexes (docs/ventricular.md, "Tremor"). The
    # verdict is unchanged (the second stays good); it is marked `organised`, and the VT/VF
    # fusion withholds new critical alarms over it (FusionSpec.withhold_organised) until VF's
    # bare oscillation ends the hold. On: README row 11's cross-validated figures hold (episodes
    # >= 4 s 0.917, 8 s Se 0.880, Sp 0.982, 0.66 false/h) and tremor_stress's false alarms fall
    # (the doc's tables)
    organised_qrs: bool = True
    qrs_context_s: float = 5.0  # two complexes 2.5 s apart fit in it
    qrs_persist: int = 2  # seconds in a row that find organised complexes (set after VF seconds)

    def as_dict(self) -> dict:
        return asdict(self)


def kurtosis(x: np.ndarray) -> float:
    """Pearson kurtosis (3 for a Gaussian); 0 for a constant."""
    x = np.asarray(x, dtype=np.float64)
    d = x - _mean(x)
    d2 = d * d  # the fourth power as a square of squares: pow() cost a twentieth of the gate
    var = _mean(d2)
    return _mean(d2 * d2) / (var * var) if var > 1e-12 else 0.0


def _mean(x: np.ndarray) -> float:
    """np.mean of a float64 vector, to the bit (the same pairwise sum over the same count),
    without its dispatch: the gate takes a dozen means a second."""
    return float(x.sum()) / len(x) if len(x) else float("nan")


@dataclass(frozen=True)
class Verdict:
    """One segment's state and what it rests on. For a noisy segment, `reason` names every sign
    that fired ("+"-joined, in SIGNS order) and the VF filter's reading of the context is kept:
    a verdict of detector disagreement alone on a VF-rate oscillation is one the VT/VF fusion
    may weigh against the rhythm model (ventricular.py), any other is not."""

    state: str
    kurtosis: float = 0.0
    ptp_mv: float = 0.0
    reason: str = ""
    hf_ratio: float = float("nan")  # RMS above 40 Hz / RMS in band, over the context
    leakage: float = float("nan")  # Kuo & Dillman's leakage of the context (noisy verdicts)
    vf_hz: float = float("nan")  # the frequency its filter notches (noisy verdicts)
    # organised QRS complexes under a VF-like oscillation (a tremor): a sign beside the state,
    # which it does not change (QualitySpec.organised_qrs)
    organised: bool = False
    # a VF-like oscillation over 0.15 mV whether or not complexes stand out under it: without
    # them, a sign that VF and not a tremor is there (it ends the fusion's hold)
    oscillation: bool = False


AMPLITUDE, BROADBAND, DISAGREEMENT, SMOOTH, MAINS = (
    "amplitude", "broadband", "disagreement", "smooth", "mains"
)  # fmt: skip
SIGNS = (AMPLITUDE, BROADBAND, DISAGREEMENT, SMOOTH, MAINS)


def assess_segment(
    raw: np.ndarray,
    filtered_context: np.ndarray,
    leads_off: np.ndarray | None,
    spec: QualitySpec,
    rails: tuple[float, float] | None = None,
    hf_context: np.ndarray | None = None,
    agreement: float = 1.0,
    *,
    fs: float,
    raw_context: np.ndarray | None = None,
    vf_hint: bool = False,
    off_context: np.ndarray | None = None,
    qrs_interval_s: float | Callable[[], float] = 0.0,
) -> Verdict:
    """State, kurtosis and band-passed peak-to-peak of one segment (one lead at `fs` Hz) and,
    when noisy, why; with the raw lead's last seconds the gate also looks for mains hum, and
    with their leads-off flags (`off_context`) for a clipping amplifier whose rail a file marks
    invalid; with the interval of organised QRS complexes the tracker sees (`qrs_interval_s`,
    vf.qrs_interval) it marks such complexes under a VF-like oscillation (a tremor); given as a
    callable, it is asked only when the oscillation is there (finding complexes is the gate's
    dearest step, and almost every second has no VF-like oscillation to ask about)."""
    raw = np.asarray(raw, dtype=np.float64)
    n_off = len(leads_off) if leads_off is not None else 0
    if n_off and np.count_nonzero(leads_off) / n_off >= spec.leads_off_share:
        if rails is None and _clipping(raw_context, off_context, spec, n_off):
            return Verdict(SATURATED, 0.0, float(np.ptp(raw)))
        return Verdict(LEADS_OFF)
    valid = raw[np.isfinite(raw)]
    if valid.size == 0:
        return Verdict(LEADS_OFF)
    pinned = rails is None and _at_extreme(valid, raw_context)  # then: on a clipping rail?
    if _saturated(valid, spec, rails) or (pinned and _clipping(raw_context, off_context, spec)):
        return Verdict(SATURATED, 0.0, float(np.ptp(valid)))
    ctx = np.asarray(filtered_context, dtype=np.float64)
    ctx = ctx[np.isfinite(ctx)]
    seg = ctx[-len(valid) :] if ctx.size else valid
    ptp = float(np.ptp(seg)) if seg.size else 0.0
    if ptp < spec.flat_ptp_mv or float(np.ptp(valid)) < spec.flat_ptp_mv:
        return Verdict(FLAT, 0.0, ptp)
    k = kurtosis(ctx) if ctx.size else 0.0
    hf_rms = _rms(hf_context)
    hf = hf_rms / max(_rms(ctx), 1e-9) if hf_context is not None else np.inf
    signs = _noise_signs(ctx, len(valid), spec, k, ptp, hf, hf_rms, agreement, fs, vf_hint)
    oscillation, organised = _oscillation_over_qrs(ctx, ptp, qrs_interval_s, spec, fs)
    hum = not signs and raw_context is not None  # mains only where nothing else fired
    if hum and mains_amplitude(raw_context, fs) > spec.mains_max_mv:
        signs = [MAINS]
    if not signs:
        return Verdict(GOOD, k, ptp, hf_ratio=hf, organised=organised, oscillation=oscillation)
    freq = vf_frequency(ctx, fs)
    return Verdict(
        NOISY, k, ptp, "+".join(signs), hf, vf_leakage(ctx), freq, organised, oscillation
    )


def _noise_signs(
    ctx: np.ndarray,
    n: int,
    spec: QualitySpec,
    k: float,
    ptp: float,
    hf: float,
    hf_rms: float,
    agreement: float,
    fs: float,
    vf_hint: bool,
) -> list[str]:
    """The signs of noise (SIGNS but mains) a segment of `n` samples shows in its context."""
    # judged from the first second: waiting for the full context graded a stream's first
    # seconds good unseen, so white noise got a 12-lead diagnosis from its first window (over
    # the first seconds of 1,987 PTB-XL and 111 mitdb / svdb / cudb / nstdb records, only
    # nstdb's noise records changed grade: benchmarks/gate_starts.py)
    warming_up = ctx.size < n  # less than a segment of finite signal: too little to judge
    # the quiet baseline of a long pause is near-Gaussian too, but hides no QRS: it is the
    # asystole rule's to judge (MIT-BIH 232's 6 s pauses were called noise before this), unless
    # its floor above 40 Hz is one no lead at rest has (hf_floor_mv)
    big = ptp >= spec.noise_min_ptp_mv or hf_rms >= spec.hf_floor_mv
    broadband = k < spec.min_kurtosis and hf > spec.hf_ratio and big and not warming_up
    band = (spec.vf_min_hz, spec.vf_max_hz)
    # in VF/flutter two detectors disagree too: that is the VF rule's to judge, not noise
    # (`vf_hint`: the rhythm model is confident of VT/VF here, an opt-in second VF sign); the
    # VF measure is taken only where the detectors disagree (it costs a pass over the context)
    disagree = (
        agreement < spec.min_agreement
        and not vf_hint
        and not (ptp > vf.VF_MIN_PTP_MV and vf_like(ctx, fs, spec.vf_leakage, band))
    )
    smooth = (
        ptp >= spec.noise_min_ptp_mv
        and k < spec.smooth_kurtosis
        and vf_frequency(ctx, fs) < spec.vf_min_hz
    )
    fired = (ptp > spec.max_ptp_mv, broadband, disagree, smooth)
    return [name for name, on in zip(SIGNS, fired, strict=False) if on]


def _oscillation_over_qrs(
    ctx: np.ndarray, ptp: float, period: float | Callable[[], float], spec: QualitySpec, fs: float
) -> tuple[bool, bool]:
    """Is there a VF-like oscillation (as the VF alarm reads it), and is it at least
    QRS_OSC_RATIO times the rate of organised QRS complexes still seen under it (`period`: their
    shortest interval in s, 0: none)? The second is a tremor or shivering over a rhythm, which
    Kuo & Dillman's filter and the rhythm model take for VF; the first without it is what VF
    looks like."""
    if not spec.organised_qrs or ptp <= vf.VF_MIN_PTP_MV:
        return False, False
    if not vf_like(ctx, fs, spec.vf_leakage, (spec.vf_min_hz, spec.vf_max_hz)):
        return False, False
    period = period() if callable(period) else period
    return True, period > 0 and vf_frequency(ctx, fs) * period >= vf.QRS_OSC_RATIO


def _rms(x: np.ndarray | None) -> float:
    if x is None or len(x) == 0:
        return 0.0
    x = np.asarray(x, dtype=np.float64)
    return math.sqrt(_mean(x * x))


def _clipping(x: np.ndarray | None, off: np.ndarray | None, spec: QualitySpec, n: int = 0) -> bool:
    """Are the last seconds' unflagged samples a large signal sitting on a rail, or one that
    leaves its range at an extreme (runs off the scale) into a flagged run of the last `n`?"""
    x = np.asarray([] if x is None else x, dtype=np.float64)
    keep = np.isfinite(x) & (True if off is None else ~np.asarray(off, bool))
    v = x[keep]
    if v.size == 0 or float(np.ptp(v)) < spec.clip_min_ptp_mv:
        return False
    lo, hi, tol = v.min(), v.max(), spec.clip_edge_share * float(np.ptp(v))
    if max(np.count_nonzero(v == hi), np.count_nonzero(v == lo)) >= spec.clip_rail_samples:
        return True
    step = np.diff(np.concatenate([[0], (~keep).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(step == 1), np.flatnonzero(step == -1)  # flagged [start, end)
    live = ends > len(x) - n  # the runs that reach into the segment: their unflagged neighbours
    at = x[[i for i in (*(starts[live] - 1), *ends[live]) if 0 <= i < len(x)]]
    return bool(np.any((at <= lo + tol) | (at >= hi - tol)))


def _at_extreme(x: np.ndarray, raw_context: np.ndarray | None) -> bool:
    """A constant segment at the maximum or minimum of the last seconds: pinned on a rail."""
    ctx = np.asarray([] if raw_context is None else raw_context, dtype=np.float64)
    ctx = ctx[np.isfinite(ctx)]
    return ctx.size > 0 and np.ptp(x) == 0 and (x[0] >= ctx.max() or x[0] <= ctx.min())


def _saturated(x: np.ndarray, spec: QualitySpec, rails: tuple[float, float] | None) -> bool:
    if rails is not None:
        lo, hi = rails
        tol = 0.01 * (hi - lo)
        return np.count_nonzero((x <= lo + tol) | (x >= hi - tol)) / len(x) >= spec.rail_share
    if np.ptp(x) == 0:
        return False  # a constant is flat, not saturated
    at_extreme = max(np.count_nonzero(x == x.max()), np.count_nonzero(x == x.min())) / len(x)
    return at_extreme >= spec.stuck_share
