"""A record with recorded noise on MLII by the MIT-BIH NST protocol, and the mixer checked against
the published 118e* records."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_monitor.wfdb_io import read_signal
from trainer.datasets import nstdb

from .context import CONTEXT, Task
from .critical_events import FS


def mixed(task: Task, reverse: bool) -> tuple[np.ndarray, dict, Path, list[tuple[int, int]]]:
    """The record with the task's noise on MLII by the protocol (signal, header, path, the
    noisy spans)."""
    path = CONTEXT["mitdb"] / task.record
    x, header = read_signal(path)
    n = len(x)
    lead = header["sig_name"].index("MLII")
    spans = nstdb.noisy_spans(n, FS)
    if task.noise != "clean":
        noise = CONTEXT["noise"][task.noise].signal
        if reverse:  # a second realisation: each noise burst played backwards (em is only
            noise = noise.copy()  # known inside the protocol's bursts)
            for a, b in spans:
                noise[a:b] = noise[a:b][::-1]
        s = nstdb.qrs_amplitude(x[:, lead], nstdb.normal_beats(path), FS)
        g = nstdb.gain_for_snr(task.snr, s, nstdb.noise_amplitude(noise, FS, spans))
        x = x.copy()
        x[:, lead] = nstdb.add_noise(x[:, lead], noise[:n], g, spans)
    return x, header, path, spans


def mixer_check(mitdb: Path, nstdb_dir: Path) -> dict:
    """Our SNR of the published 118e* records, and our mix of 118 + em against them, per lead."""
    clean, header = read_signal(mitdb / "118")
    beats = nstdb.normal_beats(mitdb / "118")
    spans = nstdb.noisy_spans(len(clean), FS)
    out = {}
    for tag, nominal in (("24", 24.0), ("12", 12.0), ("00", 0.0), ("_6", -6.0)):
        published, _ = read_signal(nstdb_dir / f"118e{tag}")
        leads = {}
        for ch, name in enumerate(header["sig_name"]):
            s = nstdb.qrs_amplitude(clean[:, ch], beats, FS)
            measured = nstdb.snr_db(
                s, nstdb.noise_amplitude(published[:, ch] - clean[:, ch], FS, spans)
            )
            em = nstdb.recover_em(nstdb_dir, mitdb, channel=ch)
            g = nstdb.gain_for_snr(nominal, s, nstdb.noise_amplitude(em.signal, FS, spans))
            mine = nstdb.add_noise(clean[:, ch], em.signal, g, spans)
            d = np.concatenate(
                [(mine - published[:, ch])[a:b] - (mine - published[:, ch])[a] for a, b in spans]
            )
            leads[name] = {
                "published_snr_db": round(measured, 3),
                "nominal_snr_db": nominal,
                "our_mix_minus_published_rms_mv": float(np.sqrt(np.mean(d**2))),
                "published_noise_rms_mv": float(
                    nstdb.noise_amplitude(published[:, ch] - clean[:, ch], FS, spans)
                ),
            }
        out[f"118e{tag}"] = leads
    return out
