"""Real excerpts of MIT-BIH records, rewritten as WFDB records with their annotations: the test
fixtures and the sample record shipped with the edge runtime are made this way."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_mitdb_excerpt(
    src: Path,
    name: str,
    out: Path,
    seconds: float,
    start_s: float = 0.0,
    channels: list[str] | None = None,
    new_name: str | None = None,
    comments: list[str] | None = None,
) -> Path:
    """Samples [start_s, start_s + seconds) of record `name` (all or the named channels), its
    beat and rhythm annotations shifted to the excerpt's own numbering."""
    import wfdb

    rec = wfdb.rdrecord(str(src / name), physical=False)
    keep = [rec.sig_name.index(c) for c in channels] if channels else list(range(rec.n_sig))
    a, b = int(start_s * rec.fs), int((start_s + seconds) * rec.fs)
    ann = wfdb.rdann(str(src / name), "atr", sampfrom=a, sampto=b - 1, shift_samps=True)
    target = new_name or name
    out.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(
        target,
        fs=rec.fs,
        units=[rec.units[i] for i in keep],
        sig_name=[rec.sig_name[i] for i in keep],
        d_signal=rec.d_signal[a:b, keep],
        fmt=[rec.fmt[i] for i in keep],
        adc_gain=[rec.adc_gain[i] for i in keep],
        baseline=[rec.baseline[i] for i in keep],
        comments=comments or [],
        write_dir=str(out),
    )
    aux = [x if x else "" for x in ann.aux_note]
    wfdb.wrann(
        target, "atr", np.asarray(ann.sample), symbol=ann.symbol, aux_note=aux, write_dir=str(out)
    )
    return out / target
