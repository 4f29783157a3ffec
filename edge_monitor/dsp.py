"""Causal preprocessing shared by training and the device: the model sees the same signal in both.

Every stage keeps its own state so that a stream fed in chunks gives exactly the samples of one
call over the whole record (tests/edge_monitor/test_dsp.py proves it). No `filtfilt`: a device
cannot look ahead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_monitor.errors import InputError
from edge_monitor.iir import SosFilter, butter_sos, notch_sos


@dataclass(frozen=True)
class FilterSpec:
    """Band and mains notch of the causal front-end filter, in Hz (notch 0 = none)."""

    low_hz: float = 0.5
    high_hz: float = 40.0
    order: int = 2
    notch_hz: float = 0.0
    notch_q: float = 30.0

    def as_dict(self) -> dict[str, float]:
        return {
            "low_hz": self.low_hz,
            "high_hz": self.high_hz,
            "order": self.order,
            "notch_hz": self.notch_hz,
            "notch_q": self.notch_q,
        }


def design_sos(spec: FilterSpec, fs: float) -> np.ndarray:
    """Second-order sections of the band-pass (plus notch when it lies below Nyquist)."""
    nyquist = fs / 2.0
    if not 0 < spec.low_hz < spec.high_hz:
        raise InputError(f"filter band {spec.low_hz}-{spec.high_hz} Hz is not a valid band")
    high = min(spec.high_hz, 0.9 * nyquist)
    if spec.low_hz >= high:
        raise InputError(f"sampling rate {fs} Hz is too low for a {spec.low_hz} Hz high-pass")
    sos = butter_sos(spec.order, (spec.low_hz, high), "bandpass", fs)
    if 0 < spec.notch_hz < 0.95 * nyquist:
        try:  # notch_sos refuses a notch as wide as the rate (unstable)
            notch = notch_sos(spec.notch_hz, spec.notch_q, fs)
        except ValueError:
            raise InputError(
                f"a {spec.notch_hz:g} Hz notch of q {spec.notch_q:g} cannot be made at {fs:g} Hz "
                f"(its width f0 / q must stay below {nyquist:g} Hz)"
            ) from None
        sos = np.vstack([sos, notch])
    return sos


class StreamFilter:
    """An SOS filter over (samples, channels) chunks with carried state.

    The state starts as the filter's steady state for the first sample, so a record that does not
    start at 0 mV gives no start-up transient, and the result does not depend on chunk sizes.
    """

    def __init__(self, sos: np.ndarray, n_channels: int) -> None:
        self.sos = np.asarray(sos, dtype=np.float64)
        self.n_channels = n_channels
        self._filter = SosFilter(self.sos, n_channels)

    def reset(self) -> None:
        self._filter.reset()

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        return self._filter(_as_2d(chunk, self.n_channels))


def mask_runs(mask: np.ndarray, offset: int = 0) -> list[tuple[int, int]]:
    """The runs [start, end) of true samples in `mask`, numbered from `offset`."""
    flags = np.concatenate([[0], np.asarray(mask, bool).astype(np.int8), [0]])
    edges = offset + np.flatnonzero(np.diff(flags))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


class StillRuns:
    """Marks the samples that repeat one value for more than `min_samples` in a row, from that
    point on: a recorder writing a constant while the leads are off, a line held at an ADC
    rail. The QRS detector holds them as it holds flagged samples: the RR interval across a
    flat stretch went into the RR means and the beats after it read S (10 s of a flat line: 8
    false S; two hours: 61 of the next 148 beats and a PAC warning). Real ECG off the rails
    never repeats one value that long: in the shared records (mitdb, svdb, cudb, nstdb) the
    longest such run is 0.14 s (svdb at 128 Hz); at a rail 0.5-2.3 s (cudb, MIT-BIH 116).
    Causal: a sample is marked from what came up to it, so chunk sizes change nothing."""

    def __init__(self, min_samples: int) -> None:
        self.min_samples = max(1, int(min_samples))
        self._last = np.nan  # the value of the run going on at the last chunk's end
        self._run = 0  # its length so far

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if len(x) == 0:
            return np.zeros(0, bool)
        same = x == np.concatenate([[self._last], x[:-1]])  # NaN repeats nothing
        index = np.arange(len(x))
        began = np.maximum.accumulate(np.where(same, -1, index))  # where each sample's run began
        length = np.where(began >= 0, index - began + 1, self._run + index + 1)
        self._last, self._run = float(x[-1]), int(length[-1])
        return length > self.min_samples


class StreamResampler:
    """Linear-interpolation resampler with carried phase, for signals already band-limited.

    scipy has no stateful resampler (`resample_poly` works on whole arrays). After the front-end
    low-pass (40 Hz by default) the signal has no content near the Nyquist of any model rate we use
    (>= 100 Hz), so interpolation between neighbours is accurate; integer down-factors reduce to
    exact decimation.
    """

    def __init__(self, fs_in: float, fs_out: float, n_channels: int) -> None:
        if fs_in <= 0 or fs_out <= 0:
            raise InputError(f"sampling rates must be positive, got {fs_in} -> {fs_out} Hz")
        self.fs_in, self.fs_out, self.n_channels = float(fs_in), float(fs_out), n_channels
        self._step = self.fs_in / self.fs_out  # input samples per output sample
        # an integer step (360 -> 180 Hz, 250 -> 125 Hz) is decimation: each output one input
        self._every = int(self._step) if self._step == int(self._step) else 0
        self._next_pos = 0.0  # position of the next output sample, in input samples
        self._consumed = 0  # input samples seen before the current chunk
        self._last: np.ndarray | None = None  # last input sample of the previous chunk

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        x = _as_2d(chunk, self.n_channels).astype(np.float64)
        if self.fs_in == self.fs_out:
            return x
        if len(x) == 0:
            return np.empty((0, self.n_channels))
        start_index = round(self._next_pos / self._step)
        first = start_index * self._every - self._consumed  # in x, for an integer step
        if self._every and first >= 0 and np.isfinite(x).all():
            # every k-th sample: what the interpolation gives (weights 1 and 0) without its
            # arithmetic; a chunk with a NaN or inf takes the general way (0 * NaN is NaN)
            out = x[first :: self._every].copy()
            self._next_pos = (start_index + len(out)) * self._step
            self._consumed += len(x)
            self._last = x[-1].copy()
            return out
        if self._last is not None:
            buf = np.vstack([self._last[None, :], x])
            origin = self._consumed - 1
        else:
            buf, origin = x, self._consumed
        end = self._consumed + len(x) - 1  # last input position available
        n_out = int(np.floor((end - self._next_pos) / self._step + 1e-9)) + 1
        if n_out <= 0:
            out = np.empty((0, self.n_channels))
        else:
            # Positions from an integer counter, so rounding does not drift over hours.
            positions = (start_index + np.arange(n_out)) * self._step - origin
            left = np.clip(np.floor(positions + 1e-9).astype(int), 0, len(buf) - 1)
            right = np.minimum(left + 1, len(buf) - 1)
            frac = (positions - left)[:, None]
            out = buf[left] * (1.0 - frac) + buf[right] * frac
            self._next_pos = (start_index + n_out) * self._step
        self._consumed += len(x)
        self._last = x[-1].copy()
        return out


def resample_record(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """One-shot resampling of a whole (samples, channels) record with the streaming resampler."""
    x2 = _as_2d(x, None)
    return StreamResampler(fs_in, fs_out, x2.shape[1])(x2)


def filter_record(x: np.ndarray, fs: float, spec: FilterSpec) -> np.ndarray:
    """One-shot causal filtering of a whole (samples, channels) record."""
    x2 = _as_2d(x, None)
    return StreamFilter(design_sos(spec, fs), x2.shape[1])(x2)


def window_starts(total: int, window: int, stride: int) -> list[int]:
    """Start indices of sliding windows over `total` samples; the last one ends at the end."""
    starts = list(range(0, total - window + 1, stride)) or [0]
    if starts[-1] != max(total - window, 0):
        starts.append(max(total - window, 0))
    return starts


def _as_2d(chunk: np.ndarray, n_channels: int | None) -> np.ndarray:
    x = np.asarray(chunk)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise InputError(f"expected (samples, channels), got an array of shape {x.shape}")
    if n_channels is not None and x.shape[1] != n_channels:
        raise InputError(f"expected {n_channels} channels, got {x.shape[1]}")
    return x


# No ECG reaches a kilovolt: a larger number is numeric garbage (only a library caller can pass
# one: sources refuse values outside the ADC's range, the WFDB reader absurd gains), and it would
# overflow the filters' state for the rest of the stream.
ABSURD_MV = 1e6


def sane(x: np.ndarray) -> np.ndarray:
    """`x` with absurd or infinite values as NaN: a gap, which the Monitor holds and gates."""
    usable = np.abs(x) < ABSURD_MV  # False for NaN and inf too
    return x if usable.all() else np.where(usable, x, np.nan)


def hold_last(x: np.ndarray, off: np.ndarray, hold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Leads-off and missing samples hold the last good value, so the filters see no steps:
    the block so filled, and the value to hold into the next block."""
    if not off.any() and np.isfinite(x).all():
        return x, x[-1].copy()
    x = x.copy()
    for i in range(len(x)):
        if off[i] or not np.isfinite(x[i]).all():
            x[i] = np.where(np.isfinite(x[i]), x[i], hold) if not off[i] else hold
        hold = x[i]
    return x, hold
