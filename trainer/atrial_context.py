"""An experiment (issue 13): does the beat model tell atrial fibrillation from frequent atrial
ectopy once it sees whether the last beats share a P wave?

The RR context cannot: AF and a rhythm rich in atrial premature beats (MIT-BIH 232) are both
irregular with short intervals, and PTB-XL's AF strips as N counter-examples cost 232's S beats
(docs/beat_af.md). What differs is atrial activity: repeating P (or P') waves before the beats
against unrelated f waves. `edge_monitor/af.py` measures it as the coherence of the stretches
280-60 ms before each R peak; here the same measure over the last `beats` beats (the beat itself
included) is added to each beat's context features, computed from the beat windows the cache
already holds (the window starts 0.30 s before the R peak). Training-path only: the device does
not compute it, so no bundle may be made from a model trained with it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edge_monitor.af import AfParams
from edge_monitor.beats import BeatSpec
from trainer.splits import TaskData

P_FROM_S, P_TO_S = AfParams.p_from_s, AfParams.p_to_s  # the atrial stretch af.py cuts
BEATS = 16


def p_coherence(windows: np.ndarray, groups: np.ndarray, spec: BeatSpec, beats: int = BEATS):
    """Per beat (rows in time order within each record): the energy of the mean of the last
    `beats` mean-removed atrial stretches over their mean energy (1: one repeating wave; about
    1/n: unrelated waves). The first beats of a record use those there are."""
    a = spec.before - int(round(P_FROM_S * spec.fs))
    b = spec.before - int(round(P_TO_S * spec.fs))
    st = np.asarray(windows[:, a:b], np.float64)
    st = st - st.mean(axis=1, keepdims=True)
    energy = (st * st).sum(axis=1)
    out = np.ones(len(windows), np.float32)
    for record in dict.fromkeys(groups.tolist()):
        idx = np.flatnonzero(groups == record)
        cs = np.vstack([np.zeros((1, st.shape[1])), np.cumsum(st[idx], axis=0)])
        ce = np.concatenate([[0.0], np.cumsum(energy[idx])])
        j = np.arange(1, len(idx) + 1)
        lo = np.maximum(j - beats, 0)
        total = cs[j] - cs[lo]
        n = j - lo
        e = ce[j] - ce[lo]
        coh = (total * total).sum(axis=1) / np.maximum(n * e, 1e-12)
        out[idx] = np.where(e > 0, coh, 1.0).astype(np.float32)
    return out


def with_p_coherence(data: TaskData, beats: int = BEATS) -> TaskData:
    """Every split with the atrial coherence as one more context feature (the last column)."""
    spec = BeatSpec()

    def added(split):
        col = p_coherence(split.x[:, 0], split.groups, spec, beats)
        return replace(split, extra=np.concatenate([split.extra, col[:, None]], axis=1))

    pre = dict(data.preprocessing)
    pre["rr_features"] = [*pre.get("rr_features", []), "p_coherence"]
    return replace(
        data,
        train=added(data.train),
        val=added(data.val),
        test=added(data.test),
        preprocessing=pre,
    )
