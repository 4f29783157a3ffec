"""Butterworth and notch filters as second-order sections, and a streaming SOS filter, in numpy.

Why by hand: `scipy.signal` is the library for this and the tests check these designs and outputs
against it, but importing it costs the device ~75 MB of resident memory and a second of start-up
(it loads scipy.stats, optimize, sparse, ...), half of the monitor's footprint, for four filter
designs and one filtering routine. The designs follow scipy's (analog prototype, frequency
transform, bilinear transform with pre-warping); the filter runs its cascade of sections (or a
bank of cascades on one signal) as one state-space system over blocks of samples, so the
per-sample recursion becomes matrix products and stays exact (no truncated impulse response).
The states entering a chunk's blocks come from one block-Toeplitz product per stride of blocks:
on this host a 4 s chunk at 360 Hz through a 2-section band-pass took 223 us with a Python loop
over blocks, 69 us so. One system per cascade, not per section: the monitor filters a second
at a time, five filters on the analysed lead, and a second through the 2-section band-pass took
50 us as two sections and 22 us as one system; the quality gate's three bands 125 us as three
filters and 33 us as one bank (`timeit`, 360 samples). Against scipy's per-sample recursion, a
second at a time: within 4e-11 mV on the monitor's 0.5-40 Hz band at 360 Hz over 30 minutes;
with a 300 mV offset, 4th-order filters at 360 Hz within about 3e-8 mV (the per-section code:
3e-9, a review measured), a 0.05 Hz high-pass at 1000 Hz within 4e-5 mV over 10 minutes,
narrow low band-passes of order 4-8 (0.05 to 0.2-1 Hz) within 4e-6 mV: negligible for an ECG.
The start-up state is solved section by section (`steady_state`).
"""

from __future__ import annotations

import numpy as np

BLOCK = 64  # samples per matrix product in SosFilter
STRIDE = 32  # blocks whose entering states one pair of matrix products gives


def _bilinear_sos(z: np.ndarray, p: np.ndarray, k: float, fs: float) -> np.ndarray:
    """Analog zeros/poles/gain -> digital second-order sections (bilinear transform)."""
    fs2 = 2.0 * fs
    zd = (fs2 + z) / (fs2 - z)
    pd = (fs2 + p) / (fs2 - p)
    zd = np.concatenate([zd, -np.ones(len(p) - len(z))])  # zeros at infinity go to Nyquist
    kd = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    return _zpk_to_sos(zd, pd, kd)


def _zpk_to_sos(z: np.ndarray, p: np.ndarray, k: float) -> np.ndarray:
    """Pair complex-conjugate poles into sections, two zeros each; gain on the first section."""
    if len(p) % 2 or len(z) != len(p):
        raise ValueError("only even-order designs with as many zeros as poles are supported")
    upper = sorted((q for q in p if q.imag > 1e-12), key=lambda q: abs(q))
    real = sorted((q for q in p if abs(q.imag) <= 1e-12), key=lambda q: q.real)
    pairs = [(q, np.conj(q)) for q in upper]
    pairs += [(real[i], real[i + 1]) for i in range(0, len(real), 2)]
    zeros = sorted(z, key=lambda q: (q.real, q.imag))
    sections = []
    for i, (p1, p2) in enumerate(pairs):
        num = np.real(np.poly([zeros[2 * i], zeros[2 * i + 1]]))
        den = np.real(np.poly([p1, p2]))
        sections.append(np.concatenate([num * (k if i == 0 else 1.0), den]))
    return np.asarray(sections)


