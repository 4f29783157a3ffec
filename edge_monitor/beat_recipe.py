"""One beat preprocessing recipe for the trainer's whole records and the device's stream: the
causal band-pass, the resampling to the model rate, R peaks snapped to the raw lead's largest
deflection, and the beat context (window, dominant-beat template, RR features). Training reads a
whole record at once; the device pushes chunks; both take their parts from here, so the model
sees on the device what it saw in training (benchmarks/stream_vs_train.py measures the rest:
the device's own R-peak detector against the reference annotations)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_monitor.beats import BeatContextBuilder, BeatSpec, beat_contexts, refine_r_peak
from edge_monitor.dsp import (
    FilterSpec,
    StreamFilter,
    StreamResampler,
    design_sos,
    filter_record,
    hold_last,
    resample_record,
)


@dataclass(frozen=True)
class BeatRecipe:
    filter: FilterSpec
    beat: BeatSpec

    def as_dict(self) -> dict:
        return {"filter": self.filter.as_dict(), "beat": self.beat.as_dict()}

    def record_contexts(
        self, raw: np.ndarray, fs: float, r_peaks: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Windows, templates and RR features of every R peak (source samples) of a whole lead.
        Missing samples (NaN) hold the last value, as the device's stream holds them: left in,
        one spread through the running amplitude median into some thirty beats' windows."""
        raw = np.asarray(raw, dtype=np.float64).reshape(-1, 1)
        raw, _ = hold_last(raw, np.zeros(len(raw), dtype=bool), np.zeros(1))
        model_signal = resample_record(filter_record(raw, fs, self.filter), fs, self.beat.fs)
        centred = np.array([refine_r_peak(raw[:, 0], int(r), fs) for r in r_peaks], np.int64)
        r_model = np.round(centred * self.beat.fs / fs).astype(np.int64)
        return beat_contexts(model_signal[:, 0], r_model, self.beat)

    def stream_filter(self, fs: float) -> StreamFilter:
        return StreamFilter(design_sos(self.filter, fs), 1)

    def stream_resampler(self, fs: float) -> StreamResampler:
        return StreamResampler(fs, self.beat.fs, 1)

    def context_builder(self) -> BeatContextBuilder:
        return BeatContextBuilder(self.beat)

    def refine(self, raw: np.ndarray, index: int, fs: float, offset: int = 0) -> int:
        return refine_r_peak(raw, index, fs, offset)