def butter_sos(
    order: int, cutoff: float | tuple[float, float], btype: str, fs: float
) -> np.ndarray:
    """Butterworth low-, high- or band-pass (band-pass: `order` per edge, 2*order poles).
    Cut-offs must lie strictly between 0 and Nyquist, a band's low edge below its high one:
    an inverted band designs an unstable filter, whose infinities a bank spreads to its other
    filters (0 * inf)."""
    n = int(order)
    edges = [float(f) for f in np.atleast_1d(cutoff)]
    if not all(0.0 < f < fs / 2.0 for f in edges) or (len(edges) == 2 and edges[0] >= edges[1]):
        raise ValueError(f"no {btype} filter with cut-off {cutoff} Hz at {fs:g} Hz")
    poles = np.exp(1j * np.pi * (2 * np.arange(1, n + 1) + n - 1) / (2 * n))  # left half-plane
    warp = lambda f: 2.0 * fs * np.tan(np.pi * f / fs)  # noqa: E731 (pre-warping)
    if btype == "lowpass":
        wo = warp(float(cutoff))
        return _bilinear_sos(np.zeros(0), wo * poles, wo**n, fs)
    if btype == "highpass":
        wo = warp(float(cutoff))
        return _bilinear_sos(np.zeros(n), wo / poles, 1.0 / np.real(np.prod(-poles)), fs)
    if btype == "bandpass":
        lo, hi = (warp(f) for f in cutoff)  # type: ignore[union-attr]
        bw, wo = hi - lo, np.sqrt(lo * hi)
        scaled = poles * bw / 2.0
        root = np.sqrt(scaled**2 - wo**2)
        return _bilinear_sos(np.zeros(n), np.concatenate([scaled + root, scaled - root]), bw**n, fs)
    raise ValueError(f"unknown filter type {btype!r}")


def notch_sos(f0: float, q: float, fs: float) -> np.ndarray:
    """Second-order notch at f0 with quality factor q (-3 dB width f0 / q). Its poles leave the
    unit circle once the width reaches the rate (f0 / q >= fs / 2: a 50 Hz notch of q 0.5 at
    150 Hz), so that is refused, as scipy's `iirnotch` does not."""
    if not (0.0 < f0 < fs / 2.0 and q > 0.0 and f0 / q < fs / 2.0):
        raise ValueError(f"no notch at {f0:g} Hz with q {q:g} at {fs:g} Hz (f0 / q >= fs / 2)")
    w0 = 2.0 * np.pi * f0 / fs
    beta = np.tan(w0 / q / 2.0)
    gain = 1.0 / (1.0 + beta)
    b = gain * np.array([1.0, -2.0 * np.cos(w0), 1.0])
    a = np.array([1.0, -2.0 * gain * np.cos(w0), 2.0 * gain - 1.0])
    return np.concatenate([b, a])[None, :]


class _System:
    """A linear system with one input and `m` outputs, run over blocks of L samples.

    State space x' = A x + B u, y = C x + D u. Over a block of L inputs u: y = T u + O x0 and
    x_L = A^L x0 + K u, with T the Toeplitz matrices of the impulse responses. A cascade of
    second-order sections (`cascade`) and a bank of cascades fed the same input (`bank`) are
    each one such system, so each costs one set of matrix products per chunk however many
    sections it has: the monitor filters a second at a time, and the products' fixed cost per
    call, once per section, was most of its filtering time."""

    def __init__(
        self,
        A: np.ndarray,
        B: np.ndarray,
        C: np.ndarray,
        D: np.ndarray,
        block: int,
        cascades: list[list[tuple[np.ndarray, np.ndarray, float]]],
    ) -> None:
        """`cascades`: each cascade's sections (a, b, dc gain), for the start-up state."""
        d, m = len(A), len(C)
        self.d, self.m, self.block = d, m, block
        powers = [np.eye(d)]
        for _ in range(block):
            powers.append(A @ powers[-1])
        self.powers = np.stack(powers)  # A^0 .. A^L
        h = np.empty((m, block))  # impulse responses: D, then C A^k B
        h[:, 0] = D
        for k in range(1, block):
            h[:, k] = C @ (powers[k - 1] @ B)
        idx = np.arange(block)
        lag = idx[:, None] - idx[None, :]
        toeplitz = np.where(lag >= 0, h[:, np.clip(lag, 0, None)], 0.0)  # (m, L, L)
        self.T = toeplitz.reshape(m * block, block)
        self.T_parts = toeplitz  # the remainder of a chunk takes [:, :r, :r]
        observe = np.stack([C @ powers[i] for i in range(block)], axis=1)  # (m, L, d)
        self.O = observe.reshape(m * block, d)
        self.O_parts = observe
        self.K = np.stack([powers[block - 1 - j] @ B for j in range(block)], axis=1)  # (d, L)
        self.A, self.B, self.C, self.D = A, B, C, D
        self.cascades = cascades
        # A^(kL) for k < stride, and the block-Toeplitz map from the blocks' drives to the
        # states entering them: carry[(i, a), (j, b)] = (A^((i-1-j)L))[a, b] for j < i, else 0
        self.stride = max(8, 2 * STRIDE // d)  # the carry matrix stays about 64 x 64
        step = self.powers[block]
        self.block_powers = np.stack([np.linalg.matrix_power(step, k) for k in range(self.stride)])
        lag = np.arange(self.stride)[:, None] - 1 - np.arange(self.stride)[None, :]
        carry = np.where((lag >= 0)[..., None, None], self.block_powers[np.clip(lag, 0, None)], 0)
        self.carry = carry.transpose(0, 2, 1, 3).reshape(d * self.stride, d * self.stride)

    @classmethod
    def cascade(cls, sos: np.ndarray, block: int) -> _System:
        """Sections in series; each in transposed direct form II: y = s1 + b0 x;
        s1' = -a1 s1 + s2 + (b1 - a1 b0) x; s2' = -a2 s1 + (b2 - a2 b0) x."""
        A, B = np.zeros((0, 0)), np.zeros(0)
        C, D = np.zeros((1, 0)), np.ones(1)
        sections = []
        for row in np.atleast_2d(sos):
            b0, b1, b2, a0, a1, a2 = (float(v) for v in row)
            b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
            a = np.array([[-a1, 1.0], [-a2, 0.0]])
            b = np.array([b1 - a1 * b0, b2 - a2 * b0])
            d = len(A)  # the section's input is the cascade's output so far: C x + D u
            A = np.block([[A, np.zeros((d, 2))], [np.outer(b, C[0]), a]])
            B = np.concatenate([B, b * D[0]])
            C = np.concatenate([b0 * C[0], [1.0, 0.0]])[None]
            D = b0 * D
            dc = (b0 + b1 + b2) / (1.0 + a1 + a2) if abs(1.0 + a1 + a2) > 1e-15 else 0.0
            sections.append((a, b, dc))
        return cls(A, B, C, D, block, [sections])

    @classmethod
    def bank(cls, cascades: list[_System], block: int) -> _System:
        """Cascades side by side on one input: outputs in the order given."""
        d = sum(c.d for c in cascades)
        A, C = np.zeros((d, d)), np.zeros((len(cascades), d))
        at = 0
        for k, c in enumerate(cascades):
            A[at : at + c.d, at : at + c.d] = c.A
            C[k, at : at + c.d] = c.C[0]
            at += c.d
        B = np.concatenate([c.B for c in cascades])
        D = np.concatenate([c.D for c in cascades])
        return cls(A, B, C, D, block, [sections for c in cascades for sections in c.cascades])

    def steady_state(self, level: np.ndarray) -> np.ndarray:
        """The state after a constant input `level` (channels,) forever (x = A x + B level),
        section by section, each fed the level times the gains before it: one solve of the
        whole system is near-singular for a narrow low band of high order (an 8th-order
        0.05-1 Hz band-pass at 500 Hz started 1,053 mV off scipy on a 300 mV offset; a review)."""
        states = []
        for sections in self.cascades:
            x = np.asarray(level, dtype=np.float64)
            for a, b, dc in sections:
                states.append(np.linalg.solve(np.eye(2) - a, np.outer(b, x)))
                x = x * dc
        return np.concatenate(states)

    def run(self, x: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (n, channels), state (d, channels) -> y (m, n, channels), new state."""
        n, block, ch = len(x), self.block, x.shape[1]
        y = np.empty((self.m, n, ch))
        full = n // block
        if full:
            u = x[: full * block].reshape(full, block, ch)
            drive = self.K @ u  # K u per block: (blocks, d, ch)
            states = np.empty((full, self.d, ch))
            finite = bool(np.isfinite(drive).all())
            for i in range(0, full, self.stride):  # the state entering each block
                part = drive[i : i + self.stride]
                if finite:
                    states[i : i + len(part)] = self._entering(state, part)
                else:  # 0 * NaN in the product would spoil the blocks before a NaN: one by one
                    for j, dr in enumerate(part):
                        states[i + j] = state
                        state = self.powers[block] @ state + dr
                state = self.powers[block] @ states[i + len(part) - 1] + part[-1]
            out = self.T @ u + self.O @ states  # (blocks, m L, ch)
            y[:, : full * block] = (
                out.reshape(full, self.m, block, ch).transpose(1, 0, 2, 3).reshape(self.m, -1, ch)
            )
        r = n - full * block
        if r:
            u = x[full * block :]
            y[:, full * block :] = self.T_parts[:, :r, :r] @ u + self.O_parts[:, :r] @ state
            state = self.powers[r] @ state + self.K[:, block - r :] @ u
        return y, state

    def _entering(self, state: np.ndarray, drive: np.ndarray) -> np.ndarray:
        """The states entering k blocks: x_i = A^(iL) x_0 + sum_{j<i} A^((i-1-j)L) K u_j, as two
        matrix products instead of a Python loop over blocks (it was most of a 4 s chunk's
        time)."""
        k, ch = len(drive), drive.shape[2]
        from_start = self.block_powers[:k] @ state  # (k, d, ch)
        carried = self.carry[: self.d * k, : self.d * k] @ drive.reshape(self.d * k, ch)
        return from_start + carried.reshape(k, self.d, ch)


class SosFilter:
    """Cascaded sections over (samples, channels) chunks with carried state."""

    def __init__(self, sos: np.ndarray, n_channels: int, block: int = BLOCK) -> None:
        self.system = _System.cascade(sos, block)
        self.n_channels = n_channels
        self.state: np.ndarray | None = None

    def reset(self) -> None:
        self.state = None

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        y = np.asarray(chunk, dtype=np.float64)
        if len(y) == 0:
            return y.copy()
        if self.state is None:  # as if the first sample had always been there: no transient
            self.state = self.system.steady_state(y[0])
        out, self.state = self.system.run(y, self.state)
        return out[0]


class SosBank:
    """Several SOS filters on one signal, run as one system: chunk (n,) -> outputs (m, n).

    For the quality gate's bands of one lead (three filters, five sections, one run)."""

    def __init__(self, filters: list[np.ndarray], block: int = BLOCK) -> None:
        self.system = _System.bank([_System.cascade(s, block) for s in filters], block)
        self.state: np.ndarray | None = None

    def __call__(self, chunk: np.ndarray) -> np.ndarray:
        x = np.asarray(chunk, dtype=np.float64).reshape(-1, 1)
        if len(x) == 0:
            return np.zeros((self.system.m, 0))
        if self.state is None:
            self.state = self.system.steady_state(x[0])
        out, self.state = self.system.run(x, self.state)
        return out[:, :, 0]


class FirFilter:
    """A streaming FIR filter (1-D): carries the last len(b) - 1 inputs, zeros before the start."""

    def __init__(self, b: np.ndarray) -> None:
        self.b = np.asarray(b, dtype=np.float64)
        self._history = np.zeros(len(self.b) - 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        joined = np.concatenate([self._history, x])
        if len(self.b) > 1:
            self._history = joined[-(len(self.b) - 1) :]
        return np.convolve(joined, self.b, mode="valid")


def running_max(x: np.ndarray, size: int) -> np.ndarray:
    """Maximum over a centred window of odd `size`, edges repeating the end values.

    By doubling (van Herk's idea, log2(size) passes): maxima over spans of 1, 2, 4, ... samples,
    then the window as two overlapping spans of the largest power of two in it. The QRS detector
    asks for 109 samples at 360 Hz on every chunk: a tenth of the time of one pass per window
    position, and a maximum is exact whichever way it is taken."""
    half = size // 2
    n = len(x)
    m = np.concatenate([np.full(half, x[0]), x, np.full(half, x[-1])])
    width = 1
    while 2 * width <= size:
        m = np.maximum(m[:-width], m[width:])
        width *= 2  # m[i] = max(padded[i : i + width])
    return np.maximum(m[:n], m[size - width : size - width + n])
